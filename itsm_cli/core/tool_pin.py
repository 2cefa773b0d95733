"""Which itsm a desk's workflows install: the pin, chosen from what can be proved about the running itsm.

Every workflow of a desk starts by installing itsm. An unpinned name
(``pip install itsm``) installs whatever the index serves under that name
today, which anyone may register, into jobs that hold a write token. So
``itsm init`` pins the workflows to exactly the itsm that made the desk, from
the best source it can prove (facts from the running distribution's PEP 610
``direct_url.json``):

- no ``direct_url.json``: installed from a package index, ``itsm==X.Y.Z``;
- a VCS URL with a commit: ``itsm @ git+URL@<commit>``;
- a remote archive with its hash: ``itsm @ URL#sha256=...``;
- anything else (an editable install, a local folder or wheel file, a source
  checkout on ``PYTHONPATH``): nothing a Git host could fetch, so the desk
  carries a wheel of the running itsm in ``.itsm/dist/`` and the workflows
  check its SHA-256 before installing it by path.

This module is the pure part: the choice, the workflow text for a pin (read
back and rewritten in place), and the rule that flags an unpinned install.
It reads no files and runs no pip.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAME = "itsm"
DIST_DIR = ".itsm/dist"
PACKAGE_VAR = "ITSM_PACKAGE"
HASH_VAR = "ITSM_PACKAGE_SHA256"
# What the package skeleton holds until ``itsm init`` writes the pin: pip refuses it as a requirement,
# so a workflow that somehow kept it fails at its install step instead of installing a name.
PLACEHOLDER = "@ITSM_PACKAGE@"
INSTALL_STEP_NAME = "Install itsm"

DESK_COMMENT = "# The itsm this desk runs: written by `itsm init`, replaced by `itsm upgrade-tool`."
CHECKOUT_COMMENT = "# This repository is itsm itself: its workflows install the checked-out code."

_HEX40 = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_VCS = ("git", "hg", "svn", "bzr")


@dataclass(frozen=True)
class Pin:
    """What the workflows install, where it comes from, and why that source was chosen.

    ``source`` is ``index``, ``vcs``, ``archive``, ``wheel`` (carried in the
    desk), ``checkout`` (this repository's own workflows) or ``given``
    (``--package``). For ``wheel``, ``requirement`` is the wheel's path from
    the desk root and ``sha256`` its digest once built.
    """

    source: str
    requirement: str
    reason: str
    sha256: str | None = None

    @property
    def wheel_name(self) -> str | None:
        """The carried wheel's file name, for a ``wheel`` pin."""
        return self.requirement.rpartition("/")[2] if self.source == "wheel" else None

    def describe(self) -> str:
        """One line for the user: what is pinned, and why."""
        what = self.requirement.removeprefix("./")
        if self.sha256:
            what += f" (sha256 {self.sha256[:12]}...)"
        return f"{what}: {self.reason}"


def wheel_file_name(version: str) -> str:
    """The carried wheel's file name (pure Python, any platform)."""
    return f"{NAME}-{version.replace('-', '_')}-py3-none-any.whl"


def checkout_pin() -> Pin:
    """This repository's own workflows: install the checked-out project, never a name."""
    return Pin("checkout", ".", "this repository is itsm: its checks run the code of the same commit")


def given_pin(spec: str) -> Pin:
    """``--package SPEC``: written as given."""
    spec = spec.strip()
    if not spec or any(ord(ch) < 0x20 for ch in spec):
        raise ValueError("the package spec must be one non-empty line")
    return Pin("given", spec, "given with --package")


def choose_pin(version: str, direct_url: Mapping[str, Any] | None, where: str, installed: bool = True) -> Pin:
    """The best pin the facts prove about the running itsm.

    ``direct_url`` is the parsed ``direct_url.json`` of its distribution (None
    when it has none); ``where`` names the running code, for the reason;
    ``installed`` is false when no installed distribution is the running code
    (a checkout on ``PYTHONPATH``).
    """
    carry = Pin("wheel", f"./{DIST_DIR}/{wheel_file_name(version)}", "")
    if not installed:
        return _carry(carry, f"this itsm runs from {where} and is not installed, so no Git host can fetch it")
    if not direct_url:
        return Pin("index", f"{NAME}=={version}",
                   "this itsm was installed from a package index (its dist-info has no direct_url.json)")
    url = str(direct_url.get("url", ""))
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, Mapping):
        kind, commit = str(vcs.get("vcs", "")), str(vcs.get("commit_id", ""))
        full_commit = _HEX40.fullmatch(commit) if kind == "git" else bool(commit)
        if kind not in _VCS or not full_commit:
            return _carry(carry, f"this itsm came from {kind or 'a VCS'} without a commit to pin")
        if _has_credentials(url):
            return _carry(carry, "this itsm came from a VCS URL with credentials in it, which a workflow must not carry")
        if url.startswith("file:"):
            return _carry(carry, f"this itsm came from a local repository ({url}) that no Git host can reach")
        fragment = f"#subdirectory={direct_url['subdirectory']}" if direct_url.get("subdirectory") else ""
        return Pin("vcs", f"{NAME} @ {kind}+{url}@{commit}{fragment}",
                   f"this itsm was installed from {kind} at commit {commit[:12]} (direct_url.json)")
    archive = direct_url.get("archive_info")
    if isinstance(archive, Mapping) and not url.startswith("file:"):
        digest = _archive_sha256(archive)
        if digest and not _has_credentials(url):
            return Pin("archive", f"{NAME} @ {url}#sha256={digest}",
                       "this itsm was installed from a downloaded archive with a known SHA-256 (direct_url.json)")
    dir_info = direct_url.get("dir_info")
    if isinstance(dir_info, Mapping) and dir_info.get("editable"):
        return _carry(carry, f"this itsm is an editable install of {_local(url)}, which no Git host can fetch")
    return _carry(carry, f"this itsm was installed from {_local(url)}, which no Git host can fetch")


def _carry(pin: Pin, why: str) -> Pin:
    return Pin(pin.source, pin.requirement, why + ": the desk carries a wheel of it, checked by its SHA-256")


def _local(url: str) -> str:
    return url.removeprefix("file://") or "a local file"


def _has_credentials(url: str) -> bool:
    netloc = url.partition("://")[2].partition("/")[0]
    userinfo = netloc.rpartition("@")[0] if "@" in netloc else ""
    return bool(userinfo) and userinfo != "git"  # git@host is ssh's user name, not a secret


def _archive_sha256(archive: Mapping[str, Any]) -> str | None:
    hashes = archive.get("hashes")
    if isinstance(hashes, Mapping) and _SHA256.fullmatch(str(hashes.get("sha256", ""))):
        return str(hashes["sha256"])
    legacy = str(archive.get("hash", ""))
    if legacy.startswith("sha256=") and _SHA256.fullmatch(legacy[7:]):
        return legacy[7:]
    return None


# --- the workflow text ---------------------------------------------------------

# The job's env lines that name the pin: one comment line directly above (replaced with them), the
# requirement, and for a carried wheel its digest.
_ENV_BLOCK = re.compile(
    rf"^(?P<indent>[ ]*)(?:#[^\n]*\n(?P=indent))?{PACKAGE_VAR}:(?P<value>[^\n]*)\n"
    rf"(?:(?P=indent){HASH_VAR}:(?P<hash>[^\n]*)\n)?",
    re.M,
)
# The install step's ``run:``, a single line or a ``|`` block.
_INSTALL_STEP = re.compile(
    rf"^(?P<indent>[ ]*)- name: {INSTALL_STEP_NAME}\n(?P=indent)  run: (?:\|\n(?:(?P=indent)    [^\n]*\n)+|[^\n]*\n)",
    re.M,
)


def _quote(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: safe for "@", ":", "#" and anything else.
    return json.dumps(value, ensure_ascii=False)


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"'):
        end = raw.rfind('"')
        try:
            return str(json.loads(raw[: end + 1]))
        except ValueError:
            return raw
    if raw.startswith("'"):
        end = raw.rfind("'")
        return raw[1:end].replace("''", "'")
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def install_script(pin: Pin) -> str:
    """The install step's shell script for a pin."""
    if pin.source == "wheel":
        # The digest is in the workflow, so a replaced wheel fails the check unless the pin changed with it.
        return (f'echo "${HASH_VAR}  ${PACKAGE_VAR}" | sha256sum --check --strict\n'
                f'python -m pip install "${PACKAGE_VAR}"\n')
    return f'python -m pip install "${PACKAGE_VAR}"\n'


def rewrite_install(text: str, pin: Pin) -> str | None:
    """``text`` (a workflow) installing ``pin``; None when it has no ``ITSM_PACKAGE`` line and install step.

    Rewriting a workflow already pinned gives the same text for the same pin,
    so running it twice changes nothing.
    """
    if pin.source == "wheel" and not pin.sha256:
        raise ValueError("a carried wheel is pinned by its SHA-256")
    env = list(_ENV_BLOCK.finditer(text))
    step = list(_INSTALL_STEP.finditer(text))
    if not env or not step:
        return None

    def env_block(match: re.Match[str]) -> str:
        indent = match.group("indent")
        comment = CHECKOUT_COMMENT if pin.source == "checkout" else DESK_COMMENT
        lines = [comment, f"{PACKAGE_VAR}: {_quote(pin.requirement)}"]
        if pin.source == "wheel":
            lines.append(f"{HASH_VAR}: {_quote(pin.sha256 or '')}")
        return "".join(f"{indent}{line}\n" for line in lines)

    def install(match: re.Match[str]) -> str:
        indent = match.group("indent")
        script = install_script(pin).splitlines()
        head = f"{indent}- name: {INSTALL_STEP_NAME}\n"
        if len(script) == 1:
            return f"{head}{indent}  run: {script[0]}\n"
        return f"{head}{indent}  run: |\n" + "".join(f"{indent}    {line}\n" for line in script)

    return _INSTALL_STEP.sub(install, _ENV_BLOCK.sub(env_block, text))


def read_pin(text: str) -> tuple[str, str | None] | None:
    """The requirement and digest a workflow's ``ITSM_PACKAGE`` lines hold, or None."""
    match = _ENV_BLOCK.search(text)
    if match is None:
        return None
    digest = match.group("hash")
    return _unquote(match.group("value")), (_unquote(digest) if digest is not None else None)


# --- the validate rule ---------------------------------------------------------

_PIP_INSTALL = re.compile(r"\bpip3?(?:\.exe)?\s+install\b(?P<args>[^\n]*)")
_PACKAGE_LINE = re.compile(rf"^(?P<lead>[ ]*(?:-[ ]+)?){PACKAGE_VAR}:(?P<value>[^\n]*)$", re.M)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_REQ_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$", re.S)
# pip install options that take a value: the value is not a requirement.
_VALUED = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f",
           "--find-links", "-t", "--target", "--prefix", "--root", "--platform", "--python-version",
           "--implementation", "--abi", "--src", "--upgrade-strategy", "--progress-bar", "--log",
           "--proxy", "--cert", "--client-cert", "--cache-dir", "--trusted-host", "--config-settings", "-C",
           "--global-option", "--report", "--only-binary", "--no-binary", "--python", "--timeout", "--retries"}


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def unpinned(requirement: str) -> bool:
    """True when ``requirement`` names itsm without fixing what is installed.

    Pinned: ``itsm==X`` (no wildcard) or ``===X``, a VCS URL at a full commit
    ID, an archive URL with its ``#sha256=``, or a local path or file URL (the
    desk's own file). Anything else naming itsm (``itsm``, ``itsm>=1``,
    ``itsm @ git+URL@main``) lets someone else choose the code.
    """
    req = requirement.strip()
    if not req or req.startswith((".", "/", "~", "file:")) or (req.endswith((".whl", ".tar.gz", ".zip")) and "@" not in req):
        return False
    if _URL.match(req):
        return False  # a bare URL names no distribution
    match = _REQ_NAME.match(req)
    if match is None or canonical_name(match.group(1)) != NAME:
        return False
    rest = match.group(3).split(";", 1)[0].strip()
    if rest.startswith("@"):
        url = rest[1:].strip()
        if url.startswith("file:"):
            return False
        base, _, fragment = url.partition("#")
        if "sha256=" in fragment and _SHA256.fullmatch(fragment.partition("sha256=")[2][:64]):
            return False
        if "+" in base.partition("://")[0]:
            ref = base.rpartition("@")[2]
            return not _HEX40.fullmatch(ref)
        return True
    specs = [s.strip() for s in rest.strip("()").split(",") if s.strip()]
    return not (len(specs) == 1 and (specs[0].startswith("===") or (specs[0].startswith("==") and "*" not in specs[0])))


def unpinned_installs(text: str) -> list[tuple[int, int, str]]:
    """``(line, col, requirement)`` for each place a workflow installs itsm unpinned.

    Looks at ``ITSM_PACKAGE:`` values and at the requirements of every
    ``pip install`` command line; a ``$VARIABLE`` argument is judged by its
    ``ITSM_PACKAGE:`` line, and a requirements file (``-r``) is not read.
    """
    found: list[tuple[int, int, str]] = []
    for match in _PACKAGE_LINE.finditer(text):
        value = _unquote(match.group("value"))
        if value == PLACEHOLDER or unpinned(value):
            line = text.count("\n", 0, match.start()) + 1
            found.append((line, len(match.group("lead")) + 1, value))
    for number, line_text in enumerate(text.splitlines(), start=1):
        stripped = line_text.lstrip()
        if stripped.startswith("#"):
            continue
        for match in _PIP_INSTALL.finditer(line_text):
            for arg in _requirement_args(match.group("args")):
                if unpinned(arg):
                    found.append((number, match.start() + 1, arg))
    return sorted(found)


def _requirement_args(args: str) -> list[str]:
    args = re.split(r"\s(?:&&|\|\||;|\|)\s|\s#", " " + args, maxsplit=1)[0]
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in _VALUED
            continue
        if "$" in word:
            continue
        out.append(word)
    return out
