"""The listing cache's file format, measured: itsm's own (marshal in one file) against sqlite3 (stdlib).

    python benchmarks/cache_store.py [--rows 100000] [--repeat 7]

A synthetic listing cache of ``--rows`` records (the real row shape:
:data:`itsm_cli.store.cache.SUMMARY_FIELDS`, categorical values interned, a
git blob ID as each row's key; no git needed) is stored four ways in a
temporary folder:

- *itsm*: the current format, through :class:`itsm_cli.store.cache.Section`
  (one marshalled ``(paths, keys, rows)`` base file and a delta file);
- *sqlite marshal*: one table ``(path PRIMARY KEY, key, value BLOB)``, each
  row marshalled;
- *sqlite json*: the same, each row as JSON text;
- *sqlite columns*: one column per summary field (lists as JSON text).

For each it times, as medians of ``--repeat`` runs taken in turn (the
machine is shared: the formats are interleaved, so a busy moment hurts each
alike): *load* every row warm (the file in the page cache) into the lists
``itsm list`` works from; *update 10* rows and persist them (durably:
sqlite commits, itsm renames the delta into place); and the file size.
*vs itsm* is the median of each run's difference with the itsm load of the
same round (paired, so a busy moment cancels out); *load CPU* is the
process's CPU time for the load, which other processes disturb least.

Then ``itsm list --search``'s part: finding two words in every record's
search text, itsm's packed text (one string, ``str.find``) against sqlite's
``instr()`` in the query.
"""

from __future__ import annotations

import argparse
import json
import marshal
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from itsm_cli.store import cache as cache_mod  # noqa: E402
from itsm_cli.store import cache_store  # noqa: E402

FIELDS = cache_mod.SUMMARY_FIELDS
LISTS = {"services", "tags"}


def synthetic_rows(count: int, seed: int = 7) -> tuple[list[str], list[str], list[tuple]]:
    """Paths, keys (blob IDs) and summary rows shaped like a real desk's."""
    rng = random.Random(seed)
    statuses = ["new", "assigned", "in_progress", "pending", "resolved", "closed"]
    people = [f"person{i}@example.com" for i in range(60)]
    services = [f"svc-{i}" for i in range(25)]
    types = ["incident", "request", "problem", "change"]
    paths, keys, rows = [], [], []
    for n in range(1, count + 1):
        prefix = "INC" if n % 3 else "REQ"
        rid = f"{prefix}-{n:06d}"
        paths.append(f"tickets/{prefix}/{n // 1000:03d}/{rid}.yaml")
        keys.append(cache_mod.blob_id(rid.encode() + b"v1"))
        data: dict[str, Any] = {
            "id": rid, "type": rng.choice(types), "title": f"Printer on floor {rng.randint(1, 9)} jams ({n})",
            "status": rng.choice(statuses), "created": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T09:00:00Z",
            "updated": "2026-11-01T10:00:00Z", "requester": rng.choice(people), "service": rng.choice(services),
            "impact": rng.choice(["low", "medium", "high"]), "urgency": rng.choice(["low", "medium", "high"]),
            "priority": rng.choice(["P1", "P2", "P3", "P4"]), "assignee": rng.choice(people),
            "group": rng.choice(["desk", "network", "apps"]),
        }
        if n % 4 == 0:
            data["tags"] = ["printer", f"floor{n % 9}"]
        if n % 7 == 0:
            data["services"] = [rng.choice(services), rng.choice(services)]
        if n % 5 == 0:
            data["due"] = "2026-12-24T17:00:00Z"
        rows.append(cache_mod._summary_row(data))
    order = sorted(range(count), key=paths.__getitem__)  # a desk lists its records in path order
    return [paths[i] for i in order], [keys[i] for i in order], [rows[i] for i in order]


# --- the four formats: create, load, update ----------------------------------------------------


class Itsm:
    name = "itsm (marshal file)"

    def __init__(self, folder: Path):
        self.folder = folder

    def create(self, paths: list[str], keys: list[str], rows: list[tuple]) -> None:
        cache_store.write_framed(self.folder / "summary.bin", "env", "gen0", (paths, keys, rows))
        (self.folder / "summary.delta").unlink(missing_ok=True)

    def load(self, paths: list[str], keys: list[str]) -> list[Any]:
        return cache_mod.Section(self.folder, "summary", "env").get_many(paths, keys)

    def update(self, changes: list[tuple[str, str, tuple]], paths: list[str]) -> None:
        section = cache_mod.Section(self.folder, "summary", "env")
        for path, key, row in changes:
            section.put(path, key, row)
        section.save(paths)

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("summary.*"))


class SqliteBlob:
    name = "sqlite marshal blobs"
    dumps: Callable[[tuple], Any] = staticmethod(lambda row: marshal.dumps(row, 4))
    loads: Callable[[Any], Any] = staticmethod(marshal.loads)

    def __init__(self, folder: Path):
        self.file = folder / f"{type(self).__name__}.sqlite"

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.file)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def create(self, paths: list[str], keys: list[str], rows: list[tuple]) -> None:
        self.file.unlink(missing_ok=True)
        with self.connect() as db:
            db.execute("CREATE TABLE summary (path TEXT PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL)")
            db.executemany("INSERT INTO summary VALUES (?, ?, ?)",
                           ((p, k, self.dumps(r)) for p, k, r in zip(paths, keys, rows)))
        db.close()

    def load(self, paths: list[str], keys: list[str]) -> list[Any]:
        db = self.connect()
        loads = self.loads
        # In path order (the primary key's), so the usual case compares position by position, as Section does.
        stored = db.execute("SELECT path, key, value FROM summary ORDER BY path").fetchall()
        db.close()
        if [r[0] for r in stored] == paths:
            return [loads(v) if k == key else cache_mod.MISSING for (_, k, v), key in zip(stored, keys)]
        by_path = {p: (k, v) for p, k, v in stored}
        out = []
        for p, k in zip(paths, keys):
            row = by_path.get(p)
            out.append(loads(row[1]) if row is not None and row[0] == k else cache_mod.MISSING)
        return out

    def update(self, changes: list[tuple[str, str, tuple]], paths: list[str]) -> None:
        db = self.connect()
        with db:
            db.executemany("INSERT OR REPLACE INTO summary VALUES (?, ?, ?)",
                           ((p, k, self.dumps(r)) for p, k, r in changes))
        db.close()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.file.parent.glob(self.file.name + "*"))


class SqliteJson(SqliteBlob):
    name = "sqlite JSON blobs"
    dumps = staticmethod(lambda row: json.dumps(row, separators=(",", ":")))
    loads = staticmethod(lambda text: tuple(json.loads(text)))


class SqliteColumns(SqliteBlob):
    name = "sqlite columns"

    def create(self, paths: list[str], keys: list[str], rows: list[tuple]) -> None:
        self.file.unlink(missing_ok=True)
        columns = ", ".join(f'"{f}"' for f in FIELDS)
        with self.connect() as db:
            db.execute(f"CREATE TABLE summary (path TEXT PRIMARY KEY, key TEXT NOT NULL, {columns})")
            db.executemany(f"INSERT INTO summary VALUES (?, ?, {', '.join('?' * len(FIELDS))})",
                           ((p, k, *_flat(r)) for p, k, r in zip(paths, keys, rows)))
        db.close()

    def load(self, paths: list[str], keys: list[str]) -> list[Any]:
        db = self.connect()
        stored = {r[0]: r[1:] for r in db.execute("SELECT * FROM summary")}
        db.close()
        lists = [i for i, f in enumerate(FIELDS) if f in LISTS]
        out: list[Any] = []
        for p, k in zip(paths, keys):
            row = stored.get(p)
            if row is None or row[0] != k:
                out.append(cache_mod.MISSING)
                continue
            values = row[1:]
            if any(values[i] is not None for i in lists):
                values = tuple(json.loads(v) if i in lists and v is not None else v for i, v in enumerate(values))
            out.append(values)
        return out

    def update(self, changes: list[tuple[str, str, tuple]], paths: list[str]) -> None:
        db = self.connect()
        with db:
            db.executemany(f"INSERT OR REPLACE INTO summary VALUES (?, ?, {', '.join('?' * len(FIELDS))})",
                           ((p, k, *_flat(r)) for p, k, r in changes))
        db.close()


# --- ``itsm list --search``: the text section ------------------------------------------------------

WORDS = ["printer", "jams"]


def synthetic_texts(rows: list[tuple]) -> list[str]:
    """What ``--search`` looks in (title, description, public comments; lower case), ~300 characters each."""
    title = FIELDS.index("title")
    return [f"{row[title].lower()} the {row[title].split()[0].lower()} on the desk stopped working after "
            f"the update; users report errors every morning. comment: looked at it, waiting on the "
            f"supplier for part {i % 97}." for i, row in enumerate(rows)]


def search_itsm(folder: Path, paths: list[str], keys: list[str]) -> list[Any]:
    return cache_mod.Section(folder, "text", "env", packed=True).search(paths, keys, WORDS)


def search_sqlite(db_file: Path, paths: list[str], keys: list[str]) -> list[Any]:
    db = sqlite3.connect(db_file)
    where = " AND ".join("instr(value, ?) > 0" for _ in WORDS)
    stored = db.execute(f"SELECT path, key, {where} FROM text ORDER BY path", WORDS).fetchall()
    db.close()
    if [r[0] for r in stored] != paths:
        raise AssertionError("the benchmark stores every path")
    return [bool(hit) if k == key else cache_mod.MISSING for (_, k, hit), key in zip(stored, keys)]


def bench_search(folder: Path, paths: list[str], keys: list[str], rows: list[tuple], repeat: int) -> None:
    texts = synthetic_texts(rows)
    cache_store.write_framed(folder / "text.bin", "env", "gen0", (paths, keys, cache_mod._Packed.pack(texts)))
    db_file = folder / "text.sqlite"
    db = sqlite3.connect(db_file)
    with db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE text (path TEXT PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL)")
        db.executemany("INSERT INTO text VALUES (?, ?, ?)", zip(paths, keys, texts))
    db.close()
    expected = [all(w in t for w in WORDS) for t in texts]
    ways = {"itsm (packed text)": lambda: search_itsm(folder, paths, keys),
            "sqlite instr()": lambda: search_sqlite(db_file, paths, keys)}
    for fn in ways.values():
        assert fn() == expected
    walls: dict[str, list[float]] = {name: [] for name in ways}
    cpus: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeat):
        for name, fn in ways.items():
            wall, cpu = cpu_timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
    sizes = {"itsm (packed text)": (folder / "text.bin").stat().st_size,
             "sqlite instr()": sum(f.stat().st_size for f in folder.glob("text.sqlite*"))}
    print(f"\nitsm list --search {' '.join(WORDS)}: the text section, {len(paths):,} texts")
    print(f"{'format':<24}{'search (s)':>14}{'CPU (s)':>14}{'size (MB)':>11}")
    for name in ways:
        print(f"{name:<24}{statistics.median(walls[name]):>14.3f}{statistics.median(cpus[name]):>14.3f}"
              f"{sizes[name] / 1e6:>11.1f}")


def _flat(row: tuple) -> tuple:
    return tuple(json.dumps(v) if isinstance(v, list) else v for v in row)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``: the CPU time is what other engineers' processes disturb least."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    paths, keys, rows = synthetic_rows(args.rows)
    with tempfile.TemporaryDirectory(prefix="itsm-cache-bench-") as tmp:
        folder = Path(tmp)
        formats = [Itsm(folder), SqliteBlob(folder), SqliteJson(folder), SqliteColumns(folder)]
        for fmt in formats:
            fmt.create(paths, keys, rows)
            loaded = fmt.load(paths, keys)  # warm the page cache, and check the round trip
            assert loaded == rows, fmt.name
        sizes = {fmt.name: fmt.size() for fmt in formats}
        loads: dict[str, list[float]] = {fmt.name: [] for fmt in formats}
        cpus: dict[str, list[float]] = {fmt.name: [] for fmt in formats}
        updates: dict[str, list[float]] = {fmt.name: [] for fmt in formats}
        rng = random.Random(1)
        for run in range(args.repeat):
            for fmt in formats:  # interleaved: a busy moment on the shared machine hurts every format alike
                wall, cpu = cpu_timed(lambda fmt=fmt: fmt.load(paths, keys))
                loads[fmt.name].append(wall)
                cpus[fmt.name].append(cpu)
            for fmt in formats:
                picked = rng.sample(range(len(paths)), 10)
                changes = [(paths[i], cache_mod.blob_id(f"{i}:{run}".encode()), rows[i]) for i in picked]
                updates[fmt.name].append(timed(lambda fmt=fmt, changes=changes: fmt.update(changes, paths)))
        # the update left a delta/new rows behind: load once more to show that costs nothing extra
        after = {fmt.name: statistics.median(timed(lambda fmt=fmt: fmt.load(paths, keys)) for _ in range(3))
                 for fmt in formats}
    print(f"listing cache, {args.rows:,} rows, medians of {args.repeat} interleaved runs "
          f"(python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version})")
    print(f"{'format':<24}{'load all (s)':>14}{'vs itsm (s)':>13}{'load CPU (s)':>14}{'vs itsm (s)':>13}"
          f"{'after updates':>15}{'update 10 (s)':>15}{'size (MB)':>11}")
    base, base_cpu = loads[formats[0].name], cpus[formats[0].name]
    for fmt in formats:
        # Paired: each run's difference with the itsm load taken just before it, so a busy moment cancels out.
        extra = statistics.median(b - a for a, b in zip(base, loads[fmt.name]))
        extra_cpu = statistics.median(b - a for a, b in zip(base_cpu, cpus[fmt.name]))
        print(f"{fmt.name:<24}{statistics.median(loads[fmt.name]):>14.3f}{extra:>+13.3f}"
              f"{statistics.median(cpus[fmt.name]):>14.3f}{extra_cpu:>+13.3f}{after[fmt.name]:>15.3f}"
              f"{statistics.median(updates[fmt.name]):>15.4f}{sizes[fmt.name] / 1e6:>11.1f}")
    with tempfile.TemporaryDirectory(prefix="itsm-cache-bench-") as tmp:
        bench_search(Path(tmp), paths, keys, rows, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
