"""Unit tests of core/validate.py: records checked in depth and across each other, with hand-made records.

(The configuration checks are in test_config.py; ``itsm validate`` itself in tests/test_validate.py.)
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from desk_testing import EMAIL_SERVICE

from itsm_cli.core import ids, records
from itsm_cli.core.config import Config
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import Problem, dependency_cycles, missing_form_fields, validate_records

DATA = Path(__file__).resolve().parents[2] / "itsm_cli/data"
ANN, EVE = "ann@example.com", "eve@example.com"
T0, T1 = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"


@dataclass
class Rec:
    """A record as the validator sees it; ``locate`` numbers the places asked for, so a problem's line names its place."""

    path: str
    data: dict[str, Any]
    kind: str = "ticket"
    asked: list[tuple] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    @property
    def type_name(self) -> str:
        return str(self.data.get("type") or self.kind)  # as store/desk.py's Record: a service names no type

    def locate(self, json_path: tuple = ()) -> tuple[int, int]:
        self.asked.append(tuple(json_path))
        return len(self.asked), 1

    def place(self, problem: Problem) -> tuple:
        return self.asked[problem.line - 1]


@pytest.fixture(scope="module")
def config() -> Config:
    data = yaml.safe_load((DATA / "itsm.yaml").read_text())
    data["people"] = [{"email": ANN, "name": "Ann", "roles": ["agent"], "groups": ["service-desk"]}]
    return Config(data)


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet({p.name: json.loads(p.read_text()) for p in (DATA / "schemas").glob("*.schema.json")})


SERVICES = {"email": yaml.safe_load(EMAIL_SERVICE)}


def ticket(config: Config, record_id: str = "INC-0001", **fields: Any) -> Rec:
    data = records.new_record(config, "incident", record_id, {"title": "Printer", **fields}, EVE, T0)
    return Rec(ids.ticket_path("tickets", record_id), data)


def found(config: Config, schemas: SchemaSet, *recs: Rec, known: set[str] | None = None) -> list[tuple[str, tuple, str, str]]:
    """(record ID, place, rule, message) of every problem."""
    known = {r.id for r in recs} if known is None else known
    by_path = {r.path: r for r in recs}
    return [(by_path[p.path].id, by_path[p.path].place(p), p.rule, p.message)
            for p in validate_records(config, schemas, recs, known, SERVICES)]


def test_a_new_record_and_the_email_service_are_valid(config: Config, schemas: SchemaSet) -> None:
    service = Rec("catalog/email.yaml", copy.deepcopy(SERVICES["email"]), "service")
    assert found(config, schemas, ticket(config, service="email"), service) == []


def test_a_ticket_outside_its_bucket_is_told_where_it_belongs(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config, "INC-1042")
    rec.path = "tickets/INC/000/INC-1042.yaml"
    flat = ticket(config, "INC-0002")
    flat.path = "tickets/INC-0002.yaml"
    problems = found(config, schemas, rec, flat)
    assert ("INC-1042", (), "layout", "this ticket belongs at tickets/INC/001/INC-1042.yaml, the folder its ID gives") in problems
    assert ("INC-0002", (), "layout", "this ticket belongs at tickets/INC/000/INC-0002.yaml, the folder its ID gives "
            "(run 'itsm upgrade' to move a desk of the earlier flat layout)") in problems


def test_file_name_and_id_must_agree(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config)
    rec.data["id"] = "INC-0009"
    assert ("INC-0009", ("id",), "file-name", "file name must equal the ID: file is INC-0001, id is 'INC-0009'") in \
        found(config, schemas, rec)


def test_the_same_id_twice_is_named_with_the_other_file(config: Config, schemas: SchemaSet) -> None:
    a = ticket(config)
    b = ticket(config)
    b.path = "tickets/INC-0001.yaml"  # flat copy of the same ticket
    problems = found(config, schemas, a, b)
    assert ("INC-0001", ("id",), "unique-id", f"ID INC-0001 is also used by {a.path}") in problems


def test_references_to_unknown_things(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config, service="printing", group="nobody")
    rec.data["links"] = [{"kind": "relates", "id": "PRB-0404"}, {"kind": "relates", "id": "INC-0001"}]
    rec.data["assignee"] = EVE
    problems = {(place, message) for _, place, rule, message in found(config, schemas, rec) if rule == "reference"}
    assert problems == {
        (("service",), "unknown service 'printing'"),
        (("group",), "unknown group 'nobody'"),
        (("assignee",), f"assignee {EVE} is not a listed agent"),
        (("links", 0, "id"), "link target PRB-0404 does not exist"),
        (("links", 1, "id"), "a record cannot link to itself"),
    }


def test_an_offering_needs_its_service_and_its_required_form_fields(config: Config, schemas: SchemaSet) -> None:
    data = records.new_record(config, "request", "REQ-0001", {"title": "Mailbox", "service": "email",
                                                              "offering": "shared-mailbox"}, EVE, T0)
    rec = Rec(ids.ticket_path("tickets", "REQ-0001"), data)
    assert ("REQ-0001", ("offering",), "required",
            "offering 'shared-mailbox' of service 'email' needs form field 'name' (Mailbox name)") in found(config, schemas, rec)
    rec.data["offering"] = "coffee"
    assert ("REQ-0001", ("offering",), "reference", "service 'email' has no offering 'coffee'") in found(config, schemas, rec)


def test_status_must_be_where_the_history_ends(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config)
    rec.data["status"] = "in_progress"
    assert ("INC-0001", ("status",), "status-history", "status is 'in_progress' but the history ends in 'new'") in \
        found(config, schemas, rec)


def test_a_forged_history_entry_is_named_by_its_index(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config)
    rec.data["history"].append({"at": T1, "by": EVE, "action": "transition", "from": "new", "to": "closed"})
    rec.data["status"] = "closed"
    rec.data["updated"] = T1
    problems = [p for p in found(config, schemas, rec) if p[2] == "workflow"]
    assert problems and problems[0][1] == ("history", 1) and problems[0][3].startswith("history[1]: ")


def test_dates_must_agree_with_the_history(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config)
    rec.data["created"] = T1
    rec.data["history"].append({"at": T1, "by": EVE, "action": "comment", "note": "hi"})
    rec.data["updated"] = T0
    problems = {(p[1], p[3]) for p in found(config, schemas, rec) if p[2] == "history"}
    assert problems == {(("created",), f"created ({T1}) differs from the create entry ({T0})"),
                        (("updated",), f"updated ({T0}) is earlier than the last history entry ({T1})")}


def test_priority_must_follow_the_matrix(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config, impact="high", urgency="high")
    rec.data["priority"] = "P4"
    assert ("INC-0001", ("priority",), "priority", "priority should be P1 (impact high x urgency high), not P4") in \
        found(config, schemas, rec)


def test_a_wrong_type_for_the_folder_stops_further_checks(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config)
    rec.kind = "article"
    [(_, place, rule, message)] = found(config, schemas, rec)
    assert (place, rule) == (("type",), "type")
    assert message == "unknown type 'incident' for a file in this folder (expected one of: article)"


def test_a_schema_error_stops_the_deeper_checks(config: Config, schemas: SchemaSet) -> None:
    rec = ticket(config, service="printing")
    rec.data["title"] = 42
    problems = found(config, schemas, rec)
    assert {p[2] for p in problems} == {"schema"}
    assert problems[0][1] == ("title",)


def test_a_service_with_unknown_calendar_and_duplicate_offerings(config: Config, schemas: SchemaSet) -> None:
    data = copy.deepcopy(SERVICES["email"])
    data["support_hours"] = "never"
    data["offerings"].append(copy.deepcopy(data["offerings"][1]))
    data["depends_on"] = ["email"]
    problems = {(p[1], p[3]) for p in found(config, schemas, Rec("catalog/email.yaml", data, "service"))}
    assert (("support_hours",), "unknown calendar 'never'") in problems
    assert (("offerings", 2, "id"), "duplicate offering id 'distribution-list'") in problems
    assert (("depends_on", 0), "a service cannot depend on itself") in problems


def test_dependency_cycles() -> None:
    services = {"a": {"depends_on": ["b"]}, "b": {"depends_on": ["c", "zzz"]}, "c": {"depends_on": ["a"]},
                "d": {"depends_on": ["d"]}, "e": {"depends_on": ["a"]}, "f": {}}
    assert dependency_cycles(services) == [["a", "b", "c", "a"], ["d", "d"]]
    assert dependency_cycles({"x": {"depends_on": ["y"]}, "y": {}}) == []


def test_missing_form_fields() -> None:
    offering = {"form": [{"id": "name", "label": "Name", "required": True}, {"id": "size", "required": True},
                         {"id": "note", "required": False}]}
    assert missing_form_fields(offering, {"name": "", "note": ""}) == [("name", "Name"), ("size", "size")]
    assert missing_form_fields(offering, {"name": "x", "size": 0}) == []
    assert missing_form_fields(offering, "not a mapping") == [("name", "Name"), ("size", "size")]
    assert missing_form_fields(None, None) == []


def test_a_problem_prints_as_one_line_and_as_json() -> None:
    p = Problem("tickets/INC/000/INC-0001.yaml", 3, 5, "bad\nthing", "schema")
    assert str(p) == "tickets/INC/000/INC-0001.yaml:3:5: bad\\nthing"
    assert p.as_dict() == {"path": "tickets/INC/000/INC-0001.yaml", "line": 3, "col": 5, "rule": "schema",
                           "message": "bad\nthing"}
    assert sorted([Problem("b", 1, 1, "x"), Problem("a", 9, 1, "x"), Problem("a", 2, 1, "x")])[0] == Problem("a", 2, 1, "x")
