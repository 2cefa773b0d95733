"""Where the running itsm came from, the wheel a desk carries of it, and ``itsm upgrade-tool``.

The choice of pin is :mod:`itsm_cli.core.tool_pin`; this module gathers its
facts (the running distribution and its PEP 610 ``direct_url.json``, read
with :mod:`importlib.metadata`), builds the carried wheel and writes the pin
into a desk's workflows.

The carried wheel is packed from the running package itself, not built by a
build backend: ``pip wheel`` or ``build`` would need hatchling (fetched from
an index, or installed beside itsm, which it is not), and the project's own
wheel force-includes the demo desk (``itsm_cli/data/demo``), which a desk's
CI has no use for. Packing the running files gives exactly the code that made
the desk, offline, and byte for byte the same wheel for the same code (fixed
timestamps, sorted entries), so ``upgrade-tool`` can tell that nothing
changed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tomllib
import zipfile
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import itsm_cli
from itsm_cli.core import tool_pin as core
from itsm_cli.core import validate as core_validate
from itsm_cli.core.tool_pin import Pin
from itsm_cli.errors import BadArgument, EnvironmentProblem, Refused
from itsm_cli.store.atomic import write_atomic
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git

WORKFLOWS = ".github/workflows"
PACKAGE_DIR = Path(itsm_cli.__file__).resolve().parent
# Not carried: the demo desk (a copy of the source repository's top level) and compiled files.
_LEFT_OUT_DIRS = ("data/demo",)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class RunningTool:
    """What can be proved about the running itsm: its version, its distribution's ``direct_url.json``, its code."""

    version: str
    direct_url: dict | None
    installed: bool
    where: str
    dist: metadata.Distribution | None = None


def _file_url_path(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def running_tool() -> RunningTool:
    """The facts about the itsm that is running (not merely some itsm installed somewhere)."""
    try:
        dist: metadata.Distribution | None = metadata.distribution(core.NAME)
    except metadata.PackageNotFoundError:
        dist = None
    direct_url = None
    if dist is not None:
        raw = dist.read_text("direct_url.json")
        try:
            direct_url = json.loads(raw) if raw else None
        except ValueError:
            direct_url = None
    if dist is not None and _is_running(dist, direct_url):
        return RunningTool(dist.version, direct_url, True, str(PACKAGE_DIR), dist)
    return RunningTool(itsm_cli.__version__, None, False, str(PACKAGE_DIR.parent), None)


def _is_running(dist: metadata.Distribution, direct_url: dict | None) -> bool:
    if dist.version != itsm_cli.__version__:
        return False
    if direct_url and (direct_url.get("dir_info") or {}).get("editable"):
        source = _file_url_path(str(direct_url.get("url", "")))
        return source is not None and (source / "itsm_cli").resolve() == PACKAGE_DIR
    installed = Path(str(dist.locate_file("itsm_cli/__init__.py")))
    return installed.resolve() == PACKAGE_DIR / "__init__.py"


def resolve_pin(package: str | None = None, tool: RunningTool | None = None) -> Pin:
    """The pin for a desk made by the running itsm; ``package`` (``--package``) overrides, written as given."""
    if package is not None:
        try:
            return core.given_pin(package)
        except ValueError as e:
            raise BadArgument(f"--package: {e}") from None
    tool = tool or running_tool()
    return core.choose_pin(tool.version, tool.direct_url, tool.where, tool.installed)


# --- the carried wheel -------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _package_files() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        if (not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")
                or any(rel == d or rel.startswith(d + "/") for d in _LEFT_OUT_DIRS)):
            continue
        out.append((f"itsm_cli/{rel}", path.read_bytes()))
    return out


def _metadata_files(tool: RunningTool) -> tuple[str, str | None]:
    """METADATA and entry_points.txt: the installed distribution's, else made from the checkout's pyproject.toml."""
    if tool.dist is not None:
        meta = tool.dist.read_text("METADATA")
        if meta:
            return meta, tool.dist.read_text("entry_points.txt")
    pyproject = PACKAGE_DIR.parent / "pyproject.toml"
    if not pyproject.is_file():
        raise EnvironmentProblem("cannot tell what this itsm is (no installed distribution, no pyproject.toml "
                                 "beside it); pass --package SPEC")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    lines = ["Metadata-Version: 2.1", f"Name: {core.NAME}", f"Version: {tool.version}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    entry = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
                    for group, items in groups.items() if items)
    return "\n".join(lines) + "\n", entry or None


def wheel_bytes(tool: RunningTool | None = None) -> bytes:
    """A pure-Python wheel of the running itsm, without the demo desk; the same bytes for the same code."""
    tool = tool or running_tool()
    info = f"{core.NAME}-{tool.version.replace('-', '_')}.dist-info"
    meta, entry_points = _metadata_files(tool)
    files = _package_files()
    files.append((f"{info}/METADATA", meta.encode("utf-8")))
    if entry_points:
        files.append((f"{info}/entry_points.txt", entry_points.encode("utf-8")))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: itsm (upgrade-tool)\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            entry = zipfile.ZipInfo(name, _ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


# --- writing the pin into a desk ------------------------------------------------------


@dataclass
class PinPlan:
    """The files a pin changes in a desk: new contents by path (None: remove), and the pin with its digest."""

    pin: Pin
    writes: dict[str, bytes | None]
    skipped: list[str]


def plan_pin(root: Path, pin: Pin, tool: RunningTool | None = None) -> PinPlan:
    """What writing ``pin`` into the desk at ``root`` changes (nothing when it is already there)."""
    writes: dict[str, bytes | None] = {}
    dist = root / core.DIST_DIR
    carried = sorted(p.name for p in dist.glob(f"{core.NAME}-*.whl")) if dist.is_dir() else []
    if pin.source == "wheel":
        data = wheel_bytes(tool)
        pin = replace(pin, sha256=hashlib.sha256(data).hexdigest())
        rel = f"{core.DIST_DIR}/{pin.wheel_name}"
        target = root / rel
        if not target.is_file() or target.read_bytes() != data:
            writes[rel] = data
    for name in carried:
        if name != pin.wheel_name:
            writes[f"{core.DIST_DIR}/{name}"] = None
    skipped = []
    folder = root / WORKFLOWS
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        rel = f"{WORKFLOWS}/{path.name}"
        text = path.read_text(encoding="utf-8")
        new = core.rewrite_install(text, pin)
        if new is None:
            skipped.append(rel)
        elif new != text:
            writes[rel] = new.encode("utf-8")
    return PinPlan(pin, writes, skipped)


def write_plan(root: Path, plan: PinPlan) -> None:
    """Write (or remove) the planned files."""
    for rel, data in plan.writes.items():
        path = root / rel
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)


@dataclass
class UpgradeToolResult:
    """What ``itsm upgrade-tool`` did: the pin now in the desk, the files it changed, its commit (None: nothing).

    ``refreshed``: workflows replaced by this itsm's own (the desk never edited
    them); ``added``: workflows this itsm has that the desk never had;
    ``kept``: workflows the desk edited, left as they are but for the pin.
    """

    pin: Pin
    changed: list[str]
    commit: str | None
    skipped: list[str]
    refreshed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


_ITSM_OWNED = frozenset({"init", "upgrade-tool"})  # the actions whose commit leaves a workflow as itsm wrote it


def shipped_workflows() -> Path:
    """This itsm's own workflows (what ``itsm init`` writes, before the pin goes in)."""
    return PACKAGE_DIR / "data" / "skeleton" / WORKFLOWS  # store/skeleton's SKELETON (which imports this module)


def plan_workflow_bodies(root: Path, git: Git, plan: PinPlan) -> tuple[list[str], list[str], list[str]]:
    """Bring the desk's workflows up to this itsm's, into ``plan.writes``: (refreshed, added, kept).

    A workflow whose last commit is itsm's own (``init`` or ``upgrade-tool``)
    was never edited on the desk, so this itsm's version replaces it, with the
    pin. One this itsm has that the desk never had (no commit ever touched the
    path) is added. One the desk edited is kept, only its pin rewritten (as
    :func:`plan_pin` does), and one the desk deleted stays deleted: nobody's
    change is undone.
    """
    refreshed: list[str] = []
    added: list[str] = []
    kept: list[str] = []
    folder = shipped_workflows()
    for source in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        rel = f"{WORKFLOWS}/{source.name}"
        rendered = core.rewrite_install(source.read_text(encoding="utf-8"), plan.pin)
        if rendered is None:
            continue
        new = rendered.encode("utf-8")
        target = root / rel
        if not target.is_file():
            if not git.run("log", "-1", "--format=%H", "--", rel, check=False).strip():
                plan.writes[rel] = new
                added.append(rel)
            continue
        pinned = plan.writes.get(rel, target.read_bytes())  # the desk's text with the new pin (plan_pin's)
        if pinned == new:
            continue  # the same workflow: at most its pin changes
        if git.last_itsm_actions(rel) & _ITSM_OWNED:
            plan.writes[rel] = new
            refreshed.append(rel)
        else:
            kept.append(rel)
    return refreshed, added, kept


def upgrade_tool(desk: Desk, author_name: str, author_email: str, package: str | None = None) -> UpgradeToolResult:
    """Pin the desk's workflows (and carried wheel) to the running itsm in one commit; nothing to do is no error."""
    git = Git(desk.root)
    with desk.lock():
        pin = resolve_pin(package)
        plan = plan_pin(desk.root, pin)
        refreshed, added, kept = plan_workflow_bodies(desk.root, git, plan)
        plan.skipped[:] = [rel for rel in plan.skipped if rel not in refreshed]
        if not plan.writes:
            return UpgradeToolResult(plan.pin, [], None, plan.skipped, kept=kept)
        paths = sorted(plan.writes)
        dirty = [line[3:] for line in git.status_lines() if line[3:] in paths or line[3:].startswith(core.DIST_DIR)]
        if dirty:
            raise Refused(f"{dirty[0]} has changes not committed; commit or discard them, then run "
                          "'itsm upgrade-tool' again")
        git.check_can_commit()
        write_plan(desk.root, plan)
        brought = [rel.rpartition("/")[2] for rel in refreshed + added]
        message = (f"itsm: the desk's workflows install {plan.pin.requirement.removeprefix('./')}\n\n"
                   f"{plan.pin.reason}."
                   + (f"\n\nWorkflows brought up to this itsm's: {', '.join(brought)}." if brought else "")
                   + "\n\nItsm-Action: upgrade-tool\n")
        try:
            sha = git.commit(paths, message, author_name, author_email)
        except BaseException:
            git.run("checkout", "-q", "HEAD", "--", *[p for p in paths if _tracked(git, p)], check=False,
                    shielded=True)
            for rel, data in plan.writes.items():
                if data is not None and not _tracked(git, rel):
                    (desk.root / rel).unlink(missing_ok=True)
            raise
        return UpgradeToolResult(plan.pin, paths, sha, plan.skipped, refreshed, added, kept)


def _tracked(git: Git, rel: str) -> bool:
    return bool(git.run("ls-files", "--", rel, check=False).strip())


# --- the validate warnings --------------------------------------------------------------


def workflow_warnings(desk: Desk, paths: list[str] | None = None) -> list[core_validate.Problem]:
    """Warnings (never errors) about how the desk's workflows install itsm: unpinned, or a carried wheel off its pin.

    ``paths`` (desk-relative) limits them to those workflow files.
    """
    folder = desk.root / WORKFLOWS
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.y*ml")):
        rel = f"{WORKFLOWS}/{path.name}"
        if paths is not None and rel not in paths:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # not ours to judge: GitHub reports a workflow it cannot read
        for line, col, requirement in core.unpinned_installs(text):
            what = ("still holds the package skeleton's placeholder" if requirement == core.PLACEHOLDER
                    else f"installs itsm unpinned ({requirement})")
            out.append(core_validate.Problem(
                rel, line, col, f"{what}: whoever publishes that name on the package index chooses the code this "
                "workflow runs; pin it with 'itsm upgrade-tool'", "unpinned-tool"))
        pinned = core.read_pin(text)
        if pinned and pinned[1] is not None and pinned[0].startswith(f"./{core.DIST_DIR}/"):
            wheel = desk.root / pinned[0]
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel.is_file() else None
            if digest != pinned[1]:
                line = text[: text.find(core.HASH_VAR)].count("\n") + 1
                found = f"its SHA-256 is {digest}" if digest else "it is missing"
                out.append(core_validate.Problem(
                    rel, line, 1, f"pins {pinned[0]} by SHA-256 {pinned[1]}, but {found}; the install step will fail "
                    "(run 'itsm upgrade-tool')", "tool-digest"))
    return out
