"""Runs the core validator over a desk on disk: loads files, feeds the rules, locates the problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from itsm_cli.core.config import Config
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import CONFIG_FILE, Problem, dependency_cycles, validate_config, validate_records
from itsm_cli.errors import InvalidRecord, ItsmError
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk, Record, kind_of_path


@dataclass
class CheckResult:
    """What a validation run found, and how much it looked at."""

    problems: list[Problem] = field(default_factory=list)
    files: int = 0

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


def check_desk(desk: Desk, paths: Sequence[str] | None = None) -> CheckResult:
    """Validate the whole desk, or only the record files in ``paths`` (references still checked against all)."""
    result = CheckResult()
    loaded = load_config(desk, result)
    result.files = 1
    if loaded is None:
        return result
    config, schemas = loaded
    all_paths = desk.record_paths()
    known_ids = {rel.rpartition("/")[2].rpartition(".")[0] for rel in all_paths}
    targets = all_paths if paths is None else [p for p in paths if kind_of_path(p)]
    services: dict[str, dict] = {}
    service_records: list[Record] = []
    for rel in all_paths:
        if rel.startswith("catalog/"):
            try:
                rec = desk.load(rel)
            except InvalidRecord:
                continue  # reported below when in scope
            if isinstance(rec.data.get("id"), str):
                services[rec.data["id"]] = rec.data
            service_records.append(rec)
    records: list[Record] = []
    for rel in targets:
        try:
            records.append(desk.load(rel))
        except ItsmError as e:
            result.problems.append(_problem_from_error(e))
    result.files += len(targets)
    result.problems.extend(validate_records(config, schemas, records, known_ids, services))
    in_scope = {r.path for r in records}
    by_id = {r.id: r for r in service_records}
    for cycle in dependency_cycles(services):
        rec = by_id.get(cycle[0])
        if rec is not None and rec.path in in_scope:
            line, col = rec.locate(("depends_on",))
            result.problems.append(Problem(rec.path, line, col, "dependency cycle: " + " -> ".join(cycle), "cycle"))
    result.problems.sort()
    return result


def check_since(desk: Desk, base: str, paths: Sequence[str] | None = None) -> CheckResult:
    """Validate what changed since ``base`` (see :mod:`itsm_cli.store.basecheck`)."""
    from itsm_cli.store.basecheck import check_against_base

    return check_against_base(desk, base, paths)
