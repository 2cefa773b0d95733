"""``itsm validate --base REF``: check in depth only what changed since REF, plus the diff-only rules.

The comparison point is the merge base of REF and HEAD (what a pull request
is reviewed against). Work-tree changes, staged or not, count as changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from itsm_cli.core.config import Config
from itsm_cli.core.diffrules import compare_with_base
from itsm_cli.core.validate import Problem
from itsm_cli.errors import BadArgument, InvalidRecord, ItsmError
from itsm_cli.store.check import CheckResult, check_desk
from itsm_cli.store.desk import FOLDERS, Desk, kind_of_path, parse_record
from itsm_cli.store.gitstore import Git

GLOBAL_FILES = ("itsm.yaml",)


def _resolve_base(git: Git, ref: str) -> str:
    if ref.startswith("-"):
        raise BadArgument(f"--base: '{ref}' is not a revision")
    sha = git.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False).strip()
    if not sha:
        raise BadArgument(f"--base: unknown revision '{ref}' (fetch it first, e.g. git fetch origin {ref})")
    return git.merge_base(sha)


def changed_records(desk: Desk, base: str) -> tuple[list[tuple[str, str]], bool]:
    """(status, path) of record files changed since ``base``, and whether config or schemas changed."""
    changed = Git(desk.root).changed(base, [*FOLDERS, *GLOBAL_FILES, "schemas"])
    global_change = any(p in GLOBAL_FILES or p.startswith("schemas/") for _, p in changed)
    records = [(s, p) for s, p in changed if kind_of_path(p)]
    return records, global_change


def check_against_base(desk: Desk, ref: str, paths: Sequence[str] | None = None) -> CheckResult:
    """Validate the changes since ``ref``; see the module docstring."""
    git = Git(desk.root)
    base = _resolve_base(git, ref)
    records, global_change = changed_records(desk, base)
    if paths is not None:
        wanted = set(paths)
        records = [(s, p) for s, p in records if p in wanted]
    present = [p for s, p in records if s != "D"]
    result = check_desk(desk, None if global_change else present)
    try:
        config = desk.config
    except ItsmError:
        config = None  # already reported by the full check
    refs = _Refs(git)
    before = _blobs_at(git, base, [rel for status, rel in records if status == "M"]) if config is not None else {}
    for status, rel in records:
        if status == "D":
            result.problems.append(Problem(rel, 1, 1, "records are never deleted; move it to a closed state instead", "deleted"))
            continue
        if status == "M" and config is not None:
            _compare(desk, before.get(rel), rel, config, result)
        elif status == "A":
            _check_id_reuse(desk, git, refs, rel, result)
    if config is not None:
        result.problems.extend(_commit_problems(desk, git, base, config))
    result.problems = sorted(set(result.problems))
    return result


#: Trail findings the file checks already make (approvals replayed, files that do not parse).
_FILE_CHECKED = frozenset({"approval", "unreadable"})


def _commit_problems(desk: Desk, git: Git, base: str, config: Config) -> list[Problem]:
    """``audit verify``'s findings on the commits from ``base`` to HEAD, as problems on the records they name.

    Only those commits are read (one ``git log`` over them), each judged with
    the ``itsm.yaml`` of the base in effect until a commit changes it: a pull
    request cannot switch signing off, or add a key, for its own commits
    without that change being one of them. Signatures are required where the
    base or the pull request requires them.
    """
    from itsm_cli.core.audit import verify
    from itsm_cli.core.signing import allowed_signers
    from itsm_cli.store import yaml_io
    from itsm_cli.store.history import Trail

    commits = git.run("rev-list", "--reverse", "--date-order", "--full-history", f"{base}..HEAD", "--", ".",
                      check=False).split()
    if not commits:
        return []
    start: dict[str, Any] | None = None
    raw = git.show(base, "./itsm.yaml")
    if raw is not None:
        with contextlib.suppress(ItsmError, ValueError):
            start = yaml_io.load_mapping(raw, "itsm.yaml")
    start_desk = (start or {}).get("desk")
    required = config.desk.get("require_signed_commits") is True or (
        isinstance(start_desk, dict) and start_desk.get("require_signed_commits") is True)
    signers = allowed_signers(start or {}) + allowed_signers(config.data) if required else ""
    trail = Trail(git, commits=commits, signatures=required, allowed_signers=signers)
    problems = []
    for f in verify(trail.commits(), config, desk.services(), require_signed=required, start=start or {}):
        if f.check in _FILE_CHECKED:
            continue
        rid = f.record.split(",")[0].strip()
        path = rid if rid in GLOBAL_FILES or rid == "-" else _record_path(desk, rid)
        problems.append(Problem(path, 1, 1, f"commit {f.commit}: {f.message}", f.check))
    return problems


def _record_path(desk: Desk, record_id: str) -> str:
    """The desk-relative file of a record ID a finding names (its ID where no file can be named)."""
    try:
        return desk.path_for(record_id).relative_to(desk.root.resolve()).as_posix()
    except (ItsmError, ValueError):
        return record_id


def _blobs_at(git: Git, rev: str, rels: list[str]) -> dict[str, bytes | None]:
    """The bytes of each file at ``rev`` (None where it is no file there), through the one ``git cat-file`` session."""
    found = git.objects.blobs([f"{rev}:{r}" for r in rels])
    return {rel: blob[1] if blob is not None else None for rel, blob in zip(rels, found)}


def _compare(desk: Desk, old_raw: bytes | None, rel: str, config: object, result: CheckResult) -> None:
    kind = kind_of_path(rel)
    if old_raw is None or kind is None:
        return
    try:
        old = parse_record(old_raw, rel, kind)
        new = desk.load(rel)
    except ItsmError:
        return  # parse errors are reported by the full check
    for path, message in compare_with_base(config, old.data, new.data):  # type: ignore[arg-type]
        line, col = new.locate(path)
        result.problems.append(Problem(rel, line, col, message, "append-only"))


class _Refs:
    """The current branch and the file names on every branch, asked of git once per run."""

    def __init__(self, git: Git):
        self.git = git
        self._current: str | None = None
        self._names: dict[str, dict[str, set[str]]] = {}

    @property
    def current(self) -> str:
        """The checked-out branch's full ref name ("" when HEAD is detached)."""
        if self._current is None:
            self._current = self.git.run("symbolic-ref", "-q", "HEAD", check=False).strip()
        return self._current

    def names(self, folder: str) -> dict[str, set[str]]:
        """File names in ``folder`` on each branch."""
        if folder not in self._names:
            self._names[folder] = self.git.names_on_refs([folder])
        return self._names[folder]


def _check_id_reuse(desk: Desk, git: Git, refs: _Refs, rel: str, result: CheckResult) -> None:
    """An added record whose file also exists, as a different record, on another branch."""
    kind = kind_of_path(rel)
    if kind is None or kind == "service":
        return
    folder, _, name = rel.partition("/")
    try:
        mine = desk.load(rel)
    except (InvalidRecord, ItsmError):
        return
    current = refs.current
    # A branch made before `itsm upgrade` still keeps the ticket flat, where its ID alone also says.
    places = [name, f"{mine.id}.yaml"] if kind == "ticket" else [name]
    for ref, names in refs.names(folder).items():
        there = next((p for p in places if p in names), None)
        if ref == current or there is None:
            continue
        theirs_raw = git.show(ref, f"{folder}/{there}")
        if theirs_raw is None:
            continue
        try:
            theirs = parse_record(theirs_raw, rel, kind)
        except ItsmError:
            continue
        same = all(theirs.data.get(k) == mine.data.get(k) for k in ("created", "requester", "title"))
        if not same:
            short = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
            line, col = mine.locate(("id",))
            result.problems.append(Problem(
                rel, line, col,
                f"{mine.id} is also used by a different record on {short}; run: itsm renumber {mine.id}",
                "id-collision",
            ))
            return
