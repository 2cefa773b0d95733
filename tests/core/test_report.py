"""Reports over a small, hand-worked set of tickets. All on 24x7 so the arithmetic is wall-clock time.

now = 2026-03-10T00:00Z. Targets: P1 15m/4h, P2 30m/8h, P3 2h/3d, P4 4h/5d.

| id | service | pri | group | created     | history                                             |
|----|---------|-----|-------|-------------|-----------------------------------------------------|
| T1 | email   | P1  | ops   | 03-02 09:00 | assign 09:10, resolved 12:00, closed 03-03 12:00    |
| T2 | email   | P2  | ops   | 03-03 10:00 | assign 11:00, resolved 20:00                        |
| T3 | vpn     | P3  | net   | 03-05 00:00 | assign 01:00, in progress at now (a request)        |
| T4 | vpn     | P3  | net   | 03-09 12:00 | still new at now                                    |
| T5 | email   | P4  | ops   | 02-20 00:00 | assign 01:00, resolved 02-21 00:00                  |
| T6 | email   | P3  | ops   | 03-04 00:00 | assign 00:30, resolved 02:00                        |
| T7 | email   | P4  | -     | 01-01 00:00 | assign 01:00, on hold since 01-02                   |
| T8 | email   | P1  | ops   | 03-06 00:00 | cancelled 06:00 straight from new                   |
| KB | -       | -   | -     | 03-05 00:00 | an article: never counted                           |
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from itsm_cli.core.report import backlog_report, mttr_report, sla_report, volume_report

INCIDENT_STATES = {
    "new": {"category": "new"},
    "assigned": {"category": "open"},
    "in_progress": {"category": "open"},
    "on_hold": {"category": "waiting"},
    "resolved": {"category": "resolved"},
    "closed": {"category": "closed"},
    "cancelled": {"category": "closed"},
}
CONFIG = {
    "types": {
        "incident": {"kind": "ticket", "workflow": "incident"},
        "request": {"kind": "ticket", "workflow": "incident"},
        "article": {"kind": "article", "workflow": "article"},
    },
    "workflows": {
        "incident": {"initial": "new", "states": INCIDENT_STATES},
        "article": {"initial": "draft", "states": {"draft": {"category": "new"}}},
    },
    "sla": {
        "default_profile": "standard",
        "profiles": {
            "standard": {
                "P1": {"response": "15m", "resolution": "4h"},
                "P2": {"response": "30m", "resolution": "8h"},
                "P3": {"response": "2h", "resolution": "3d"},
                "P4": {"response": "4h", "resolution": "5d"},
            }
        },
    },
    "calendars": {"24x7": {"timezone": "UTC", "always": True}},
}
SERVICES = {
    "email": {"id": "email", "support_hours": "24x7", "sla": "standard"},
    "vpn": {"id": "vpn", "support_hours": "24x7", "sla_targets": {"P3": {"response": "2h", "resolution": "3d"}}},
}
NOW = datetime(2026, 3, 10, tzinfo=UTC)
MARCH = {"since": datetime(2026, 3, 1, tzinfo=UTC), "until": NOW}


def make(tid, service, priority, group, created, *moves, type_="incident"):
    history = [{"at": f"2026-{created}:00Z", "by": "a@x.org", "action": "create", "to": "new"}]
    state = "new"
    for at, action, to in moves:
        entry = {"at": f"2026-{at}:00Z", "by": "a@x.org", "action": action}
        if to:
            entry.update({"from": state, "to": to})
            state = to
        history.append(entry)
    return {
        "id": tid,
        "type": type_,
        "status": state,
        "priority": priority,
        "service": service,
        "group": group,
        "created": f"2026-{created}:00Z",
        "history": history,
    }


def worked(at, to):
    """assign + in_progress at ``at``, then ``to`` moves."""
    return [(at, "assign", None), (at, "transition", "in_progress"), *to]


TICKETS = [
    make(
        "T1",
        "email",
        "P1",
        "ops",
        "03-02T09:00",
        *worked("03-02T09:10", [("03-02T12:00", "transition", "resolved"), ("03-03T12:00", "transition", "closed")]),
    ),
    make(
        "T2", "email", "P2", "ops", "03-03T10:00", *worked("03-03T11:00", [("03-03T20:00", "transition", "resolved")])
    ),
    make("T3", "vpn", "P3", "net", "03-05T00:00", *worked("03-05T01:00", []), type_="request"),
    make("T4", "vpn", "P3", "net", "03-09T12:00"),
    make(
        "T5", "email", "P4", "ops", "02-20T00:00", *worked("02-20T01:00", [("02-21T00:00", "transition", "resolved")])
    ),
    make(
        "T6", "email", "P3", "ops", "03-04T00:00", *worked("03-04T00:30", [("03-04T02:00", "transition", "resolved")])
    ),
    make(
        "T7",
        "email",
        "P4",
        None,
        "01-01T00:00",
        ("01-01T01:00", "assign", None),
        ("01-01T01:00", "transition", "assigned"),
        ("01-02T00:00", "transition", "on_hold"),
    ),
    make("T8", "email", "P1", "ops", "03-06T00:00", ("03-06T06:00", "transition", "cancelled")),
    {
        "id": "KB-1",
        "type": "article",
        "status": "draft",
        "created": "2026-03-05T00:00:00Z",
        "history": [{"at": "2026-03-05T00:00:00Z", "by": "a@x.org", "action": "create", "to": "draft"}],
    },
]


def by_key(rows):
    return {row.pop("key"): row for row in rows}


def test_sla_attainment_by_service_in_march():
    rows = sla_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="service", **MARCH)
    assert [r["key"] for r in rows] == ["email", "vpn"]
    got = by_key(rows)
    # email response: T1 met (due 09:15), T2 breached (due 10:30), T6 met; T8 cancelled -> 2 of 3 = 66.7 %
    # email resolution: T1 met (due 13:00), T2 breached (due 18:00), T6 met (due 03-07) -> 66.7 %
    assert got["email"] == {
        "response_met": 2,
        "response_breached": 1,
        "response_pending": 0,
        "response_pct": 66.7,
        "resolution_met": 2,
        "resolution_breached": 1,
        "resolution_pending": 0,
        "resolution_pct": 66.7,
    }
    # vpn response: T3 met (1 h of 2), T4 breached (due 03-09 14:00) -> 50 %
    # vpn resolution: T3 breached (due 03-08 00:00); T4 due 03-12, outside the period -> 0 %
    assert got["vpn"] == {
        "response_met": 1,
        "response_breached": 1,
        "response_pending": 0,
        "response_pct": 50.0,
        "resolution_met": 0,
        "resolution_breached": 1,
        "resolution_pending": 0,
        "resolution_pct": 0.0,
    }


def test_sla_pending_when_the_period_runs_past_now():
    rows = by_key(
        sla_report(TICKETS, CONFIG, SERVICES, now=NOW, since=MARCH["since"], until=datetime(2026, 4, 1, tzinfo=UTC))
    )
    # T4's resolution is due 03-12 12:00 (12 h used of 3 d at now), still running
    assert (rows["vpn"]["resolution_pending"], rows["vpn"]["resolution_pct"]) == (1, 0.0)


def test_sla_by_month_over_all_time():
    rows = by_key(sla_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="month"))
    # January: T7 response met (due 01-01 04:00); its resolution is paused, so has no due time
    assert rows["2026-01"]["response_met"] == 1 and rows["2026-01"]["resolution_met"] == 0
    # February: T5 met both
    assert (rows["2026-02"]["response_pct"], rows["2026-02"]["resolution_pct"]) == (100.0, 100.0)
    # March: response T1 T6 T3 met, T2 T4 breached = 3/5 = 60 %; resolution T1 T6 met, T2 T3 breached = 50 %,
    # and T4 due 03-12 is pending
    march = rows["2026-03"]
    assert (march["response_met"], march["response_breached"], march["response_pct"]) == (3, 2, 60.0)
    assert (march["resolution_met"], march["resolution_breached"], march["resolution_pct"]) == (2, 2, 50.0)
    assert march["resolution_pending"] == 1


def test_mttr_by_service_in_march():
    rows = by_key(mttr_report(TICKETS, CONFIG, SERVICES, now=NOW, **MARCH))
    # email acknowledge: T1 10 m, T2 60 m, T6 30 m (T8 cancelled): mean 100/3 m = 0.5556 h, median 30 m
    # email resolve: T1 3 h, T2 10 h, T6 2 h: mean 15/3 = 5 h, median 3 h
    assert rows["email"] == {
        "acknowledged": 3,
        "mtta_mean_h": 0.56,
        "mtta_median_h": 0.5,
        "resolved": 3,
        "mttr_mean_h": 5.0,
        "mttr_median_h": 3.0,
    }
    # vpn: T3 acknowledged in 1 h, nothing resolved
    assert rows["vpn"] == {
        "acknowledged": 1,
        "mtta_mean_h": 1.0,
        "mtta_median_h": 1.0,
        "resolved": 0,
        "mttr_mean_h": None,
        "mttr_median_h": None,
    }


def test_mttr_by_priority():
    rows = by_key(mttr_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="priority", **MARCH))
    assert list(rows) == ["P1", "P2", "P3"]
    # P3: T6 30 m and T3 1 h acknowledged -> mean 0.75 h; only T6 resolved (2 h)
    assert (rows["P3"]["acknowledged"], rows["P3"]["mtta_mean_h"], rows["P3"]["mttr_mean_h"]) == (2, 0.75, 2.0)


def test_volume_by_service_in_march():
    rows = by_key(volume_report(TICKETS, CONFIG, SERVICES, now=NOW, **MARCH))
    # email opened T1 T2 T6 T8; resolved T1 T2 T6; closed T1 (03-03) and T8 (cancelled 03-06)
    assert rows == {
        "email": {"opened": 4, "resolved": 3, "closed": 2},
        "vpn": {"opened": 2, "resolved": 0, "closed": 0},
    }


def test_volume_by_month_counts_each_event_in_its_own_month():
    rows = by_key(volume_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="month"))
    assert rows == {
        "2026-01": {"opened": 1, "resolved": 0, "closed": 0},  # T7
        "2026-02": {"opened": 1, "resolved": 1, "closed": 0},  # T5
        "2026-03": {"opened": 6, "resolved": 3, "closed": 2},
    }  # T1-T4, T6, T8; the article is not counted


def test_backlog_ageing():
    rows = by_key(backlog_report(TICKETS, CONFIG, SERVICES, now=NOW))
    # email: T7 on hold since January, 68 days old. vpn: T3 5 days, T4 12 hours.
    assert rows == {
        "email": {"open": 1, "age_lt_1d": 0, "age_1_3d": 0, "age_3_7d": 0, "age_7_30d": 0, "age_gt_30d": 1},
        "vpn": {"open": 2, "age_lt_1d": 1, "age_1_3d": 0, "age_3_7d": 1, "age_7_30d": 0, "age_gt_30d": 0},
    }


def test_backlog_by_group_and_type_puts_none_last():
    assert [r["key"] for r in backlog_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="group")] == ["net", "(none)"]
    by_type = by_key(backlog_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="type"))
    assert (by_type["incident"]["open"], by_type["request"]["open"]) == (2, 1)  # T4, T7 | T3


def test_backlog_in_the_past_uses_history():
    # on 03-03 12:00: T1 was closed at that instant, T2 open (2 h old), T7 on hold (61.5 days)
    rows = by_key(backlog_report(TICKETS, CONFIG, SERVICES, now=datetime(2026, 3, 3, 12, tzinfo=UTC)))
    assert rows["email"]["open"] == 2 and rows["email"]["age_lt_1d"] == 1 and rows["email"]["age_gt_30d"] == 1
    assert "vpn" not in rows


def test_unknown_group_by_is_refused():
    with pytest.raises(ValueError, match="group-by"):
        volume_report(TICKETS, CONFIG, SERVICES, now=NOW, group_by="colour")


@pytest.mark.parametrize("group_by", ["month", "service", "priority"])
@pytest.mark.parametrize("split", [0, 1, 3, 5, len(TICKETS)])
def test_count_reports_over_parts_combine_to_the_whole(group_by: str, split: int) -> None:
    from itsm_cli.core.report import combine_rows

    for report in (sla_report, volume_report):
        whole = report(TICKETS, CONFIG, SERVICES, now=NOW, group_by=group_by)
        parts = [report(part, CONFIG, SERVICES, now=NOW, group_by=group_by) for part in (TICKETS[:split], TICKETS[split:])]
        assert combine_rows(parts) == whole
        assert whole  # the hand-worked tickets give every grouping some rows
