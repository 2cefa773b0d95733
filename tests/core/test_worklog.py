"""Unit tests of core/worklog.py: time spent and satisfaction reports from hand-made tickets."""

from __future__ import annotations

import pytest

from itsm_cli.core import worklog

TICKETS = [
    {"id": "INC-0001", "service": "email", "assignee": "bob@x", "history": [
        {"at": "2026-03-01T09:00:00Z", "by": "ann@x", "action": "comment", "time_spent": 30},
        {"at": "2026-03-02T09:00:00Z", "by": "bob@x", "action": "transition", "time_spent": 90},
        {"at": "2026-03-03T09:00:00Z", "by": "eve@x", "action": "rate", "score": 5},
    ]},
    {"id": "INC-0002", "history": [
        {"at": "2026-03-02T10:00:00Z", "by": "bob@x", "action": "edit", "time_spent": 15},
        {"at": "2026-03-04T09:00:00Z", "by": "eve@x", "action": "rate", "score": 2},
        {"at": "2026-03-04T09:00:00Z", "by": "eve@x", "action": "rate", "score": "bad"},
    ]},
]


def test_time_report_sums_minutes_in_the_period() -> None:
    assert worklog.time_report(TICKETS) == [
        {"key": "ann@x", "entries": 1, "tickets": 1, "minutes": 30, "hours": 0.5},
        {"key": "bob@x", "entries": 2, "tickets": 2, "minutes": 105, "hours": 1.75},
    ]
    rows = worklog.time_report(TICKETS, since="2026-03-02T00:00:00Z", until="2026-03-02T10:00:00Z", group_by="service")
    assert rows == [{"key": "email", "entries": 1, "tickets": 1, "minutes": 90, "hours": 1.5}]


def test_csat_report_counts_valid_scores() -> None:
    rows = worklog.csat_report(TICKETS, group_by="person")
    assert [(r["key"], r["ratings"], r["average"], r["satisfied_pct"]) for r in rows] == [
        ("bob@x", 1, 5.0, 100.0), ("(none)", 1, 2.0, 0.0)]
    assert worklog.csat_report(TICKETS, since="2026-03-04T00:00:00Z")[0]["score_2"] == 1


@pytest.mark.parametrize(("group_by", "keys"), [
    ("person", ["ann@x", "bob@x"]), ("ticket", ["INC-0001", "INC-0002"]), ("service", ["email", "(none)"]),
    ("type", ["(none)"]),
])
def test_time_report_groups_and_puts_none_last(group_by: str, keys: list[str]) -> None:
    assert [r["key"] for r in worklog.time_report(TICKETS, group_by=group_by)] == keys
    assert sum(r["minutes"] for r in worklog.time_report(TICKETS, group_by=group_by)) == 135


def test_the_period_is_half_open() -> None:
    at = "2026-03-02T09:00:00Z"
    assert worklog.time_report(TICKETS, since=at, until=at) == []
    assert worklog.time_report(TICKETS, since=at, until="2026-03-02T09:00:01Z")[0]["minutes"] == 90


def test_odd_time_and_score_values_are_skipped() -> None:
    tickets = [{"id": "X-1", "history": [
        {"at": "2026-03-01T00:00:00Z", "by": "a", "time_spent": 0},
        {"at": "2026-03-01T00:00:00Z", "by": "a", "time_spent": -5},
        {"at": "2026-03-01T00:00:00Z", "by": "a", "time_spent": True},
        {"at": "2026-03-01T00:00:00Z", "by": "a", "time_spent": 1.5},
        {"at": None, "by": "a", "time_spent": 10},
        "not an entry",
        {"at": "2026-03-01T00:00:00Z", "action": "rate", "score": 0},
        {"at": "2026-03-01T00:00:00Z", "action": "rate", "score": True},
    ]}]
    assert worklog.time_report(tickets) == []
    assert worklog.csat_report(tickets) == []


def test_csat_by_month_counts_every_score_column() -> None:
    tickets = [{"id": f"X-{i}", "service": "vpn", "history": [
        {"at": f"2026-0{m}-10T00:00:00Z", "action": "rate", "score": s}]} for i, (m, s) in enumerate(
        [(3, 5), (3, 4), (3, 1), (4, 3)])]
    rows = worklog.csat_report(tickets, group_by="month")
    assert rows[0] == {"key": "2026-03", "ratings": 3, "average": 3.33, "satisfied_pct": 66.7,
                       "score_1": 1, "score_2": 0, "score_3": 0, "score_4": 1, "score_5": 1}
    assert rows[1]["key"] == "2026-04" and rows[1]["satisfied_pct"] == 0.0
    assert list(rows[0]) == list(worklog.CSAT_COLUMNS)
