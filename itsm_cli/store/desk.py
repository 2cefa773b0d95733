"""A desk on disk: finding it, mapping IDs to paths, reading records, writing them atomically.

This is the one place that turns an ID into a path. IDs are checked with
``fullmatch`` first, a path may not climb out of the desk, and symbolic links
are refused (the record file and every folder on the way to it), so a hostile
ID or file cannot reach outside the desk.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from itsm_cli.core import ids
from itsm_cli.core.config import Config, RecordType
from itsm_cli.errors import EnvironmentProblem, InvalidRecord, ItsmError, Refused
from itsm_cli.store.atomic import remove_temp_file, write_atomic
from itsm_cli.store.file_text import MAX_BYTES, decode, split_front_matter
from itsm_cli.store.parse_memo import READS_PER_DESK, ParseMemo

__all__ = ["Desk", "Record", "RecordIds", "kind_of_path", "known_ids", "parse_record", "write_atomic"]

CONFIG_FILE = "itsm.yaml"
FOLDERS = ("tickets", "kb", "catalog", "suppliers")
SUPPLIERS = "suppliers"
LOCK_TIMEOUT = 30.0


@dataclass
class Record:
    """One record file: its parsed data, and for KB articles the Markdown body."""

    path: str  # relative to the desk root, POSIX style
    data: dict[str, Any]
    kind: str  # ticket | article | service | supplier
    body: str | None = None
    body_line: int = 0
    raw: bytes = b""
    _positions: dict | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        """The record's ID as written in the file."""
        return str(self.data.get("id", ""))

    @property
    def type_name(self) -> str:
        """The record's type (``incident``, ``article``, ``service``...)."""
        return str(self.data.get("type") or ("article" if self.kind == "article" else self.kind))

    def locate(self, json_path: tuple = ()) -> tuple[int, int]:
        """Line and column of a value in the file (re-parsed on first use; only failing files pay)."""
        if self._positions is None:
            self._positions = {}
            # A record built in memory (about to be written) has no bytes yet: it is
            # located at 1:1 rather than letting the re-parse hide the real problem.
            from itsm_cli.store import yaml_io

            with contextlib.suppress(ItsmError):
                text = decode(self.raw, self.path)
                if self.kind == "article":
                    front, _, _ = split_front_matter(text, self.path)
                    text = "\n" + front  # keep line numbers as in the file
                yaml_io.loads(text, self.path, self._positions)
        path = tuple(json_path)
        while path and path not in self._positions:
            path = path[:-1]
        return self._positions.get(path, (1, 1))

    def serialise(self) -> str:
        """The file's text for this record's current data."""
        from itsm_cli.store import yaml_io

        if self.kind == "article":
            return yaml_io.dumps_front_matter(self.data, self.body or "")
        return yaml_io.dumps(self.data)


# What the record merge driver (or git itself) leaves in a file it could not merge.
_CONFLICT = rb"^(?:# itsm merge conflict: |<{7,}(?: |$)|>{7,}(?: |$))"


def parse_record(raw: bytes, path: str, kind: str, memo: ParseMemo | None = None) -> Record:
    """Parse file content into a Record (YAML, or Markdown with front matter for articles).

    A file still marked by an unresolved merge conflict is refused, so that a
    careless ``git add`` cannot commit one side's values without a decision.
    A YAML record is looked up in ``memo`` first (see :mod:`itsm_cli.store.parse_memo`).
    """
    # The substring tests first: a file with none of them cannot match (nearly every file), and
    # then the pattern is never compiled (0.2 ms of `itsm show`) nor run.
    marker = (re.search(_CONFLICT, raw, re.M)
              if b"# itsm merge conflict: " in raw or b"<<<<<<<" in raw or b">>>>>>>" in raw else None)
    if marker is not None:
        line = raw.count(b"\n", 0, marker.start()) + 1
        raise InvalidRecord("unresolved merge conflict: settle it, remove the marker lines, then git add", path, line, 1)
    if memo is not None and kind != "article":
        return Record(path, memo.load_mapping(raw, path), kind, raw=raw)
    from itsm_cli.store import yaml_io

    if kind == "article":
        text = decode(raw, path)
        front, body, body_line = split_front_matter(text, path)
        data = yaml_io.loads("\n" + front, path)
        if not isinstance(data, dict):
            raise InvalidRecord("front matter must be a mapping", path, 2, 1)
        return Record(path, data, kind, body, body_line, raw)
    data = yaml_io.load_mapping(raw, path)
    return Record(path, data, kind, raw=raw)


_RECORD_SUFFIX = {"tickets": ".yaml", "kb": ".md", "catalog": ".yaml", SUPPLIERS: ".yaml"}  # what kind_of_path() accepts in each folder
TICKETS = "tickets"
#: How deep a ticket file may sit under ``tickets/`` and still be seen (flat, a misplaced folder, or PREFIX/NNN):
#: validation names a file at any of these depths that is not where its ID says.
_TICKET_DEPTHS = (1, 2, 3)


def kind_of_path(rel: str) -> str | None:
    """ticket / article / service / supplier for a path under the record folders, else None.

    A ticket may sit at ``tickets/PREFIX/NNN/ID.yaml`` (its place), or flat at
    ``tickets/ID.yaml`` (the earlier layout) or one folder deep: those are still
    tickets, which validation then reports as misplaced.
    """
    folder, _, name = rel.partition("/")
    if folder == TICKETS:
        return "ticket" if name.endswith(".yaml") and name.count("/") < len(_TICKET_DEPTHS) else None
    if "/" in name:
        return None
    if folder == "kb" and name.endswith(".md"):
        return "article"
    if folder == "catalog" and name.endswith(".yaml"):
        return "service"
    if folder == SUPPLIERS and name.endswith(".yaml"):
        return "supplier"
    return None


def known_ids(paths: Iterable[str]) -> set[str]:
    """The IDs of record files (their names), and for each supplier also its key (:data:`ids.SUPPLIER_KEY` + ID).

    A reference to a supplier asks for the key, so a service of the same name never answers for it.
    """
    paths = list(paths)
    out = {rel.rpartition("/")[2].rpartition(".")[0] for rel in paths}
    lead = SUPPLIERS + "/"
    out.update(ids.SUPPLIER_KEY + rel[len(lead):].rpartition(".")[0] for rel in paths if rel.startswith(lead))
    return out


def _ticket_files(root: str, folder: str) -> list[str]:
    """The ``.yaml`` files under a tickets folder, desk-relative, to :data:`_TICKET_DEPTHS` deep (hidden names skipped).

    ``os.listdir`` a folder at a time, paths joined as text: at 100,000 tickets
    this is what every ``itsm list`` and ``validate`` starts with.
    """
    out: list[str] = []
    pending = [(folder, 1)]
    while pending:
        rel, depth = pending.pop()
        try:
            names = os.listdir(os.path.join(root, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
        lead = rel + "/"
        out.extend(lead + n for n in names if n.endswith(".yaml") and not n.startswith("."))
        if depth < len(_TICKET_DEPTHS):
            pending.extend((lead + n, depth + 1) for n in names if "." not in n)  # folders: PREFIX, NNN
    return out


class RecordIds(Set):
    """The IDs of the desk's record files: ``in`` looks for the one file, iterating lists them all.

    Commands ask whether a few IDs exist (link targets), so on a desk of
    100,000 records this answers without listing a folder. ``|`` and ``-``
    give views with IDs added or taken away (a record being created, renumbered).
    """

    def __init__(self, desk: Desk, added: Iterable[str] = (), removed: Iterable[str] = ()):
        self._desk = desk
        self._added = frozenset(added)
        self._removed = frozenset(removed) - self._added
        self._listed: set[str] | None = None

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str) or item in self._removed:
            return False
        if item in self._added:
            return True
        if item.startswith(ids.SUPPLIER_KEY):  # a supplier, asked by its key (suppliers share the slug IDs of services)
            sid = item[len(ids.SUPPLIER_KEY):]
            return ids.is_slug(sid) and os.path.lexists(os.path.join(self._desk.root, SUPPLIERS, sid + ".yaml"))
        try:
            return any(os.path.lexists(p) for p in self._desk.paths_for(item))
        except ItsmError:
            return False

    def _all(self) -> set[str]:
        if self._listed is None:
            on_disk = known_ids(self._desk.record_paths())
            self._listed = (on_disk - self._removed) | self._added
        return self._listed

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __or__(self, other: Iterable[str]) -> RecordIds:  # type: ignore[override]
        other = set(other)
        return RecordIds(self._desk, self._added | other, self._removed - other)

    __ror__ = __or__

    def __sub__(self, other: Iterable[str]) -> RecordIds:  # type: ignore[override]
        other = set(other)
        return RecordIds(self._desk, self._added - other, self._removed | other)


class ServiceIndex(Mapping[str, dict[str, Any]]):
    """The desk's catalog services by ID, each ``catalog/<ID>.yaml`` read the first time it is asked for.

    A change of one ticket asks about its own service (is it there, what are
    its offerings), so it reads that one file, not the whole catalog;
    listing the services (iterating, ``len``) reads them all, as a plain dict
    built from :meth:`Desk.records` would. Either way the answers are that
    dict's: a file that does not load is not there (``itsm validate`` names
    it), and a service is keyed by its ``id``.
    """

    def __init__(self, desk: Desk):
        self._desk = desk
        self._one: dict[str, dict[str, Any] | None] = {}
        self._all: dict[str, dict[str, Any]] | None = None

    def _every(self) -> dict[str, dict[str, Any]]:
        if self._all is None:
            self._all = {r.id: r.data for r in self._desk.records(("catalog",))}
        return self._all

    def _lookup(self, service_id: object) -> dict[str, Any] | None:
        if service_id is None or service_id == "":
            return None  # no file is named ".yaml" (hidden files are no records)
        if self._all is None and isinstance(service_id, str) and ids.is_slug(service_id):
            if service_id not in self._one:
                self._one[service_id] = self._read_one(service_id)
            found = self._one[service_id]
            if found is not None:
                return found
        # Not the file of that name (absent, broken, or saying another ID): another file may still
        # say this ID, as the whole catalog would tell. Only a service that is not there comes here.
        return self._every().get(service_id)  # type: ignore[call-overload]

    def _read_one(self, service_id: str) -> dict[str, Any] | None:
        try:
            data = self._desk.service(service_id)
        except InvalidRecord:
            return None
        return data if data is not None and str(data.get("id", "")) == service_id else None

    def __getitem__(self, service_id: str) -> dict[str, Any]:
        found = self._lookup(service_id)
        if found is None:
            raise KeyError(service_id)
        return found

    def __contains__(self, service_id: object) -> bool:
        return self._lookup(service_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())


_PARSE_ONLY = ParseMemo(None)  # what a desk reads through once its memo's reads are used up


class Desk:
    """A service desk rooted at a folder holding ``itsm.yaml``."""

    def __init__(self, root: Path):
        self.root = root
        self._journal: int | None = None  # the lock file's descriptor while this desk holds the lock
        self._services: ServiceIndex | None = None
        self._checked_folders: set[str] = set()  # folders read_bytes found free of symbolic links
        self._parse_memo: ParseMemo | None = None
        self._memo_reads_left = READS_PER_DESK

    @classmethod
    def find(cls, start: Path | str = ".") -> Desk:
        """The desk containing ``start`` (walking up like git), or EnvironmentProblem."""
        here = Path(start).resolve()
        if not here.exists():
            raise EnvironmentProblem(f"no such directory: {start}")
        for candidate in (here, *here.parents):
            if (candidate / CONFIG_FILE).is_file():
                return cls(candidate)
        raise EnvironmentProblem(f"not an itsm desk (no {CONFIG_FILE} here or in any parent): {here}")

    # --- configuration ------------------------------------------------------------

    @cached_property
    def config_data(self) -> dict[str, Any]:
        """The parsed ``itsm.yaml``."""
        return self._memo().load_mapping(self.read_bytes(CONFIG_FILE), CONFIG_FILE)

    @cached_property
    def config(self) -> Config:
        """The desk configuration."""
        data = self.config_data
        for key in ("types", "workflows", "priority"):
            if not isinstance(data.get(key), dict):
                raise InvalidRecord(f"'{key}' is missing or not a mapping; run 'itsm validate'", CONFIG_FILE)
        return Config(data)

    def schemas(self) -> dict[str, dict[str, Any]]:
        """The desk's JSON Schemas (its own copies, so a desk can add fields), by file name."""
        import json

        out = {}
        folder = self.root / "schemas"
        if not folder.is_dir():
            raise EnvironmentProblem("the desk has no schemas/ folder; run 'itsm init' to write one", "schemas")
        for p in sorted(folder.glob("*.schema.json")):
            rel = f"schemas/{p.name}"
            raw = self.read_bytes(rel)  # a linked or endless file (/dev/zero) is refused, not read
            try:
                out[p.name] = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                raise InvalidRecord(f"not valid JSON: {e}", f"schemas/{p.name}") from None
        return out

    # --- paths --------------------------------------------------------------------

    def rel(self, path: Path) -> str:
        """``path`` relative to the desk root, POSIX style."""
        return path.resolve().relative_to(self.root).as_posix() if path.is_absolute() else path.as_posix()

    def type_for(self, record_id: str) -> RecordType:
        """The record type an ID belongs to (by prefix; slugs are services, or suppliers where only a supplier has the ID)."""
        ids.check_id(record_id)
        if ids.is_record_id(record_id):
            rtype = self.config.type_for_id(record_id)
            if rtype is None:
                prefixes = ", ".join(sorted(self.config.types_by_prefix))
                raise Refused(f"no record type uses the prefix of '{record_id}' (prefixes: {prefixes})")
            return rtype
        rtype = self.config.service_type()
        stype = self.config.supplier_type()
        # Services and suppliers share the slug IDs (validate keeps them apart): a slug with a supplier's
        # file and no service's is the supplier, so 'itsm show' and 'itsm history' find it.
        if stype is not None and (rtype is None or not os.path.lexists(
                os.path.join(self.root, rtype.folder, record_id + ".yaml"))) and os.path.lexists(
                os.path.join(self.root, stype.folder, record_id + ".yaml")):
            return stype
        if rtype is None:
            raise Refused(f"'{record_id}' looks like a service ID but the desk has no service type")
        return rtype

    def path_for(self, record_id: str) -> Path:
        """The file of a record; the only place an ID becomes a path (SPEC section 2's layout)."""
        rtype = self.type_for(record_id)
        rel = ids.record_path(rtype.kind, rtype.folder, record_id)
        self.check_path(rel)
        return self.root.resolve() / rel

    def paths_for(self, record_id: str) -> list[Path]:
        """Where a record may be found: its place, then for a ticket its place in the earlier flat layout."""
        path = self.path_for(record_id)
        rtype = self.type_for(record_id)
        if rtype.kind != "ticket":
            return [path]
        flat = ids.flat_ticket_path(rtype.folder, record_id)
        self.check_path(flat)
        return [path, self.root.resolve() / flat]

    def flat_tickets(self, limit: int = 1) -> list[str]:
        """Up to ``limit`` ticket files still in the earlier flat layout (``tickets/INC-0042.yaml``).

        Only files named by an ID count; anything else there is for validation to report.

        Cheap on a desk in the current layout: ``tickets/`` then holds one
        folder per prefix and nothing else.
        """
        found: list[str] = []
        try:
            with os.scandir(self.root / TICKETS) as entries:
                for entry in entries:
                    if entry.name.endswith(".yaml") and ids.is_record_id(entry.name[:-5]) and entry.is_file(
                            follow_symlinks=False):
                        found.append(f"{TICKETS}/{entry.name}")
                        if len(found) >= limit:
                            break
        except (FileNotFoundError, NotADirectoryError):
            pass
        return found

    def check_layout(self) -> None:
        """Refuse to change a desk whose tickets are still in the earlier flat layout (``itsm upgrade`` moves them)."""
        self.check_path(f"{TICKETS}/-")  # a linked tickets/ folder is refused as such, before it is listed
        flat = self.flat_tickets()
        if flat:
            raise Refused(
                f"this desk keeps tickets in the earlier flat layout ({flat[0]}); "
                "run 'itsm upgrade' to move them to tickets/<PREFIX>/<NNN>/ in one commit, then try again"
            )

    def check_path(self, rel: str) -> None:
        """Refuse a desk-relative path that climbs out of the desk or passes through a symbolic link.

        Every existing part is checked with ``lstat`` (a missing tail is fine: the
        file may be about to be created), so neither a linked file nor a linked
        ``tickets/`` folder can lead a read or a write outside the desk.
        """
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or any(p in ("..", ".", "") for p in parts):
            raise InvalidRecord("the path leads outside the desk", rel)
        path = self.root
        for i, part in enumerate(parts):
            path = path / part
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                return
            except OSError as e:
                raise EnvironmentProblem(f"cannot read: {e.strerror}", rel) from None
            if stat.S_ISLNK(st.st_mode):
                if i == len(parts) - 1:
                    raise InvalidRecord("symbolic links are not allowed in a desk", rel)
                folder = "/".join(parts[: i + 1])
                raise InvalidRecord(f"{folder}/ is a symbolic link; symbolic links are not allowed in a desk", rel)

    def read_bytes(self, rel: str) -> bytes:
        """Read a desk file, refusing symlinks, special files and over-size files before reading them.

        The folders on the way are checked once per desk object (validation reads
        100,000 files from three folders); the file itself every time.
        """
        folder, _, name = rel.rpartition("/")
        if name in ("", ".", "..") or rel.startswith("/"):
            raise InvalidRecord("the path leads outside the desk", rel)
        if folder not in self._checked_folders:
            self.check_path(rel)  # the folders on the way, named as this file's problem
            self._checked_folders.add(folder)
        path = os.path.join(self.root, rel)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise EnvironmentProblem("no such file", rel) from None
        except OSError as e:
            raise EnvironmentProblem(f"cannot read: {e.strerror}", rel) from None
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISLNK(st.st_mode):
                raise InvalidRecord("symbolic links are not allowed in a desk", rel)
            raise InvalidRecord("not a regular file", rel)
        if st.st_size > MAX_BYTES:
            raise InvalidRecord(f"file is {st.st_size:,} bytes; the limit is {MAX_BYTES:,}", rel)
        try:
            # O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO after
            # the lstat above fails here instead of being followed or blocking.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            raise EnvironmentProblem(f"cannot read: {e.strerror}", rel) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise InvalidRecord("not a regular file", rel)
            # Sized reads: os.read allocates what it is asked for, so ask for what the file holds (and one
            # byte more, to see a file that grew), then go on in small steps until the end or the limit.
            chunks = []
            left = MAX_BYTES + 1
            want = min(st.st_size + 1, left)
            while left > 0:
                chunk = os.read(fd, want)
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
                want = min(64 * 1024, left)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except OSError as e:
            raise EnvironmentProblem(f"cannot read: {e.strerror}", rel) from None
        finally:
            os.close(fd)

    def record_paths(self, folders: tuple[str, ...] = FOLDERS) -> list[str]:
        """Relative paths of every record file, sorted (hidden and temp files skipped).

        Tickets are gathered from their ``PREFIX/NNN/`` folders (and from wherever
        else under ``tickets/`` validation should see one); articles and services
        from their flat folders.
        """
        out: list[str] = []
        root = str(self.root)
        for folder in folders:
            suffix = _RECORD_SUFFIX.get(folder)
            if suffix is None:
                continue
            if folder == TICKETS:
                out.extend(_ticket_files(root, folder))
                continue
            try:
                names = os.listdir(self.root / folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            prefix = folder + "/"
            out.extend(prefix + name for name in names if name.endswith(suffix) and not name.startswith("."))
        out.sort()
        return out

    # --- records ------------------------------------------------------------------

    def load(self, rel: str) -> Record:
        """Load one record file."""
        kind = kind_of_path(rel)
        if kind is None:
            raise InvalidRecord(
                "not a record file (tickets/<PREFIX>/<NNN>/*.yaml, kb/*.md, catalog/*.yaml, suppliers/*.yaml)", rel)
        return parse_record(self.read_bytes(rel), rel, kind, self._memo())

    def _memo(self) -> ParseMemo:
        """The parsed-file memo for the next read; past this desk's first :data:`READS_PER_DESK` reads, one that only parses."""
        if self._memo_reads_left <= 0:
            return _PARSE_ONLY
        self._memo_reads_left -= 1
        if self._parse_memo is None:
            self._parse_memo = ParseMemo.for_desk(self.root)
        return self._parse_memo

    def get(self, record_id: str) -> Record:
        """The record with this ID; Refused when there is none.

        A ticket not yet moved from the earlier flat layout is still found, so
        reading commands work on a desk before ``itsm upgrade``.
        """
        root = self.root.resolve()
        candidates = self.paths_for(record_id)
        path = next((p for p in candidates if os.path.lexists(p)), candidates[0])
        rel = path.relative_to(root).as_posix()
        if not os.path.lexists(path):
            raise Refused(f"no record {record_id} (looked for {rel})")
        record = self.load(rel)
        if record.id != record_id:
            raise InvalidRecord(f"file name says {record_id} but its id is '{record.id}'", rel, *record.locate(("id",)))
        return record

    def iter_records(self, folders: tuple[str, ...] = FOLDERS) -> Iterator[Record | InvalidRecord]:
        """Every record, or the error that stopped it loading, in path order."""
        for rel in self.record_paths(folders):
            try:
                yield self.load(rel)
            except InvalidRecord as e:
                yield e

    def records(self, folders: tuple[str, ...] = FOLDERS) -> list[Record]:
        """Every record that loads (broken files are left to ``itsm validate``)."""
        return [r for r in self.iter_records(folders) if isinstance(r, Record)]

    def services(self) -> ServiceIndex:
        """Catalog services by ID, each file read when first asked for (see :class:`ServiceIndex`).

        One per desk until itsm changes the catalog (only through :meth:`write_text`).
        """
        if self._services is None:
            self._services = ServiceIndex(self)
        return self._services

    def service(self, service_id: str | None) -> dict[str, Any] | None:
        """One service's data, or None if it has no file."""
        if not service_id or not ids.is_slug(service_id):
            return None
        rel = f"catalog/{service_id}.yaml"
        if not (self.root / rel).is_file():
            return None
        return self.load(rel).data

    def suppliers(self) -> dict[str, dict[str, Any]]:
        """Suppliers by ID (files that do not load are left to ``itsm validate``)."""
        return {r.id: r.data for r in self.records((SUPPLIERS,))}

    def taken_ids(self) -> RecordIds:
        """IDs of every record file in the work tree (a view that lists the folders only when iterated)."""
        return RecordIds(self)

    # --- writing ------------------------------------------------------------------

    def _lock_path(self) -> Path:
        git_dir = self.root / ".git"
        if git_dir.is_file():  # a linked worktree: ".git" says "gitdir: <path>"
            with contextlib.suppress(OSError, UnicodeDecodeError):
                first = git_dir.read_text(encoding="utf-8").splitlines()[0]
                if first.startswith("gitdir:"):
                    git_dir = (self.root / first.partition(":")[2].strip()).resolve()
        return (git_dir if git_dir.is_dir() else self.root) / "itsm.lock"

    @contextlib.contextmanager
    def lock(self, timeout: float = LOCK_TIMEOUT, upgrading: bool = False) -> Iterator[None]:
        """Hold the desk's write lock (one writer at a time; others wait up to ``timeout``).

        Every command that changes records takes it, so this is also where a desk
        still in the earlier flat layout is refused (unless ``upgrading`` it).

        The lock is an ``flock`` on a file in ``.git``: the kernel releases it when
        the holder exits, however it exits (even SIGKILL), so no stale lock is
        ever left behind. The file is also a journal: a writer holding the lock
        names each temp file there before creating it, and the next writer
        removes those a killed writer left behind, then empties the journal.
        """
        if not upgrading:
            self.check_layout()
        lock_path = self._lock_path()
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() > deadline:
                        raise EnvironmentProblem(f"another itsm command holds the desk lock ({lock_path})") from None
                    time.sleep(0.02)
            self._remove_journalled_temp_files(fd)
            self._journal = fd
            yield
        finally:
            if self._journal is not None:  # alive to get here: write_atomic removed its own temp files
                self._journal = None
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
            os.close(fd)

    def _remove_journalled_temp_files(self, fd: int) -> None:
        """Remove the temp files the journal names (those a killed writer left), then empty it."""
        if os.fstat(fd).st_size == 0:
            return
        root = self.root.resolve()
        for line in os.pread(fd, 1 << 20, 0).decode("utf-8", "surrogateescape").splitlines():
            path = Path(line)
            with contextlib.suppress(OSError, ValueError):
                if path.is_absolute() and path.parent.resolve().is_relative_to(root):
                    remove_temp_file(path)
        os.ftruncate(fd, 0)

    def _note_temp_file(self, path: Path) -> None:
        if self._journal is not None:
            os.write(self._journal, os.fsencode(os.path.abspath(path)) + b"\n")

    def write_text(self, rel: str, text: str) -> None:
        """Atomically write a desk file (refusing to write through a symlink or out of the desk)."""
        self.check_path(rel)
        if rel.startswith("catalog/"):
            self._services = None
        write_atomic(self.root / rel, text, self._note_temp_file)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Atomically write a desk file byte for byte (an attachment), with the checks of :meth:`write_text`."""
        self.check_path(rel)
        write_atomic(self.root / rel, data, self._note_temp_file)
