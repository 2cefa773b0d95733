"""Unit tests of store/check.py: itsm.yaml and the schemas loaded with their problems placed, and the desk's cross-record rules.

(That a cached run answers like an uncached one is tests/test_cache.py's subject.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import save_ticket, ticket_path

from itsm_cli.store.check import CheckResult, check_desk, load_config
from itsm_cli.store.desk import Desk


def _problems(desk: Path) -> list[str]:
    result = CheckResult()
    assert load_config(Desk(desk), result) is None
    return [str(p) for p in result.problems]


def test_a_good_desk_loads_its_config_and_schemas(desk: Path) -> None:
    result = CheckResult()
    loaded = load_config(Desk(desk), result)
    assert loaded is not None and result.ok
    config, schemas = loaded
    assert "incident" in config.types and schemas.has("incident.schema.json")


def test_a_cross_reference_problem_is_placed_at_its_line_and_column(desk: Path) -> None:
    text = (desk / "itsm.yaml").read_text()
    (desk / "itsm.yaml").write_text(text.replace("    workflow: incident\n", "    workflow: incidnet\n", 1))
    [problem] = _problems(desk)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row == "    workflow: incident")
    assert problem == f"itsm.yaml:{line}:5: unknown workflow 'incidnet'"


def test_a_problem_deeper_than_the_file_goes_to_the_nearest_place_that_exists(desk: Path) -> None:
    text = (desk / "itsm.yaml").read_text()
    (desk / "itsm.yaml").write_text(text.replace("groups: [service-desk, cab]}", "groups: [service-desk, nobody]}", 1))
    [problem] = _problems(desk)
    assert problem.endswith(": ann@example.com: unknown group 'nobody'")
    line = int(problem.split(":")[1])
    assert "groups: [service-desk, nobody]" in (desk / "itsm.yaml").read_text().splitlines()[line - 1]


def test_malformed_yaml_and_a_broken_schema_are_named(desk: Path) -> None:
    (desk / "itsm.yaml").write_text("desk: {name: x}\ndesk: {name: y}\n")
    assert _problems(desk) == ["itsm.yaml:2:1: duplicate key 'desk'"]
    (desk / "schemas/incident.schema.json").write_text("{not json")
    [problem] = _problems(desk)
    assert problem.startswith("schemas/incident.schema.json:1:1: not valid JSON")


def test_a_bad_config_stops_the_check_before_any_record(desk: Path) -> None:
    (desk / "itsm.yaml").write_text("types: []\n")
    result = check_desk(Desk(desk))
    assert result.files == 1 and not result.ok
    assert all(p.path == "itsm.yaml" for p in result.problems)


def _incident(record_id: str) -> dict:
    return {"id": record_id, "type": "incident", "title": "t", "status": "new", "created": "2026-03-02T09:00:00Z",
            "updated": "2026-03-02T09:00:00Z", "requester": "eve@example.com", "impact": "low", "urgency": "low",
            "priority": "P5", "history": [{"at": "2026-03-02T09:00:00Z", "by": "eve@example.com", "action": "create",
                                           "to": "new"}]}


def test_the_same_id_in_two_files_is_found_across_the_desk(desk: Path) -> None:
    save_ticket(desk, _incident("INC-0001"))
    (desk / "tickets/INC-0001.yaml").write_text((desk / ticket_path("INC-0001")).read_text())
    problems = check_desk(Desk(desk)).problems
    # Files are checked in path order: the flat copy comes first ('-' sorts before '/'), the second holder is named.
    assert [(p.path, p.message) for p in problems if p.rule == "unique-id"] == [
        (ticket_path("INC-0001"), "ID INC-0001 is also used by tickets/INC-0001.yaml")]
    assert [p.path for p in problems if p.rule == "layout"] == ["tickets/INC-0001.yaml"]


def test_a_dependency_cycle_is_reported_once_at_its_first_service(desk: Path) -> None:
    email = (desk / "catalog/email.yaml").read_text()
    (desk / "catalog/email.yaml").write_text(email.replace("depends_on: []", "depends_on: [vpn]"))
    vpn = email.replace("id: email", "id: vpn").replace("depends_on: []", "depends_on: [email]")
    (desk / "catalog/vpn.yaml").write_text(vpn)
    cycles = [p for p in check_desk(Desk(desk)).problems if p.rule == "cycle"]
    assert [(p.path, p.message) for p in cycles] == [("catalog/email.yaml", "dependency cycle: email -> vpn -> email")]


@pytest.mark.parametrize("named", [True, False])
def test_named_paths_check_only_those_files_but_references_against_all(desk: Path, named: bool) -> None:
    save_ticket(desk, _incident("INC-0001"))
    save_ticket(desk, {**_incident("INC-0002"), "links": [{"kind": "relates", "id": "INC-0001"}]})
    save_ticket(desk, {**_incident("INC-0003"), "title": 42})
    paths = [ticket_path("INC-0002")] if named else None
    result = check_desk(Desk(desk), paths)
    broken = {p.path for p in result.problems}
    assert broken == (set() if named else {ticket_path("INC-0003")})
    assert result.files == (2 if named else 1 + len(Desk(desk).record_paths()))
