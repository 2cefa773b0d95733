"""Where itsm's caches live, how they are keyed, written, locked and thrown away: the one cache store.

Every cache is disposable: it lives under the git directory in ``itsm-cache/``
(never committed, never shared; one sub-folder per desk when the desk is a
folder of a larger repository), the files stay the only truth, and any doubt
(a file that is missing, truncated, damaged, of another format or written by
another itsm) means "no cache": the caller computes again and the file is
replaced. A cache is never the reason a command fails.

The caches, each a module of its own that says only what it stores and how
it computes it:

- :mod:`itsm_cli.store.cache`: per-file results (validation facts, ``itsm
  list`` summaries and search texts) keyed by git blob ID, and the highest
  record number per git tree;
- :mod:`itsm_cli.store.commit_index`: which commits touched each path, keyed
  by commit ID;
- :mod:`itsm_cli.store.audit_cache`: ``itsm audit``'s rows per commit.

Keys. Files are keyed by their git blob ID (:func:`blob_id`), trees and
commits by theirs; what else decides a cached value (the itsm version and
code, the libraries, ``itsm.yaml``, the schemas) is folded into an
*environment* string (:func:`fingerprint`, :func:`code_fingerprint`) kept in
each file's header: another environment reads as no cache.

Writing. Every cache file is written by :class:`itsm_cli.store.atomic.AtomicFile`
(``durable=False``: a cache is checked when read, so it does without fsync),
through :func:`write` or :func:`writing`: a reader sees the old file or the new
one. Writers that must not interleave (the commit index's appends) hold
:func:`locked`; readers need no lock.

The one framed format (:func:`write_framed` / :func:`read_framed`): ``MAGIC``,
a length-prefixed marshalled header ``(FORMAT, env, generation, body length,
adler32 of the body, row count)``, then the marshalled body.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from itsm_cli.errors import ItsmError
from itsm_cli.store.atomic import AtomicFile

__all__ = [
    "DIRNAME", "DISABLE_ENV", "blob_id", "clear", "code_fingerprint", "directory", "discard", "fingerprint",
    "git_dir", "locked", "read_framed", "read_framed_header", "write", "write_framed", "writing",
]

DIRNAME = "itsm-cache"
DISABLE_ENV = "ITSM_NO_CACHE"
FORMAT = 1
MAGIC = b"ITSMCCH1"
_LENGTH = struct.Struct("<I")


# --- where ----------------------------------------------------------------------------------------


def git_dir(root: Path) -> Path | None:
    """The git directory of the desk at ``root`` (a linked worktree's own), or None when it has none."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError, IndexError):
            first = dot.read_text(encoding="utf-8").splitlines()[0]
            if first.startswith("gitdir:"):
                found = (root / first.partition(":")[2].strip()).resolve()
                return found if found.is_dir() else None
        return None
    from itsm_cli.store import gitprocess

    try:
        code, out, _ = gitprocess.run(["rev-parse", "--absolute-git-dir"], root)
    except (OSError, ItsmError):
        return None
    found = out.decode("utf-8", "replace").strip()
    return Path(found) if code == 0 and found else None


def directory(root: Path) -> tuple[Path, Path] | None:
    """(the cache folder, the git directory) of the desk at ``root``; None without git or with ``ITSM_NO_CACHE``."""
    if os.environ.get(DISABLE_ENV):
        return None
    gdir = git_dir(root)
    if gdir is None:
        return None
    folder = gdir / DIRNAME
    if not (root / ".git").exists():
        # A desk in a sub-folder of a repository: one cache per desk.
        folder = folder / fingerprint(str(root.resolve()))[:12]
    return folder, gdir


def clear(root: Path) -> None:
    """Remove every cache of the desk at ``root`` (the next command starts cold)."""
    import shutil

    found = directory(root)
    if found is not None:
        shutil.rmtree(found[0], ignore_errors=True)


# --- keys -----------------------------------------------------------------------------------------


def fingerprint(*parts: bytes | str) -> str:
    """A short digest of ``parts`` (order matters)."""
    import hashlib  # here, not at the top: OpenSSL's start-up is 2 ms that `itsm show` need not pay

    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def blob_id(data: bytes) -> str:
    """The git (SHA-1) blob ID of ``data``."""
    import hashlib

    h = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    h.update(data)
    return h.hexdigest()


_CODE: str | None = None
# The modules whose code decides a cached result (parsing, validation, summaries). Their size and
# mtime are part of every cache's environment, so an edited checkout never reuses stale results.
CODE_FILES = (
    "errors.py", "core/validate.py", "core/workflow.py", "core/config.py", "core/schema.py", "core/ids.py",
    "core/query.py", "core/audit.py", "store/yaml_io.py", "store/file_text.py", "store/desk.py", "store/check.py", "store/cache.py",
    "store/cache_store.py", "store/history.py", "store/audit_cache.py",
)


def code_fingerprint() -> str:
    """The itsm version, the code that computes cached results, and the libraries it relies on."""
    global _CODE
    if _CODE is None:
        import importlib.util

        from itsm_cli import __version__

        package = Path(__file__).resolve().parents[1]
        parts: list[str] = [__version__, str(FORMAT), sys.version]
        files = [package / name for name in CODE_FILES]
        # PyYAML (its version, and whether its libyaml extension is there) by its files, found without importing
        # it: a warm `itsm list` or `show` never needs it (12 ms). jsonschema words the messages of schema problems.
        for name in ("yaml", "jsonschema"):
            spec = importlib.util.find_spec(name)
            if spec is None or not spec.origin:
                parts.append(f"{name}:-")
                continue
            files.append(Path(spec.origin))
            if name == "yaml":
                files += sorted(Path(spec.origin).parent.glob("_yaml*"))
        for path in files:
            try:
                st = path.stat()
            except OSError:
                parts.append(f"{path}:-")
                continue
            parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
        _CODE = fingerprint(*parts)
    return _CODE


def code_stamp(*names: str) -> str:
    """Size and mtime of the package's modules ``names`` (OSError when one is missing): a narrower code key."""
    package = Path(__file__).resolve().parents[1]
    stats = [(package / name).stat() for name in names]
    return ":".join(f"{st.st_size}:{st.st_mtime_ns}" for st in stats)


# --- writing, locking, discarding -----------------------------------------------------------------


def write(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` whole (a reader sees the old file or the new one); folders are made."""
    with writing(path) as f:
        f.write(data)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Any]:
    """A binary file to write a cache file in pieces; in place at ``path`` only if the block ends normally."""
    with AtomicFile(path, durable=False) as out:
        yield out.file


def writer(path: Path) -> AtomicFile:
    """An :class:`AtomicFile` for a cache file whose final name is chosen at the end (``commit(final)``)."""
    return AtomicFile(path, durable=False)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of the cache in ``folder`` (its ``lock`` file) for the block.

    One lock per cache folder, so a long writer of one cache (indexing a
    history) never holds up another. Without ``flock`` (not POSIX) there is no
    lock: callers that need one check :func:`can_lock` first.
    """
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def can_lock() -> bool:
    """True where :func:`locked` works (POSIX ``flock``)."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def discard(path: Path) -> None:
    """Remove a cache file found damaged or stale (gone already is fine; it is rebuilt when next needed)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


# --- the framed format ----------------------------------------------------------------------------


def write_framed(path: Path, env: str, generation: str, payload: Any) -> None:
    """Store ``payload`` (marshallable) at ``path`` under ``env``; OSError/ValueError when it cannot be."""
    body = marshal.dumps(payload, 4)
    count = len(payload[0]) if isinstance(payload, tuple) and payload and isinstance(payload[0], list) else len(payload)
    header = marshal.dumps((FORMAT, env, generation, len(body), zlib.adler32(body), count), 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writing(path) as f:
        f.write(MAGIC + _LENGTH.pack(len(header)) + header)
        f.write(body)


def read_framed(path: Path, env: str) -> tuple[str, Any] | None:
    """(generation, payload) of a framed file, or None when it is missing, foreign, stale or damaged."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        if data[:8] != MAGIC:
            return None
        (size,) = _LENGTH.unpack_from(data, 8)
        fmt, stored_env, generation, length, checksum, _ = marshal.loads(data[12 : 12 + size])
        body = memoryview(data)[12 + size :]
        if fmt != FORMAT or stored_env != env or len(body) != length or zlib.adler32(body) != checksum:
            return None
        return generation, marshal.loads(body)
    except Exception:  # any damage at all means "no cache"
        return None


def read_framed_header(path: Path, env: str) -> tuple[str, int] | None:
    """(generation, row count) from a framed file's header, without reading its body."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:8] != MAGIC:
                return None
            (size,) = _LENGTH.unpack_from(head, 8)
            fmt, stored_env, generation, length, _, count = marshal.loads(f.read(size))
            f.seek(0, os.SEEK_END)
            if fmt != FORMAT or stored_env != env or f.tell() != 12 + size + length:
                return None
            return generation, count
    except Exception:  # any damage at all means "no cache"
        return None
