"""Daily work on tickets beyond the workflow: watchers, attachments and the requester's rating.

Each function is one validated change through :class:`itsm_cli.app.App`
(one commit, or with an ID of ``-`` one commit of many records); the rules
themselves are in :mod:`itsm_cli.core.collab` and :mod:`itsm_cli.core.attachments`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from itsm_cli.app import App, Change
from itsm_cli.core import attachments, collab
from itsm_cli.errors import BadArgument, EnvironmentProblem
from itsm_cli.store.desk import Desk, Record


def watch(app: App, record_id: str, person: str | None) -> Change:
    """Add a watcher (default: the acting person)."""
    who = collab.resolve_person(app.config, person, app.actor)
    return app._change(
        record_id, "watch", lambda d: f"watch {who}",
        lambda rec, pol: collab.watch(app.config, rec.data, who, app.actor, app.now, pol),
    )


def unwatch(app: App, record_id: str, person: str | None) -> Change:
    """Remove a watcher (default: the acting person)."""
    who = collab.resolve_person(app.config, person, app.actor)
    return app._change(
        record_id, "unwatch", lambda d: f"unwatch {who}",
        lambda rec, pol: collab.unwatch(app.config, rec.data, who, app.actor, app.now, pol),
    )


def rate(app: App, record_id: str, score: int, note: str | None) -> Change:
    """The requester rates a resolved ticket (1-5)."""
    return app._change(
        record_id, "rate", lambda d: f"rate {score}/5",
        lambda rec, pol: collab.rate(app.config, rec.data, score, note, app.actor, app.now, pol),
    )


def read_file(app: App, path: str) -> tuple[str, bytes]:
    """A local file's name and bytes; a folder, a special file or one over the desk's limit is refused unread."""
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise BadArgument(f"cannot read {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadArgument(f"{path} is not a regular file")
    name = Path(path).name
    attachments.check_size(app.config, name, st.st_size)
    try:
        with open(path, "rb") as f:
            data = f.read(attachments.max_bytes(app.config) + 1)
    except OSError as e:
        raise EnvironmentProblem(f"cannot read {path}: {e.strerror}") from None
    return name, data


def planned_paths(desk: Desk, record_id: str, names: list[str]) -> list[str]:
    """Where files of these names would be stored for ``record_id``: safe names, unique in its folder."""
    folder = desk.root / attachments.FOLDER / record_id
    taken = set(os.listdir(folder)) if folder.is_dir() else set()
    out = []
    for n, name in enumerate(names, 1):
        stored = attachments.unique_name(attachments.safe_name(name, n), taken)
        taken.add(stored)
        out.append(f"{attachments.FOLDER}/{record_id}/{stored}")
    return out


def attach(app: App, record_id: str, files: list[tuple[str, bytes]], note: str | None = None,
           declared: list[str | None] | None = None) -> tuple[Change, list[str]]:
    """Keep ``files`` (name, bytes) in ``attachments/<ID>/`` with one ``attach`` entry each, in the record's commit.

    Names are made safe and unique in the folder (``report-2.pdf`` when
    ``report.pdf`` is there); returns the change and the desk paths written.
    """
    config = app.config
    for name, data in files:
        attachments.check_size(config, name, len(data))
    written: list[str] = []

    def plan(rec: Record) -> list[tuple[str, bytes, str]]:
        names = [rel.rpartition("/")[2] for rel in planned_paths(app.desk, rec.id, [name for name, _ in files])]
        types = declared or [None] * len(files)
        return [(stored, data, attachments.content_type(stored, ctype))
                for stored, (_, data), ctype in zip(names, files, types)]

    planned: dict[str, list[tuple[str, bytes, str]]] = {}

    def op(rec: Record, pol: Any) -> dict[str, Any]:
        planned[rec.id] = plan(rec)
        return attachments.attach(config, rec.data, planned[rec.id], app.actor, app.now, pol, note)

    def extra(rec: Record, new: dict[str, Any]) -> list[tuple[str, bytes]]:
        out = [(f"{attachments.FOLDER}/{rec.id}/{name}", data) for name, data, _ in planned[rec.id]]
        written.extend(rel for rel, _ in out)
        return out

    names = ", ".join(name for name, _ in files)
    ids = app.read_ids() if record_id == "-" else [record_id]
    change = app.change_many(ids, "attach", lambda d: f"attach {names}", op, files=extra)
    return change, written
