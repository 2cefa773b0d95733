"""Event rules, templates and the automation config: every condition and action, on real desks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from desk_testing import ANN, BOB, EVE, git, run, ticket_path

from itsm_cli.app import App
from itsm_cli.core import records
from itsm_cli.core.rules import apply_event_rules, apply_template, check_automation_config, template_values
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import validate_records
from itsm_cli.errors import BadArgument, Refused
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk, Record

BOT = "itsm-bot@localhost"
NOW = "2026-03-02T09:00:00Z"

LAPTOPS = """id: laptops
name: Laptops
status: live
owner: carol@example.com
group: service-desk
description: Laptops.
category: Devices
support_hours: business
sla: standard
depends_on: []
offerings:
  - id: new-laptop
    name: New laptop
    approval: false
    checklist: [Pick from stock, Enrol in Intune]
"""


def configure(desk: Path, *, bot_agent: bool = True, commit: bool = True, **sections: Any) -> None:
    """Rewrite the desk's itsm.yaml with the bot listed (as an agent) and the given sections (None drops one)."""
    path = desk / "itsm.yaml"
    data = yaml_io.load_mapping(path.read_bytes(), "itsm.yaml")
    if bot_agent:
        data["people"].append({"email": BOT, "name": "itsm bot", "roles": ["agent", "bot"], "groups": ["service-desk"]})
    for key, value in sections.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml_io.dumps(data))
    if commit:
        git(desk, "add", "-A")
        git(desk, "commit", "-q", "-m", "configure automation")


def desk_config(desk: Path) -> Any:
    return Desk(desk).config


def incident(**fields: Any) -> dict[str, Any]:
    """A fresh incident as `itsm new` would make it, filed by EVE on the e-mail service."""
    from itsm_cli.core.config import Config

    config = Config(yaml_io.load_mapping(Path("itsm.yaml").read_bytes(), "itsm.yaml"))
    base = {"title": "Mail is down", "service": "email", "impact": "high", "urgency": "high"}
    return records.new_record(config, "incident", "INC-0001", {**base, **fields}, EVE, NOW)


def valid(desk: Path, data: dict[str, Any], known: set[str] = frozenset()) -> list[str]:
    d = Desk(desk)
    rec = Record(ticket_path(data["id"]), data, "ticket")
    problems = validate_records(d.config, SchemaSet(d.schemas()), [rec], {data["id"], *known}, d.services())
    return [p.message for p in problems]


MAJOR = {
    "id": "major-incident",
    "on": ["create", "edit"],
    "when": {"type": "incident", "service": "email", "priority": "P1"},
    "actions": [
        {"assign": {"service_group": True}},
        {"set": {"major": True}},
        {"comment": {"text": "P1 on {service_name}: {title} (for {requester_name})", "internal": True}},
    ],
}


def test_a_new_p1_on_email_is_assigned_and_escalated_before_its_commit(desk: Path) -> None:
    configure(desk, rules=[MAJOR])
    config = desk_config(desk)
    data, applied = apply_event_rules(config, incident(), "create", NOW, BOT, Desk(desk).services(), {"INC-0001"})
    assert applied == [
        "major-incident: assign group service-desk",
        "major-incident: set major=True",
        "major-incident: internal comment",
    ]
    assert data["group"] == "service-desk" and data["major"] is True
    assert [(e["action"], e["by"]) for e in data["history"]] == [
        ("create", EVE), ("assign", BOT), ("edit", BOT), ("comment", BOT),
    ]
    assert data["history"][-1]["note"] == "P1 on E-mail: Mail is down (for eve@example.com)"
    assert data["history"][-1]["internal"] is True
    assert valid(desk, data) == []


def test_rules_are_idempotent_and_never_repeat_themselves(desk: Path) -> None:
    configure(desk, rules=[MAJOR])
    config, services = desk_config(desk), Desk(desk).services()
    once, _ = apply_event_rules(config, incident(), "create", NOW, BOT, services)
    twice, applied = apply_event_rules(config, once, "edit", NOW, BOT, services)
    assert applied == [] and twice == once


@pytest.mark.parametrize(
    ("when", "fires"),
    [
        ({"type": "incident"}, True),
        ({"type": ["problem", "change"]}, False),
        ({"service": "email"}, True),
        ({"service": "vpn"}, False),
        ({"priority": ["P1", "P2"]}, True),
        ({"priority": "P3"}, False),
        ({"status": "new"}, True),
        ({"status": ["assigned"]}, False),
        ({"fields": {"title": {"contains": "DOWN"}}}, True),
        ({"fields": {"title": {"contains": "printer"}}}, False),
        ({"fields": {"impact": "high"}}, True),
        ({"fields": {"impact": ["low", "medium"]}}, False),
        ({"fields": {"assignee": {"exists": False}}}, True),
        ({"fields": {"assignee": {"exists": True}}}, False),
        ({"fields": {"tags": "vip"}}, True),
        ({"age": {"over": "2h"}}, True),
        ({"age": {"over": "4h"}}, False),
        ({"age": {"under": "1d"}}, True),
        ({"age": {"under": "1h"}}, False),
        ({"type": "incident", "priority": "P1", "service": "vpn"}, False),
    ],
)
def test_every_condition(desk: Path, when: dict[str, Any], fires: bool) -> None:
    rule = {"id": "r", "on": ["edit"], "when": when, "actions": [{"comment": {"text": "matched"}}]}
    configure(desk, rules=[rule])
    config = desk_config(desk)
    rec = incident(tags=["vip", "exec"])
    later = "2026-03-02T12:00:00Z"  # three hours after it was created
    data, applied = apply_event_rules(config, rec, "edit", later, BOT, Desk(desk).services())
    assert (applied == ["r: comment"]) is fires
    assert (len(data["history"]) == 2) is fires


def test_rules_only_run_on_their_events_in_order_until_one_stops(desk: Path) -> None:
    rules = [
        {"id": "off", "enabled": False, "on": ["create"], "actions": [{"comment": {"text": "off"}}]},
        {"id": "on-edit", "on": ["edit"], "actions": [{"comment": {"text": "edit"}}]},
        {"id": "first", "on": ["create"], "stop": True, "actions": [{"comment": {"text": "first"}}]},
        {"id": "never", "on": ["create"], "actions": [{"comment": {"text": "never"}}]},
    ]
    configure(desk, rules=rules)
    _, applied = apply_event_rules(desk_config(desk), incident(), "create", NOW, BOT, Desk(desk).services())
    assert applied == ["first: comment"]


def test_assign_a_person_link_a_known_problem_and_transition(desk: Path) -> None:
    rule = {
        "id": "vpn-known-error",
        "on": ["create"],
        "when": {"fields": {"title": {"contains": "mail"}}},
        "actions": [
            {"assign": {"person": BOB, "group": "service-desk"}},
            {"link": {"kind": "caused-by", "id": "PRB-0001"}},
            {"transition": {"to": "assigned", "note": "Known error {id}: see PRB-0001"}},
        ],
    }
    configure(desk, rules=[rule])
    data, applied = apply_event_rules(desk_config(desk), incident(), "create", NOW, BOT, Desk(desk).services(),
                                      {"INC-0001", "PRB-0001"})
    assert applied == [
        "vpn-known-error: assign bob@example.com group service-desk",
        "vpn-known-error: link caused-by PRB-0001",
        "vpn-known-error: transition new -> assigned",
    ]
    assert data["assignee"] == BOB and data["status"] == "assigned"
    assert data["links"] == [{"kind": "caused-by", "id": "PRB-0001"}]
    assert data["history"][-1]["note"] == "Known error INC-0001: see PRB-0001"
    assert valid(desk, data, {"PRB-0001"}) == []


def test_a_rule_cannot_do_what_the_workflow_forbids(desk: Path) -> None:
    rule = {
        "id": "bad",
        "on": ["create"],
        "actions": [
            {"transition": {"to": "closed"}},
            {"link": {"kind": "caused-by", "id": "PRB-0404"}},
            {"set": {"status": "closed"}},
            {"comment": {"text": "still here"}},
        ],
    }
    configure(desk, rules=[rule])
    rec = incident()
    data, applied = apply_event_rules(desk_config(desk), rec, "create", NOW, BOT, Desk(desk).services(), {"INC-0001"})
    assert applied[0].startswith("bad: skipped transition: INC-0001: incident cannot move from 'new' to 'closed'")
    assert applied[1] == "bad: skipped link: no record PRB-0404 to link to"
    assert applied[2] == "bad: skipped set: 'status' cannot be set directly"
    assert applied[3] == "bad: comment"
    assert data["status"] == "new" and "links" not in data
    assert [e["action"] for e in data["history"]] == ["create", "comment"]


def test_a_bot_that_is_not_an_agent_cannot_assign(desk: Path) -> None:
    configure(desk, bot_agent=False, rules=[MAJOR])
    config = desk_config(desk)
    _, applied = apply_event_rules(config, incident(), "create", NOW, BOT, Desk(desk).services())
    assert applied[0] == f"major-incident: skipped assign: INC-0001: {BOT} is not a listed agent and cannot assign"
    assert applied[1].startswith("major-incident: skipped set:")
    assert applied[2] == "major-incident: internal comment"
    assert check_automation_config(config) == [
        (("desk", "bot"), f"rules or the sweep assign, edit or move records, so the bot {BOT} must be a listed "
                          "person with the agent role"),
    ]


def test_closed_records_and_records_without_history_are_left_alone(desk: Path) -> None:
    configure(desk, rules=[{"id": "r", "on": ["transition"], "actions": [{"comment": {"text": "x"}}]}])
    config, services = desk_config(desk), Desk(desk).services()
    rec = records.transition(config, incident(), "cancelled", EVE, NOW, None)
    assert apply_event_rules(config, rec, "transition", NOW, BOT, services) == (rec, [])
    bare = {k: v for k, v in incident().items() if k != "history"}
    assert apply_event_rules(config, bare, "transition", NOW, BOT, services) == (bare, [])


def test_event_rules_through_the_app_commit_once_by_the_person_acting(desk: Path) -> None:
    """How the lead wires the rules into App: the bot's steps ride in the same commit."""
    configure(desk, rules=[MAJOR])
    d = Desk(desk)
    app = App(d, EVE, NOW)
    fields = {"title": "Mail is down", "service": "email", "impact": "high", "urgency": "high"}
    data = records.new_record(d.config, "incident", "INC-0001", fields, EVE, NOW)
    data, applied = apply_event_rules(d.config, data, "create", NOW, d.config.bot, d.services(), d.taken_ids())
    assert len(applied) == 3
    app.check([Record("tickets/INC/000/INC-0001.yaml", data, "ticket")])  # the result is valid


# --- templated text ---------------------------------------------------------------------


def test_template_values_leave_out_history_and_mappings(desk: Path) -> None:
    config = desk_config(desk)
    values = template_values(config, incident(major=True, form={"a": 1}, tags=["a", "b"]), {"name": "E-mail", "owner": "o@x.y"})
    assert values["major"] == "yes" and values["tags"] == "a, b" and values["service_name"] == "E-mail"
    assert "history" not in values and "form" not in values
    assert values["requester_name"] == EVE and values["desk_name"] == "IT Service Desk"


# --- templates ----------------------------------------------------------------------------


TEMPLATES = {
    "outage": {"name": "Outage", "type": "incident", "fields": {"impact": "high", "urgency": "high", "tags": ["outage"]}},
    "starter": {"type": "request", "checklist": ["Create the account", "Pick from stock"]},
}


def test_apply_template_prefills_but_what_you_pass_wins(desk: Path) -> None:
    configure(desk, templates=TEMPLATES)
    config = desk_config(desk)
    out = apply_template(config, {}, "incident", {"title": "Down", "urgency": "low"}, "outage")
    assert out == {"title": "Down", "urgency": "low", "impact": "high", "tags": ["outage"]}
    assert TEMPLATES["outage"]["fields"]["tags"] == ["outage"]
    with pytest.raises(Refused, match="unknown template 'nope'; this desk has: outage, starter"):
        apply_template(config, {}, "incident", {}, "nope")
    with pytest.raises(BadArgument, match="template 'starter' is for request records, not incident"):
        apply_template(config, {}, "incident", {}, "starter")


def test_an_offering_prefills_its_checklist(desk: Path) -> None:
    (desk / "catalog/laptops.yaml").write_text(LAPTOPS)
    configure(desk, templates=TEMPLATES)
    d = Desk(desk)
    fields = {"title": "Laptop for Zoe", "service": "laptops", "offering": "new-laptop"}
    out = apply_template(d.config, d.services(), "request", copy.deepcopy(fields))
    assert out["checklist"] == [{"item": "Pick from stock", "done": False}, {"item": "Enrol in Intune", "done": False}]
    both = apply_template(d.config, d.services(), "request", fields, "starter")
    assert [c["item"] for c in both["checklist"]] == ["Create the account", "Pick from stock", "Enrol in Intune"]
    change = App(d, ANN, NOW).new("request", both)
    assert change.record["checklist"][0] == {"item": "Create the account", "done": False}
    assert run("validate").exit_code == 0


# --- the automation config ------------------------------------------------------------------


FULL = {
    "rules": [MAJOR, {"id": "ack", "on": ["create"], "when": {"type": ["incident", "request"], "age": {"under": "1h"}},
                      "actions": [{"comment": {"text": "Thanks {requester_name}"}}, {"transition": {"to": "assigned"}},
                                  {"link": {"kind": "relates", "id": "PRB-0001"}}]}],
    "templates": TEMPLATES,
    "sweep": {
        "auto_close": [{"types": ["incident"], "after": "3d", "calendar": "business"}],
        "escalate": [{"id": "near-breach", "within": "1h", "raise_priority": True, "assign": {"group": "service-desk"}}],
        "approval_reminders": {"after": "1d", "every": "2d"},
        "kb_review": {"tag": "review-due"},
    },
    "notifications": {
        "from": "desk@example.com",
        "events": ["assignment", "resolution"],
        "breach_warning": {"within": "2h"},
        "smtp": {"host": "smtp.example.com", "port": 587, "starttls": True, "username": "desk@example.com"},
        "webhooks": [{"url": "https://hooks.example.com/x", "events": ["breach_warning"]}, {"url_env": "ITSM_HOOK"}],
    },
    "intake_mail": {"type": "incident", "attachments": "store", "senders": ["@example.com"]},
}


def test_a_full_automation_config_validates(desk: Path) -> None:
    configure(desk, **FULL)
    r = run("validate")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert check_automation_config(desk_config(desk)) == []


def test_the_shipped_default_config_is_valid_and_needs_no_bot(desk: Path) -> None:
    assert check_automation_config(desk_config(desk)) == []


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("notifications", {"smtp": {"host": "h", "password": "hunter2"}}, "password"),
        ("notifications", {"webhooks": [{"url": "ftp://x"}]}, "ftp://x"),
        ("rules", [{"on": ["create"], "actions": [{"comment": {"text": "x"}}]}], "'id' is required"),
        ("rules", [{"id": "x", "on": ["delete"], "actions": [{"comment": {"text": "x"}}]}], "delete"),
        ("rules", [{"id": "x", "on": ["create"], "actions": [{"comment": {"text": "x"}, "set": {"a": 1}}]}], "actions"),
        ("rules", [{"id": "x", "on": ["create"], "actions": [{"delete": {}}]}], "'delete' was unexpected"),
        ("sweep", {"auto_close": [{"after": "3 days"}]}, "3 days"),
        ("sweep", {"nap": True}, "nap"),
        ("templates", {"Bad Name": {}}, "Bad Name"),
        ("intake_mail", {"attachments": "keep"}, "keep"),
    ],
)
def test_the_config_schema_is_strict(desk: Path, section: str, value: Any, message: str) -> None:
    configure(desk, **{section: value})
    r = run("validate")
    assert r.exit_code == 1
    assert "itsm.yaml" in r.stdout + r.stderr and message in r.stdout + r.stderr


def test_config_checks_see_what_the_schema_cannot(desk: Path) -> None:
    configure(desk, commit=False,
              rules=[{"id": "x", "on": ["create"], "when": {"type": "ticket", "status": "limbo"},
                      "actions": [{"assign": {"group": "nobody"}}, {"set": {"priority": "P1"}},
                                  {"transition": {"to": "heaven"}}, {"link": {"kind": "relates", "id": "email"}}]}],
              templates={"t": {"type": "incident", "fields": {"status": "closed"}}},
              sweep={"auto_close": [{"after": "1d", "calendar": "moon", "types": ["ufo"]}]})
    found = dict(check_automation_config(desk_config(desk)))
    assert found[("rules", 0, "when", "type")] == "unknown record type 'ticket'"
    assert found[("rules", 0, "actions", 0, "assign", "group")] == "unknown group 'nobody'"
    assert found[("rules", 0, "actions", 1, "set")] == "'priority' cannot be set directly"
    assert "'heaven' is not a state" in found[("rules", 0, "actions", 2, "transition")]
    assert found[("rules", 0, "actions", 3, "link")] == "'email' is not a record ID"
    assert found[("templates", "t", "fields")] == "'status' cannot be set by a template"
    assert found[("sweep", "auto_close", 0, "calendar")] == "unknown calendar 'moon'"
    assert found[("sweep", "auto_close", 0, "types")] == "unknown record type 'ufo'"


def test_the_packaged_and_demo_config_schemas_are_identical() -> None:
    repo = Path(__file__).resolve().parents[1]
    shipped = repo / "itsm_cli/data/schemas/config.schema.json"
    demo = repo / "schemas/config.schema.json"
    if not demo.exists():
        pytest.skip("the demo desk has no schemas/ folder")
    assert demo.read_text() == shipped.read_text()


def test_rules_run_inside_commands_and_the_trail_stays_verifiable(desk: Path) -> None:
    configure(desk, rules=[MAJOR])
    r = run("new", "incident", "--title", "Everything is down", "--service", "email", "--impact", "high", "--urgency", "high")
    assert r.exit_code == 0 and r.stdout == "INC-0001\n"
    assert "rule major" in r.stderr
    data = yaml.safe_load((desk / "tickets/INC/000/INC-0001.yaml").read_text())
    assert any(e["by"] == BOT for e in data["history"][1:])
    message = git(desk, "log", "-1", "--format=%B")
    assert f"Itsm-Rule: {MAJOR['id']}" in message
    assert run("audit", "verify").exit_code == 0
    # The same bot entries without the trailer are not backed by anyone.
    path = desk / "tickets/INC/000/INC-0001.yaml"
    data["history"].append({**data["history"][-1], "at": "2026-03-02T10:00:00Z", "note": "forged"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(desk, "commit", "-qam", "hand edit")
    r = run("audit", "verify")
    assert r.exit_code == 1 and "unbacked" in r.stdout
