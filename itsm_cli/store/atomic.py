"""Atomic file replacement: the one way itsm writes a file.

A temp file in the same folder is written, fsynced and renamed over the target,
so a reader (or a crash) sees the old file or the new one, never a mix. Temp
files are named ``.<name>.<random>.tmp``: hidden from the record scan, and
recognisable so that the next writer, holding the desk lock, can remove what a
killed process (SIGKILL, power loss) could not.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# mkstemp's names: the prefix, 8 characters from [a-z0-9_], the suffix.
_OURS = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _new_file_mode(path: Path) -> int:
    """The mode the file should have: the old file's, else what ``open()`` would give under the umask."""
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` via a temp file in the same folder, fsync and rename.

    A crash at any point leaves either the old file or the new one, never a mix,
    and the temp file is removed on any failure (including KeyboardInterrupt).
    Text is written as UTF-8 with ``\\n`` line ends; the file keeps its mode.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform or file system allows it.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temp_files(folder: Path) -> list[str]:
    """Remove temp files a killed writer left in ``folder``; only call while holding the desk lock."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if _OURS.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed
