"""The highest record number on each branch's trees, remembered per tree, for ``itsm new``.

A git tree never changes, so the answer for a tree (and a prefix) is kept in
``highest.bin`` in the desk's cache folder (see :mod:`itsm_cli.store.cache_store`):
other branches' trees are read once, not at every ``itsm new``. Kept apart
from :mod:`itsm_cli.store.cache` (the per-file results of ``validate`` and
``list``) so that ``new`` imports only this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from itsm_cli.store import cache_store

if TYPE_CHECKING:
    from itsm_cli.store.desk import Desk


def highest_on_trees(desk: Desk, tree_ids: Sequence[str], prefix: str, scan: Callable[[list[str]], list[int]]) -> int:
    """The highest record number with ``prefix`` in any of the git trees ``tree_ids`` (0 when none).

    Each tree's answer is remembered (``highest.bin``, holding only the trees
    asked about last); ``scan(ids)`` reads the trees not seen yet and returns
    their numbers, in order.
    """
    from itsm_cli import __version__

    found_dir = cache_store.directory(desk.root)
    path = found_dir[0] / "highest.bin" if found_dir is not None else None
    try:  # the code that reads the numbers (the name rules, the tree reader) is part of what the answers depend on
        env = f"highest:{__version__}:{cache_store.code_stamp('core/ids.py', 'store/gitstore.py')}"
    except OSError:
        path = None
        env = ""
    found = cache_store.read_framed(path, env) if path is not None else None
    known: dict[str, int] = found[1] if found is not None and isinstance(found[1], dict) else {}
    todo = [t for t in tree_ids if f"{t}:{prefix}" not in known]
    if todo:
        known.update((f"{t}:{prefix}", int(n)) for t, n in zip(todo, scan(todo)))
    current = set(tree_ids)
    if path is not None and (todo or len(known) > 4 * len(current) + 16):
        kept = {k: v for k, v in known.items() if k.partition(":")[0] in current}
        with contextlib.suppress(OSError, ValueError):
            cache_store.write_framed(path, env, "", kept)
    return max((known.get(f"{t}:{prefix}", 0) for t in tree_ids), default=0)
