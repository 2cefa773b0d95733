"""Runs the core validator over a desk on disk: loads files, feeds the rules, locates the problems.

Fast on big desks, with the same problems in the same order as a plain run:

- Per-file work (parse, schema, workflow replay, references) is cached by
  content (:mod:`itsm_cli.store.cache`). A cached result also records what it
  looked at outside its file: each link target it asked about (exists or
  not) and each catalog service it read (by the blob ID of that service's
  file). It is reused only when all of those answer the same today, so
  deleting a link target or editing a service re-checks exactly the records
  that depend on it. ``itsm.yaml``, the schemas and the itsm code are part of
  the cache's environment: changing one starts afresh.
- Cross-record rules (duplicate IDs, dependency cycles) are evaluated on
  every run from cached per-file facts; only a file with a problem is read
  again, to say where.
- A desk whose files are all unchanged since the last run gets the last
  answer back (it is a pure function of the file contents, the
  configuration and the code).
- Files that do need work are parsed and validated in worker processes,
  one per core, when there are many of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsm_cli import parallel
from itsm_cli.core.config import Config
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import CONFIG_FILE, Problem, dependency_cycles, validate_config, validate_records
from itsm_cli.errors import EnvironmentProblem, InvalidRecord, ItsmError
from itsm_cli.store import yaml_io
from itsm_cli.store.cache import MISSING, Cache, Listing, code_fingerprint, fingerprint
from itsm_cli.store.desk import FOLDERS, Desk, Record, kind_of_path, parse_record
from itsm_cli.store.desk import known_ids as desk_known_ids

FEW = 200
UNKEYED = "!"  # the fingerprint of a service whose file could not be keyed: never equal to a stored one


@dataclass
class CheckResult:
    """What a validation run found, and how much it looked at."""

    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    listing: Listing | None = None  # the record files' keys, for checks run after this one (None: no cache)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def _problem_from_error(e: ItsmError, rule: str = "yaml") -> Problem:
    return Problem(str(e.path or "?"), e.line or 1, e.col or 1, e.message, rule)


def load_config(desk: Desk, result: CheckResult) -> tuple[Config, SchemaSet] | None:
    """Parse and check ``itsm.yaml`` and the schemas; None (with problems recorded) when unusable."""
    try:
        schemas = SchemaSet(desk.schemas())
    except ItsmError as e:
        result.problems.append(_problem_from_error(e, "schema"))
        return None
    try:
        raw = desk.read_bytes(CONFIG_FILE)
        data = yaml_io.load_mapping(raw, CONFIG_FILE)
    except ItsmError as e:
        result.problems.append(_problem_from_error(e))
        return None
    found = validate_config(data, schemas)
    if found:
        positions: dict = {}
        yaml_io.load_mapping(raw, CONFIG_FILE, positions)
        for path, message in found:
            p = tuple(path)
            while p and p not in positions:
                p = p[:-1]
            line, col = positions.get(p, (1, 1))
            result.problems.append(Problem(CONFIG_FILE, line, col, message, "config"))
        return None
    return Config(data), schemas


# --- per-file work (pure: runs the same in this process or a worker) ---------------------------
#
# A file's *facts* (pf) depend only on its bytes:
#   ("E", path, line, col, message)                   it does not load (InvalidRecord)
#   ("K", record id, service id or None, depends_on)   it loads
# A file's *verdict* (vr) also depends on what validation looked up elsewhere:
#   ((path, line, col, message, rule)..., ((link target, existed), ...), ((service id, its file's key or None), ...))
# or None when the lookups could not be recorded (then it is not cached).


class _Ids:
    """``known_ids`` that remembers every question asked of it."""

    __slots__ = ("ids", "ok", "seen")

    def __init__(self, ids: set[str]):
        self.ids = ids
        self.seen: dict[str, bool] = {}
        self.ok = True

    def __contains__(self, item: object) -> bool:
        found = item in self.ids
        if isinstance(item, str):
            self.seen[item] = found
        else:
            self.ok = False
        return found

    def __iter__(self) -> Iterator[str]:
        self.ok = False
        return iter(self.ids)

    def __len__(self) -> int:
        self.ok = False
        return len(self.ids)


class _Services(Mapping):
    """The catalog by service ID, remembering which services were looked at (and which file each came from)."""

    def __init__(self, data: dict[str, dict[str, Any]], keys: dict[str, str]):
        self.data = data
        self.keys = keys
        self.seen: dict[str, str | None] = {}
        self.ok = True

    def _note(self, sid: object) -> None:
        if isinstance(sid, str):
            self.seen[sid] = self.keys.get(sid) if sid in self.data else None
        else:
            self.ok = False

    def __getitem__(self, sid: str) -> dict[str, Any]:
        self._note(sid)
        return self.data[sid]

    def __contains__(self, sid: object) -> bool:
        self._note(sid)
        return sid in self.data

    def get(self, sid: str, default: Any = None) -> Any:  # type: ignore[override]
        """The service, or ``default``."""
        self._note(sid)
        return self.data.get(sid, default)

    def __iter__(self) -> Iterator[str]:
        self.ok = False
        return iter(self.data)

    def __len__(self) -> int:
        self.ok = False
        return len(self.data)


@dataclass
class _Context:
    desk: Desk
    config: Config
    schemas: SchemaSet
    known_ids: set[str]
    services: dict[str, dict[str, Any]]
    service_keys: dict[str, str]


def _facts(record: Record) -> tuple:
    data = record.data
    sid = data["id"] if record.kind == "service" and isinstance(data.get("id"), str) else None
    return ("K", record.id, sid, data.get("depends_on") if record.kind == "service" else None)


def _read(desk: Desk, rel: str, raw: bytes | None) -> tuple[bytes | None, tuple | None]:
    """The file's bytes, or the uncacheable reason it cannot be read."""
    if raw is not None:
        return raw, None
    try:
        return desk.read_bytes(rel), None
    except ItsmError as e:
        return None, ("X", str(e.path or "?"), e.line or 1, e.col or 1, e.message, isinstance(e, EnvironmentProblem))


def _parse(rel: str, raw: bytes) -> tuple[Record | None, tuple]:
    try:
        record = parse_record(raw, rel, kind_of_path(rel) or "ticket")
    except ItsmError as e:
        return None, ("E", str(e.path or "?"), e.line or 1, e.col or 1, e.message)
    return record, _facts(record)


def _evaluate(ctx: _Context, rel: str, raw: bytes | None) -> tuple[str, str | None, tuple, tuple | None]:
    """(path, key, facts, verdict) of one file; the key is the blob ID of the bytes actually checked."""
    from itsm_cli.store.cache import blob_id

    raw, failure = _read(ctx.desk, rel, raw)
    if raw is None:
        return rel, None, failure or (), None
    key = blob_id(raw)
    record, pf = _parse(rel, raw)
    if record is None:
        return rel, key, pf, None
    ids, services = _Ids(ctx.known_ids), _Services(ctx.services, ctx.service_keys)
    found = validate_records(ctx.config, ctx.schemas, [record], ids, services)  # type: ignore[arg-type]
    problems = tuple((p.path, p.line, p.col, p.message, p.rule) for p in found)
    if not (ids.ok and services.ok):
        return rel, None, pf, (problems, (), ())
    return rel, key, pf, (problems, tuple(ids.seen.items()), tuple(services.seen.items()))


def _worker_context(root: str, config_data: dict, schemas: dict, known_ids: set, services: dict, keys: dict) -> _Context:
    """A validation worker's set-up (:func:`itsm_cli.parallel.parallel_map`): the context its chunks are checked in."""
    return _Context(parallel.open_desk(root), Config(config_data), SchemaSet(schemas), known_ids, services, keys)


def _worker_chunk(items: list[tuple[str, bytes | None]]) -> list[tuple[str, str | None, tuple, tuple | None]]:
    ctx: _Context = parallel.worker_state()
    return [_evaluate(ctx, rel, raw) for rel, raw in items]


def _evaluate_all(ctx: _Context, items: list[tuple[str, bytes | None]]) -> list[tuple[str, str | None, tuple, tuple | None]]:
    if len(items) < parallel.PARALLEL_MIN:  # worker processes would cost more than they save
        return [_evaluate(ctx, rel, raw) for rel, raw in items]
    args = (str(ctx.desk.root), ctx.config.data, ctx.schemas.schemas, ctx.known_ids, ctx.services, ctx.service_keys)
    return parallel.parallel_map(_worker_chunk, items, _worker_context, args)


# --- the run -------------------------------------------------------------------------------------


def _environment(desk: Desk, schemas: SchemaSet) -> str:
    raw = desk.read_bytes(CONFIG_FILE)
    return fingerprint(code_fingerprint(), raw, json.dumps(schemas.schemas, sort_keys=True, ensure_ascii=True))


def _valid_verdict(vr: Any, known_ids: set[str], service_keys: dict[str, str]) -> bool:
    if vr is None:
        return False
    _, ids, services = vr
    for target, existed in ids:
        if (target in known_ids) != existed:
            return False
    return all(service_keys.get(sid) == key != UNKEYED for sid, key in services)


def _locate(desk: Desk, rel: str, json_path: tuple) -> tuple[int, int]:
    try:
        return desk.load(rel).locate(json_path)
    except ItsmError:
        return 1, 1


def check_desk(desk: Desk, paths: Sequence[str] | None = None) -> CheckResult:
    """Validate the whole desk, or only the record files in ``paths`` (references still checked against all)."""
    result = CheckResult()
    loaded = load_config(desk, result)
    result.files = 1
    if loaded is None:
        return result
    config, schemas = loaded
    # A few named files (a pull request's) are quicker to check than the cache is to consult.
    few = paths is not None and len(paths) <= FEW
    cache = None if few else Cache.open(desk)
    if cache is not None:
        cache.start(FOLDERS)  # git works on the keys while the folders are listed here
    all_paths = desk.record_paths()
    targets = all_paths if paths is None else [p for p in paths if kind_of_path(p)]
    result.files += len(targets)
    keys = cache.listing(all_paths) if cache is not None else Listing(all_paths)
    result.listing = keys if cache is not None else None
    raw_of = cache.raw if cache is not None else {}
    env = _environment(desk, schemas) if cache is not None else ""
    memo_key = ""
    if cache is not None and keys.digest is not None:
        memo_key = fingerprint(env, keys.digest, "\0".join(targets) if paths is not None else "*")
        memo = cache.section("result", memo_key).get("*", memo_key)
        if memo is not MISSING:
            result.problems = [Problem(*p) for p in memo]
            return result
    section = cache.section("validate", env) if cache is not None else None
    known_ids = desk_known_ids(all_paths)

    def cached(rel: str) -> Any:
        return section.get(rel, keys.get(rel)) if section is not None else MISSING

    # 1. The catalog: which service IDs exist, from which file, and what they depend on.
    catalog = [rel for rel in all_paths if rel.startswith("catalog/")]
    facts: dict[str, tuple] = {}
    parsed: dict[str, Record] = {}
    for rel in catalog:
        value = cached(rel)
        if value is not MISSING:
            facts[rel] = value[0]
            continue
        raw, failure = _read(desk, rel, raw_of.get(rel))
        if raw is None:
            if failure and failure[5]:
                raise EnvironmentProblem(failure[4], failure[1])
            continue  # a link or not a regular file: reported below when in scope
        record, facts[rel] = _parse(rel, raw)
        if record is not None:
            parsed[rel] = record
        if section is not None:
            from itsm_cli.store.cache import blob_id

            section.put(rel, blob_id(raw), (facts[rel], None))
    service_keys: dict[str, str] = {}
    service_deps: dict[str, dict[str, Any]] = {}
    service_file: dict[str, str] = {}
    for rel in catalog:
        pf = facts.get(rel)
        if pf is None or pf[0] != "K":
            continue
        if pf[2] is not None:
            service_keys[pf[2]] = keys.get(rel) or UNKEYED
            service_deps[pf[2]] = {"depends_on": pf[3]}
        service_file[pf[1]] = rel

    # 2. Each file in scope: from the cache when nothing it depends on changed, else checked now.
    outcomes: dict[str, tuple[tuple, tuple | None]] = {}
    todo: list[str] = []
    # The answer depends on nothing but the keyed files (so it can be remembered whole).
    pure = keys.digest is not None and (paths is None or all(keys.get(rel) is not None for rel in targets))
    for rel in dict.fromkeys(targets):
        value = cached(rel)
        if value is not MISSING and (value[0][0] == "E" or _valid_verdict(value[1], known_ids, service_keys)):
            outcomes[rel] = value
        else:
            todo.append(rel)
    if todo:
        services: dict[str, dict[str, Any]] = {}
        for rel in catalog:
            record = parsed.get(rel)
            if record is None and facts.get(rel, ("",))[0] == "K":
                try:
                    record = desk.load(rel)
                except InvalidRecord:
                    record = None
            if record is not None and isinstance(record.data.get("id"), str):
                services[record.data["id"]] = record.data
        ctx = _Context(desk, config, schemas, known_ids, services, service_keys)
        verdicts: dict[Any, Any] = {}  # equal verdicts shared: stored (and loaded) once
        for rel, key, pf, vr in _evaluate_all(ctx, [(rel, raw_of.get(rel)) for rel in todo]):
            vr = verdicts.setdefault(vr, vr)
            outcomes[rel] = (pf, vr)
            pure = pure and key is not None
            if section is not None and pf and pf[0] != "X":
                section.put(rel, key, (pf, vr if key is not None else None))

    # 3. Problems: per file, then the rules that span files.
    # A service file that does not load is reported once, as the cause: what records that use it would
    # say about it ("unknown service 'vpn'", an approval its offering no longer shows) is left out.
    broken = {rel.rpartition("/")[2].removesuffix(".yaml"): rel for rel in catalog
              if facts.get(rel, ("",))[0] in ("E", "X")}
    waiting: dict[str, int] = {}
    in_scope: list[tuple[str, str]] = []
    for rel in targets:
        pf, vr = outcomes[rel]
        if pf[0] in ("E", "X"):
            result.problems.append(Problem(pf[1], pf[2], pf[3], pf[4], "yaml"))
            continue
        in_scope.append((rel, pf[1]))
        found = [Problem(*p) for p in vr[0]]  # type: ignore[index]
        if broken:
            found = _without_cascade(found, broken, [sid for sid, _ in vr[2]], waiting)  # type: ignore[index]
        result.problems.extend(found)
    for sid, count in waiting.items():
        for i, problem in enumerate(result.problems):
            if problem.path == broken[sid]:
                note = f" ({count} record{'s' if count != 1 else ''} using service '{sid}' not checked against it until it loads)"
                result.problems[i] = Problem(problem.path, problem.line, problem.col, problem.message + note, problem.rule)
                break
    seen: dict[str, str] = {}
    for rel, rid in in_scope:
        upper = rid.upper()
        if upper in seen:
            line, col = _locate(desk, rel, ("id",))
            result.problems.append(Problem(rel, line, col, f"ID {rid} is also used by {seen[upper]}", "unique-id"))
        else:
            seen[upper] = rel
    scope = {rel for rel, _ in in_scope}
    for cycle in dependency_cycles(service_deps):
        rel = service_file.get(cycle[0])
        if rel is not None and rel in scope:
            line, col = _locate(desk, rel, ("depends_on",))
            result.problems.append(Problem(rel, line, col, "dependency cycle: " + " -> ".join(cycle), "cycle"))
    result.problems.sort()

    if cache is not None and section is not None:
        section.save(all_paths)
        if memo_key and pure:
            memo_section = cache.section("result", memo_key)
            memo_section.put("*", memo_key, tuple((p.path, p.line, p.col, p.message, p.rule) for p in result.problems))
            memo_section.save(["*"])
    return result


# What a record's check says about the services it uses (a reference, its offering's approval or form).
_SERVICE_RULES = frozenset({"reference", "workflow", "approval", "required", "offering", "service"})
_UNKNOWN_SERVICE = re.compile(r"unknown service '([^']+)'")


def _without_cascade(found: list[Problem], broken: dict[str, str], used: list[str], waiting: dict[str, int]) -> list[Problem]:
    """``found`` without what follows from a service file that does not load (counted in ``waiting``)."""
    uses = {sid for sid in used if sid in broken}
    uses.update(m.group(1) for p in found if (m := _UNKNOWN_SERVICE.search(p.message)) and m.group(1) in broken)
    for sid in uses:
        waiting[sid] = waiting.get(sid, 0) + 1
    if not uses:
        return found
    named = [f"'{sid}'" for sid in uses]
    return [p for p in found if p.rule not in _SERVICE_RULES
            or (p.rule == "reference" and not any(n in p.message for n in named))]

