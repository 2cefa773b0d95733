"""Unit tests of core/records.py: the record operations as pure functions (no git, no files)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from itsm_cli.core import records
from itsm_cli.core.config import Config
from itsm_cli.core.workflow import approval_policy
from itsm_cli.errors import BadArgument, Refused

ANN, BOB, CAROL, EVE = "ann@example.com", "bob@example.com", "carol@example.com", "eve@example.com"
PEOPLE = [
    {"email": ANN, "name": "Ann", "roles": ["agent", "approver"], "groups": ["service-desk", "cab"]},
    {"email": BOB, "name": "Bob", "roles": ["agent"], "groups": ["service-desk"]},
    {"email": CAROL, "name": "Carol", "roles": ["approver"], "groups": ["cab", "service-owners"]},
]
T0, T1, T2, T3 = (f"2026-03-02T09:0{i}:00Z" for i in range(4))


@pytest.fixture(scope="module")
def config() -> Config:
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text())
    data["people"] = PEOPLE
    return Config(data)


def incident(config: Config, **fields: Any) -> dict[str, Any]:
    return records.new_record(config, "incident", "INC-0001", {"title": "Printer on fire", **fields}, EVE, T0)


# --- create -----------------------------------------------------------------------------


def test_a_new_incident_starts_in_the_initial_state_with_one_create_entry(config: Config) -> None:
    rec = incident(config)
    assert rec["status"] == "new"
    assert rec["requester"] == EVE
    assert rec["created"] == rec["updated"] == T0
    assert rec["history"] == [{"at": T0, "by": EVE, "action": "create", "to": "new"}]
    # Incidents get the default impact and urgency, and the matrix priority.
    assert (rec["impact"], rec["urgency"], rec["priority"]) == ("medium", "medium", "P3")
    assert list(rec)[:4] == ["id", "type", "title", "status"]
    assert list(rec)[-1] == "history"


def test_priority_follows_the_matrix(config: Config) -> None:
    assert incident(config, impact="high", urgency="high")["priority"] == "P1"
    assert incident(config, impact="low", urgency="high")["priority"] == "P3"
    with pytest.raises(BadArgument, match="impact 'huge' is not one of: high, medium, low"):
        incident(config, impact="huge")


def test_type_defaults_fill_what_is_not_given(config: Config) -> None:
    rec = records.new_record(config, "change", "CHG-0001", {"title": "Patch"}, BOB, T0)
    assert rec["change_class"] == "normal"
    assert rec["status"] == "draft"
    assert "priority" not in rec  # a change names no impact or urgency
    emergency = records.new_record(config, "change", "CHG-0002", {"title": "Patch", "change_class": "emergency"}, BOB, T0)
    assert emergency["change_class"] == "emergency"


def test_requester_override_and_none_values(config: Config) -> None:
    rec = incident(config, requester_override=ANN, service=None)
    assert rec["requester"] == ANN
    assert "service" not in rec and "requester_override" not in rec


@pytest.mark.parametrize("field", sorted(records.PROTECTED))
def test_protected_fields_cannot_be_set_on_create_or_edit(config: Config, field: str) -> None:
    with pytest.raises(BadArgument, match=f"'{field}' cannot be set directly"):
        incident(config, **{field: "x"})
    with pytest.raises(BadArgument, match=f"'{field}' cannot be set directly"):
        records.edit(config, incident(config), {field: "x"}, BOB, T1, None)


def test_an_unknown_type_names_the_known_ones(config: Config) -> None:
    with pytest.raises(Refused, match="unknown record type 'ticket'; this desk has: article, change, improvement, incident"):
        records.new_record(config, "ticket", "X-1", {"title": "x"}, EVE, T0)


# --- transition -------------------------------------------------------------------------


def test_a_transition_appends_one_entry_and_never_touches_the_original(config: Config) -> None:
    rec = incident(config, assignee=BOB)
    before = copy.deepcopy(rec)
    new = records.transition(config, rec, "assigned", BOB, T1, None, note="mine")
    assert rec == before
    assert new["status"] == "assigned" and new["updated"] == T1
    assert new["history"][-1] == {"at": T1, "by": BOB, "action": "transition", "from": "new", "to": "assigned",
                                  "note": "mine"}
    assert len(new["history"]) == 2


def test_an_illegal_move_names_the_legal_ones(config: Config) -> None:
    rec = incident(config)
    with pytest.raises(Refused, match="legal next states: assigned, in_progress, resolved, cancelled") as info:
        records.transition(config, rec, "closed", BOB, T1, None)
    assert str(info.value).startswith("INC-0001: ")


def test_a_state_that_requires_fields_says_how_to_give_them(config: Config) -> None:
    rec = incident(config)
    with pytest.raises(Refused, match=r"'resolved' requires resolution; add --set resolution=\.\.\."):
        records.transition(config, rec, "resolved", BOB, T1, None)
    done = records.transition(config, rec, "resolved", BOB, T1, None, fields={"resolution": "Replaced toner"})
    assert done["resolution"] == "Replaced toner"
    assert done["history"][-1]["fields"] == {"resolution": "Replaced toner"}


def test_a_transition_may_not_set_protected_fields(config: Config) -> None:
    with pytest.raises(BadArgument, match="'status' cannot be set directly"):
        records.transition(config, incident(config), "cancelled", EVE, T1, None, fields={"status": "closed"})


def test_a_transition_changing_impact_recomputes_priority(config: Config) -> None:
    rec = incident(config, assignee=BOB)
    new = records.transition(config, rec, "in_progress", BOB, T1, None, fields={"impact": "high", "urgency": "high"})
    assert new["priority"] == "P1"


def test_agent_only_moves_are_refused_to_anyone_else(config: Config) -> None:
    rec = incident(config, assignee=BOB)
    with pytest.raises(Refused):
        records.transition(config, rec, "assigned", EVE, T1, None)
    # ...but anyone may cancel.
    assert records.transition(config, rec, "cancelled", EVE, T1, None)["status"] == "cancelled"


# --- assign, comment, link, edit -------------------------------------------------------


def test_assign_records_the_change_in_history(config: Config) -> None:
    new = records.assign(config, incident(config), BOB.upper(), "service-desk", ANN, T1, None)
    assert new["assignee"] == BOB  # the listed spelling
    assert new["group"] == "service-desk"
    assert new["history"][-1] == {"at": T1, "by": ANN, "action": "assign",
                                  "fields": {"assignee": BOB, "group": "service-desk"}}


@pytest.mark.parametrize(("person", "group", "error", "message"), [
    (CAROL, None, Refused, "is not a listed agent"),
    (EVE, None, Refused, "is not a listed agent"),
    (None, "nobody", Refused, "unknown group 'nobody'"),
    (BOB, "cab", Refused, "is not a member of group 'cab'"),
    (None, None, BadArgument, "nothing to assign"),
])
def test_assign_refusals(config: Config, person: str | None, group: str | None, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        records.assign(config, incident(config), person, group, ANN, T1, None)


def test_comments_public_and_internal(config: Config) -> None:
    rec = records.comment(config, incident(config), "Have you tried turning it off?", BOB, T1, None)
    assert rec["history"][-1] == {"at": T1, "by": BOB, "action": "comment", "note": "Have you tried turning it off?"}
    rec = records.comment(config, rec, "Between us", BOB, T2, None, internal=True)
    assert rec["history"][-1]["internal"] is True
    assert rec["status"] == "new"  # a comment moves nothing
    with pytest.raises(BadArgument, match="the comment is empty"):
        records.comment(config, rec, "  \n", BOB, T3, None)


@pytest.mark.parametrize("kind", records.LINK_KINDS)
def test_every_link_kind_is_recorded(config: Config, kind: str) -> None:
    rec = records.link(config, incident(config), kind, "PRB-0002", BOB, T1, None)
    assert rec["links"] == [{"kind": kind, "id": "PRB-0002"}]
    assert rec["history"][-1]["fields"] == {"links": [{"kind": kind, "id": "PRB-0002"}]}


def test_link_refusals(config: Config) -> None:
    rec = incident(config)
    with pytest.raises(BadArgument, match="unknown link kind 'blocks'; kinds: parent, child"):
        records.link(config, rec, "blocks", "PRB-0002", BOB, T1, None)
    with pytest.raises(Refused, match="INC-0001 cannot link to itself"):
        records.link(config, rec, "relates", "INC-0001", BOB, T1, None)
    linked = records.link(config, rec, "relates", "PRB-0002", BOB, T1, None)
    with pytest.raises(Refused, match="already has link relates PRB-0002"):
        records.link(config, linked, "relates", "PRB-0002", BOB, T2, None)
    # The same target under another kind is a different link.
    both = records.link(config, linked, "caused-by", "PRB-0002", BOB, T2, None)
    assert [link["kind"] for link in both["links"]] == ["relates", "caused-by"]


def test_edit_records_only_what_changes_and_none_removes(config: Config) -> None:
    rec = incident(config, service="email", tags=["printer"])
    new = records.edit(config, rec, {"service": "email", "title": "Printer smoking", "tags": None}, BOB, T1, None)
    assert new["title"] == "Printer smoking"
    assert "tags" not in new
    assert new["history"][-1]["fields"] == {"title": "Printer smoking", "tags": None}
    with pytest.raises(Refused, match="nothing changes"):
        records.edit(config, new, {"title": "Printer smoking"}, BOB, T2, None)
    with pytest.raises(BadArgument, match="nothing to edit"):
        records.edit(config, new, {}, BOB, T2, None)


def test_edit_of_urgency_recomputes_priority(config: Config) -> None:
    new = records.edit(config, incident(config), {"urgency": "high"}, BOB, T1, None)
    assert new["priority"] == "P2"


def test_a_closed_record_is_frozen(config: Config) -> None:
    rec = records.transition(config, incident(config), "cancelled", EVE, T1, None)
    with pytest.raises(Refused):
        records.comment(config, rec, "too late", BOB, T2, None)


# --- approvals ----------------------------------------------------------------------------


def _awaiting_change(config: Config) -> tuple[dict[str, Any], Any]:
    rec = records.new_record(config, "change", "CHG-0001", {"title": "Patch", "risk": "low", "plan": "p"}, BOB, T0)
    policy = approval_policy(config, rec, None)
    rec = records.transition(config, rec, "assessment", BOB, T1, policy)
    rec = records.transition(config, rec, "awaiting_approval", BOB, T2, policy)
    return rec, policy


def test_an_approval_by_the_cab_moves_the_change_on(config: Config) -> None:
    rec, policy = _awaiting_change(config)
    assert policy.group == "cab" and policy.count == 1
    new = records.approve(config, rec, CAROL, T3, policy, note="ok")
    assert new["status"] == "approved"
    assert new["history"][-1] == {"at": T3, "by": CAROL, "action": "approve", "from": "awaiting_approval",
                                  "to": "approved", "group": "cab", "note": "ok"}


def test_a_rejection_needs_a_reason(config: Config) -> None:
    rec, policy = _awaiting_change(config)
    with pytest.raises(BadArgument, match="needs --note"):
        records.reject(config, rec, CAROL, T3, policy, note=" ")
    assert records.reject(config, rec, CAROL, T3, policy, note="too risky")["status"] == "rejected"


def test_approving_what_awaits_no_approval_is_refused(config: Config) -> None:
    with pytest.raises(Refused, match="is 'new', not awaiting approval"):
        records.approve(config, incident(config), CAROL, T1, None)


def test_someone_outside_the_group_may_not_approve(config: Config) -> None:
    rec, policy = _awaiting_change(config)
    with pytest.raises(Refused):
        records.approve(config, rec, BOB, T3, policy)


# --- helpers ---------------------------------------------------------------------------------


def test_ordered_puts_identity_first_unknown_fields_next_and_history_last() -> None:
    out = records.ordered({"history": [], "zzz": 1, "title": "t", "id": "INC-0001", "description": "d"})
    assert list(out) == ["id", "title", "description", "zzz", "history"]


def test_relink_points_links_at_the_new_id() -> None:
    rec = {"id": "INC-0001", "links": [{"kind": "relates", "id": "PRB-0009"}, {"kind": "parent", "id": "INC-0005"}]}
    new = records.relink(rec, "PRB-0009", "PRB-0010")
    assert new is not None
    assert new["links"] == [{"kind": "relates", "id": "PRB-0010"}, {"kind": "parent", "id": "INC-0005"}]
    assert rec["links"][0]["id"] == "PRB-0009"
    assert records.relink(rec, "KB-0001", "KB-0002") is None


def test_list_fields_follow_refs_into_common_defs() -> None:
    schemas = {
        "x.schema.json": {"properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "watchers": {"type": "array", "items": {"$ref": "common.schema.json#/$defs/email"}},
            "links": {"type": "array", "items": {"type": "object"}},
            "title": {"type": "string"},
        }},
        "common.schema.json": {"$defs": {"email": {"type": "string", "format": "email"}}},
    }
    assert records.list_fields(schemas, "x.schema.json") == {"tags", "watchers"}
    assert records.list_fields(schemas, "missing.schema.json") == set()


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("a, b,,a ", ["a", "b"]), (["x", 1], ["x", "1"]), (5, ["5"]),
])
def test_split_list(value: Any, expected: list[str] | None) -> None:
    assert records.split_list(value) == expected


def test_edit_lists_adds_and_removes_and_refuses_what_makes_no_sense() -> None:
    rec = {"id": "INC-0001", "tags": ["a"], "checklist": [{"item": "Back up"}, {"item": "Patch"}]}
    out = records.edit_lists(rec, {"tags"}, add=[("tags", "b"), ("checklist", "Reboot")], remove=[("tags", "a"), ("checklist", "1")])
    assert out == {"tags": ["b"], "checklist": [{"item": "Patch"}, {"item": "Reboot"}]}
    assert records.edit_lists(rec, {"tags"}, add=[], remove=[("tags", "a")]) == {"tags": None}
    with pytest.raises(Refused, match="tags already has 'a'"):
        records.edit_lists(rec, {"tags"}, add=[("tags", "a")], remove=[])
    with pytest.raises(Refused, match=r"tags has no 'z' \(it has a\)"):
        records.edit_lists(rec, {"tags"}, add=[], remove=[("tags", "z")])
    with pytest.raises(BadArgument, match="'title' is not a list field"):
        records.edit_lists(rec, {"tags"}, add=[("title", "x")], remove=[])
    with pytest.raises(Refused, match="the checklist already has 'Patch'"):
        records.edit_lists(rec, {"tags"}, add=[("checklist", "Patch")], remove=[])


def test_tick_marks_items_by_number_or_text() -> None:
    rec = {"id": "CHG-0001", "checklist": [{"item": "Back up"}, {"item": "Patch", "done": True}]}
    assert records.tick(rec, done=["back up"], undone=["2"]) == [{"item": "Back up", "done": True}, {"item": "Patch"}]
    assert records.tick(rec, done=[], undone=[]) is None
    with pytest.raises(Refused, match=r"no checklist item '3' \(1\. Back up; 2\. Patch\)"):
        records.tick(rec, done=["3"], undone=[])


def test_close_as_duplicate_resolves_then_closes_with_the_note(config: Config) -> None:
    problem = records.new_record(config, "problem", "PRB-0002", {"title": "Toner", "assignee": BOB}, BOB, T0)
    rec = records.transition(config, problem, "investigating", BOB, T1, None)
    new = records.close_as_duplicate(config, rec, "PRB-0001", BOB, T2, None)
    assert new["status"] == "closed"
    assert new["links"] == [{"kind": "duplicate-of", "id": "PRB-0001"}]
    assert new["resolution"] == "Duplicate of PRB-0001"
    assert [e["action"] for e in new["history"]] == ["create", "transition", "link", "transition", "transition"]
    assert [e.get("note") for e in new["history"][-2:]] == ["Duplicate of PRB-0001"] * 2


def test_close_as_duplicate_takes_a_closing_state_when_one_is_open(config: Config) -> None:
    direct = records.close_as_duplicate(config, incident(config), "INC-0000", BOB, T2, None)
    assert direct["status"] == "cancelled"
    assert len(direct["history"]) == 3
