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
from typing import Any

from itsm_cli.app import App, Change
from itsm_cli.core import records
from itsm_cli.core import releases as rules
from itsm_cli.core.validate import Problem
from itsm_cli.errors import BadArgument, ItsmError, Refused
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git


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

    def op(rec: Any, pol: Any) -> dict[str, Any]:
        schema = app.schema_set()
        rtype = app.config.types.get(rec.type_name)
        if rtype is None or "implemented_by" not in _properties(schema, rtype.schema):
            raise Refused(f"{rec.id} is a {rec.type_name}: only changes record what implemented them")
        current = [dict(r) for r in rec.data.get("implemented_by") or [] if isinstance(r, Mapping)]
        if any(rules.same_work(r, ref) for r in current):
            raise Refused(f"{rec.id} already records {rules.describe(ref)}")
        return records.edit(app.config, rec.data, {"implemented_by": [*current, ref]}, app.actor, app.now, pol,
                            note=f"implemented by {rules.describe(ref)}")

    return app._change(record_id, "implement", lambda d: f"implemented by {rules.describe(ref)}", op)


def _properties(schemas: Any, name: str) -> Mapping[str, Any]:
    return ((schemas.schemas.get(name) if hasattr(schemas, "schemas") else None) or {}).get("properties") or {}


def change_paths(desk: Desk, rels: Sequence[str] | None) -> list[str]:
    """The record files (of ``rels``, or all) whose type can record implemented_by (its schema has the field)."""
    from itsm_cli.core.schema import SchemaSet

    config = desk.config
    schemas = SchemaSet(desk.schemas())
    prefixes = tuple(f"{t.prefix}-" for t in config.types.values()
                     if t.kind == "ticket" and t.prefix and "implemented_by" in _properties(schemas, t.schema))
    if not prefixes:
        return []
    paths = rels if rels is not None else desk.record_paths(("tickets",))
    return [rel for rel in paths if rel.startswith("tickets/") and rel.rpartition("/")[2].startswith(prefixes)]


def implementation_problems(desk: Desk, rels: Sequence[str] | None = None) -> list[Problem]:
    """Commits and tags that changes name but their repository (at hand) does not have, as validate problems."""
    try:
        paths = change_paths(desk, rels)
    except ItsmError:
        return []  # the configuration or schemas are broken: the main check says so
    declared = desk.config.data.get("repositories") or {}
    repos = Repositories(desk)
    out: list[Problem] = []

    def exists(repo: str | None, kind: str, value: str) -> bool | None:
        if repo is not None and repo not in declared:
            return None  # an undeclared repository is its own problem, reported by the main check
        return repos.exists(repo, kind, value)

    for rel in paths:
        try:
            if b"implemented_by" not in desk.read_bytes(rel):
                continue  # most changes name none: not parsed again
            record = desk.load(rel)
        except ItsmError:
            continue  # reported by the main check
        if not isinstance(record.data.get("implemented_by"), list):
            continue
        for json_path, message in rules.existence_problems(record.data, exists):
            line, col = record.locate(json_path)
            out.append(Problem(rel, line, col, message, "reference"))
    return out


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
