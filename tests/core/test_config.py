"""Unit tests of core/config.py (the Config view over itsm.yaml) and of how a bad itsm.yaml is named.

The view itself never checks; :func:`itsm_cli.core.validate.validate_config` does, naming each
problem by its place in the mapping, which the loader's positions turn into line and column.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from itsm_cli.core.config import CATEGORIES, Config, Person, RecordType
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import validate_config
from itsm_cli.errors import Refused
from itsm_cli.store import yaml_io

DATA = Path(__file__).resolve().parents[2] / "itsm_cli/data"
ANN, BOB = "Ann@Example.com", "bob@example.com"


@pytest.fixture(scope="module")
def default_data() -> dict[str, Any]:
    # The project's own loader: PyYAML's safe_load would read the rules' "on:" as True.
    data = yaml_io.load_mapping((DATA / "itsm.yaml").read_bytes(), "itsm.yaml")
    data["people"] = [
        {"email": ANN, "name": "Ann Agent", "roles": ["agent", "approver"], "groups": ["service-desk", "cab"]},
        {"email": BOB, "name": "Bob Builder", "roles": ["agent"], "groups": ["service-desk"]},
    ]
    return data


@pytest.fixture()
def config(default_data: dict[str, Any]) -> Config:
    return Config(copy.deepcopy(default_data))


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet({p.name: json.loads(p.read_text()) for p in (DATA / "schemas").glob("*.schema.json")})


# --- types ---------------------------------------------------------------------------------


def test_types_are_read_with_their_defaults(config: Config) -> None:
    assert set(config.types) == {"incident", "request", "problem", "change", "improvement", "article", "service",
                                 "supplier"}
    assert config.types["supplier"].kind == "supplier" and config.types["improvement"].prefix == "IMP"
    change = config.types["change"]
    assert isinstance(change, RecordType)
    assert (change.kind, change.prefix, change.folder, change.workflow, change.schema) == \
        ("ticket", "CHG", "tickets", "change", "change.schema.json")
    assert change.defaults == {"change_class": "normal"}
    assert change.approval["group"] == "cab"
    assert config.types["incident"].approval is None
    assert config.types["incident"].defaults == {}


def test_types_by_prefix_and_type_for_id(config: Config) -> None:
    assert set(config.types_by_prefix) >= {"INC", "REQ", "PRB", "CHG", "KB"}
    assert config.type_for_id("INC-0042").name == "incident"
    assert config.type_for_id("ZZZ-0001") is None
    assert config.type_for_id("email") is None
    assert config.service_type().name == "service"


def test_an_unknown_type_is_refused_with_the_known_ones(config: Config) -> None:
    with pytest.raises(Refused, match="unknown record type 'bug'; this desk has: article, change, improvement, "
                                      "incident, problem, request, service, supplier"):
        config.record_type("bug")
    assert config.record_type("problem").prefix == "PRB"


def test_a_desk_without_types_or_service_type() -> None:
    empty = Config({})
    assert empty.types == {}
    assert empty.service_type() is None
    assert empty.type_for_id("INC-0001") is None
    assert empty.people == {} and empty.groups == {}
    assert empty.standard_changes == {}
    assert empty.bot == "itsm-bot@localhost"
    assert empty.desk == {} and empty.calendars == {} and empty.sla == {}


# --- workflows ----------------------------------------------------------------------------------


def test_workflow_questions(config: Config) -> None:
    assert config.initial_state("incident") == "new"
    assert config.initial_state("request") == "submitted"
    assert config.state("incident", "resolved") == {"category": "resolved", "requires": ["resolution"]}
    assert config.state("incident", "nowhere") is None
    assert config.category("incident", "on_hold") == "waiting"
    assert config.category("incident", "nowhere") is None
    assert config.states_in("incident", "closed") == ["closed", "cancelled"]
    assert config.states_in("incident", "new", "open", "waiting") == ["new", "assigned", "in_progress", "on_hold"]
    assert config.is_closed("request", "rejected") and not config.is_closed("request", "fulfilled")
    assert config.is_open("request", "awaiting_approval") and not config.is_open("request", "fulfilled")
    # Every state of the shipped workflows has one of the five categories.
    for name in config.types:
        assert {d["category"] for d in config.workflow(name)["states"].values()} <= set(CATEGORIES)


# --- priority -----------------------------------------------------------------------------------


def test_priority_matrix_and_default(config: Config) -> None:
    assert config.priority_levels == ["high", "medium", "low"]
    assert config.priority_for("high", "high") == "P1"
    assert config.priority_for("low", "low") == "P5"
    assert config.priority_for("medium", "low") == "P4"
    assert config.priority_for("huge", "low") is None
    assert config.priority_default == {"impact": "medium", "urgency": "medium"}


def test_the_default_priority_falls_back_to_the_middle_level() -> None:
    config = Config({"priority": {"levels": ["a", "b", "c", "d", "e"], "matrix": {}, "default": {"urgency": "e"}}})
    assert config.priority_default == {"impact": "c", "urgency": "e"}


# --- people and groups ----------------------------------------------------------------------------


def test_people_are_found_whatever_the_case_of_their_address(config: Config) -> None:
    ann = config.person("ann@EXAMPLE.com")
    assert ann == Person(ANN, "Ann Agent", frozenset({"agent", "approver"}), frozenset({"service-desk", "cab"}))
    assert config.person("eve@example.com") is None
    assert config.has_role("ANN@example.com", "approver")
    assert not config.has_role(BOB, "approver")
    assert not config.has_role("eve@example.com", "agent")
    assert config.display_name(BOB) == "Bob Builder"
    assert config.display_name("eve@example.com") == "eve@example.com"


def test_groups_and_members(config: Config) -> None:
    assert set(config.groups) == {"service-desk", "service-owners", "cab", "ecab"}
    assert config.groups["cab"]["name"] == "Change Advisory Board"
    assert sorted(p.email for p in config.members("service-desk")) == [ANN, BOB]
    assert [p.email for p in config.members("cab")] == [ANN]
    assert config.members("ecab") == []


def test_standard_changes_ignore_entries_without_an_id() -> None:
    config = Config({"standard_changes": [{"id": "patching", "risk": "low"}, {"risk": "high"}, "junk"]})
    assert config.standard_changes == {"patching": {"id": "patching", "risk": "low"}}


def test_bot_comes_from_the_desk_section() -> None:
    assert Config({"desk": {"bot": "robot@example.com"}}).bot == "robot@example.com"


# --- a bad itsm.yaml is named by its place ---------------------------------------------------------


def test_the_shipped_config_has_no_problems(default_data: dict[str, Any], schemas: SchemaSet) -> None:
    assert validate_config(copy.deepcopy(default_data), schemas) == []


@pytest.mark.parametrize(("change", "where", "message"), [
    (lambda d: d["types"]["incident"].update(workflow="nope"), ("types", "incident", "workflow"),
     "unknown workflow 'nope'"),
    (lambda d: d["types"]["problem"].update(prefix="INC"), ("types", "problem", "prefix"),
     "prefix INC is also used by 'incident'"),
    (lambda d: d["workflows"]["incident"].update(initial="start"), ("workflows", "incident", "initial"),
     "initial state 'start' is not one of its states"),
    (lambda d: d["workflows"]["incident"]["transitions"][0].update(to="limbo"), ("workflows", "incident", "transitions", 0),
     "unknown state 'limbo'"),
    (lambda d: d["priority"]["matrix"]["low"].pop("low"), ("priority", "matrix"),
     "the matrix has no priority for impact low, urgency low"),
    (lambda d: d["people"][1].update(groups=["nobody"]), ("people", 1, "groups"),
     "bob@example.com: unknown group 'nobody'"),
    (lambda d: d["types"]["change"]["approval"].update(group="board"), ("types", "change", "approval"),
     "unknown approving group 'board'"),
    (lambda d: d["sla"].update(default_profile="gold"), ("sla", "default_profile"), "unknown SLA profile 'gold'"),
])
def test_cross_references_are_named_by_their_place(default_data: dict[str, Any], schemas: SchemaSet, change: Any,
                                                    where: tuple, message: str) -> None:
    data = copy.deepcopy(default_data)
    change(data)
    assert (where, message) in validate_config(data, schemas)


def test_a_schema_error_names_its_place(default_data: dict[str, Any], schemas: SchemaSet) -> None:
    data = copy.deepcopy(default_data)
    data["types"]["incident"]["kind"] = "bug"
    found = validate_config(data, schemas)
    assert found
    assert all(tuple(path[:3]) == ("types", "incident", "kind") for path, _ in found)


def test_without_the_config_schema_nothing_else_is_checked(default_data: dict[str, Any]) -> None:
    assert validate_config(default_data, SchemaSet({})) == [((), "schemas/config.schema.json is missing")]


def test_a_problem_place_becomes_the_line_and_column_of_the_file(schemas: SchemaSet) -> None:
    # What 'itsm validate' does: the loader's positions map the problem's place to line:col.
    text = (DATA / "itsm.yaml").read_text().replace("    workflow: incident\n", "    workflow: incidnet\n", 1)
    positions: dict = {}
    data = yaml_io.load_mapping(text.encode(), "itsm.yaml", positions)
    [(where, message)] = validate_config(data, schemas)
    assert message == "unknown workflow 'incidnet'"
    line, col = positions[where]
    assert text.splitlines()[line - 1][col - 1:] == "workflow: incidnet"
