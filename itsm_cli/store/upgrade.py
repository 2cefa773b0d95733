"""``itsm upgrade``: move a desk of the earlier flat layout (``tickets/INC-0042.yaml``) to ``tickets/<PREFIX>/<NNN>/``.

One commit (``Itsm-Action: upgrade``) that git sees as renames: every ticket
keeps its blob, so history, audit and verify follow it across the move (the
flat path is still named by the ID alone). ``.gitattributes`` lines that route
``tickets/*.yaml`` through the record merge driver are widened to
``tickets/**/*.yaml`` in the same commit, so branches made before the upgrade
still merge field by field after it.

The same command brings the desk's ``schemas/`` up to this itsm: a schema the
desk lacks is added, and one the desk never edited (its last commit is itsm's
own ``init`` or ``upgrade``) is replaced by this itsm's copy. A schema the desk
edited is left as it is and named, so nobody's added field is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from itsm_cli.core import ids
from itsm_cli.errors import InvalidRecord, Refused
from itsm_cli.store.atomic import write_atomic
from itsm_cli.store.desk import TICKETS, Desk
from itsm_cli.store.gitstore import Git

ATTRIBUTES = ".gitattributes"
SCHEMAS = "schemas"
_ITSM_OWNED = frozenset({"init", "upgrade"})  # the actions whose commit leaves a schema as itsm wrote it
_FLAT_PATTERN = re.compile(r"^tickets/\*\.yaml(?=\s)", re.M)


@dataclass
class UpgradeResult:
    """What ``itsm upgrade`` did: the tickets it moved, into how many bucket folders, and its commit."""

    moved: int
    buckets: int
    commit: str | None
    attributes: bool = False  # .gitattributes widened to the new layout
    schemas_added: list[str] = field(default_factory=list)
    schemas_updated: list[str] = field(default_factory=list)
    schemas_kept: list[str] = field(default_factory=list)  # edited on this desk, so not replaced


def shipped_schemas() -> Path:
    """This itsm's own copy of the schemas (what ``itsm init`` writes)."""
    from itsm_cli.store.skeleton import DATA

    return DATA / SCHEMAS


def plan_schemas(desk: Desk, git: Git) -> tuple[dict[str, bytes], list[str], list[str], list[str]]:
    """What to write under schemas/: (path -> new content, added, updated, kept as the desk edited them)."""
    writes: dict[str, bytes] = {}
    added: list[str] = []
    updated: list[str] = []
    kept: list[str] = []
    for source in sorted(shipped_schemas().glob("*.json")):
        rel = f"{SCHEMAS}/{source.name}"
        new = source.read_bytes()
        target = desk.root / rel
        if not target.is_file():
            writes[rel] = new
            added.append(rel)
            continue
        if target.read_bytes() == new:
            continue
        # Whose is the file now? Its last commit tells: itsm's own init/upgrade, or somebody's edit.
        if git.last_itsm_actions(rel) & _ITSM_OWNED:
            writes[rel] = new
            updated.append(rel)
        else:
            kept.append(rel)
    return writes, added, updated, kept


def plan_moves(desk: Desk) -> list[tuple[str, str]]:
    """(flat path, new path) for every ticket still in the flat layout; refuses a file it cannot place."""
    moves = []
    for rel in sorted(desk.flat_tickets(limit=1 << 62)):
        record_id = rel.rpartition("/")[2].removesuffix(".yaml")
        rtype = desk.config.type_for_id(record_id)
        if rtype is None or rtype.kind != "ticket":
            raise InvalidRecord(f"no ticket type uses the prefix of {record_id}; fix its name, then run 'itsm upgrade' "
                                "again", rel)
        target = ids.ticket_path(TICKETS, record_id)
        desk.check_path(target)
        moves.append((rel, target))
    return moves


def upgrade(desk: Desk, author_name: str, author_email: str) -> UpgradeResult:
    """Move every flat ticket to its bucket folder and bring schemas/ up to date, in one commit.

    Nothing to do is not an error: the result has no commit.
    """
    git = Git(desk.root)
    with desk.lock(upgrading=True):
        moves = plan_moves(desk)
        writes, added, updated, kept = plan_schemas(desk, git)
        if not moves and not writes:
            return UpgradeResult(0, 0, None, schemas_kept=kept)
        dirty = git.status_lines()
        if dirty:
            raise Refused(f"the work tree has changes ({dirty[0][3:]}{' and more' if len(dirty) > 1 else ''}); "
                          "commit or stash them, then run 'itsm upgrade' again")
        git.check_can_commit()
        extra: list[str] = []
        attributes = desk.root / ATTRIBUTES
        if moves and attributes.is_file():
            text = desk.read_bytes(ATTRIBUTES).decode("utf-8", "replace")
            widened = _FLAT_PATTERN.sub("tickets/**/*.yaml", text)
            if widened != text:
                write_atomic(attributes, widened)
                extra.append(ATTRIBUTES)
        widened_attributes = bool(extra)
        for rel, content in writes.items():
            write_atomic(desk.root / rel, content)
            extra.append(rel)
        buckets = len({new.rpartition("/")[0] for _, new in moves})
        message = _message(len(moves), buckets, added, updated)
        try:
            sha = git.commit_moves(moves, extra, message, author_name, author_email)
        except BaseException:
            _put_back(git, desk, extra, added)
            raise
        return UpgradeResult(len(moves), buckets, sha, widened_attributes, added, updated, kept)


def _message(moved: int, buckets: int, added: list[str], updated: list[str]) -> str:
    parts = []
    if moved:
        parts.append(f"move {moved} ticket(s) to tickets/<PREFIX>/<NNN>/ ({buckets} folder(s))")
    if added or updated:
        parts.append(f"bring {len(added) + len(updated)} schema(s) up to this itsm")
    body = []
    if moved:
        body.append("Each ticket keeps its content; git sees renames.")
    body += [f"Added {rel}." for rel in added] + [f"Updated {rel}." for rel in updated]
    return f"itsm: {'; '.join(parts)}\n\n" + "\n".join(body) + "\n\nItsm-Action: upgrade\n"


def _put_back(git: Git, desk: Desk, written: list[str], added: list[str]) -> None:
    """Undo the files this upgrade wrote: tracked ones from HEAD, new ones removed."""
    tracked = [rel for rel in written if rel not in added]
    if tracked:
        git.run("checkout", "-q", "HEAD", "--", *tracked, check=False, shielded=True)
    for rel in added:
        (desk.root / rel).unlink(missing_ok=True)
