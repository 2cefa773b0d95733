"""Audit rows remembered per commit, so the next ``itsm audit`` does not diff every tree again.

A commit never changes, nor do the files it points to, so the rows ``itsm
audit`` derives from it (:func:`itsm_cli.core.audit.audit_rows`) depend only
on the commit ID, the itsm code and the record types in itsm.yaml (they name
each row's type): that is the cache's *environment*. Rows live in
``.git/itsm-cache/audit/`` (disposable, never committed, cleared with the rest
of the cache) as *segments*: a run that had to compute commits writes one
segment for them, streaming (a cold run over 100,000 commits holds no more
than one chunk of rows), put in place whole when complete (where and how:
:mod:`itsm_cli.store.cache_store`).
Too many segments are merged into one. A segment that is damaged, truncated
or from another environment is ignored and removed, so its commits are simply
computed again. When thousands of commits are to be computed (a cold cache),
what each changed comes from the commit index
(:mod:`itsm_cli.store.commit_index`, which diffs on every core and serves
``itsm history`` too), so git only lists them.

Segment layout: ``MAGIC``, a length-prefixed marshalled header ``(FORMAT,
env)``, then chunks, each ``<index length><rows length><adler32 of both>``, the
marshalled list of the chunk's commit IDs and the marshalled list of their
rows, and an end mark (lengths 0) with the number of commits. A row is a tuple
in :data:`itsm_cli.core.audit.ROW_KEYS` order.

A warm run streams: every chunk's checksum is verified first (damage found
later would come after rows were printed), then only the commit IDs are
unmarshalled, and each chunk's rows are unmarshalled when the listing reaches
them (:class:`KnownRows`). Segments are written in the order the listing
prints, and a commit of more than :data:`PART` rows (a bulk import) spans
chunks of its own, one part each, so memory stays at a few chunks however
long the history is and however big a commit.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from itsm_cli.store import cache_store

if TYPE_CHECKING:
    from itsm_cli.core.audit import CommitInfo, FileChange
    from itsm_cli.core.config import Config
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.desk import Desk
    from itsm_cli.store.gitstore import Git

__all__ = ["AuditCache", "indexed_changes", "listing"]

MAGIC = b"ITSMAUD2"
FORMAT = 2
CHUNK = 512  # commits per chunk
PART = 4096  # rows per chunk of a commit with more (a bulk import): it takes chunks of its own
MAX_SEGMENTS = 8
INDEX_AFTER = 2000  # commits to compute before their diffs are better taken from the commit index
CHUNKS_KEPT = 8  # chunks of rows held unmarshalled at once
_CHUNK_HEAD = struct.Struct("<III")

Rows = tuple[tuple[Any, ...], ...]


class AuditCache:
    """The audit rows of every commit an earlier run computed, for one environment."""

    def __init__(self, directory: Path, env: str):
        self.directory = directory
        self.env = env
        self.written: Path | None = None  # the segment the last adding() block kept

    @classmethod
    def open(cls, desk: Desk, env: str) -> AuditCache | None:
        """The desk's audit cache, or None where the desk has no cache (no git directory, ``ITSM_NO_CACHE``)."""
        found = cache_store.directory(desk.root)
        return None if found is None else cls(found[0] / "audit", env)

    def _segments(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.name.endswith(".seg"))
        except OSError:
            return []

    def load(self) -> KnownRows:
        """Rows by commit ID from every readable segment (unreadable ones are removed), read as they are asked for.

        Close it when done (it holds the segments open, so a merge may replace them meanwhile).
        """
        known = KnownRows()
        for path in self._segments():
            try:
                f = open(path, "rb")  # noqa: SIM115 -- KnownRows closes it
            except OSError:
                continue
            try:
                chunks = _scan_segment(f, self.env)
            except (OSError, ValueError, EOFError, TypeError, struct.error):
                f.close()
                cache_store.discard(path)
                continue
            known.add_segment(f, chunks)
        return known

    @contextlib.contextmanager
    def adding(self) -> Iterator[Callable[..., None]]:
        """``add(sha, rows, more=False)`` records a commit's rows (``more``: a part; the rest follows); the
        segment is kept only if the block ends normally."""
        with cache_store.writer(self.directory / "segment") as out:
            writer = _SegmentWriter(out.file, self.env)
            yield writer.add
            writer.finish()
            if not writer.count:
                out.discard()
                return
            # Numbered when complete, under the lock, so two runs writing at once never take the same name.
            with cache_store.locked(self.directory):
                number = max((int(p.stem) for p in self._segments() if p.stem.isdigit()), default=0) + 1
                final = self.directory / f"{number:06d}.seg"
                out.commit(final)
        self.written = final

    def merge_if_many(self, known: KnownRows, wanted: Iterable[str]) -> None:
        """With more than :data:`MAX_SEGMENTS` segments, rewrite them as one holding the ``wanted`` commits.

        ``wanted`` in the order the listing prints them, so the merged segment is read straight through.
        """
        old = self._segments()
        if len(old) <= MAX_SEGMENTS:
            return
        self.written = None
        with self.adding() as add:
            for sha in wanted:
                if sha not in known:
                    continue
                rows = known.rows(sha)
                part = tuple(itertools.islice(rows, PART))
                while True:  # a big commit part by part, as it was written
                    following = tuple(itertools.islice(rows, PART))
                    add(sha, part, bool(following))
                    if not following:
                        break
                    part = following
        if self.written is None:  # nothing wanted is known: keep what there is
            return
        for path in old:
            cache_store.discard(path)


class _SegmentWriter:
    def __init__(self, f: BinaryIO, env: str):
        self.f = f
        header = marshal.dumps((FORMAT, env), 4)
        f.write(MAGIC + struct.pack("<I", len(header)) + header)
        self.shas: list[str] = []
        self.rows: list[Rows] = []
        self.count = 0
        self.big: str | None = None  # the big commit whose parts are being written
        self.parts = 0

    def add(self, sha: str, rows: Rows, more: bool = False) -> None:
        """Remember ``rows`` of commit ``sha``; ``more``: further rows of it follow (they are added next)."""
        if self.big is not None or more or len(rows) > PART:  # chunks of its own, one part each
            if self.big != sha:
                self._flush()
                self.big, self.parts = sha, 0
            for lo in range(0, len(rows), PART):
                self.shas.append(sha)
                self.rows.append(tuple(rows[lo:lo + PART]))
                self._flush(parts=True)
                self.parts += 1
            if not more:
                if not self.parts:  # no rows at all: the commit is still remembered
                    self.shas.append(sha)
                    self.rows.append(())
                    self._flush(parts=True)
                self.big = None
                self.count += 1
            return
        self.shas.append(sha)
        self.rows.append(rows)
        if len(self.shas) >= CHUNK:
            self._flush()

    def _flush(self, parts: bool = False) -> None:
        if self.shas:
            # A part's index is the commit ID in a tuple, a chunk's a list: the reader tells them apart.
            index, body = marshal.dumps(tuple(self.shas) if parts else self.shas, 4), marshal.dumps(self.rows, 4)
            self.f.write(_CHUNK_HEAD.pack(len(index), len(body), zlib.adler32(body, zlib.adler32(index))))
            self.f.write(index)
            self.f.write(body)
            self.count += 0 if parts else len(self.shas)
            self.shas, self.rows = [], []

    def finish(self) -> None:
        self._flush()
        self.f.write(_CHUNK_HEAD.pack(0, 0, self.count))


_READ = 1 << 20  # bytes a checksum pass reads at a time


def _scan_segment(f: BinaryIO, env: str) -> list[tuple[list[str] | tuple[str], int, int]]:
    """(commit IDs, offset and length of their rows) per chunk, every checksum verified; ValueError when damaged.

    A one-element tuple of IDs is a part of one big commit's rows (its parts are consecutive).

    All or none: a segment that is truncated, damaged anywhere or foreign is
    refused before any of its rows is used. The rows are not unmarshalled.
    """
    if f.read(8) != MAGIC:
        raise ValueError("not an audit cache segment")
    (size,) = struct.unpack("<I", f.read(4))
    if marshal.loads(f.read(size)) != (FORMAT, env):
        raise ValueError("another format or environment")
    seen = 0
    out: list[tuple[list[str] | tuple[str], int, int]] = []
    while True:
        index_length, length, check = _CHUNK_HEAD.unpack(f.read(_CHUNK_HEAD.size))
        if index_length == 0:
            if length != 0 or check != seen or f.read(1):
                raise ValueError("segment does not end where it says")
            return out
        index = f.read(index_length)
        at = f.tell()
        adler = zlib.adler32(index)
        left = length
        while left:
            block = f.read(min(left, _READ))
            if not block:
                raise ValueError("truncated chunk")
            adler = zlib.adler32(block, adler)
            left -= len(block)
        if len(index) != index_length or adler != check:
            raise ValueError("damaged chunk")
        shas = marshal.loads(index)
        part = type(shas) is tuple
        if not (type(shas) is list or (part and len(shas) == 1)) or not all(type(sha) is str for sha in shas):
            raise ValueError("damaged chunk")
        if part and not (out and out[-1][0] == shas):
            seen += 1  # the first part of a big commit
        elif not part:
            seen += len(shas)
        out.append((shas, at, length))


class KnownRows:
    """The rows of every remembered commit, by ID; a chunk's rows are unmarshalled when one of them is asked for.

    A big commit's parts are read one after the other as its rows are iterated.

    At most :data:`CHUNKS_KEPT` chunks are held. Should the asking hop between
    chunks so much that each would be read many times (segments written in
    another order), everything is read once and held instead.
    """

    def __init__(self) -> None:
        self._files: list[BinaryIO] = []
        self._chunks: list[tuple[BinaryIO, int, int]] = []
        self._where: dict[str, tuple[int, int, int]] = {}  # commit -> (chunk, place in it, parts)
        self._added: dict[str, list[tuple[Any, ...]]] = {}
        self._kept: dict[int, list[Rows]] = {}  # chunk -> its rows, oldest read first
        self._reads = 0

    def add_segment(self, f: BinaryIO, chunks: list[tuple[list[str] | tuple[str], int, int]]) -> None:
        self._files.append(f)
        previous: list[str] | tuple[str] | None = None
        for shas, at, length in chunks:
            number = len(self._chunks)
            self._chunks.append((f, at, length))
            if type(shas) is tuple:
                (sha,) = shas
                first, _, parts = self._where[sha] if shas == previous else (number, 0, 0)
                self._where[sha] = (first, 0, parts + 1)
            else:
                self._where.update((sha, (number, place, 0)) for place, sha in enumerate(shas))
            previous = shas

    def __contains__(self, sha: object) -> bool:
        return sha in self._added or sha in self._where

    def add(self, sha: str, rows: Rows) -> None:
        """Rows of a commit computed now (added to any already given for it: a big commit comes in parts)."""
        self._added.setdefault(sha, []).extend(rows)

    def rows(self, sha: str) -> Iterator[tuple[Any, ...]]:
        """The commit's rows (none when it is not known), a part at a time for a big one."""
        rows = self._added.get(sha)
        if rows is not None:
            yield from rows
            return
        found = self._where.get(sha)
        if found is None:
            return
        number, place, parts = found
        for chunk in range(number, number + max(parts, 1)):
            yield from self._chunk(chunk)[place]

    def _chunk(self, number: int) -> list[Rows]:
        rows = self._kept.get(number)
        return rows if rows is not None else self._read(number)

    def _read(self, number: int) -> list[Rows]:
        self._reads += 1
        if self._reads > 2 * len(self._chunks) + CHUNKS_KEPT:  # hopping about: read each chunk once, keep all
            for other in range(len(self._chunks)):
                if other not in self._kept:
                    self._kept[other] = self._unmarshal(other)
            return self._kept[number]
        rows = self._unmarshal(number)
        self._kept[number] = rows
        if len(self._kept) > CHUNKS_KEPT:
            del self._kept[next(iter(self._kept))]
        return rows

    def _unmarshal(self, number: int) -> list[Rows]:
        f, at, length = self._chunks[number]
        f.seek(at)
        return marshal.loads(f.read(length))

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files.clear()


# --- the listing ---------------------------------------------------------------------------------


def environment(config: Config, keys: Mapping[str, str] | None = None, allowed_signers: str = "") -> str:
    """The cache environment: the itsm code, the record types (they name each row's type) and the signing keys.

    The keys name each row's signer, and whether signatures were read at all
    (``keys`` None: not) changes the rows, so each is its own environment.
    """
    import json

    from itsm_cli.store.cache_store import code_fingerprint, fingerprint

    signing = "-" if keys is None else json.dumps([sorted(keys.items()), allowed_signers])
    return fingerprint("audit", code_fingerprint(), json.dumps(config.data.get("types"), sort_keys=True, default=str),
                       signing)


def listing(
    desk: Desk,
    git: Git,
    type_of: Callable[[FileChange], str],
    *,
    since: str | None = None,
    until: str | None = None,
    types: frozenset[str] | None = None,
    keys: Mapping[str, str] | None = None,
    allowed_signers: str = "",
    as_tuples: bool = False,
) -> Iterator[Any]:
    """The rows of ``itsm audit``, oldest first: from the cache for commits it knows, computed for the rest.

    Same rows, same order as streaming every commit through
    :func:`itsm_cli.core.audit.audit_rows`. Without a cache (``ITSM_NO_CACHE``,
    a desk in a folder of a larger repository, whose walk is path-limited), that
    is what it does. With one, a period is cut from every commit's rows: a cold
    cache computes them all (git diffs every commit for a period anyway), so the
    next question, whatever its period, is answered from the cache. With
    ``keys`` (fingerprint -> person), signatures are read too and name each
    row's signer (``allowed_signers``: git's list, see :class:`~itsm_cli.store.history.Trail`).
    Each row a dict with :data:`~itsm_cli.core.audit.ROW_KEYS`, or with ``as_tuples`` a tuple of their values
    in that order (as the cache holds them: half a million dicts are a good part of a cold audit's time).
    """
    from itsm_cli.core.audit import ROW_KEYS, audit_rows, in_period
    from itsm_cli.store.history import Trail
    from itsm_cli.store.spool import reversed_groups

    git.objects.for_history(git)  # every version of every record is read, here or in forked workers
    at_root = git.locations()["prefix"] == ""
    cache = AuditCache.open(desk, environment(desk.config, keys, allowed_signers)) if at_root else None
    order = _newest_first(git) if cache is not None else []
    sig: dict[str, Any] = {"signatures": keys is not None, "allowed_signers": allowed_signers}
    if cache is None:
        if at_root:  # git streams oldest first at once, and its walk overlaps with reading the versions
            found = audit_rows(Trail(git, since=since, until=until, **sig).commits(), type_of, since=since,
                               until=until, types=types, keys=keys, as_tuples=as_tuples)
        else:
            # A path-limited walk (a desk in a folder of a larger repository): oldest first would make git
            # simplify the whole history before printing anything, so it streams newest first, reversed here.
            trail = Trail(git, since=since, until=until, newest_first=True, **sig)
            groups = (list(audit_rows((c,), type_of, since=since, until=until, types=types, keys=keys,
                                      as_tuples=as_tuples))
                      for c in trail.commits())
            found = reversed_groups(groups)
        yield from found
        return

    at_date, at_type = ROW_KEYS.index("date"), ROW_KEYS.index("type")

    def kept(row: tuple[Any, ...]) -> bool:  # what audit_rows(since=, until=, types=) would have kept
        return in_period(row[at_date], since, until) and (types is None or row[at_type] in types)

    keep = kept if since or until or types is not None else None

    def rows_of(commit: Any) -> Rows:
        return tuple(audit_rows((commit,), type_of, keys=keys, as_tuples=True))

    known = cache.load() if order else KnownRows()
    try:
        yield from _listed(desk, git, cache, known, order, rows_of, keep, sig, as_tuples)
    finally:
        known.close()


def _listed(
    desk: Desk, git: Git, cache: AuditCache, known: KnownRows, order: list[str], rows_of: Callable[[CommitInfo], Rows],
    keep: Callable[[tuple[Any, ...]], bool] | None, sig: dict[str, Any] | None = None, as_tuples: bool = False,
) -> Iterator[Any]:
    """:func:`listing` with a cache: the remembered rows, and the others computed and remembered.

    Commits computed now are held in memory until printed (a few, unless
    thousands came at once); a cold cache streams them as it goes. ``keep``:
    which rows to print (None: all).
    """
    from itsm_cli.core.audit import ROW_KEYS
    from itsm_cli.store.history import Trail

    def shown(rows: Iterable[tuple[Any, ...]]) -> Iterable[Any]:
        rows = rows if keep is None else filter(keep, rows)
        return rows if as_tuples else (dict(zip(ROW_KEYS, row)) for row in rows)

    missing = [sha for sha in order if sha not in known]
    computed: Iterator[tuple[str, Rows, bool]] | None = None
    if missing and len(missing) >= INDEX_AFTER:
        from itsm_cli.store.commit_index import CommitIndex

        index = CommitIndex.open(desk, git)
        if index is not None and not index.prefix and not index.started() and len(missing) == len(order):
            # A fresh clone: git diffs the commits while the workers work out the rows of those it has done.
            computed = _rows_as_diffed(git, index, order, rows_of, sig)
        else:
            # At the very commit `order` starts from: a HEAD moved meanwhile must not leave a commit without its changes.
            indexed = indexed_changes(desk, git, order[0])
            if indexed is not None:  # what each commit changed is known: work out the rows on every core
                computed = _rows_on_every_core(git, missing, indexed[1], rows_of, sig)
    if computed is None:
        sig = sig or {}
        trail = Trail(git, **sig) if len(missing) == len(order) else Trail(git, commits=missing, **sig)
        computed = ((commit.sha, rows_of(commit), False) for commit in trail.commits())
    if missing and len(missing) == len(order):  # a cold cache: stream as without one, remembering as it goes
        with cache.adding() as add:
            for sha, rows, more in computed:
                add(sha, rows, more)
                yield from shown(rows)
        return
    if missing:
        with cache.adding() as add:
            for sha, rows, more in computed:
                known.add(sha, rows)
                add(sha, rows, more)
        cache.merge_if_many(known, reversed(order))
    for sha in reversed(order):
        yield from shown(known.rows(sha))


PER_TASK = 1000  # commits a worker computes at a time
PER_TASK_FILES = 4000  # files of one big commit a worker computes at a time
AHEAD = 64  # stretches done and waiting to be written out, at most (about 1 MB of rows each)

Changes = dict[str, list[tuple[str, str, str, str]]]  # commit -> (old blob, new blob, "M", path), as Trail takes them
Task = tuple[list[str], Changes, bool | None]


def _rows_on_every_core(
    git: Git, newest_first: list[str], changes: Changes, rows_of: Callable[[CommitInfo], Rows], sig: dict[str, Any] | None = None,
) -> Iterator[tuple[str, Rows, bool]]:
    """(commit, rows, more) for ``newest_first``, oldest first, worked out in forked workers (see :func:`_tasks`).

    Each worker reads its share with its own :class:`~itsm_cli.store.history.Trail`
    (git only lists the commits: ``changes`` says what they changed) and sends
    the rows back marshalled; this process writes them out while the workers go on.
    """
    from itsm_cli.parallel import fork_imap

    tasks = list(_tasks((sha, changes.get(sha, ())) for sha in reversed(newest_first)))
    _JOB.update(git=git, rows_of=rows_of, sig=sig or {})
    try:
        # Far ahead: a big stretch still takes a while, and the other workers go on meanwhile.
        yield from _results(zip(tasks, fork_imap(_task_rows, tasks, ahead=AHEAD), strict=True))
    finally:
        _JOB.clear()


def _rows_as_diffed(
    git: Git, index: CommitIndex, newest_first: list[str], rows_of: Callable[[CommitInfo], Rows],
    sig: dict[str, Any] | None = None,
) -> Iterator[tuple[str, Rows, bool]]:
    """:func:`_rows_on_every_core` for a desk whose commit index is not started (a fresh clone).

    One ``git diff-tree`` diffs every commit, oldest first, while forked
    workers work out the rows of the stretches it has done, so neither waits
    for the other; what git said is kept in the commit ``index``
    (:class:`~itsm_cli.store.commit_index.CommitIndex`), for ``itsm history``
    and the next audit, as soon as git is done (while the workers go on).
    """
    from itsm_cli.parallel import fork_imap_fed

    width = len(newest_first[0]) // 2

    def diffed() -> Iterator[tuple[str, list[tuple[str, str, str, str]]]]:
        said: list[tuple[str, bytes]] = []
        for sha, pairs in index.diffs(newest_first[::-1]):
            said.extend(pairs)
            yield sha, [(e[width:2 * width].hex(), e[2 * width:3 * width].hex(), "M", path) for path, e in pairs]
        index.store(newest_first, said)

    _JOB.update(git=git, rows_of=rows_of, sig=sig or {})  # before the workers are forked: they read it
    try:
        yield from _results(fork_imap_fed(_task_rows, _tasks(diffed()), ahead=AHEAD))
    finally:
        _JOB.clear()


def _tasks(commits: Iterable[tuple[str, Sequence[tuple[str, str, str, str]]]]) -> Iterator[Task]:
    """The workers' share of ``commits`` (each with what it changed, oldest first): ``(commits, changes, part)``.

    Stretches of :data:`PER_TASK` commits (``part`` None); a commit that
    changed more than :data:`PER_TASK_FILES` files (a bulk import: 80,000) goes
    out in parts of that many files, ``part`` true until its last part (a
    commit's rows come file by file; only a deleted file's entries reappearing
    in another file, as ``itsm renumber`` does, tie files together, so a commit
    that deletes a file, or a merge, is never split), so a bulk import is never
    held whole.
    """
    stretch: list[str] = []
    changes: Changes = {}
    for sha, files in commits:
        zero = "0" * len(sha)  # a deleted file's new blob; a merge's entries hold no blobs at all
        if len(files) > PER_TASK_FILES and all(new != zero for _, new, _, _ in files):
            if stretch:
                yield stretch, changes, None
                stretch, changes = [], {}
            for lo in range(0, len(files), PER_TASK_FILES):
                hi = min(lo + PER_TASK_FILES, len(files))
                yield [sha], {sha: list(files[lo:hi])}, hi != len(files)
            continue
        stretch.append(sha)
        if files:
            changes[sha] = list(files)
        if len(stretch) >= PER_TASK:
            yield stretch, changes, None
            stretch, changes = [], {}
    if stretch:
        yield stretch, changes, None


def _results(done: Iterable[tuple[Task, bytes]]) -> Iterator[tuple[str, Rows, bool]]:
    """(commit, rows, more) from the workers' answers, task by task; ``more`` while a big commit's parts follow."""
    for (commits, _, part), data in done:
        rows: list[tuple[str, Rows]] = marshal.loads(data)
        if part is None:
            yield from ((sha, found, False) for sha, found in rows)
        else:
            yield commits[0], tuple(row for _, found in rows for row in found), part


_JOB: dict[str, Any] = {}  # what the forked workers of _rows_on_every_core read


def _task_rows(task: Task) -> bytes:
    from itsm_cli.store.history import Trail

    commits, changes, _ = task
    trail = Trail(_JOB["git"], commits=commits[::-1], changes=changes, **_JOB["sig"])  # newest first given, read oldest first
    rows_of = _JOB["rows_of"]
    return marshal.dumps([(commit.sha, rows_of(commit)) for commit in trail.commits()], 4)


def indexed_changes(
    desk: Desk, git: Git, rev: str = "HEAD",
) -> tuple[list[str], dict[str, list[tuple[str, str, str, str]]]] | None:
    """``rev``'s commits newest first and what each changed, from the commit index (brought up to date first).

    None without an index (no cache, or a desk in a folder of a larger
    repository, whose walks list only the commits that touched the folder).

    Diffing a commit is most of its cost on a big desk (two 4 MB trees at
    100,000 records); the index does it on every core, once for ``history``
    and the audit alike, and git then only lists the commits.
    """
    from itsm_cli.store.commit_index import CommitIndex

    index = CommitIndex.open(desk, git)
    if index is None or index.prefix:
        return None
    return index.changes(rev)


def _newest_first(git: Git) -> list[str]:
    """Every commit of HEAD in the order ``itsm audit`` walks them (git log's), newest first; none when unborn."""
    if git.head() is None:
        return []
    return git.run("rev-list", "--date-order", "--full-history", "HEAD").split()
