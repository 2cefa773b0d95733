"""Atomic file replacement: the one way itsm writes a file.

A temp file in the same folder is written, fsynced and renamed over the target,
so a reader (or a crash) sees the old file or the new one, never a mix. Temp
files are named ``.<name>.<random>.tmp``: hidden from the record scan, and
recognisable. A writer holding the desk lock names each temp file in a journal
before creating it, so the next writer removes what a killed process (SIGKILL,
power loss) could not, without listing a folder of 100,000 records.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"
# Temp file names: the prefix, 8 random characters (hex now; [a-z0-9_] from mkstemp before), the suffix.
_OURS = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _new_file_mode(path: Path) -> int:
    """The mode the file should have: the old file's, else what ``open()`` would give under the umask."""
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _create_temp(path: Path, journal: Callable[[Path], None] | None) -> tuple[int, Path]:
    """A new, empty temp file beside ``path`` (named in the journal first, when there is one)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"
        if journal is not None:
            journal(tmp)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {path}")


def write_atomic(path: Path, content: str | bytes, journal: Callable[[Path], None] | None = None,
                 durable: bool = True) -> None:
    """Write ``content`` to ``path`` via a temp file in the same folder, fsync and rename.

    A crash at any point leaves either the old file or the new one, never a mix,
    and the temp file is removed on any failure (including KeyboardInterrupt).
    Text is written as UTF-8 with ``\\n`` line ends; the file keeps its mode.
    ``journal`` is told the temp file's name before the file is created.
    ``durable=False`` skips the fsyncs: for disposable files (caches) that are
    checked when read, where a power loss may cost the file but never mixes it.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    with AtomicFile(path, journal, durable) as out:
        out.file.write(data)


class AtomicFile:
    """A file written in pieces and put in place whole: :func:`write_atomic` for content made as it goes.

    ``with AtomicFile(path) as out: out.file.write(...)`` renames the temp file
    over ``path`` when the block ends normally (or at ``out.commit()``, which
    may name another target) and removes it on any exception or at
    ``out.discard()``.
    """

    def __init__(self, path: Path, journal: Callable[[Path], None] | None = None, durable: bool = True):
        self.path = path
        self.durable = durable
        path.parent.mkdir(parents=True, exist_ok=True)
        self._mode = _new_file_mode(path)
        fd, self.tmp = _create_temp(path, journal)
        try:
            self.file: BinaryIO = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.discard()
            raise
        self.done = False

    def commit(self, path: Path | None = None) -> None:
        """Put what was written in place at ``path`` (the target given at the start by default)."""
        if self.done:
            return
        target = self.path if path is None else path
        try:
            os.fchmod(self.file.fileno(), self._mode if path is None else _new_file_mode(target))
            self.file.flush()
            if self.durable:
                os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, target)
        except BaseException:
            self.discard()
            raise
        self.done = True
        if self.durable:
            _fsync_dir(target.parent)

    def discard(self) -> None:
        """Drop what was written: the target keeps its old content (or stays absent)."""
        self.done = True
        with contextlib.suppress(AttributeError, OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform or file system allows it.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_temp_name(name: str) -> bool:
    """True for the name of a temp file :func:`write_atomic` makes."""
    return _OURS.fullmatch(name) is not None


def remove_temp_file(path: Path) -> bool:
    """Remove ``path`` if it is a temp file of ours (a regular file with our kind of name); True if removed."""
    if not is_temp_name(path.name):
        return False
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)
            return True
    return False
