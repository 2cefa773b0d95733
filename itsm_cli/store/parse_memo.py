"""What the YAML loader made of a file, remembered with the file's bytes, so a reading command can skip PyYAML.

``itsm show`` parses three small files: ``itsm.yaml``, the record, and a
record that links to it. Importing PyYAML to parse them costs about 12 ms, a
fifth of the command (its reader compiles a large Unicode pattern on import).
The same bytes read by the same loader give the same value, so a file whose
bytes were parsed before is taken from here and PyYAML is never imported.

- Only files that parsed without error are remembered; a file the loader refuses
  is refused again each time, with its line and column.
- The key is the file's bytes themselves: an entry holds them and is taken only
  when they are equal, byte for byte. Their CRC-32 and length name the entry
  (a clash of names is only a miss). Not a SHA-1 blob ID: importing hashlib
  starts OpenSSL, 2 ms of the 12 saved.
- The environment (the itsm version, the loader's code, Python and PyYAML) is in
  each entry's header, so an upgrade or an edited checkout reads as a miss.
- Only the first :data:`READS_PER_DESK` files a command reads go through the
  memo: a command that reads a whole desk (``validate``, ``list``, the site)
  never pays for writing entries.
- The folder keeps at most :data:`MAX_ENTRIES` entries: from time to time the
  oldest half is removed.

It is a cache in :mod:`itsm_cli.store.cache_store`'s sense: under the git
directory, never shared, off with ``ITSM_NO_CACHE``, and any doubt (a missing,
damaged or foreign entry, a folder that cannot be written) means "parse the file".
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path
from typing import Any

from itsm_cli.store import cache_store

__all__ = ["MAX_ENTRIES", "READS_PER_DESK", "ParseMemo", "entry_name"]

FORMAT = 1
FOLDER = "parsed"
READS_PER_DESK = 8
MAX_ENTRIES = 2000
_CODE = ("store/yaml_io.py", "store/file_text.py", "store/parse_memo.py")


class ParseMemo:
    """The parsed-file memo of one desk; a memo without a folder parses every time."""

    def __init__(self, folder: Path | None, env: str = "") -> None:
        self.folder = folder
        self.env = env

    @classmethod
    def for_desk(cls, root: Path) -> ParseMemo:
        """The memo of the desk at ``root``: none without git, with ``ITSM_NO_CACHE``, or when the code cannot be stamped."""
        found = cache_store.directory(root)
        if found is None:
            return cls(None)
        try:
            env = _environment()
        except OSError:
            return cls(None)
        return cls(found[0] / FOLDER, env)

    def load_mapping(self, raw: bytes, path: str) -> dict[str, Any]:
        """What :func:`itsm_cli.store.yaml_io.load_mapping` returns for ``raw``: remembered, or parsed and remembered."""
        if self.folder is None:
            from itsm_cli.store import yaml_io

            return yaml_io.load_mapping(raw, path)
        name = entry_name(raw)
        entry = self.folder / name
        found = cache_store.read_framed(entry, self.env)
        if found is not None:
            payload = found[1]
            if type(payload) is tuple and len(payload) == 2 and payload[0] == raw and type(payload[1]) is dict:
                return payload[1]
        from itsm_cli.store import yaml_io

        value = yaml_io.load_mapping(raw, path)  # InvalidRecord goes to the caller; nothing is remembered
        try:
            cache_store.write_framed(entry, self.env, name, (raw, value))
        except (OSError, ValueError):  # a read-only clone, a full disk: the memo is only a shortcut
            return value
        if name.startswith("00"):  # one write in 256 looks at the folder's size
            self.trim()
        return value

    def trim(self) -> None:
        """Keep the newest half of the entries once there are more than :data:`MAX_ENTRIES`."""
        if self.folder is None:
            return
        try:
            names = [n for n in os.listdir(self.folder) if len(n) == _NAME_LENGTH]
        except OSError:
            return
        if len(names) <= MAX_ENTRIES:
            return
        aged = []
        for name in names:
            try:
                aged.append((os.stat(self.folder / name).st_mtime_ns, name))
            except OSError:
                continue
        aged.sort()
        for _, name in aged[: len(aged) - MAX_ENTRIES // 2]:
            cache_store.discard(self.folder / name)


_NAME_LENGTH = 16


def entry_name(raw: bytes) -> str:
    """The name of the entry for a file of these bytes: CRC-32 and length, in hex."""
    return f"{zlib.crc32(raw):08x}{len(raw):08x}"  # len <= limits.MAX_BYTES


_ENV: str | None = None


def _environment() -> str:
    """The itsm version, the loader's code, Python and the installed PyYAML (found, not imported)."""
    global _ENV
    if _ENV is None:
        import importlib.util

        from itsm_cli import __version__

        spec = importlib.util.find_spec("yaml")
        origin = spec.origin if spec is not None and spec.origin else ""
        st = os.stat(origin) if origin else None
        pyyaml = f"{origin}:{st.st_size}:{st.st_mtime_ns}" if st is not None else "-"
        _ENV = "\n".join((__version__, str(FORMAT), sys.version, cache_store.code_stamp(*_CODE), pyyaml))
    return _ENV
