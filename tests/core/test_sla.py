"""SLA clocks: hand-worked tickets. Business calendar = London, Mon-Fri 09:00-12:30 + 13:30-17:30 (7.5 h/day)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from itsm_cli.core.sla import (
    breached,
    breaching,
    compute_clocks,
    service_calendar,
    sla_targets,
    state_at,
)

H = 3600
M = 60

CONFIG = {
    "types": {"incident": {"kind": "ticket", "prefix": "INC", "folder": "tickets", "workflow": "incident"}},
    "workflows": {
        "incident": {
            "initial": "new",
            "states": {
                "new": {"category": "new"},
                "assigned": {"category": "open"},
                "in_progress": {"category": "open"},
                "on_hold": {"category": "waiting"},
                "resolved": {"category": "resolved"},
                "closed": {"category": "closed"},
                "cancelled": {"category": "closed"},
            },
        }
    },
    "sla": {
        "default_profile": "standard",
        "profiles": {
            "standard": {
                "P1": {"response": "15m", "resolution": "4h"},
                "P2": {"response": "30m", "resolution": "8h"},
                "P3": {"response": "2h", "resolution": "3d"},
            },
            "gold": {"P3": {"response": "1h", "resolution": "1d"}},
        },
    },
    "calendars": {
        "24x7": {"timezone": "UTC", "always": True},
        "business": {
            "timezone": "Europe/London",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "hours": [["09:00", "12:30"], ["13:30", "17:30"]],
            "holidays": ["2026-12-25"],
        },
    },
}
OFFICE = {"id": "office", "support_hours": "business", "sla": "standard"}


def z(text: str) -> datetime:
    """A UTC instant from ``YYYY-MM-DDTHH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ticket(priority: str, created: str, *moves: tuple) -> dict:
    """A ticket from (at, action, to) moves; ``to`` None for assign/comment."""
    history = [{"at": created + ":00Z", "by": "a@x.org", "action": "create", "to": "new"}]
    state = "new"
    for at, action, to in moves:
        entry = {"at": at + ":00Z", "by": "a@x.org", "action": action}
        if to:
            entry.update({"from": state, "to": to})
            state = to
        history.append(entry)
    return {
        "id": "INC-1",
        "type": "incident",
        "status": state,
        "priority": priority,
        "created": created + ":00Z",
        "history": history,
    }


# -- targets --------------------------------------------------------------------


def test_targets_without_service_use_default_profile_and_24x7():
    response, resolution, calendar = sla_targets(CONFIG, None, "P3")
    assert (response, resolution, calendar.name) == (2 * H, 3 * 86400, "24x7")


def test_targets_of_a_service_use_its_calendar_days():
    targets = sla_targets(CONFIG, OFFICE, "P3")
    # 3d on the business calendar = 3 x 7.5 h = 22.5 h
    assert (targets.response, targets.resolution, targets.calendar.name) == (2 * H, 81000, "business")
    assert sla_targets(CONFIG, {"support_hours": "business", "sla": "gold"}, "P3")[:2] == (H, 27000)


def test_service_sla_targets_override_profiles():
    service = {"support_hours": "24x7", "sla_targets": {"P1": {"response": "5m", "resolution": "1.5h"}}}
    assert sla_targets(CONFIG, service, "P1")[:2] == (300, 5400)
    assert sla_targets(CONFIG, service, "P2") is None  # the service's own table has no P2
    assert sla_targets(CONFIG, None, "P9") is None
    assert sla_targets(CONFIG, None, None) is None


def test_unknown_profile_or_calendar_is_an_error():
    with pytest.raises(ValueError):
        sla_targets(CONFIG, {"support_hours": "24x7", "sla": "platinum"}, "P1")
    with pytest.raises(ValueError):
        service_calendar(CONFIG, {"support_hours": "moon"})


def test_first_calendar_when_no_24x7():
    config = dict(CONFIG, calendars={"business": CONFIG["calendars"]["business"]})
    assert service_calendar(config, None).name == "business"


# -- clocks ---------------------------------------------------------------------


def test_p1_breach_on_24x7_with_breach_at():
    t = ticket(
        "P1",
        "2026-03-02T09:00",
        ("2026-03-02T09:20", "assign", None),
        ("2026-03-02T09:20", "transition", "in_progress"),
    )
    clocks = compute_clocks(t, CONFIG, None, z("2026-03-02T14:00"))
    # response: 09:00 -> 09:20 = 20 min > 15 min; it was due 09:00 + 15 min = 09:15
    r = clocks.response
    assert (r.state, r.elapsed, r.breached, r.stopped_at, r.breach_at) == (
        "breached",
        20 * M,
        True,
        z("2026-03-02T09:20"),
        z("2026-03-02T09:15"),
    )
    # resolution: running 09:00 -> 14:00 = 5 h > 4 h; due 13:00; remaining 4 h - 5 h = -1 h
    s = clocks.resolution
    assert (s.state, s.elapsed, s.remaining, s.breach_at, s.stopped_at) == (
        "breached",
        5 * H,
        -1 * H,
        z("2026-03-02T13:00"),
        None,
    )
    assert clocks.breached


def test_running_clock_projects_breach_and_breaching_window():
    t = ticket("P1", "2026-03-02T09:00", ("2026-03-02T09:10", "assign", None))
    now = z("2026-03-02T12:30")
    clocks = compute_clocks(t, CONFIG, None, now)
    # response met: 10 min <= 15 min, and the met clock has no breach_at
    assert (clocks.response.state, clocks.response.breach_at) == ("met", None)
    assert clocks.response.due_at == z("2026-03-02T09:15")  # 09:10 + the 5 min it had left
    # resolution: 3.5 h used of 4 h, breach at 13:00
    assert (clocks.resolution.state, clocks.resolution.remaining) == ("running", 0.5 * H)
    assert clocks.resolution.breach_at == z("2026-03-02T13:00")
    assert breaching(t, CONFIG, None, now, 3600)  # 13:00 <= 12:30 + 1 h
    assert not breaching(t, CONFIG, None, now, 10 * M)  # 13:00 > 12:40
    assert not breached(t, CONFIG, None, now)
    assert breached(t, CONFIG, None, z("2026-03-02T13:00:01"))


def test_on_hold_pauses_both_totals_on_business_calendar():
    t = ticket(
        "P3",
        "2026-03-02T09:00",  # Mon, GMT so UTC = local
        ("2026-03-02T10:00", "assign", None),
        ("2026-03-02T10:00", "transition", "in_progress"),
        ("2026-03-03T09:00", "transition", "on_hold"),  # Tue
        ("2026-03-04T09:00", "transition", "assigned"),
    )  # Wed
    clocks = compute_clocks(t, CONFIG, OFFICE, z("2026-03-04T12:00"))
    assert (clocks.response.state, clocks.response.elapsed) == ("met", 1 * H)
    s = clocks.resolution
    # elapsed: Mon 09:00-17:30 = 7.5 h; Tue on hold; Wed 09:00-12:00 = 3 h -> 10.5 h
    # paused: all of Tuesday = 7.5 h. Target 3d = 22.5 h, remaining 12 h
    assert (s.state, s.elapsed, s.paused, s.remaining) == ("running", 10.5 * H, 7.5 * H, 12 * H)
    # 12 h from Wed 12:00: Wed 12:00-12:30 + 13:30-17:30 = 4.5 h, Thu 7.5 h -> Thu 17:30
    assert s.breach_at == z("2026-03-05T17:30")

    on_hold = compute_clocks(t, CONFIG, OFFICE, z("2026-03-03T12:00")).resolution
    # Tue 12:00: elapsed still 7.5 h, paused 09:00-12:00 = 3 h, no breach time while paused
    assert (on_hold.state, on_hold.elapsed, on_hold.paused, on_hold.breach_at) == ("paused", 7.5 * H, 3 * H, None)


def test_reopen_resumes_resolution_clock():
    t = ticket(
        "P2",
        "2026-03-02T08:00",
        ("2026-03-02T08:10", "assign", None),
        ("2026-03-02T08:10", "transition", "in_progress"),
        ("2026-03-02T10:00", "transition", "resolved"),
        ("2026-03-02T14:00", "transition", "in_progress"),  # reopened
        ("2026-03-02T15:30", "transition", "resolved"),
        ("2026-03-03T15:30", "transition", "closed"),
    )
    # while resolved the first time: met after 2 h
    first = compute_clocks(t, CONFIG, None, z("2026-03-02T12:00")).resolution
    assert (first.state, first.elapsed, first.stopped_at) == ("met", 2 * H, z("2026-03-02T10:00"))
    # reopened at 14:00, now 15:00: 2 h + 1 h = 3 h; the 4 h resolved don't count; 5 h left -> 20:00
    again = compute_clocks(t, CONFIG, None, z("2026-03-02T15:00")).resolution
    assert (again.state, again.elapsed, again.paused, again.breach_at) == ("running", 3 * H, 0, z("2026-03-02T20:00"))
    # finally: 2 h + 1.5 h = 3.5 h, stopped at the last resolve, not at close
    final = compute_clocks(t, CONFIG, None, z("2026-04-01T00:00")).resolution
    assert (final.state, final.elapsed, final.stopped_at, final.cancelled) == (
        "met",
        3.5 * H,
        z("2026-03-02T15:30"),
        False,
    )
    assert state_at(t, CONFIG, z("2026-03-02T15:00")) == "in_progress"
    assert state_at(t, CONFIG, z("2026-03-01T00:00")) is None


def test_response_across_spring_forward_weekend():
    # P3 response 2 h. Created Fri 27 Mar 16:30 GMT: 1 h to 17:30. Mon 30 Mar is BST:
    # the second hour runs 09:00-10:00 BST = 08:00Z-09:00Z, so it was due 09:00Z.
    # Assigned 09:30Z = 10:30 BST -> elapsed 1 h + 1.5 h = 2.5 h, breached.
    t = ticket("P3", "2026-03-27T16:30", ("2026-03-30T09:30", "assign", None))
    r = compute_clocks(t, CONFIG, OFFICE, z("2026-03-30T12:00")).response
    assert (r.state, r.elapsed, r.breach_at) == ("breached", 2.5 * H, z("2026-03-30T09:00"))


def test_response_met_exactly_on_target_across_fall_back():
    # Fri 23 Oct 15:30Z = 16:30 BST: 1 h to 17:30. Mon 26 Oct GMT 09:00-10:00 = 1 h. 2 h = target: met.
    t = ticket("P3", "2026-10-23T15:30", ("2026-10-26T10:00", "transition", "assigned"))
    r = compute_clocks(t, CONFIG, OFFICE, z("2026-10-26T12:00")).response
    assert (r.state, r.elapsed, r.breached, r.stopped_at) == ("met", 2 * H, False, z("2026-10-26T10:00"))


def test_holiday_does_not_count():
    # P2 resolution 8 h. Thu 24 Dec 14:00-17:30 = 3.5 h; Fri 25 Dec holiday; weekend;
    # Mon 28 Dec 09:00-12:00 = 3 h -> 6.5 h; 1.5 h left: 12:00-12:30, lunch, 13:30-14:30 -> 14:30
    t = ticket("P2", "2026-12-24T14:00", ("2026-12-24T14:05", "assign", None))
    s = compute_clocks(t, CONFIG, OFFICE, z("2026-12-28T12:00")).resolution
    assert (s.elapsed, s.remaining, s.breach_at) == (6.5 * H, 1.5 * H, z("2026-12-28T14:30"))


def test_created_outside_hours_starts_at_opening():
    # created Sat; P1 response 15 m on business hours: due Mon 09:15
    t = ticket("P1", "2026-03-07T10:00")
    r = compute_clocks(t, CONFIG, OFFICE, z("2026-03-08T10:00")).response
    assert (r.state, r.elapsed, r.breach_at) == ("running", 0, z("2026-03-09T09:15"))


def test_cancel_from_new_stops_both_clocks_as_cancelled():
    t = ticket("P1", "2026-03-02T09:00", ("2026-03-02T09:30", "transition", "cancelled"))
    clocks = compute_clocks(t, CONFIG, None, z("2026-03-03T00:00"))
    # the move out of new at 09:30 is also the response (30 min > 15 min)
    assert (clocks.response.stopped_at, clocks.response.cancelled, clocks.response.state) == (
        z("2026-03-02T09:30"),
        True,
        "breached",
    )
    assert (clocks.resolution.state, clocks.resolution.elapsed, clocks.resolution.cancelled) == ("met", 30 * M, True)


def test_history_after_now_is_ignored_and_now_before_created_is_zero():
    t = ticket("P1", "2026-03-02T09:00", ("2026-03-02T09:05", "assign", None))
    early = compute_clocks(t, CONFIG, None, z("2026-03-02T09:03"))
    assert (early.response.state, early.response.elapsed) == ("running", 3 * M)
    before = compute_clocks(t, CONFIG, None, z("2026-03-01T00:00"))
    assert (before.response.elapsed, before.response.breach_at) == (0, z("2026-03-02T09:15"))


def test_no_priority_still_measures_without_target():
    t = ticket("P1", "2026-03-02T09:00", ("2026-03-02T10:00", "assign", None))
    del t["priority"]
    r = compute_clocks(t, CONFIG, None, z("2026-03-02T12:00")).response
    assert (r.target, r.elapsed, r.state, r.breached, r.breach_at) == (None, H, "stopped", False, None)


def test_to_dict_is_json_ready():
    t = ticket("P1", "2026-03-02T09:00", ("2026-03-02T09:20", "assign", None))
    d = compute_clocks(t, CONFIG, None, z("2026-03-02T10:00")).to_dict()
    assert d["response"]["breach_at"] == "2026-03-02T09:15:00Z"
    assert d["resolution"]["state"] == "running" and d["resolution"]["remaining"] == 3 * H
