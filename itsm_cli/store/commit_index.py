"""Which commits touched each file of the desk, so ``itsm history`` does not walk the whole history.

``git log -- PATH`` diffs commits' trees to find the few that touched PATH.
Since tickets live in ``tickets/<PREFIX>/<NNN>/`` those diffs are cheap, and
a first ``itsm history`` on a fresh clone lets git walk (1.9 s at 100,000
commits). The index earns its place for ``itsm audit``, which needs what
every commit changed: each commit is diffed once, ever (``git diff-tree
--stdin``, one process per core), and what it changed is added to the lists
of the files it touched, with the blob IDs before and after, so the audit's
workers and later ``history`` runs (0.10 s, against 0.23 s for git's walk
with its commit-graph) need not diff those commits again.

The answer is exactly what the walk gives (tested against it): the commits
of ``rev``'s history whose diff against any parent names the path, in
``git rev-list --date-order`` order. That order, and which commits ``rev``
reaches, come from ``git rev-list`` once per tip (kept for the last few tips),
so commits left behind by a rebase or on another branch are never shown.

Files, under the desk's cache directory (disposable, never committed):

- ``commits/seen``: every commit indexed so far (binary object IDs, appended
  after the commits' paths are stored, so a crash only means doing them again);
- ``commits/pNN``: 64 shards, each a marshalled ``{path: entries}``, an
  entry being three binary object IDs (the commit, the file's blob before and
  after) and the path's place in the commit's diff, replaced whole;
- ``commits/order-TIP``: ``git rev-list --date-order TIP``, newest first.

Where they live, how they are written (whole, atomically) and the lock
writers hold (``commits/lock``; readers need none) are
:mod:`itsm_cli.store.cache_store`'s; a file found damaged or of another
format means the index starts afresh.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import os
import struct
import sys
import threading
import time
import zlib
from binascii import unhexlify
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from itsm_cli.errors import EnvironmentProblem
from itsm_cli.store import cache_store

if TYPE_CHECKING:
    from itsm_cli.store.desk import Desk
    from itsm_cli.store.gitstore import Git

__all__ = ["CommitIndex", "Touch"]

T = TypeVar("T")

MAGIC = b"ITSMCIX2"
SHARDS = 64
KEEP_ORDERS = 4  # tips whose commit order is kept (branches one switches between)
PER_WORKER = 2000  # commits to diff before a second git process is worth starting
PER_PROCESS = 25000  # commits one git process diffs (its memory grows by ~2 KB a commit: 190 MB at 25,000)
_SEP = b"\x1e"
_POSITION = struct.Struct(">I")  # where a path comes in its commit's diff


class Touch(NamedTuple):
    """A commit that changed a file, with the file's blob before and after (zeros: none, or a merge)."""

    sha: str
    old: str
    new: str


class CommitIndex:
    """The commits that touched each path of one desk, kept up to date with the history it is asked about."""

    def __init__(self, git: Git, directory: Path, prefix: str = ""):
        self.git = git
        self.directory = directory
        self.prefix = prefix  # the desk's folder in its repository ("" at the root), as git names it
        self.indexed = 0  # commits the last question had to diff first

    @classmethod
    def open(cls, desk: Desk, git: Git) -> CommitIndex | None:
        """The desk's index, or None where it cannot keep one (no cache: ``ITSM_NO_CACHE``, no git; no flock)."""
        if not cache_store.can_lock():  # without a lock two writers could lose each other's paths
            return None
        found = cache_store.directory(desk.root)
        if found is None:
            return None
        return cls(git, found[0] / "commits", git.locations()["prefix"])

    # -- the question ----------------------------------------------------------------------------

    def commits(self, path: str, rev: str = "HEAD") -> list[Touch]:
        """The commits of ``rev``'s history that changed ``path`` (relative to the desk), newest first.

        Each with the file's blob IDs before and after (for a plain commit; a
        merge's are read from its trees). Commits of ``rev`` not indexed yet
        are diffed and added first. EnvironmentProblem when ``rev`` is not a
        commit or git fails.
        """
        ready = self._ready(rev, lambda: self._shard(path).get(path, b""))
        if ready is None:
            return []
        tip, order, touched = ready
        width = len(tip) // 2
        size = 3 * width + _POSITION.size
        found: list[tuple[int, Touch]] = []
        for i in range(0, len(touched), size):
            sha = touched[i:i + width]
            pos = order.find(sha)
            while pos != -1 and pos % width:
                pos = order.find(sha, pos + 1)
            if pos != -1:
                old, new = touched[i + width:i + 2 * width], touched[i + 2 * width:i + 3 * width]
                found.append((pos, Touch(sha.hex(), old.hex(), new.hex())))
        found.sort()
        return [touch for _, touch in found]

    def changes(self, rev: str = "HEAD") -> tuple[list[str], dict[str, list[tuple[str, str, str, str]]]]:
        """Every commit of ``rev`` newest first, and what each changed as ``(old blob, new blob, "M", path)``.

        The changes in the order git's diff lists them (a merge: against its
        first parent, then the paths only its other parents' diffs add), ready
        for :class:`~itsm_cli.store.history.Trail`'s ``changes``. Reads every shard.
        """
        ready = self._ready(rev, lambda: [self._shard_number(n) for n in range(SHARDS)])
        if ready is None:
            return [], {}
        tip, order, shards = ready
        width = len(tip) // 2
        size = 3 * width + _POSITION.size
        wanted = {order[i:i + width] for i in range(0, len(order), width)}
        found: dict[bytes, list[tuple[int, str, str, str]]] = {}
        for shard in shards:
            for path, touched in shard.items():
                for i in range(0, len(touched), size):
                    sha = touched[i:i + width]
                    if sha in wanted:
                        (pos,) = _POSITION.unpack_from(touched, i + 3 * width)
                        found.setdefault(sha, []).append(
                            (pos, touched[i + width:i + 2 * width].hex(), touched[i + 2 * width:i + 3 * width].hex(),
                             path))
        changes = {sha.hex(): [(old, new, "M", path) for _, old, new, path in sorted(entries)]
                   for sha, entries in found.items()}
        return [order[i:i + width].hex() for i in range(0, len(order), width)], changes

    def diffs(self, oldest_first: Sequence[str]) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
        """Each of ``oldest_first`` with what it changed, ``(commit, [(path, entry)])``, as git diffs them.

        Every commit given, in order (one that changed nothing with an empty
        list); entries as :meth:`store` keeps them. One ``git diff-tree --stdin``
        read as it runs, so the caller works on the first commits while git
        diffs the rest. EnvironmentProblem when git fails.
        """
        if not oldest_first:
            return
        width = len(oldest_first[0]) // 2
        # One process after another, each given at most PER_PROCESS commits (git's memory grows with them).
        pairs = (pair for lo in range(0, len(oldest_first), PER_PROCESS)
                 for pair in _diff(self.git, oldest_first[lo:lo + PER_PROCESS], self.prefix, [0]))
        try:
            pending = next(pairs, None)
            for sha in oldest_first:
                binary = bytes.fromhex(sha)
                mine = []
                while pending is not None and pending[1][:width] == binary:
                    mine.append(pending)
                    pending = next(pairs, None)
                yield sha, mine
            if pending is not None:  # git answers in the order it is asked: anything else is not understood
                raise EnvironmentProblem("git diff-tree answered for a commit it was not asked about when it was")
        finally:
            pairs.close()

    def store(self, newest_first: Sequence[str], pairs: Iterable[tuple[str, bytes]]) -> None:
        """Keep what :meth:`diffs` said of ``newest_first``, every commit of the tip it starts from, newest first.

        Commits indexed meanwhile (by another itsm) are not added twice.
        """
        if not newest_first:
            return
        tip, width = newest_first[0], len(newest_first[0]) // 2
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not self._looks_whole():
                self.clear()
            seen = self._seen(width)
            missing = [sha for sha in newest_first if bytes.fromhex(sha) not in seen]
            if missing:
                wanted = {bytes.fromhex(sha) for sha in missing}
                self._add(missing, [pair for pair in pairs if pair[1][:width] in wanted])
            cache_store.write(self.directory / f"order-{tip}", MAGIC + b"".join(bytes.fromhex(s) for s in newest_first))
            self._forget_old_orders()

    def _ready(self, rev: str, read: Callable[[], T]) -> tuple[str, bytes, T] | None:
        """``rev``'s commit ID and order, every commit of it indexed, and what ``read`` reads from the shards.

        None for HEAD in a repository without commits. A damaged index is started afresh, once.
        """
        for attempt in (1, 2):
            self.indexed = 0
            tip = self.git.run("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False).strip()
            if not tip:
                if rev == "HEAD" and self.git.head() is None:
                    return None
                raise EnvironmentProblem(f"unknown revision '{rev}'")
            try:
                order = self._order(tip)
                return tip, order, read()
            except _Damaged:  # a file of the index is unreadable: it starts again from nothing
                if attempt == 2:
                    raise EnvironmentProblem(f"cannot keep the commit index in {self.directory}") from None
                self.clear()
        raise AssertionError("unreachable")

    def started(self) -> bool:
        """True once any commit has been indexed here (a fresh clone has no index yet)."""
        return (self.directory / "seen").exists()

    def clear(self) -> None:
        """Forget everything (the next question diffs every commit again); the lock file stays."""
        with contextlib.suppress(OSError), os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name != "lock":
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _looks_whole(self) -> bool:
        """True when ``seen`` and every shard have this format's header (or nothing is indexed yet).

        Checked before diffing, so that an index from another version of itsm,
        or one a full disk cut short, is not found wanting only after the work.
        """
        try:
            with open(self.directory / "seen", "rb") as f:
                if f.read(len(MAGIC)) != MAGIC:
                    return False
        except FileNotFoundError:
            return True
        except OSError:
            return False
        for number in range(SHARDS):
            try:
                with open(self._shard_path(number), "rb") as f:
                    if f.read(len(MAGIC)) != MAGIC:
                        return False
            except OSError:
                return False
        return True

    # -- keeping it up to date ------------------------------------------------------------------

    def _order(self, tip: str) -> bytes:
        """``tip``'s commits newest first (binary IDs), every one of them indexed."""
        kept = self.directory / f"order-{tip}"
        width = len(tip) // 2
        data = self._kept_order(tip)
        if data is not None:
            with contextlib.suppress(OSError):
                os.utime(kept)  # the most recently used tips are the ones kept
            return data
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not self._looks_whole():
                self.clear()
            newest_first, order = self._extend(tip)
            seen = self._seen(width)
            missing = [sha for sha in newest_first if bytes.fromhex(sha) not in seen]
            if missing:
                self._add(missing)
            cache_store.write(kept, MAGIC + order)
            self._forget_old_orders()
        return order

    def _kept_order(self, tip: str) -> bytes | None:
        try:
            data = (self.directory / f"order-{tip}").read_bytes()
        except OSError:
            return None
        if data.startswith(MAGIC) and (len(data) - len(MAGIC)) % (len(tip) // 2) == 0:
            return data[len(MAGIC):]
        return None

    def _extend(self, tip: str) -> tuple[list[str], bytes]:
        """``tip``'s order, and the commits in it that may be new (hex, newest first).

        When ``tip`` is a kept tip with a few plain commits on top (the case after
        every commit), its order is those commits, then the kept tip's: ``git
        rev-list --date-order`` shows a commit's only child before it and then
        walks on as from the commit itself. Anything else asks git for the whole
        order (0.1 s at 100,000 commits).
        """
        tips = [e.name[6:] for e in os.scandir(self.directory) if e.name.startswith("order-")]
        if tips:
            lines = self.git.run("rev-list", "--topo-order", "--parents", tip, "--not", *tips, check=False).splitlines()
            chain = [line.split() for line in lines]
            linear = all(len(c) == 2 for c in chain) and all(a[1] == b[0] for a, b in itertools.pairwise(chain))
            base = self._kept_order(chain[-1][1]) if chain and linear and chain[-1][1] in tips else None
            if base is not None:
                return [c[0] for c in chain], b"".join(bytes.fromhex(c[0]) for c in chain) + base
        newest_first = self.git.run("rev-list", "--date-order", tip).split()
        return newest_first, b"".join(bytes.fromhex(sha) for sha in newest_first)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with cache_store.locked(self.directory):
            yield

    def _seen(self, width: int) -> set[bytes]:
        try:
            data = (self.directory / "seen").read_bytes()
        except OSError:
            return set()
        if not data.startswith(MAGIC):
            return set()
        end = len(data) - (len(data) - len(MAGIC)) % width  # a torn append: its commits are done again
        return {data[i:i + width] for i in range(len(MAGIC), end, width)}

    def _add(self, missing: Sequence[str], pairs: Iterable[tuple[str, bytes]] | None = None) -> None:
        """Add what ``missing`` (newest first) changed (``pairs`` from :meth:`diffs`, else diffed now); then
        record them as seen."""
        self.indexed = len(missing)
        width = len(missing[0]) // 2
        by_shard: dict[int, dict[str, list[bytes]]] = {}
        for path, entry in _changes(self.git, missing, self.prefix) if pairs is None else pairs:
            by_shard.setdefault(_shard_of(path), {}).setdefault(path, []).append(entry)
        for number, additions in by_shard.items():
            shard = self._shard_number(number)
            for path, entries in additions.items():
                old = shard.get(path, b"")
                have = {old[i:i + width] for i in range(0, len(old), 3 * width + _POSITION.size)}
                fresh = [e for e in entries if e[:width] not in have]  # a crash may have stored some already
                shard[path] = old + b"".join(fresh)
            cache_store.write(self._shard_path(number), MAGIC + marshal.dumps(shard, 4))
        seen = self.directory / "seen"
        first = not seen.exists()
        if first:  # every shard exists from the start, so a missing one means damage
            for number in set(range(SHARDS)) - set(by_shard):
                cache_store.write(self._shard_path(number), MAGIC + marshal.dumps({}, 4))
        with open(seen, "ab") as f:
            if first:
                f.write(MAGIC)
            f.write(b"".join(bytes.fromhex(sha) for sha in missing))

    def _forget_old_orders(self) -> None:
        orders = []
        for entry in os.scandir(self.directory):
            if entry.name.startswith("order-"):
                with contextlib.suppress(OSError):
                    orders.append((entry.stat().st_mtime, entry.path))
        for _, old in sorted(orders, reverse=True)[KEEP_ORDERS:]:
            with contextlib.suppress(OSError):
                os.unlink(old)

    def _shard_path(self, number: int) -> Path:
        return self.directory / f"p{number:02x}"

    def _shard(self, path: str) -> dict[str, bytes]:
        return self._shard_number(_shard_of(path))

    def _shard_number(self, number: int) -> dict[str, bytes]:
        """One shard; empty before the first commit is indexed; _Damaged when it cannot be read after that."""
        try:
            data = self._shard_path(number).read_bytes()
        except FileNotFoundError:
            if not (self.directory / "seen").exists():
                return {}
            raise _Damaged from None
        except OSError:
            raise _Damaged from None
        try:
            shard = marshal.loads(data[len(MAGIC):]) if data.startswith(MAGIC) else None
        except (ValueError, EOFError, TypeError):
            shard = None
        if not isinstance(shard, dict):
            raise _Damaged
        return shard


class _Damaged(Exception):
    """A file of the index cannot be read."""


def _shard_of(path: str) -> int:
    return zlib.crc32(path.encode("utf-8", "surrogateescape")) % SHARDS


# -- diffing commits ------------------------------------------------------------------------------


def _changes(git: Git, commits: Sequence[str], prefix: str) -> list[tuple[str, bytes]]:
    """(path, entry) for every file each commit changed against any parent (every file of a root commit).

    An entry is the commit, the blob before and the blob after (binary IDs,
    zeros where there is none); a merge's entry holds only its ID meaningfully,
    as a merge's versions are read from its trees. ``git diff-tree --stdin``
    over consecutive stretches of ``commits`` (neighbouring commits share most
    of their trees, which git then caches), one process per core at a time,
    each given at most :data:`PER_PROCESS` commits (git's memory grows with the
    trees it has read). Progress on a terminal when it takes a while.
    """
    from itsm_cli.parallel import cpu_count

    step = max(1, min(PER_PROCESS, -(-len(commits) // max(1, min(cpu_count(), len(commits) // PER_WORKER)))))
    parts = [commits[i:i + step] for i in range(0, len(commits), step)]
    results: list[list[tuple[str, bytes]]] = [[] for _ in parts]
    errors: list[BaseException] = []
    done = [0]
    taken = iter(range(len(parts)))
    lock = threading.Lock()
    progress = _Progress(len(commits)) if sys.stderr.isatty() and len(commits) >= PER_WORKER else None

    def work() -> None:
        while not errors:
            with lock:
                i = next(taken, None)
            if i is None:
                return
            try:
                results[i] = list(_diff(git, parts[i], prefix, done))
            except BaseException as e:  # raised in the caller
                errors.append(e)

    threads = [threading.Thread(target=work, name=f"itsm-commit-index-{n}", daemon=True)
               for n in range(min(cpu_count(), len(parts)))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.25)
                if progress:
                    progress.show(done[0])
    finally:
        if progress:
            progress.end()
    if errors:
        raise errors[0]
    return [pair for part in results for pair in part]


def _diff(git: Git, commits: Sequence[str], prefix: str, done: list[int]) -> Iterator[tuple[str, bytes]]:
    """One ``git diff-tree --stdin`` over ``commits``: what :func:`_changes` asks of one process."""
    args = [
        "-c", "core.quotePath=false", "diff-tree", "--stdin", "-r", "-m", "--root", "--raw", "--no-abbrev",
        "--relative", "--no-renames", "--no-color", "--format=%x1e%H %P", "--", *(["."] if prefix else []),
    ]
    lines = git.stream(*args, what="git diff-tree", stdin=commits)
    try:
        yield from _parse(lines, done)
    finally:
        lines.close()


def _parse(lines: Iterable[bytes], done: list[int]) -> Iterator[tuple[str, bytes]]:
    """(path, entry) from ``--format=%x1e%H %P --raw``; a merge (its header once per parent) gives one per path."""
    sha = binary = zeros = b""
    merge = False
    paths: set[str] = set()
    for line in lines:
        if line.startswith(_SEP):
            header = line[1:].split()
            if header[0] == sha:
                continue  # the same merge, against its next parent
            sha, merge, paths = header[0], len(header) > 2, set()
            binary = unhexlify(sha)
            zeros = bytes(2 * len(binary))
            done[0] += 1
        elif line.startswith(b":"):
            meta, _, name = line.rstrip(b"\n").partition(b"\t")
            if name.startswith(b'"'):
                continue  # a quoted name has control characters: not a record
            path = name.decode("utf-8", "surrogateescape")
            if path in paths:
                continue
            paths.add(path)
            parts = meta.split()
            blobs = zeros if merge else unhexlify(parts[2] + parts[3])
            yield path, binary + blobs + _POSITION.pack(len(paths))


class _Progress:
    """``itsm: indexing the history: 41% (41,000 of 100,001 commits)`` on stderr, rewritten in place."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.clock = clock
        self.last = 0.0

    def show(self, done: int) -> None:
        now = self.clock()
        if now - self.last >= 0.5:
            self.last = now
            sys.stderr.write(f"\ritsm: indexing the history (once): {done * 100 // max(self.total, 1)}% "
                             f"({done:,} of {self.total:,} commits)")
            sys.stderr.flush()

    def end(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()
