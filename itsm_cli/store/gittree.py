"""Git tree objects in their raw form: read the entries, change a few, write the tree again.

A commit of one record changes the four small trees on its path (a bucket of
at most 1,000 tickets, its prefix folder, ``tickets/``, the root); they are
read raw with ``git cat-file --batch``, edited here and stored with ``git
hash-object``, so a commit never builds an index of the whole desk.

A raw tree is a sequence of entries ``<mode> SP <name> NUL <binary object ID>``,
sorted by name, where a subtree's name sorts as if it ended in ``/``. Modes are
octal without leading zeros (``40000`` for a tree).
"""

from __future__ import annotations

from collections.abc import Mapping

TREE_MODE = b"40000"


def sort_key(name: bytes, mode: bytes) -> bytes:
    """Where an entry goes in a tree: its name, with ``/`` after a subtree's name."""
    return name + b"/" if mode == TREE_MODE else name


def entry(mode: bytes, name: bytes, object_id: bytes) -> bytes:
    """One raw tree entry (``object_id`` in binary)."""
    return mode + b" " + name + b"\0" + object_id


def entries(raw: bytes, id_size: int = 20) -> dict[bytes, tuple[bytes, bytes]]:
    """The entries of a raw tree: name -> (mode, binary object ID); ValueError if it is not a tree."""
    out: dict[bytes, tuple[bytes, bytes]] = {}
    pos, size = 0, len(raw)
    while pos < size:
        space = raw.find(b" ", pos)
        nul = raw.find(b"\0", space + 1)
        end = nul + 1 + id_size
        if space <= pos or nul <= space or end > size:
            raise ValueError("not a git tree object")
        out[raw[space + 1:nul]] = (raw[pos:space], raw[nul + 1:end])
        pos = end
    return out


def splice_tree(raw: bytes, edits: Mapping[bytes, tuple[bytes, bytes] | None], id_size: int = 20) -> bytes:
    """``raw`` with each named entry replaced by ``(mode, binary ID)``, added, or removed (``None``).

    Entries that are not named keep their mode and ID; an unchanged tree
    comes back identical. ``id_size`` is the length of a binary object ID (20
    for SHA-1, 32 for SHA-256 repositories).
    """
    if not edits:
        return raw
    items = entries(raw, id_size)
    for name, value in edits.items():
        if value is None:
            items.pop(name, None)
        else:
            items[name] = value
    ordered = sorted(items.items(), key=lambda item: sort_key(item[0], item[1][0]))
    return b"".join(entry(mode, name, oid) for name, (mode, oid) in ordered)
