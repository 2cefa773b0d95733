"""Status rules and outage windows: what an incident does to its service, worked by hand from its history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from itsm_cli.core.status import (
    Outage,
    StatusRules,
    incident_outages,
    maintenance_windows,
    merge_spans,
    status_changes,
)

STATES = {
    "new": {"category": "new"},
    "assigned": {"category": "open"},
    "in_progress": {"category": "open"},
    "on_hold": {"category": "waiting"},
    "resolved": {"category": "resolved"},
    "closed": {"category": "closed"},
    "cancelled": {"category": "closed"},
}
CONFIG = {
    "types": {"incident": {"workflow": "incident"}, "change": {"workflow": "change"}},
    "workflows": {
        "incident": {"initial": "new", "states": STATES},
        "change": {"initial": "draft", "states": {s: {"category": "open"} for s in
                                                  ("draft", "assessment", "approved", "scheduled", "implementing")}},
    },
    "priority": {
        "levels": ["high", "medium", "low"],
        "matrix": {"high": {"high": "P1", "medium": "P2", "low": "P3"},
                   "medium": {"high": "P2", "medium": "P3", "low": "P4"},
                   "low": {"high": "P3", "medium": "P4", "low": "P5"}},
        "default": {"impact": "medium", "urgency": "medium"},
    },
}
RULES = StatusRules.from_config(CONFIG)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def incident(history: list[dict], **fields: object) -> dict:
    base = {"id": "INC-0001", "type": "incident", "title": "x", "service": "email", "created": history[0]["at"],
            "status": next((h["to"] for h in reversed(history) if h.get("to")), "new")}
    return {**base, **fields, "history": history}


def create(at: str) -> dict:
    return {"at": at, "by": "a@example.com", "action": "create", "to": "new"}


def move(at: str, frm: str, to: str, **fields: object) -> dict:
    entry = {"at": at, "by": "a@example.com", "action": "transition", "from": frm, "to": to}
    return {**entry, "fields": fields} if fields else entry


def edit(at: str, **fields: object) -> dict:
    return {"at": at, "by": "a@example.com", "action": "edit", "fields": fields}


@pytest.mark.parametrize(("fields", "level"), [
    ({"priority": "P1"}, "down"),
    ({"priority": "P3", "major": True}, "down"),
    ({"priority": "P2"}, "degraded"),
    ({"priority": "P3"}, "operational"),
    ({"priority": "P5"}, "operational"),
    ({"priority": "P3", "major": False}, "operational"),
])
def test_default_rules(fields: dict, level: str) -> None:
    assert RULES.level(fields) == level


def test_desk_rules_replace_the_defaults_and_lists_match_any_value() -> None:
    rules = StatusRules.from_config({"status": {"rules": [
        {"when": {"priority": ["P1", "P2"]}, "status": "down"},
        {"when": {"priority": "P3", "service": "vpn"}, "status": "degraded"},
    ], "unavailable": ["down", "degraded"], "days": 30}})
    assert rules.level({"priority": "P2"}) == "down"
    assert rules.level({"priority": "P3", "service": "vpn"}) == "degraded"
    assert rules.level({"priority": "P3", "service": "email"}) == "operational"
    assert rules.level({"priority": "P4", "major": True}) == "operational"  # major is no longer a rule
    assert rules.unavailable == {"down", "degraded"} and rules.days == 30


@pytest.mark.parametrize(("status", "message"), [
    ({"rules": [{"when": {"priority": "P1"}, "status": "broken"}]}, "status.rules[0]"),
    ({"unavailable": ["sideways"]}, "status.unavailable"),
    ({"days": 0}, "status.days"),
])
def test_bad_rules_are_named(status: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        StatusRules.from_config({"status": status})


def test_p1_open_to_resolved_is_one_down_window() -> None:
    ticket = incident([create("2026-03-01T08:00:00Z"), move("2026-03-01T08:10:00Z", "new", "in_progress"),
                       move("2026-03-01T10:30:00Z", "in_progress", "resolved", resolution="fixed"),
                       move("2026-03-01T12:00:00Z", "resolved", "closed")], priority="P1", impact="high", urgency="high")
    assert incident_outages(ticket, CONFIG, RULES, NOW) == [
        Outage("INC-0001", "email", "down", t("2026-03-01T08:00:00Z"), t("2026-03-01T10:30:00Z"))]


def test_still_open_window_has_no_end_and_a_later_now_does_not_move_its_start() -> None:
    ticket = incident([create("2026-03-01T08:00:00Z"), move("2026-03-01T08:10:00Z", "new", "on_hold")],
                      priority="P2", impact="high", urgency="medium")
    (window,) = incident_outages(ticket, CONFIG, RULES, NOW)
    assert (window.level, window.start, window.end) == ("degraded", t("2026-03-01T08:00:00Z"), None)
    assert incident_outages(ticket, CONFIG, RULES, t("2026-02-28T00:00:00Z")) == []  # before it was created


def test_reopened_incident_has_two_windows() -> None:
    ticket = incident([create("2026-03-01T08:00:00Z"),
                       move("2026-03-01T09:00:00Z", "new", "resolved", resolution="x"),
                       move("2026-03-01T11:00:00Z", "resolved", "in_progress"),
                       move("2026-03-01T11:30:00Z", "in_progress", "resolved")], priority="P1", impact="high",
                      urgency="high")
    spans = [(w.start, w.end) for w in incident_outages(ticket, CONFIG, RULES, NOW)]
    assert spans == [(t("2026-03-01T08:00:00Z"), t("2026-03-01T09:00:00Z")),
                     (t("2026-03-01T11:00:00Z"), t("2026-03-01T11:30:00Z"))]


def test_escalation_by_edit_starts_the_outage_at_the_edit() -> None:
    # Created P3 (the default medium × medium), raised to P1 at 10:00 by setting impact and urgency high.
    ticket = incident([create("2026-03-01T08:00:00Z"), edit("2026-03-01T10:00:00Z", impact="high", urgency="high"),
                       move("2026-03-01T12:00:00Z", "new", "resolved", resolution="x")],
                      priority="P1", impact="high", urgency="high")
    (window,) = incident_outages(ticket, CONFIG, RULES, NOW)
    assert (window.level, window.start, window.end) == ("down", t("2026-03-01T10:00:00Z"), t("2026-03-01T12:00:00Z"))


def test_marking_major_later_turns_degraded_into_down() -> None:
    ticket = incident([create("2026-03-01T08:00:00Z"), edit("2026-03-01T08:30:00Z", major=True),
                       move("2026-03-01T09:00:00Z", "new", "resolved", resolution="x")],
                      priority="P2", impact="high", urgency="medium", major=True)
    assert [(w.level, w.start, w.end) for w in incident_outages(ticket, CONFIG, RULES, NOW)] == [
        ("degraded", t("2026-03-01T08:00:00Z"), t("2026-03-01T08:30:00Z")),
        ("down", t("2026-03-01T08:30:00Z"), t("2026-03-01T09:00:00Z"))]


def test_lowering_the_priority_ends_the_outage() -> None:
    # The file does not say what urgency was before 09:15: the desk default (medium) is taken, so the
    # incident was P2 (high × medium), degraded, until urgency went low (P3) at 09:15.
    ticket = incident([create("2026-03-01T08:00:00Z"), edit("2026-03-01T09:15:00Z", urgency="low")],
                      priority="P3", impact="high", urgency="low")
    assert [(w.level, w.start, w.end) for w in incident_outages(ticket, CONFIG, RULES, NOW)] == [
        ("degraded", t("2026-03-01T08:00:00Z"), t("2026-03-01T09:15:00Z"))]
    # An entry that records the priority itself is taken at its word.
    recorded = incident([create("2026-03-01T08:00:00Z"), edit("2026-03-01T09:15:00Z", priority="P3")],
                        priority="P3")
    (window,) = incident_outages({**recorded, "history": [recorded["history"][0], edit("2026-03-01T08:30:00Z",
                                  priority="P1"), recorded["history"][1]]}, CONFIG, RULES, NOW)
    assert (window.level, window.start, window.end) == ("down", t("2026-03-01T08:30:00Z"), t("2026-03-01T09:15:00Z"))


def test_cancelled_incident_was_withdrawn_and_a_p3_never_counts() -> None:
    cancelled = incident([create("2026-03-01T08:00:00Z"), move("2026-03-01T08:20:00Z", "new", "cancelled")],
                         priority="P1", impact="high", urgency="high")
    assert incident_outages(cancelled, CONFIG, RULES, NOW) == []
    printer = incident([create("2026-03-01T08:00:00Z")], priority="P3", impact="medium", urgency="medium",
                       service="printing")
    assert incident_outages(printer, CONFIG, RULES, NOW) == []
    assert incident_outages({**printer, "type": "request"}, CONFIG, RULES, NOW) == []


def test_overlapping_incidents_merge_at_the_worst_level() -> None:
    outages = [Outage("INC-1", "s", "degraded", t("2026-03-01T08:00:00Z"), t("2026-03-01T12:00:00Z")),
               Outage("INC-2", "s", "down", t("2026-03-01T09:00:00Z"), t("2026-03-01T10:00:00Z")),
               Outage("INC-3", "s", "down", t("2026-03-01T09:30:00Z"), None)]
    spans = merge_spans(outages, NOW)
    assert [(s.level, s.start, s.end, s.incidents) for s in spans] == [
        ("degraded", t("2026-03-01T08:00:00Z"), t("2026-03-01T09:00:00Z"), ("INC-1",)),
        ("down", t("2026-03-01T09:00:00Z"), None, ("INC-2", "INC-3")),
    ]
    assert [(at, level) for at, level, _ in status_changes(spans)] == [
        (t("2026-03-01T08:00:00Z"), "degraded"), (t("2026-03-01T09:00:00Z"), "down")]


def test_status_changes_return_to_operational() -> None:
    spans = merge_spans([Outage("INC-1", "s", "down", t("2026-03-01T08:00:00Z"), t("2026-03-01T09:00:00Z"))], NOW)
    assert [(at, level) for at, level, _ in status_changes(spans)] == [
        (t("2026-03-01T08:00:00Z"), "down"), (t("2026-03-01T09:00:00Z"), "operational")]


def test_maintenance_windows_are_approved_changes_not_yet_over() -> None:
    def change(cid: str, status: str, start: str, end: str) -> dict:
        return {"id": cid, "type": "change", "status": status, "planned_start": start, "planned_end": end}

    tickets = [change("CHG-1", "scheduled", "2026-03-05T20:00:00Z", "2026-03-05T21:00:00Z"),
               change("CHG-2", "approved", "2026-03-03T20:00:00Z", "2026-03-03T22:00:00Z"),
               change("CHG-3", "assessment", "2026-03-04T20:00:00Z", "2026-03-04T21:00:00Z"),  # not approved
               change("CHG-4", "scheduled", "2026-02-01T20:00:00Z", "2026-02-01T21:00:00Z"),  # over
               change("CHG-5", "implementing", "2026-03-02T08:00:00Z", "2026-03-02T10:00:00Z")]  # under way
    assert [c["id"] for c in maintenance_windows(tickets, CONFIG, RULES, NOW)] == ["CHG-5", "CHG-2", "CHG-1"]
    named = StatusRules.from_config({"status": {"maintenance": {"states": ["scheduled"]}}})
    assert [c["id"] for c in maintenance_windows(tickets, CONFIG, named, NOW)] == ["CHG-1"]
