"""Release and deployment: ``itsm implement``, and the checks and details that need the repositories.

The rules are in :mod:`itsm_cli.core.releases`; this module finds the
repositories a change's ``implemented_by`` names (this desk's own, or one
declared under ``repositories:`` in itsm.yaml whose ``path`` holds a local
clone) and asks git, through :class:`itsm_cli.store.gitstore.Git`, whether a
commit or tag is there. A repository not at hand is never an error: its
references cannot be checked here, only where it is cloned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_cli.core import releases as rules
from itsm_cli.core.validate import Problem
from itsm_cli.errors import BadArgument, ItsmError, Refused
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git

if TYPE_CHECKING:  # the App is needed by implement only; validate imports this module too
    from collections.abc import Callable

    from itsm_cli.app import App, Change
    from itsm_cli.core.workflow import ApprovalPolicy
    from itsm_cli.store.desk import Record


class Repositories:
    """The repositories a desk's changes may name, each opened once (None: not at hand here)."""

    def __init__(self, desk: Desk, own: Git | None = None):
        self.desk = desk
        self.declared: Mapping[str, Any] = desk.config.data.get("repositories") or {}
        self._open: dict[str | None, Git | None] = {None: own} if own is not None else {}

    def git(self, repo: str | None) -> Git | None:
        """The git of ``repo`` (None: this desk's own repository), or None when it is not at hand."""
        if repo not in self._open:
            self._open[repo] = self._find(repo)
        return self._open[repo]

    def _find(self, repo: str | None) -> Git | None:
        if repo is None:
            return Git(self.desk.root)
        entry = self.declared.get(repo)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
            return None
        path = Path(self.desk.root, entry["path"])
        if not path.is_dir():
            return None
        git = Git(path)
        return git if git.is_repo() else None

    def exists(self, repo: str | None, kind: str, value: str) -> bool | None:
        """Whether the commit or tag is in ``repo``; None when the repository is not at hand."""
        git = self.git(repo)
        if git is None:
            return None
        return git.resolve_commit(value) is not None if kind == "commit" else git.has_tag(value)


def implement(app: App, record_id: str, kind: str, value: str, repo: str | None, release: str | None) -> Change:
    """Record that a commit, tag or PR implemented a change: one ``edit`` entry, one commit.

    Where the repository is at hand the commit or tag must exist (a commit is
    stored by its full ID); elsewhere it is recorded as given.
    """
    from itsm_cli.core import records

    try:
        ref = rules.make_reference(kind, value, repo, release)
    except ValueError as e:
        raise BadArgument(str(e)) from None
    declared = app.config.data.get("repositories") or {}
    if repo is not None and repo not in declared:
        known = ", ".join(sorted(declared)) or "none: declare one under repositories: in itsm.yaml"
        raise BadArgument(f"--repo: unknown repository '{repo}' (known: {known})")
    repos = Repositories(app.desk, app.git)
    where = f"repository '{repo}'" if repo else "this desk's repository"
    git = repos.git(repo)
    if git is not None and kind == "commit":
        full = git.resolve_commit(ref["commit"])
        if full is None:
            raise Refused(f"commit {value} does not exist in {where}")
        ref["commit"] = full
    elif git is not None and kind == "tag" and not git.has_tag(ref["tag"]):
        raise Refused(f"tag {value} does not exist in {where}")

    def op(rec: Record, pol: ApprovalPolicy | None) -> dict[str, Any]:
        rtype = app.config.types.get(rec.type_name)
        if rtype is None or "implemented_by" not in _properties(app.schema_set().schemas, rtype.schema):
            raise Refused(f"{rec.id} is a {rec.type_name}: only changes record what implemented them")
        current = [dict(r) for r in rec.data.get("implemented_by") or [] if isinstance(r, Mapping)]
        if any(rules.same_work(r, ref) for r in current):
            raise Refused(f"{rec.id} already records {rules.describe(ref)}")
        return records.edit(app.config, rec.data, {"implemented_by": [*current, ref]}, app.actor, app.now, pol,
                            note=f"implemented by {rules.describe(ref)}")

    return app._change(record_id, "implement", lambda d: f"implemented by {rules.describe(ref)}", op)


def _properties(schemas: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The properties a record schema (by file name) lists."""
    return (schemas.get(name) or {}).get("properties") or {}


def change_paths(desk: Desk, rels: Sequence[str] | None) -> list[str]:
    """The record files (of ``rels``, or all) whose type can record implemented_by (its schema has the field)."""
    config = desk.config
    schemas = desk.schemas()
    prefixes = tuple(f"{t.prefix}-" for t in config.types.values()
                     if t.kind == "ticket" and t.prefix and "implemented_by" in _properties(schemas, t.schema))
    if not prefixes:
        return []
    paths = rels if rels is not None else desk.record_paths(("tickets",))
    return [rel for rel in paths if rel.startswith("tickets/") and rel.rpartition("/")[2].startswith(prefixes)]


#: The cache section of each change file's commit and tag references; bump the suffix when _references changes.
REFS_SECTION = ("implemented", "refs-1")


def _references(raw: bytes, rel: str) -> tuple[tuple[str, str, str | None], ...]:
    """(kind, commit or tag, repo) of each commit and tag a change file names; () for most files."""
    if b"implemented_by" not in raw:
        return ()
    from itsm_cli.store import yaml_io

    try:
        data = yaml_io.load_mapping(raw, rel)
    except ItsmError:
        return ()  # reported by the main check
    out = []
    for ref in data.get("implemented_by") or [] if isinstance(data.get("implemented_by"), list) else []:
        kind = rules.kind_of(ref) if isinstance(ref, Mapping) else None
        if kind in ("commit", "tag") and isinstance(ref[kind], str):
            repo = ref.get("repo")
            out.append((kind, ref[kind], repo if isinstance(repo, str) else None))
    return tuple(out)


def implementation_problems(desk: Desk, rels: Sequence[str] | None = None, listing: Any = None) -> list[Problem]:
    """Commits and tags that changes name but their repository (at hand) does not have, as validate problems.

    Which files name any is remembered per file content in the desk's cache
    (``listing``: the keys validate just computed), so a desk whose changes
    did not change is not read again; only the references are asked of git.
    """
    from itsm_cli.store.cache import MISSING, Cache, code_fingerprint, fingerprint

    try:
        paths = change_paths(desk, rels)
    except ItsmError:
        return []  # the configuration or schemas are broken: the main check says so
    declared = desk.config.data.get("repositories") or {}
    cache = Cache.open(desk) if listing is not None else None
    section = cache.section(REFS_SECTION[0], fingerprint(code_fingerprint(), REFS_SECTION[1])) if cache else None
    keys = listing.keys_of(paths) if section is not None else [None] * len(paths)
    stored = section.get_many(list(paths), keys) if section is not None else [MISSING] * len(paths)
    repos = Repositories(desk)
    out: list[Problem] = []
    for rel, key, refs in zip(paths, keys, stored):
        if refs is MISSING:
            try:
                raw = (listing.raw_of(rel) if listing is not None else None) or desk.read_bytes(rel)
            except ItsmError:
                continue  # reported by the main check
            refs = _references(raw, rel)
            if section is not None:
                section.put(rel, key, refs)
        missing = [(i, kind, value, repo) for i, (kind, value, repo) in enumerate(refs)
                   if (repo is None or repo in declared) and repos.exists(repo, kind, value) is False]
        if not missing:
            continue
        try:
            record = desk.load(rel)
        except ItsmError:
            continue
        for json_path, message in rules.existence_problems(record.data, repos_exists(repos, declared)):
            line, col = record.locate(json_path)
            out.append(Problem(rel, line, col, message, "reference"))
    if section is not None and rels is None:  # a subset would drop the other files' rows on a rewrite
        section.save(paths)
    return out


def repos_exists(repos: Repositories, declared: Mapping[str, Any]) -> Callable[[str | None, str, str], bool | None]:
    """``exists(repo, kind, value)`` for :func:`itsm_cli.core.releases.existence_problems`: an undeclared
    repository is not asked (it is its own problem, reported by the main check)."""
    def exists(repo: str | None, kind: str, value: str) -> bool | None:
        if repo is not None and repo not in declared:
            return None
        return repos.exists(repo, kind, value)

    return exists


def implementation_details(desk: Desk, record: Mapping[str, Any], own: Git | None = None) -> list[dict[str, Any]]:
    """Each implemented_by item with what the repository at hand says of it (for ``itsm audit change``).

    Keys: the item's own (``commit``/``tag``/``pr``, ``repo``, ``release``),
    ``kind``, ``description``, ``checked`` (the repository was at hand),
    ``exists`` (None when not checked or a PR) and, for a commit found,
    ``commit`` (full ID), ``subject``, ``author_name``, ``author_email``, ``date``.
    """
    repos = Repositories(desk, own)
    out: list[dict[str, Any]] = []
    for ref in record.get("implemented_by") or []:
        if not isinstance(ref, Mapping):
            continue
        kind = rules.kind_of(ref)
        item: dict[str, Any] = {**ref, "kind": kind, "description": rules.describe(ref),
                                "checked": False, "exists": None}
        declared = ref.get("repo") is None or ref.get("repo") in repos.declared
        git = repos.git(ref.get("repo")) if declared and kind in ("commit", "tag") else None
        if git is not None:
            item["checked"] = True
            if kind == "commit":
                summary = git.commit_summary(str(ref["commit"]))
                item["exists"] = summary is not None
                if summary:
                    item.update(summary)
            else:
                item["exists"] = git.has_tag(str(ref["tag"]))
        url = (repos.declared.get(ref.get("repo")) or {}).get("url") if ref.get("repo") else None
        if url:
            item["url"] = url
        out.append(item)
    return out
