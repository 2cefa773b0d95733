"""``itsm upgrade``: move a desk of the earlier flat layout (``tickets/INC-0042.yaml``) to ``tickets/<PREFIX>/<NNN>/``.

One commit (``Itsm-Action: upgrade``) that git sees as renames: every ticket
keeps its blob, so history, audit and verify follow it across the move (the
flat path is still named by the ID alone). ``.gitattributes`` lines that route
``tickets/*.yaml`` through the record merge driver are widened to
``tickets/**/*.yaml`` in the same commit, so branches made before the upgrade
still merge field by field after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from itsm_cli.core import ids
from itsm_cli.errors import InvalidRecord, Refused
from itsm_cli.store.atomic import write_atomic
from itsm_cli.store.desk import TICKETS, Desk
from itsm_cli.store.gitstore import Git

ATTRIBUTES = ".gitattributes"
_FLAT_PATTERN = re.compile(r"^tickets/\*\.yaml(?=\s)", re.M)


@dataclass
class UpgradeResult:
    """What ``itsm upgrade`` did: the tickets it moved, into how many bucket folders, and its commit."""

    moved: int
    buckets: int
    commit: str | None
    attributes: bool = False  # .gitattributes widened to the new layout


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
    """Move every flat ticket to its bucket folder in one commit; nothing to do is not an error."""
    git = Git(desk.root)
    with desk.lock(upgrading=True):
        moves = plan_moves(desk)
        if not moves:
            return UpgradeResult(0, 0, None)
        dirty = git.status_lines()
        if dirty:
            raise Refused(f"the work tree has changes ({dirty[0][3:]}{' and more' if len(dirty) > 1 else ''}); "
                          "commit or stash them, then run 'itsm upgrade' again")
        git.check_can_commit()
        extra = []
        attributes = desk.root / ATTRIBUTES
        if attributes.is_file():
            text = desk.read_bytes(ATTRIBUTES).decode("utf-8", "replace")
            widened = _FLAT_PATTERN.sub("tickets/**/*.yaml", text)
            if widened != text:
                write_atomic(attributes, widened)
                extra.append(ATTRIBUTES)
        buckets = len({new.rpartition("/")[0] for _, new in moves})
        message = (f"itsm: move {len(moves)} ticket(s) to tickets/<PREFIX>/<NNN>/ ({buckets} folder(s))\n\n"
                   "Each ticket keeps its content; git sees renames.\n\nItsm-Action: upgrade\n")
        try:
            sha = git.commit_moves(moves, extra, message, author_name, author_email)
        except BaseException:
            if extra:
                git.run("checkout", "-q", "HEAD", "--", *extra, check=False, shielded=True)
            raise
        return UpgradeResult(len(moves), buckets, sha, bool(extra))
