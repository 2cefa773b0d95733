"""A disposable cache of per-file results, so an unchanged file is neither parsed nor validated twice.

It lives in ``.git/itsm-cache/`` (never committed, never shared) and the files
stay the only truth: any doubt (a corrupt or truncated cache file, another
format, an unreadable entry) and the cache is ignored and rebuilt.

Keys. A file's key is its git blob ID from ``git ls-files -s``, trusted only
when ``git diff-files`` says the work tree matches the index (git compares
stat data and, for racily-clean entries, content). Any other file (modified,
untracked, conflicted, ``assume-unchanged``) is read and keyed by the blob ID
of its bytes, so a change is never missed even within one mtime tick, and a
result computed before a commit is reused after it. A checkout, stash,
rebase or switch back to a branch brings back the same blob IDs, and with
them the cached results.

Sections. Each kind of result is a *section*: a table path -> (key, value),
stored as a base file plus a small delta file, so a run that changed a few
files writes only those. A section's header carries an *environment*
fingerprint (the itsm version and code, and for validation results
``itsm.yaml`` and every schema); another environment means an empty section.

Three sections exist: ``validate`` (per-file validation facts, see
:mod:`itsm_cli.store.check`), ``summary`` (the fields ``itsm list`` filters and
shows) and ``text`` (what ``itsm list --search`` searches).

Where the files live, the fingerprints, the file format, writing and
discarding are :mod:`itsm_cli.store.cache_store`'s; what ``itsm list`` does
with the summaries (filter, sort, search) is :mod:`itsm_cli.app.listing`'s.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_cli.errors import ItsmError
from itsm_cli.parallel import open_desk, parallel_map, worker_state
from itsm_cli.store import cache_store
from itsm_cli.store.cache_store import DIRNAME, DISABLE_ENV, blob_id, code_fingerprint, fingerprint, git_dir

if TYPE_CHECKING:
    from itsm_cli.store.desk import Desk

__all__ = [
    "DIRNAME", "DISABLE_ENV", "MISSING", "SUMMARY_FIELDS", "Cache", "Listing", "Section", "blob_id", "clear",
    "code_fingerprint", "fingerprint", "git_dir", "summaries", "summary_rows", "summary_table",
]

MISSING: Any = object()
# A delta larger than this share of its base (or than DELTA_MAX rows) is folded into a new base.
DELTA_SHARE = 0.1
DELTA_MAX = 5000

# Where the files live, the environment fingerprints, the file format, atomic writes: itsm_cli.store.cache_store.


# --- the cache -------------------------------------------------------------------------------


class Cache:
    """The cache of one desk: file keys, and sections of per-file results."""

    def __init__(self, desk: Desk, directory: Path, git_dir: Path):
        self.desk = desk
        self.directory = directory
        self.git_dir = git_dir
        self._started: tuple | None = None
        self.raw: dict[str, bytes] = {}  # bytes read while keying changed files (reused, not read twice)

    @classmethod
    def open(cls, desk: Desk) -> Cache | None:
        """The desk's cache, or None when it has no git directory or ``ITSM_NO_CACHE`` is set."""
        found = cache_store.directory(desk.root)
        return None if found is None else cls(desk, *found)

    def keys(self, paths: Sequence[str]) -> dict[str, str]:
        """Key of each of ``paths`` whose content can be identified; files that cannot be read get none."""
        listing = self.listing(paths)
        return {p: k for p in paths if (k := listing.get(p)) is not None}

    def start(self, folders: Sequence[str]) -> None:
        """Start asking git about ``folders`` now, so it works while this process lists the files."""
        from itsm_cli.store import gitprocess

        folders = tuple(sorted(folders))
        root, env = self.desk.root, {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
        index_file = self.git_dir / "index" if "GIT_INDEX_FILE" not in os.environ else None
        before = _trailer(index_file)
        df = gitprocess.start(["diff-files", "--name-only", "-z", "--relative", "--", *folders], root, env)
        if df is None:
            self._started = (folders, None, None, None, None)
            return
        snapshot_env = fingerprint(str(before), " ".join(folders))
        known = cache_store.read_framed(self.directory / "index.bin", snapshot_env) if before else None
        if known is not None:
            payload = known[1]
            ok = isinstance(payload, tuple) and len(payload) == 2 and all(isinstance(x, list) for x in payload)
            known = payload if ok and len(payload[0]) == len(payload[1]) else None
        ls = None
        if known is None:
            ls = gitprocess.start(["ls-files", "-s", "-v", "-z", "--", *folders], root, env)
            if ls is None:
                df.cancel()
                self._started = (folders, None, None, None, None)
                return
        self._started = (folders, (index_file, before, snapshot_env), known, ls, df)

    def _reap(self) -> None:
        """Wait for git processes started by :meth:`start` whose answer is not needed (no open pipes left)."""
        started, self._started = self._started, None
        for proc in (started or ())[3:]:
            if proc is not None:
                proc.output()

    def listing(self, paths: Sequence[str]) -> Listing:
        """The keys of ``paths`` (see the module docstring), and one digest for all of them."""
        listing = Listing(paths)
        folders = tuple(sorted({p.partition("/")[0] for p in paths}))
        if self._started is not None and (not paths or not set(folders) <= set(self._started[0])):
            self._reap()  # git was asked about other folders: let it finish, unused
        if not paths:
            listing.digest = fingerprint("")
            return listing
        if self._started is None:
            self.start(folders)
        assert self._started is not None
        _, state, known, ls, df = self._started
        self._started = None
        if df is None or state is None:
            return listing
        index_file, before, snapshot_env = state
        snapshot = self.directory / "index.bin"
        dirty_out = df.output()
        if ls is not None:
            out = ls.output()
            if ls.returncode != 0:
                return listing
            # "H 100644 <blob> 0<TAB>path": tag H is a plain cached entry (h = assume-unchanged, S = skip-worktree,
            # other stages = a conflict); anything else is keyed by its content below.
            names, blobs = [], []
            for blob, name in _TRUSTED.findall(out.decode("utf-8", "surrogateescape")):
                names.append(name)
                blobs.append(blob)
            if before is not None and _trailer(index_file) == before:
                with contextlib.suppress(OSError, ValueError):
                    cache_store.write_framed(snapshot, snapshot_env, "", (names, blobs))
        else:
            names, blobs = known
        if df.returncode != 0:
            return listing
        index = dict(zip(names, blobs))
        hashed: dict[str, str] = {}
        listing.unkeyed = set()
        for name in dirty_out.decode("utf-8", "surrogateescape").split("\0"):
            index.pop(name, None)
        for rel in paths:
            if rel in index:
                continue
            try:
                data = self.desk.read_bytes(rel)
            except (ItsmError, OSError):
                listing.unkeyed.add(rel)  # unreadable, a link, too big...: always checked the slow way
                continue
            self.raw[rel] = data
            hashed[rel] = blob_id(data)
        listing.index = index
        listing.hashed = hashed
        listing.raw = self.raw
        if not listing.unkeyed:
            # The index (its checksum) plus the files keyed by content determine every key.
            extra = "\0".join(f"{p}\0{k}" for p, k in sorted(hashed.items()))
            stamp = str(before) if before else "\0".join(map(index.__getitem__, (p for p in paths if p in index)))
            listing.digest = fingerprint(stamp, "\0".join(paths), extra)
        return listing

    def section(self, name: str, env: str, packed: bool = False) -> Section:
        """The named section, empty unless stored under the same environment."""
        return Section(self.directory, name, env, packed)


# An entry of `git ls-files -s -v -z` that starts right after the previous one's NUL (never inside a path).
_TRUSTED = re.compile(r"(?:^|(?<=\0))H 10064[45] ([0-9a-f]+) 0\t([^\0]*)\0")


def _trailer(index_file: Path | None) -> bytes | None:
    """The checksum git keeps at the end of its index (None when unknown or switched off)."""
    if index_file is None:
        return None
    try:
        with open(index_file, "rb") as f:
            f.seek(-32, os.SEEK_END)
            tail = f.read(32)
    except OSError:
        return None
    return tail if tail.strip(b"\0") and len(tail) == 32 else None


class Listing:
    """The key of each record file, from git's index or from the file's bytes."""

    def __init__(self, paths: Sequence[str]):
        self.paths = paths
        self.index: dict[str, str] = {}
        self.hashed: dict[str, str] = {}
        self.unkeyed: set[str] = set(paths)
        self.raw: dict[str, bytes] = {}
        self.digest: str | None = None  # identifies every (path, key) at once; None when some file has no key

    def keys_of(self, paths: Sequence[str]) -> list[str | None]:
        """The key of each of ``paths`` (None for those without one)."""
        if not self.hashed:
            return list(map(self.index.get, paths))
        return [self.get(p) for p in paths]

    def raw_of(self, path: str) -> bytes | None:
        """The bytes read while keying ``path`` (a changed file), if any."""
        return self.raw.get(path)

    def get(self, path: str) -> str | None:
        """The key of ``path``, or None."""
        key = self.index.get(path)
        return key if key is not None else self.hashed.get(path)


class Section:
    """A table path -> (key, value) stored as a base file and a delta file.

    ``get`` answers from the delta, then the base; ``put`` records a new row;
    ``save`` writes the rows that changed as the new delta, or folds
    everything into a new base when the delta has grown large.
    """

    def __init__(self, directory: Path, name: str, env: str, packed: bool = False):
        self.directory = directory
        self.name = name
        self.env = env
        self.packed = packed  # values are text, stored as one string (fast to load and to search)
        self.generation = ""
        self._paths: list[str] = []
        self._index_map: dict[str, int] | None = None
        self._keys: list[str] = []
        self._values: list[Any] = []
        self._delta: dict[str, tuple[str, Any]] = {}
        self._new: dict[str, tuple[str, Any]] = {}
        self._loaded = False

    # reading

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        base = cache_store.read_framed(self.directory / f"{self.name}.bin", self.env)
        if base is None:
            return
        generation, payload = base
        try:
            paths, keys, values = payload
            if isinstance(values, tuple) and len(values) == 3 and values[0] == "packed":
                values = _Packed.from_stored(values)
            if not (isinstance(paths, list) and isinstance(keys, list) and isinstance(values, (list, _Packed))):
                return
            if not len(paths) == len(keys) == len(values):
                return
        except (TypeError, ValueError):
            return
        self.generation = generation
        self._paths = paths
        self._keys = keys
        self._values = values
        delta = cache_store.read_framed(self.directory / f"{self.name}.delta", self.env)
        if delta is not None and delta[0] == generation:
            with contextlib.suppress(TypeError, ValueError):
                rows = delta[1]
                if isinstance(rows, dict):
                    self._delta = {p: (k, v) for p, (k, v) in rows.items()}

    @property
    def _index(self) -> dict[str, int]:
        if self._index_map is None:
            self._index_map = {p: i for i, p in enumerate(self._paths)}
        return self._index_map

    def __len__(self) -> int:
        self._load()
        return len(self._paths)

    def get(self, path: str, key: str | None) -> Any:
        """The value stored for ``path`` under ``key``, or MISSING."""
        if key is None:
            return MISSING
        row = self._new.get(path)
        if row is not None and row[0] == key:
            return row[1]
        self._load()
        row = self._delta.get(path)
        if row is not None and row[0] == key:
            return row[1]
        i = self._index.get(path)
        if i is None or self._keys[i] != key:
            return MISSING
        return self._values[i]

    def get_many(self, paths: list[str], keys: list[str | None]) -> list[Any]:
        """``get(path, key)`` for each path and its key, in one pass (fast when little changed)."""
        self._load()
        new, delta = self._new, self._delta
        if paths == self._paths:
            # The usual case: the same files as last time, so compare keys position by position.
            out = list(self._values)
            stored = self._keys
            for i in [i for i, (a, b) in enumerate(zip(keys, stored)) if a != b or a is None]:
                out[i] = self.get(paths[i], keys[i])
            for path in new.keys() | delta.keys():
                i = self._index.get(path)
                if i is not None and i < len(paths) and paths[i] == path:
                    out[i] = self.get(path, keys[i])
            return out
        return [self.get(path, key) for path, key in zip(paths, keys)]

    def search(self, paths: list[str], keys: list[str | None], words: list[str]) -> list[Any]:
        """For each path: whether its stored text contains every word, or MISSING when it has none stored."""
        self._load()
        values = self._values
        if not (isinstance(values, _Packed) and paths == self._paths):
            out: list[Any] = []
            for path, key in zip(paths, keys):
                text = self.get(path, key)
                out.append(MISSING if text is MISSING else all(w in text for w in words))
            return out
        marks = values.containing(words)
        out = [bool(m) for m in marks]
        for i in [i for i, (a, b) in enumerate(zip(keys, self._keys)) if a != b or a is None]:
            text = self.get(paths[i], keys[i])
            out[i] = MISSING if text is MISSING else all(w in text for w in words)
        for path in self._new.keys() | self._delta.keys():
            i = self._index.get(path)
            if i is not None and i < len(paths) and paths[i] == path:
                text = self.get(path, keys[i])
                out[i] = MISSING if text is MISSING else all(w in text for w in words)
        return out

    # writing

    def put(self, path: str, key: str | None, value: Any) -> None:
        """Remember ``value`` for ``path`` under ``key`` (kept only if it can be stored)."""
        if key is not None:
            self._new[path] = (key, value)

    @property
    def changed(self) -> bool:
        """True when rows were put since loading."""
        return bool(self._new)

    def save(self, current: Iterable[str]) -> None:
        """Write what changed; ``current`` are the paths that exist now (others are dropped on a rewrite)."""
        if not self._new:
            return
        if not self._loaded:
            # Only a few rows to add: the base's header is enough (a big base is not read at all).
            header = cache_store.read_framed_header(self.directory / f"{self.name}.bin", self.env)
            if header is not None:
                generation, count = header
                old = cache_store.read_framed(self.directory / f"{self.name}.delta", self.env)
                delta = old[1] if old is not None and old[0] == generation and isinstance(old[1], dict) else {}
                rows = {**delta, **self._new}
                if count and len(rows) <= min(DELTA_MAX, max(100, int(count * DELTA_SHARE))):
                    with contextlib.suppress(OSError, ValueError):
                        cache_store.write_framed(self.directory / f"{self.name}.delta", self.env, generation, rows)
                    self._new = {}
                    return
            self._load()
        rows = {**self._delta, **self._new}
        try:
            if self._paths and len(rows) <= min(DELTA_MAX, max(100, int(len(self._paths) * DELTA_SHARE))):
                cache_store.write_framed(self.directory / f"{self.name}.delta", self.env, self.generation, rows)
                self._new = {}
                return
            paths, keys, values = [], [], []
            for p in current:
                row = rows.get(p)
                if row is None:
                    i = self._index.get(p)
                    if i is None:
                        continue
                    row = (self._keys[i], self._values[i])
                paths.append(p)
                keys.append(row[0])
                values.append(row[1])
            generation = os.urandom(8).hex()
            stored: Any = _Packed.pack(values) if self.packed else values
            cache_store.write_framed(self.directory / f"{self.name}.bin", self.env, generation, (paths, keys, stored))
            cache_store.discard(self.directory / f"{self.name}.delta")
        except (OSError, ValueError):
            pass  # a read-only .git or a full disk: the cache is only ever an optimisation
        self._new = {}


class _Packed:
    """Many texts kept as one string, each followed by a newline (so no search word can span two)."""

    def __init__(self, text: str, offsets: Any):
        self.text = text
        self.offsets = offsets  # where each text starts, and where the next one would

    @classmethod
    def pack(cls, values: list[str]) -> tuple[str, str, bytes]:
        """The stored form of ``values``."""
        from array import array

        offsets = array("q", [0])
        at = 0
        for v in values:
            at += len(v) + 1
            offsets.append(at)
        return ("packed", "".join(v + "\n" for v in values), offsets.tobytes())

    @classmethod
    def from_stored(cls, stored: tuple) -> _Packed:
        """Back from :meth:`pack`'s form (ValueError when it does not fit together)."""
        from array import array

        _, text, raw = stored
        offsets = array("q")
        offsets.frombytes(raw)
        if not isinstance(text, str) or not offsets or offsets[-1] != len(text):
            raise ValueError("damaged packed text")
        return cls(text, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        if i < 0:
            i += len(self)
        return self.text[self.offsets[i] : self.offsets[i + 1] - 1]

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def containing(self, words: list[str]) -> bytearray:
        """1 for each text that contains every word (no word may hold whitespace), else 0."""
        import bisect

        result: bytearray | None = None
        find, offsets = self.text.find, self.offsets
        for word in words:
            marks = bytearray(len(self))
            pos = find(word)
            while pos >= 0:
                i = bisect.bisect_right(offsets, pos) - 1
                marks[i] = 1
                pos = find(word, offsets[i + 1])
            result = marks if result is None else bytearray(a & b for a, b in zip(result, marks))
        return result if result is not None else bytearray(b"\1") * len(self)


def clear(desk: Desk) -> None:
    """Remove the desk's cache (``itsm validate`` then starts cold)."""
    cache_store.clear(desk.root)


# --- summaries for `itsm list` ---------------------------------------------------------------

# What `itsm list` filters on, sorts by most often and shows; a record's summary holds exactly
# these values, so filtering summaries selects exactly what filtering whole records would.
SUMMARY_FIELDS = (
    "id", "type", "title", "name", "status", "created", "updated", "requester", "service", "services", "offering",
    "change_class", "impact", "urgency", "priority", "major", "assignee", "group", "tags", "due",
)
_ABSENT = None


# Fields with few distinct values: interned, so each value is stored and loaded once.
_CATEGORICAL = frozenset({"type", "status", "requester", "service", "offering", "change_class", "impact", "urgency",
                          "priority", "assignee", "group"})


def _summary_row(data: dict[str, Any]) -> tuple:
    row = []
    for name in SUMMARY_FIELDS:
        value = data.get(name)
        if name in _CATEGORICAL and isinstance(value, str) and len(value) <= 64:
            value = sys.intern(value)
        row.append(value)
    return tuple(row)


def _summarise(items: list[tuple[str, bytes | None]]) -> list[tuple[str, str | None, Any, str]]:
    """(path, key, summary row or None when it does not load, search text) of each file."""
    from itsm_cli.core.query import searchable_text
    from itsm_cli.errors import EnvironmentProblem, InvalidRecord
    from itsm_cli.store.desk import kind_of_path, parse_record

    desk = worker_state()
    out = []
    for rel, raw in items:
        key: str | None = None
        try:
            if raw is None:
                raw = desk.read_bytes(rel)
            key = blob_id(raw)
            data = parse_record(raw, rel, kind_of_path(rel) or "ticket").data
        except EnvironmentProblem:
            raise
        except InvalidRecord:
            out.append((rel, key, None, ""))
            continue
        out.append((rel, key, _summary_row(data), searchable_text(data)))
    return out


def summary_table(desk: Desk, folders: Sequence[str], words: list[str] | None) -> tuple[list[str], list[Any], list[Any]]:
    """Paths, summary rows (None: does not load) and, per path, the text or (given ``words``) whether it holds them all."""
    cache = Cache.open(desk)
    if cache is not None:
        cache.start(folders)
    paths = desk.record_paths(tuple(folders))
    listing = cache.listing(paths) if cache is not None else Listing(paths)
    env = code_fingerprint()
    summaries = cache.section("summary", env) if cache is not None else None
    texts = cache.section("text", env, packed=True) if cache is not None else None
    keys = listing.keys_of(paths)
    rows = summaries.get_many(paths, keys) if summaries is not None else [MISSING] * len(paths)
    if words == []:
        found: list[Any] = [True] * len(paths)  # nothing to search for: the texts are not even loaded
    elif texts is None:
        found = [MISSING] * len(paths)
    elif words is None:
        found = texts.get_many(paths, keys)
    else:
        found = texts.search(paths, keys, words)
    todo = [(rel, listing.raw_of(rel)) for rel, row, text in zip(paths, rows, found) if row is MISSING or text is MISSING]
    if todo:
        at = {rel: i for i, rel in enumerate(paths)}
        for rel, key, row, text in parallel_map(_summarise, todo, open_desk, (str(desk.root),)):
            rows[at[rel]] = row
            found[at[rel]] = text if words is None else all(w in text for w in words)
            if summaries is not None and texts is not None:
                summaries.put(rel, key, row)
                texts.put(rel, key, text)
        if summaries is not None and texts is not None:
            summaries.save(paths)
            texts.save(paths)
    return paths, rows, found


def summary_rows(desk: Desk, folders: Sequence[str] = ("tickets",), with_text: bool = False) -> list[tuple[str, tuple, str]]:
    """(path, summary row, search text) of every record in ``folders`` that loads, in path order.

    A row holds the values of :data:`SUMMARY_FIELDS`; the text is what
    ``--search`` looks in (lower case), or "" unless ``with_text``. Files whose
    summaries are cached are not read at all; the others are parsed (in
    worker processes when there are many) and both their summary and their
    text are cached.
    """
    paths, rows, texts = summary_table(desk, folders, None if with_text else [])
    return [(rel, row, text if with_text else "") for rel, row, text in zip(paths, rows, texts) if row is not None]


def summaries(desk: Desk, folders: Sequence[str] = ("tickets",)) -> list[dict[str, Any]]:
    """A small dict per record (the :data:`SUMMARY_FIELDS` it has), in path order; see :func:`summary_rows`."""
    return [_as_dict(row) for _, row, _ in summary_rows(desk, folders)]


def _as_dict(row: tuple) -> dict[str, Any]:
    return {name: value for name, value in zip(SUMMARY_FIELDS, row) if value is not None}
