"""Unit tests of the workflow core: separation of duties and standard-change models (issue 16, items 6 and 7)."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from itsm_cli.core import records
from itsm_cli.core.config import Config
from itsm_cli.core.workflow import (
    Duties,
    approval_policy,
    duty_problems,
    replay,
    segregation,
    standard_model_problem,
)
from itsm_cli.errors import Refused

ANN, BOB, CAROL, DAN = "ann@example.com", "bob@example.com", "carol@example.com", "dan@example.com"
PEOPLE = [
    {"email": ANN, "name": "Ann", "roles": ["agent", "approver"], "groups": ["service-desk", "cab"]},
    {"email": BOB, "name": "Bob", "roles": ["agent"], "groups": ["service-desk"]},
    {"email": CAROL, "name": "Carol", "roles": ["approver"], "groups": ["cab"]},
    {"email": DAN, "name": "Dan", "roles": ["approver", "agent"], "groups": ["cab", "ecab"]},
]
MODEL = {"id": "relay-patching", "title": "Relay patching", "services": ["email"], "risk": "low",
         "approved_by": CAROL, "approved_at": "2026-02-10T14:00:00Z", "expires": "2027-02-10"}


def default_config(**changes: Any) -> Config:
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text())
    data["people"] = PEOPLE
    data["standard_changes"] = [MODEL]
    data.update(changes)
    return Config(data)


def clock() -> Any:
    for minute in itertools.count():
        yield f"2026-03-02T{9 + minute // 60:02d}:{minute % 60:02d}:00Z"


def change(config: Config, **fields: Any) -> dict[str, Any]:
    return records.new_record(config, "change", "CHG-0001", {"title": "Relay", "service": "email", **fields}, BOB,
                              "2026-03-02T08:00:00Z")


# --- the one rule -----------------------------------------------------------------------


def test_segregation_defaults_strict_for_changes_and_requester_assignee_elsewhere() -> None:
    config = default_config()
    assert segregation(config, "change") == ("requester", "assignee", "implementer")
    assert segregation(config, "request") == ("requester", "assignee")
    data = copy.deepcopy(config.data)
    del data["workflows"]["change"]["segregation"]
    assert segregation(Config(data), "change") == ("requester", "assignee", "implementer")  # a marked state
    data["workflows"]["change"]["states"]["implementing"].pop("implementation")
    assert segregation(Config(data), "change") == ("requester", "assignee")
    data["workflows"]["request"]["segregation"] = []
    assert segregation(Config(data), "request") == ()


@pytest.mark.parametrize(("duties", "person", "duty", "role"), [
    (Duties(BOB, None, frozenset(), frozenset()), BOB, "approve", "requester"),
    (Duties(BOB, DAN, frozenset(), frozenset()), DAN, "approve", "assignee"),
    (Duties(BOB, None, frozenset({DAN}), frozenset()), DAN, "approve", "implementer"),
    (Duties(BOB, None, frozenset(), frozenset({DAN})), DAN, "assignee", "assignee"),
    (Duties(BOB, None, frozenset(), frozenset({DAN})), DAN, "implementer", "implementer"),
])
def test_each_role_is_kept_apart_from_the_approver(duties: Duties, person: str, duty: str, role: str) -> None:
    config = default_config()
    record = change(config)
    [problem] = duty_problems(config, record, duties, person, duty)
    assert problem.startswith(f"separation of duties (workflow change, segregation: {role}): {person} ")
    data = copy.deepcopy(config.data)
    data["workflows"]["change"]["segregation"] = [r for r in ("requester", "assignee", "implementer") if r != role]
    assert duty_problems(Config(data), record, duties, person, duty) == []
    assert duty_problems(config, record, duties, CAROL, duty) == []  # someone else is fine
    assert duty_problems(config, record, duties, person.upper(), duty) == [problem.replace(person, person.upper(), 1)]


def _attempts(config: Config, record: dict[str, Any], now: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """Every (label, command, hand-written entry) the test tries at this point, for each person."""
    policy = approval_policy(config, record, None)
    out = []
    for person in (ANN, BOB, CAROL, DAN):
        out.append((f"assign {person}", lambda r, p=person: records.assign(config, r, p, None, ANN, now, policy),
                    {"at": now, "by": ANN, "action": "assign", "fields": {"assignee": person}}))
        out.append((f"approve by {person}", lambda r, p=person: records.approve(config, r, p, now, policy),
                    {"at": now, "by": person, "action": "approve", "from": record["status"], "to": "approved", "group": "cab"}))
        out.append((f"implementing by {person}",
                    lambda r, p=person: records.transition(config, r, "implementing", p, now, policy),
                    {"at": now, "by": person, "action": "transition", "from": record["status"], "to": "implementing"}))
    return out


def test_the_command_refuses_exactly_what_the_replay_reports() -> None:
    """At every step of a change's life, for every person: accepted by the command <=> no replay problem."""
    config = default_config()
    ticks = clock()
    rec = change(config, risk="low", plan="x", planned_start="2026-03-05T20:00:00Z", planned_end="2026-03-05T22:00:00Z")
    steps = [
        lambda r, now: records.transition(config, r, "assessment", ANN, now, approval_policy(config, r, None)),
        lambda r, now: records.assign(config, r, ANN, None, BOB, now, approval_policy(config, r, None)),
        lambda r, now: records.transition(config, r, "awaiting_approval", ANN, now, approval_policy(config, r, None)),
        lambda r, now: records.approve(config, r, DAN, now, approval_policy(config, r, None)),
        lambda r, now: records.transition(config, r, "scheduled", ANN, now, approval_policy(config, r, None)),
    ]
    checked = refused_for_duty = 0
    for step in [None, *steps]:
        if step is not None:
            rec = step(rec, next(ticks))
            assert replay(config, rec, approval_policy(config, rec, None))[1] == []
        now = next(ticks)
        for label, command, entry in _attempts(config, rec, now):
            try:
                new = command(rec)
            except Refused as e:
                refusal: str | None = str(e)
            else:
                refusal = None
                assert replay(config, new, approval_policy(config, new, None))[1] == [], label
            hand = copy.deepcopy(rec)
            hand["history"].append(entry)
            found = [p for i, p in replay(config, hand, approval_policy(config, hand, None))[1] if i == len(rec["history"])]
            duty = [p for p in found if p.startswith("separation of duties")]
            if duty:  # what the replay reports, the command refuses...
                assert refusal is not None, (label, duty)
            if refusal and "separation of duties" in refusal:  # ...and for the same reason
                assert refusal.split(": ", 1)[1] in duty, (label, refusal, duty)
                refused_for_duty += 1
            checked += 1
    assert checked == 6 * 12 and refused_for_duty >= 4


def test_a_later_assignment_is_reported_at_its_own_entry() -> None:
    config = default_config()
    rec = change(config, risk="low", plan="x")
    policy = approval_policy(config, rec, None)
    rec = records.transition(config, rec, "assessment", ANN, "2026-03-02T09:00:00Z", policy)
    rec = records.transition(config, rec, "awaiting_approval", ANN, "2026-03-02T09:01:00Z", policy)
    rec = records.approve(config, rec, DAN, "2026-03-02T09:02:00Z", policy)
    rec["history"].append({"at": "2026-03-02T09:03:00Z", "by": ANN, "action": "assign", "fields": {"assignee": DAN}})
    rec["assignee"] = DAN
    problems = replay(config, rec, policy)[1]
    assert problems == [(4, "separation of duties (workflow change, segregation: assignee): "
                            "dan@example.com approved CHG-0001 and may not be its assignee")]


def test_an_assignee_set_at_creation_counts_from_the_start() -> None:
    config = default_config()
    rec = change(config, risk="low", plan="x", assignee=DAN)
    policy = approval_policy(config, rec, None)
    rec = records.transition(config, rec, "assessment", ANN, "2026-03-02T09:00:00Z", policy)
    rec = records.transition(config, rec, "awaiting_approval", ANN, "2026-03-02T09:01:00Z", policy)
    with pytest.raises(Refused, match=r"segregation: assignee.*dan@example\.com is the assignee"):
        records.approve(config, rec, DAN, "2026-03-02T09:02:00Z", policy)


# --- standard-change models ----------------------------------------------------------------


def test_the_waiver_for_standard_changes_needs_a_valid_model() -> None:
    config = default_config()
    assert approval_policy(config, change(config, change_class="standard", standard_model="relay-patching"), None) is None
    for bad in ({"change_class": "standard"},
                {"change_class": "standard", "standard_model": "nope"},
                {"change_class": "standard", "standard_model": "relay-patching", "service": "printing"}):
        record = {**change(config), **bad}
        assert standard_model_problem(config, record)
        policy = approval_policy(config, record, None)
        assert policy is not None and policy.group == "cab", bad


def test_a_model_expires_for_changes_created_from_its_date() -> None:
    config = default_config()
    record = change(config, change_class="standard", standard_model="relay-patching")
    assert standard_model_problem(config, {**record, "created": "2027-02-09T23:59:59Z"}) is None
    why = standard_model_problem(config, {**record, "created": "2027-02-10T00:00:00Z"})
    assert why == ("standard-change model 'relay-patching' expired on 2027-02-10, before this change was created "
                   "(2027-02-10T00:00:00Z); no model of itsm.yaml (standard_changes) covers it; use change_class normal")


def test_class_and_model_are_fixed_at_creation() -> None:
    config = default_config()
    rec = change(config)
    for fields in ({"change_class": "standard"}, {"standard_model": "relay-patching"}, {"change_class": "emergency"}):
        with pytest.raises(Refused, match="is set when the change is created and cannot change"):
            records.edit(config, rec, fields, ANN, "2026-03-02T09:00:00Z", approval_policy(config, rec, None))
