"""What the desk's bot shares between the jobs it runs on a schedule (``itsm sweep``, ``itsm notify``).

Both read the records the time rules look at, and both commit as the bot
(``desk.bot`` in itsm.yaml), each change one commit through
:func:`itsm_cli.store.transaction.save`.
"""

from __future__ import annotations

from collections.abc import Sequence

from itsm_cli.store import transaction
from itsm_cli.store.desk import Desk


def record_folders(desk: Desk) -> tuple[str, ...]:
    """The folders of records the time rules and notifications look at: all but the catalog and suppliers."""
    return tuple(sorted({t.folder for t in desk.config.types.values() if t.kind not in ("service", "supplier")}))


def save_as_bot(desk: Desk, writes: Sequence[tuple[str, str]], record_id: str, action: str, summary: str,
                extra_ids: Sequence[str] = ()) -> str | None:
    """Write ``writes`` and commit them as the bot (``Itsm-Action: action``); the commit ID."""
    bot = desk.config.bot
    message = transaction.commit_message(record_id, action, summary, extra_ids)
    return transaction.save(desk, writes, message, desk.config.display_name(bot), bot)
