"""One change to the desk: files written atomically, then one commit, or nothing at all."""

from __future__ import annotations

from collections.abc import Sequence

from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git


def commit_message(record_id: str, action: str, summary: str, extra_ids: Sequence[str] = ()) -> str:
    """``INC-0042: transition new -> assigned`` plus the ``Itsm-Id``/``Itsm-Action`` trailers."""
    lines = [f"{record_id}: {summary}", "", f"Itsm-Id: {record_id}"]
    lines.extend(f"Itsm-Id: {other}" for other in extra_ids)
    lines.append(f"Itsm-Action: {action}")
    return "\n".join(lines) + "\n"


def save(
    desk: Desk,
    writes: Sequence[tuple[str, str | None]],
    message: str,
    author_name: str,
    author_email: str,
    commit: bool = True,
) -> str | None:
    """Write (or, for ``None`` text, delete) files and make one commit of exactly them.

    If anything fails, including the commit (a hook refuses, ``index.lock`` is
    held, HEAD is detached with no branch, paths are unmerged) or the user
    presses Ctrl-C, the work tree and index are put back as they were.
    Returns the commit ID, or None with ``commit=False``.
    """
    git = Git(desk.root)
    paths = [rel for rel, _ in writes]
    snap = git.snapshot(paths, index=commit)
    try:
        for rel, text in writes:
            if text is None:
                (desk.root / rel).unlink(missing_ok=True)
            else:
                desk.write_text(rel, text)
        if not commit:
            return None
        return git.commit(paths, message, author_name, author_email)
    except BaseException:
        git.restore(snap)
        raise
