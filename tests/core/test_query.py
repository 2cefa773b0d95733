"""Unit tests of the query core and list fields (issue 19, part A): values checked against the desk, no git."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from itsm_cli.core import records
from itsm_cli.core.config import Config
from itsm_cli.core.query import Query, check_query, matches, run_query, unknown, view
from itsm_cli.errors import BadArgument, Refused

ROOT = Path(__file__).resolve().parents[2]
ANN = "ann@example.com"
SERVICES = ["email", "vpn", "email-relay"]
SORT_KEYS = ["id", "priority", "status", "updated"]


@pytest.fixture(scope="module")
def config() -> Config:
    data = yaml.safe_load((ROOT / "itsm_cli/data/itsm.yaml").read_text())
    data["people"] = [{"email": ANN, "name": "Ann", "roles": ["agent"], "groups": ["service-desk"]}]
    return Config(data)


def checked(config: Config, **fields: Any) -> Query:
    return check_query(config, Query(**fields), SERVICES, SORT_KEYS)


def test_values_are_spelled_as_the_desk_spells_them(config: Config) -> None:
    q = checked(config, type_name="incident", statuses={"In_Progress"}, priorities={"p1", "P2"}, service="VPN")
    assert (q.statuses, q.priorities, q.service) == ({"in_progress"}, {"P1", "P2"}, "vpn")


@pytest.mark.parametrize(("fields", "message"), [
    ({"type_name": "incident", "statuses": {"inprogress"}},
     "unknown status 'inprogress' for incident; did you mean 'in_progress'? (valid: "),
    ({"statuses": {"fulfiling"}}, "did you mean 'fulfilling'?"),
    ({"priorities": {"P9"}}, "unknown priority 'P9'"),
    ({"service": "emial"}, "unknown service 'emial'; did you mean 'email'?"),
    ({"group": "desk"}, "unknown group 'desk'"),
    ({"sort": "prio"}, "unknown sort key 'prio'; did you mean 'priority'?"),
    ({"sort": "-prio"}, "did you mean 'priority'?"),
    ({"type_name": "incidnet"}, "unknown record type 'incidnet'; did you mean 'incident'?"),
])
def test_an_unknown_value_is_a_usage_error_naming_the_nearest(config: Config, fields: dict, message: str) -> None:
    with pytest.raises(BadArgument) as e:
        checked(config, **fields)
    assert message in e.value.message
    assert e.value.exit_code == 2


def test_unknown_lists_at_most_thirty_values() -> None:
    text = unknown("x", [f"s{i:03d}" for i in range(100)], "service")
    assert text.endswith("... (100 in all))") and "s029" in text and "s030" not in text


def test_a_status_that_is_no_state_is_neither_open_nor_closed(config: Config) -> None:
    typo = {"id": "INC-0007", "type": "incident", "status": "in_progres"}
    good = {"id": "INC-0008", "type": "incident", "status": "in_progress"}
    done = {"id": "INC-0009", "type": "incident", "status": "closed"}
    rows = [typo, good, done]
    assert [r["id"] for r in run_query(config, rows, Query(open_only=True))] == ["INC-0008"]
    assert [r["id"] for r in run_query(config, rows, Query(closed_only=True))] == ["INC-0009"]
    assert [r["id"] for r in run_query(config, rows, Query(unknown_status=True))] == ["INC-0007"]
    assert len(run_query(config, rows, Query())) == 3  # no filter: still listed


def test_tags_match_all_given_case_insensitively(config: Config) -> None:
    rec = {"id": "INC-0001", "type": "incident", "status": "new", "tags": ["Outage", "vpn"]}
    assert matches(config, rec, Query(tags={"outage"}))
    assert matches(config, rec, Query(tags={"outage", "vpn"}))
    assert not matches(config, rec, Query(tags={"outage", "wifi"}))
    assert not matches(config, {**rec, "tags": None}, Query(tags={"outage"}))


def test_an_unknown_view_names_the_views(config: Config) -> None:
    assert view(config, "unassigned")["assignee"] == "none"
    with pytest.raises(BadArgument, match="unknown view 'my-opne'; did you mean 'my-open'"):
        view(config, "my-opne")


def test_list_fields_come_from_the_schemas() -> None:
    schemas = {p.name: json.loads(p.read_text()) for p in (ROOT / "itsm_cli/data/schemas").glob("*.json")}
    assert records.list_fields(schemas, "incident.schema.json") == {"tags", "watchers"}
    assert records.list_fields(schemas, "article.schema.json") >= {"tags", "services"}
    assert "checklist" not in records.list_fields(schemas, "request.schema.json")  # items are objects


def test_edit_lists_adds_removes_and_refuses_what_makes_no_sense() -> None:
    rec = {"id": "INC-0001", "tags": ["a"], "checklist": [{"item": "One"}, {"item": "Two", "done": True}]}
    assert records.edit_lists(rec, {"tags"}, [("tags", "b")], [("tags", "a")]) == {"tags": ["b"]}
    assert records.edit_lists(rec, {"tags"}, [], [("tags", "a")]) == {"tags": None}
    assert records.edit_lists(rec, {"tags"}, [("checklist", "Three")], [("checklist", "one")]) == {
        "checklist": [{"item": "Two", "done": True}, {"item": "Three"}]}
    with pytest.raises(Refused, match="tags already has 'a'"):
        records.edit_lists(rec, {"tags"}, [("tags", "a")], [])
    with pytest.raises(BadArgument, match="'title' is not a list field"):
        records.edit_lists(rec, {"tags"}, [("title", "x")], [])
    assert records.tick(rec, ["1"], ["Two"]) == [{"item": "One", "done": True}, {"item": "Two"}]
    assert records.split_list("printer, vpn,,printer") == ["printer", "vpn"]


def _incident(config: Config, status_moves: list[tuple[str, dict]]) -> dict:
    rec = records.new_record(config, "incident", "INC-0002", {"title": "Mail down too", "impact": "low",
                                                              "urgency": "low"}, "eve@example.com", "2026-03-02T09:00:00Z")
    for to, fields in status_moves:
        rec = records.transition(config, rec, to, ANN, "2026-03-02T09:30:00Z", None, None, fields)
    return rec


def test_a_duplicate_is_closed_by_the_moves_its_workflow_allows(config: Config) -> None:
    fresh = records.close_as_duplicate(config, _incident(config, []), "INC-0001", ANN, "2026-03-02T10:00:00Z", None)
    assert fresh["status"] == "cancelled"
    assert fresh["links"] == [{"kind": "duplicate-of", "id": "INC-0001"}]
    assert fresh["history"][-1]["note"] == "Duplicate of INC-0001"
    worked = _incident(config, [("in_progress", {"assignee": ANN})])
    worked = records.close_as_duplicate(config, worked, "INC-0001", ANN, "2026-03-02T10:00:00Z", None)
    assert worked["status"] == "cancelled"
    resolved = _incident(config, [("in_progress", {"assignee": ANN}), ("resolved", {"resolution": "done"})])
    resolved = records.close_as_duplicate(config, resolved, "INC-0001", ANN, "2026-03-02T10:00:00Z", None)
    assert resolved["status"] == "closed" and resolved["history"][-1]["from"] == "resolved"
