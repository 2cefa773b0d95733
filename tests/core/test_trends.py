"""Month-over-month trends over a small, hand-worked set of tickets, all on 24x7 (business time = wall time).

Targets (P2): response 30m, resolution 8h. now = 2026-04-15. Period: January to March 2026.

| id | type    | service | created     | worked (response stops) | resolved    | resolution | SLA                       |
|----|---------|---------|-------------|-------------------------|-------------|------------|---------------------------|
| A  | incident| email   | 01-10 09:00 | 09:10                   | 01-10 13:00 | 4h         | resp met, resol met       |
| B  | incident| email   | 01-20 00:00 | 00:20                   | 01-20 10:00 | 10h        | resp met, resol breached  |
| C  | request | email   | 02-05 00:00 | 00:40                   | 02-05 02:00 | 2h         | resp breached, resol met  |
| D  | incident| vpn     | 02-10 00:00 | 00:10                   | 02-10 06:00 | 6h         | resp met, resol met       |
| E  | problem | email   | 02-01 00:00 | 00:05                   | 02-01 01:00 | 1h         | (not counted by default)  |
| F  | request | vpn     | 03-03 00:00 | 00:05                   | open at now | -          | resp met, resol breached (due 03-03 08:00) |

email: Jan opened 2, resolved 2, MTTR (4+10)/2 = 7h, SLA 3 of 4 = 75%;
       Feb opened 1, resolved 1, MTTR 2h, SLA 1 of 2 = 50%; Mar nothing.
vpn:   Jan nothing; Feb opened 1, resolved 1, MTTR 6h, SLA 100%; Mar opened 1, resolved 0, SLA 1 of 2 = 50%.
all:   Jan 2/2/7h/75%; Feb 2/2/(2+6)/2 = 4h/3 of 4 = 75%; Mar 1/0/-/50%.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from itsm_cli.core.trends import COLUMNS, TOTAL_KEY, default_period, months_between, trends_report

STATES = {
    "new": {"category": "new"},
    "in_progress": {"category": "open"},
    "resolved": {"category": "resolved"},
    "closed": {"category": "closed"},
}
CONFIG = {
    "types": {t: {"kind": "ticket", "workflow": "incident"} for t in ("incident", "request", "problem")},
    "workflows": {"incident": {"initial": "new", "states": STATES}},
    "sla": {"default_profile": "standard", "profiles": {"standard": {"P2": {"response": "30m", "resolution": "8h"}}}},
    "calendars": {"24x7": {"timezone": "UTC", "always": True}},
}
SERVICES = {s: {"id": s, "support_hours": "24x7", "sla": "standard"} for s in ("email", "vpn", "backup")}
NOW = datetime(2026, 4, 15, tzinfo=UTC)
PERIOD = {"since": datetime(2026, 1, 1, tzinfo=UTC), "until": datetime(2026, 4, 1, tzinfo=UTC)}
COUNTED = ("incident", "request")


def ticket(tid: str, type_: str, service: str, created: str, worked: str, resolved: str | None) -> dict:
    """A P2 ticket: created, assigned and in progress at ``worked``, resolved at ``resolved`` (times in 2026, UTC)."""
    history = [
        {"at": f"2026-{created}:00Z", "by": "a@x.org", "action": "create", "to": "new"},
        {"at": f"2026-{worked}:00Z", "by": "a@x.org", "action": "assign"},
        {"at": f"2026-{worked}:00Z", "by": "a@x.org", "action": "transition", "from": "new", "to": "in_progress"},
    ]
    if resolved:
        history.append({"at": f"2026-{resolved}:00Z", "by": "a@x.org", "action": "transition", "from": "in_progress",
                        "to": "resolved"})
    return {"id": tid, "type": type_, "status": history[-1]["to"], "priority": "P2", "service": service,
            "created": f"2026-{created}:00Z", "history": history}


TICKETS = [
    ticket("A", "incident", "email", "01-10T09:00", "01-10T09:10", "01-10T13:00"),
    ticket("B", "incident", "email", "01-20T00:00", "01-20T00:20", "01-20T10:00"),
    ticket("C", "request", "email", "02-05T00:00", "02-05T00:40", "02-05T02:00"),
    ticket("D", "incident", "vpn", "02-10T00:00", "02-10T00:10", "02-10T06:00"),
    ticket("E", "problem", "email", "02-01T00:00", "02-01T00:05", "02-01T01:00"),
    ticket("F", "request", "vpn", "03-03T00:00", "03-03T00:05", None),
]


def figures(rows: list[dict], *names: str) -> dict[tuple[str, str], tuple]:
    return {(r["service"], r["month"]): tuple(r[n] for n in names) for r in rows}


def test_months_figures_per_service_and_in_total() -> None:
    rows = trends_report(TICKETS, CONFIG, SERVICES, now=NOW, types=COUNTED, **PERIOD)
    assert [(r["service"], r["month"]) for r in rows] == [
        (s, m) for s in ("email", "vpn", TOTAL_KEY) for m in ("2026-01", "2026-02", "2026-03")
    ]
    assert all(tuple(r) == COLUMNS for r in rows)
    assert figures(rows, "opened", "resolved", "mttr_h", "sla_pct") == {
        ("email", "2026-01"): (2, 2, 7.0, 75.0),
        ("email", "2026-02"): (1, 1, 2.0, 50.0),
        ("email", "2026-03"): (0, 0, None, None),
        ("vpn", "2026-01"): (0, 0, None, None),
        ("vpn", "2026-02"): (1, 1, 6.0, 100.0),
        ("vpn", "2026-03"): (1, 0, None, 50.0),
        (TOTAL_KEY, "2026-01"): (2, 2, 7.0, 75.0),
        (TOTAL_KEY, "2026-02"): (2, 2, 4.0, 75.0),
        (TOTAL_KEY, "2026-03"): (1, 0, None, 50.0),
    }


def test_the_change_from_the_month_before() -> None:
    rows = trends_report(TICKETS, CONFIG, SERVICES, now=NOW, types=COUNTED, **PERIOD)
    names = ("opened_delta", "opened_delta_pct", "resolved_delta", "resolved_delta_pct", "mttr_h_delta",
             "mttr_h_delta_pct", "sla_pct_delta")
    got = figures(rows, *names)
    # The first month has nothing to compare with.
    for service in ("email", "vpn", TOTAL_KEY):
        assert got[(service, "2026-01")] == (None,) * len(names)
    # email Feb: 2 -> 1 opened (-50%), 2 -> 1 resolved, MTTR 7 -> 2 (-5h, -71.4%), SLA 75 -> 50 (-25 points).
    assert got[("email", "2026-02")] == (-1, -50.0, -1, -50.0, -5.0, -71.4, -25.0)
    # email Mar: nothing; a figure that is missing has no change.
    assert got[("email", "2026-03")] == (-1, -100.0, -1, -100.0, None, None, None)
    # vpn Feb: from nothing, a change but no percentage.
    assert got[("vpn", "2026-02")] == (1, None, 1, None, None, None, None)
    assert got[("vpn", "2026-03")] == (0, 0.0, -1, -100.0, None, None, -50.0)
    # all Feb: MTTR 7 -> 4 (-3h, -42.9%); SLA unchanged.
    assert got[(TOTAL_KEY, "2026-02")] == (0, 0.0, 0, 0.0, -3.0, -42.9, 0.0)
    assert got[(TOTAL_KEY, "2026-03")] == (-1, -50.0, -2, -100.0, None, None, -25.0)


def test_one_service_only_and_a_service_with_nothing() -> None:
    rows = trends_report(TICKETS, CONFIG, SERVICES, now=NOW, types=COUNTED, service="vpn", **PERIOD)
    assert [(r["service"], r["month"], r["opened"]) for r in rows] == [
        ("vpn", "2026-01", 0), ("vpn", "2026-02", 1), ("vpn", "2026-03", 1)]
    quiet = trends_report(TICKETS, CONFIG, SERVICES, now=NOW, types=COUNTED, service="backup", **PERIOD)
    assert [(r["month"], r["opened"], r["resolved"], r["mttr_h"], r["sla_pct"]) for r in quiet] == [
        ("2026-01", 0, 0, None, None), ("2026-02", 0, 0, None, None), ("2026-03", 0, 0, None, None)]


def test_types_decide_what_counts_and_empty_periods_have_no_rows() -> None:
    every = trends_report(TICKETS, CONFIG, SERVICES, now=NOW, **PERIOD)  # the problem E counts too
    got = figures(every, "opened", "resolved", "mttr_h")
    assert got[("email", "2026-02")] == (2, 2, 1.5)  # C (2h) and E (1h)
    assert got[(TOTAL_KEY, "2026-02")] == (3, 3, 3.0)  # C, D, E: (2 + 6 + 1) / 3
    later = {"since": datetime(2026, 6, 1, tzinfo=UTC), "until": datetime(2026, 8, 1, tzinfo=UTC)}
    assert trends_report(TICKETS, CONFIG, SERVICES, now=NOW, types=COUNTED, **later) == []


def test_months_follow_the_desk_time_zone() -> None:
    berlin = {**CONFIG, "desk": {"timezone": "Europe/Berlin"}}
    late = ticket("G", "incident", "vpn", "01-31T23:30", "01-31T23:40", "02-01T01:30")  # Feb 1st in Berlin
    rows = trends_report([late], berlin, SERVICES, now=NOW, types=COUNTED, **PERIOD)
    assert figures(rows, "opened", "resolved")[("vpn", "2026-02")] == (1, 1)
    assert figures(rows, "opened", "resolved")[("vpn", "2026-01")] == (0, 0)


def test_months_between_and_the_default_period() -> None:
    labels = [m.label for m in months_between(datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))]
    assert labels == ["2026-01", "2026-02"]  # whole months; --until on a month's first instant leaves it out
    labels = [m.label for m in months_between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))]
    assert labels == ["2026-01", "2026-02", "2026-03"]  # --until inside a month: the month so far
    assert default_period(NOW) == (datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    # London: months start at local midnight, which is 23:00 UTC in summer time.
    since, until = default_period(NOW, ZoneInfo("Europe/London"), 2)
    assert (since, until) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 31, 23, tzinfo=UTC))
    march = months_between(since, until, ZoneInfo("Europe/London"))[-1]
    assert (march.label, march.start, march.end) == (
        "2026-03", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, 23, tzinfo=UTC))
