"""One change to the desk: files written atomically, then one commit, or nothing at all."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence

from itsm_cli.errors import one_line
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git, check_identity


def commit_message(
    record_id: str, action: str, summary: str, extra_ids: Sequence[str] = (), rules: Sequence[str] = ()
) -> str:
    """``INC-0042: transition new -> assigned`` plus the ``Itsm-Id``/``Itsm-Action`` (and ``Itsm-Rule``) trailers.

    ``rules`` names the desk rules that acted, as the bot, inside this change, so
    an auditor sees why entries by the bot ride in a person's commit.
    """
    # The summary quotes titles from hostile files: keep it one line with no terminal escapes,
    # so it cannot forge trailers or rewrite the terminal of whoever runs git log.
    lines = [one_line(f"{record_id}: {summary}", 400), "", f"Itsm-Id: {record_id}"]
    lines.extend(f"Itsm-Id: {other}" for other in extra_ids)
    lines.append(f"Itsm-Action: {action}")
    lines.extend(f"Itsm-Rule: {one_line(rule, 80)}" for rule in dict.fromkeys(rules))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C while the work tree is being put back; raise it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if pending:
        raise KeyboardInterrupt


def save(
    desk: Desk,
    writes: Sequence[tuple[str, str | None]],
    message: str,
    author_name: str,
    author_email: str,
    commit: bool = True,
) -> str | None:
    """Write (or, for ``None`` text, delete) files and make one commit of exactly them.

    A detached HEAD or unmerged paths are refused before anything is written.
    If anything fails afterwards, including the commit (a hook refuses,
    ``index.lock`` is held) or the user presses Ctrl-C, the work tree, index and
    HEAD are put back as they were (a second Ctrl-C waits until they are).
    Returns the commit ID, or None with ``commit=False``.
    """
    git = Git(desk.root)
    paths = [rel for rel, _ in writes]
    for rel in paths:
        desk.check_path(rel)
    if commit:
        check_identity(author_name, author_email)
        git.check_can_commit()
    snap = git.snapshot(paths, index=commit)
    try:
        for rel, text in writes:
            if text is None:
                (desk.root / rel).unlink(missing_ok=True)
            else:
                desk.write_text(rel, text)
        if not commit:
            return None
        return git.commit(paths, message, author_name, author_email, snap.head)
    except BaseException:
        with _interrupts_deferred():
            git.restore(snap)
        raise
