"""Reversing a long stream without holding it: groups spooled to a temp file, read back last first.

``git log`` streams newest first; asking it for oldest first (``--reverse``)
with a path limit makes it simplify the whole history before printing
anything, so nothing can overlap with that walk. :func:`reversed_groups` lets a reader take git's order
and still give its caller the oldest first, with memory bounded by a chunk.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

CHUNK = 2048  # items per pickled chunk


def reversed_groups(groups: Iterable[list[Any]], chunk: int = CHUNK) -> Iterator[Any]:
    """The items of ``groups`` with the groups in reverse order and each group's items in their own order."""
    with tempfile.TemporaryFile() as spool:
        offsets: list[int] = []
        pending: list[list[Any]] = []
        size = 0
        for group in groups:
            if not group:
                continue
            pending.append(group)
            size += len(group)
            if size >= chunk:
                offsets.append(spool.tell())
                pickle.dump(pending, spool, protocol=pickle.HIGHEST_PROTOCOL)
                pending, size = [], 0
        for group in reversed(pending):
            yield from group
        for offset in reversed(offsets):
            spool.seek(offset)
            for group in reversed(pickle.load(spool)):  # our own temp file, written just now
                yield from group
