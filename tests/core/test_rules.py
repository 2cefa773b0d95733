"""Unit tests of core/rules.py: templated text, rule conditions, event rules, templates and the sweep, by hand.

(tests/test_rules.py runs the rules inside the commands of a real desk.)
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from desk_testing import EMAIL_SERVICE

from itsm_cli.core import records
from itsm_cli.core.config import Config
from itsm_cli.core.rules import (
    apply_event_rules,
    apply_template,
    conditions_hold,
    plan_sweep,
    render,
    template_values,
    url_key,
)
from itsm_cli.errors import BadArgument, Refused
from itsm_cli.store import yaml_io

BOT, ANN, EVE = "bot@example.com", "ann@example.com", "eve@example.com"
T0 = "2026-03-02T09:00:00Z"
SERVICES = {"email": yaml.safe_load(EMAIL_SERVICE)}


def config(rules: list[dict[str, Any]] | None = None, **changes: Any) -> Config:
    data = yaml_io.load_mapping((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_bytes(), "itsm.yaml")
    data["people"] = [{"email": BOT, "name": "Bot", "roles": ["agent"], "groups": ["service-desk"]},
                      {"email": ANN, "name": "Ann Agent", "roles": ["agent"], "groups": ["service-desk"]}]
    if rules is not None:
        data["rules"] = rules
    data.update(changes)
    return Config(data)


def incident(cfg: Config, **fields: Any) -> dict[str, Any]:
    return records.new_record(cfg, "incident", "INC-0001", {"title": "Mail down", "service": "email", **fields}, EVE, T0)


# --- templated text -------------------------------------------------------------------------


def test_render_fills_only_bare_field_names() -> None:
    values = {"title": "Disk {full}", "id": "INC-0001"}
    assert render("{id}: {title}", values) == "INC-0001: Disk {full}"  # substituted text is not expanded again
    assert render("{{id}} {unknown} {title.__class__} {id!r} {0}", values) == "{id} {unknown} {title.__class__} {id!r} {0}"


def test_render_caps_what_it_returns() -> None:
    assert len(render("{x}" * 3, {"x": "y" * 60_000})) == 100_000


def test_template_values_name_people_service_and_desk() -> None:
    cfg = config()
    values = template_values(cfg, {"id": "INC-0001", "requester": EVE, "assignee": ANN, "major": False, "n": 3},
                             SERVICES["email"])
    assert values == {"id": "INC-0001", "requester": EVE, "assignee": ANN, "major": "no", "n": "3",
                      "service_name": "E-mail", "service_owner": "carol@example.com", "requester_name": EVE,
                      "assignee_name": "Ann Agent", "desk_name": "IT Service Desk"}


def test_url_key_is_short_stable_and_hides_the_url() -> None:
    key = url_key("https://hooks.example/T0KEN")
    assert key == url_key("https://hooks.example/T0KEN") and len(key) == 12 and "T0KEN" not in key
    assert key != url_key("https://hooks.example/other")


# --- conditions -----------------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECORD = {"type": "incident", "service": "email", "priority": "P1", "status": "new", "tags": ["vip", "outage"],
          "title": "Mail DOWN", "created": T0}


@pytest.mark.parametrize(("when", "holds"), [
    (None, True), ({}, True),
    ({"type": "incident"}, True), ({"type": ["request", "incident"]}, True), ({"type": "request"}, False),
    ({"priority": ["P1", "P2"], "service": "email"}, True), ({"status": "closed"}, False),
    ({"fields": {"tags": "vip"}}, True), ({"fields": {"tags": ["x", "outage"]}}, True), ({"fields": {"tags": "x"}}, False),
    ({"fields": {"title": {"contains": "down"}}}, True), ({"fields": {"title": {"contains": "up"}}}, False),
    ({"fields": {"assignee": {"exists": False}}}, True), ({"fields": {"assignee": {"exists": True}}}, False),
    ({"age": {"over": "2h"}}, True), ({"age": {"over": "4h"}}, False),
    ({"age": {"under": "4h"}}, True), ({"age": {"under": "3h"}}, False),
])
def test_conditions(when: dict | None, holds: bool) -> None:
    assert conditions_hold(when, RECORD, NOW) is holds


def test_an_age_condition_on_a_record_without_a_created_time_does_not_hold() -> None:
    assert not conditions_hold({"age": {"over": "1m"}}, {"type": "incident"}, NOW)


# --- event rules ------------------------------------------------------------------------------

MAJOR = {"id": "major", "on": ["create", "edit"], "when": {"type": "incident", "priority": "P1"},
         "actions": [{"assign": {"service_group": True}}, {"set": {"major": True}},
                     {"comment": {"text": "Major: {service_name} alerted.", "internal": True}}]}


def test_a_matching_rule_acts_as_the_bot_and_says_what_it_did() -> None:
    cfg = config([MAJOR])
    rec = incident(cfg, impact="high", urgency="high")
    new, done = apply_event_rules(cfg, rec, "create", "2026-03-02T09:01:00Z", BOT, SERVICES)
    assert done == ["major: assign group service-desk", "major: set major=True", "major: internal comment"]
    assert new["group"] == "service-desk" and new["major"] is True
    assert [(e["by"], e["action"]) for e in new["history"][1:]] == [(BOT, "assign"), (BOT, "edit"), (BOT, "comment")]
    assert new["history"][-1]["note"] == "Major: E-mail alerted." and new["history"][-1]["internal"] is True
    # Run again: nothing left to do, nothing done.
    again, done = apply_event_rules(cfg, new, "edit", "2026-03-02T09:02:00Z", BOT, SERVICES)
    assert done == [] and again == new


def test_rules_that_do_not_match_or_are_off_do_nothing() -> None:
    cfg = config([MAJOR, {**MAJOR, "id": "off", "enabled": False, "when": {}}])
    rec = incident(cfg)  # P3
    assert apply_event_rules(cfg, rec, "create", T0, BOT, SERVICES) == (rec, [])
    assert apply_event_rules(cfg, incident(cfg, impact="high", urgency="high"), "comment", T0, BOT, SERVICES)[1] == []
    assert apply_event_rules(config([]), rec, "create", T0, BOT, SERVICES) == (rec, [])


def test_stop_ends_the_rule_list() -> None:
    first = {"id": "first", "on": ["create"], "stop": True, "actions": [{"set": {"tags": ["a"]}}]}
    second = {"id": "second", "on": ["create"], "actions": [{"set": {"tags": ["b"]}}]}
    new, done = apply_event_rules(config([first, second]), incident(config()), "create", T0, BOT, SERVICES)
    assert done == ["first: set tags=['a']"] and new["tags"] == ["a"]


def test_what_the_workflow_refuses_is_skipped_and_reported_never_raised() -> None:
    rules = [{"id": "r", "on": ["create"], "actions": [
        {"transition": {"to": "closed"}},
        {"link": {"kind": "relates", "id": "PRB-0404"}},
        {"assign": {"person": EVE}},
        {"explode": {}},
        {"set": {"status": "closed"}},
    ]}]
    rec = incident(config())
    new, done = apply_event_rules(config(rules), rec, "create", T0, BOT, SERVICES, known_ids={"INC-0001"})
    assert new == rec
    assert done[0].startswith("r: skipped transition: INC-0001: ")
    assert done[1] == "r: skipped link: no record PRB-0404 to link to"
    assert done[2].startswith(f"r: skipped assign: {EVE} is not a listed agent")
    assert done[3] == "r: skipped explode: not one of assign, set, comment, link, transition; run 'itsm validate'"
    assert done[4] == "r: skipped set: 'status' cannot be set directly"


def test_a_closed_record_is_left_alone() -> None:
    cfg = config([{"id": "r", "on": ["transition"], "actions": [{"set": {"tags": ["x"]}}]}])
    closed = records.transition(cfg, incident(cfg), "cancelled", EVE, T0, None)
    assert apply_event_rules(cfg, closed, "transition", T0, BOT, SERVICES) == (closed, [])


# --- templates ----------------------------------------------------------------------------------


def test_a_template_prefills_but_what_is_passed_wins_and_checklists_join() -> None:
    cfg = config()
    out = apply_template(cfg, SERVICES, "incident", {"title": "x", "urgency": "low", "impact": None}, "outage")
    assert out == {"title": "x", "urgency": "low", "impact": "high", "tags": ["outage"]}
    services = copy.deepcopy(SERVICES)
    services["email"]["offerings"][0]["checklist"] = ["Book the induction", "Create the mailbox"]
    req = apply_template(cfg, services, "request", {"service": "email", "offering": "shared-mailbox"}, "new-starter")
    assert [i["item"] for i in req["checklist"]] == ["Create the account", "Issue a laptop", "Book the induction",
                                                     "Create the mailbox"]
    assert all(i["done"] is False for i in req["checklist"])


def test_template_refusals() -> None:
    with pytest.raises(Refused, match="unknown template 'nope'; this desk has: new-starter, outage"):
        apply_template(config(), SERVICES, "incident", {}, "nope")
    with pytest.raises(BadArgument, match="template 'outage' is for incident records, not request"):
        apply_template(config(), SERVICES, "request", {}, "outage")


# --- the sweep ----------------------------------------------------------------------------------


def test_the_sweep_closes_resolved_tickets_after_their_wait_and_plans_nothing_twice() -> None:
    cfg = config(sweep={"auto_close": [{"types": ["incident"], "after": "30m"}]})
    resolved = records.transition(cfg, incident(cfg), "resolved", ANN, "2026-03-02T09:10:00Z", None,
                                  fields={"resolution": "restarted"})
    early = plan_sweep(cfg, [resolved], SERVICES, "2026-03-02T09:20:00Z", BOT)
    assert early.steps == [] and early.problems == []
    plan = plan_sweep(cfg, [resolved], SERVICES, "2026-03-03T09:00:00Z", BOT)
    [step] = plan.steps
    assert (step.record_id, step.action) == ("INC-0001", "close")
    assert step.data["status"] == "closed" and step.data["history"][-1]["by"] == BOT
    assert plan_sweep(cfg, [step.data], SERVICES, "2026-03-04T09:00:00Z", BOT).steps == []


def test_without_sweep_settings_nothing_is_planned() -> None:
    cfg = config(sweep={})
    assert plan_sweep(cfg, [incident(cfg)], SERVICES, "2027-01-01T00:00:00Z", BOT).steps == []
