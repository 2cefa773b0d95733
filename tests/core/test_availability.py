"""Availability from outage windows, worked by hand: 24x7 and business hours, across midnight, still open."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from itsm_cli.core.calendar import Calendar
from itsm_cli.core.status import (
    Outage,
    StatusRules,
    availability,
    availability_target,
    daily,
    incident_outages,
    merge_spans,
    period_of_days,
)

H = 3600
DAY = 86400
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
ALWAYS = Calendar("24x7", "UTC", always=True)
OFFICE = Calendar("office", "UTC", days=["mon", "tue", "wed", "thu", "fri"], hours=[["09:00", "17:00"]])


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def down(start: str, end: str | None, level: str = "down", incident: str = "INC-1") -> Outage:
    return Outage(incident, "email", level, t(start), t(end) if end else None)


def test_24x7_outage_across_midnight_over_the_last_90_days() -> None:
    # 22:30 on Sunday 1 March to 01:15 on Monday 2 March: 2 h 45 min = 9,900 s down.
    spans = merge_spans([down("2026-03-01T22:30:00Z", "2026-03-02T01:15:00Z")], NOW)
    since, days = period_of_days(ALWAYS, NOW, 90)
    # 90 days with today: 3 December 2025 00:00 to now, 89 whole days and 9 hours of today.
    assert since == t("2025-12-03T00:00:00Z") and days[0] == date(2025, 12, 3) and days[-1] == date(2026, 3, 2)
    a = availability(spans, ALWAYS, since, NOW)
    assert a.agreed == 89 * DAY + 9 * H == 7_722_000
    assert a.unavailable == a.down == 9_900
    assert a.percent == pytest.approx(100 * (7_722_000 - 9_900) / 7_722_000)  # 99.8718 %
    assert round(a.percent, 2) == 99.87
    bars = daily(spans, ALWAYS, NOW, 90)
    assert len(bars) == 90
    sunday, monday = bars[-2], bars[-1]
    assert (sunday.day, sunday.figures.down, sunday.level) == (date(2026, 3, 1), 5_400, "down")  # 22:30-24:00
    assert sunday.figures.percent == pytest.approx(100 * (DAY - 5_400) / DAY)  # 93.75 %
    assert (monday.figures.agreed, monday.figures.down) == (9 * H, 4_500)  # 00:00-01:15 of 9 hours so far
    assert monday.figures.percent == pytest.approx(100 * (9 * H - 4_500) / (9 * H))  # 86.11 %
    assert all(b.level == "operational" and b.figures.percent == 100 for b in bars[:-2])


def test_business_hours_count_only_the_hours_the_service_is_agreed() -> None:
    # Friday 27 February 16:00 to Monday 2 March 10:00: only Friday 16-17 and Monday 09-10 are office hours.
    spans = merge_spans([down("2026-02-27T16:00:00Z", "2026-03-02T10:00:00Z")], t("2026-03-02T12:00:00Z"))
    a = availability(spans, OFFICE, t("2026-02-23T00:00:00Z"), t("2026-03-02T12:00:00Z"))
    # Agreed: Monday 23 to Friday 27 February, 5 x 8 h, and Monday 2 March 09:00-12:00, 3 h = 43 h.
    assert a.agreed == 43 * H
    assert a.unavailable == 2 * H
    assert a.percent == pytest.approx(100 * 41 / 43)  # 95.35 %
    bars = daily(spans, OFFICE, t("2026-03-02T12:00:00Z"), 4)
    assert [(b.day.isoformat(), b.level, b.figures.down) for b in bars] == [
        ("2026-02-27", "down", 1 * H), ("2026-02-28", "closed", 0), ("2026-03-01", "closed", 0),
        ("2026-03-02", "down", 1 * H)]
    assert bars[1].figures.percent is None  # no agreed time on a Saturday: no figure, not 100 %


def test_an_outage_still_open_counts_up_to_now() -> None:
    spans = merge_spans([down("2026-03-02T07:00:00Z", None)], NOW)
    assert spans[0].end is None
    today = daily(spans, ALWAYS, NOW, 1)[0]
    assert (today.figures.agreed, today.figures.down) == (9 * H, 2 * H)
    assert today.figures.percent == pytest.approx(100 * 7 / 9)
    later = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert daily(merge_spans([down("2026-03-02T07:00:00Z", None)], later), ALWAYS, later, 1)[0].figures.down == 3 * H


def test_degraded_time_is_reported_but_not_lost_unless_the_desk_says_so() -> None:
    outages = [down("2026-03-01T10:00:00Z", "2026-03-01T14:00:00Z", "degraded", "INC-2"),
               down("2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z", "down", "INC-3")]
    spans = merge_spans(outages, NOW)
    since, until = t("2026-03-01T00:00:00Z"), t("2026-03-02T00:00:00Z")
    a = availability(spans, ALWAYS, since, until)
    # The overlapping hour counts once, as down; the other 3 hours degraded.
    assert (a.down, a.degraded, a.unavailable) == (1 * H, 3 * H, 1 * H)
    assert a.incidents == ("INC-2", "INC-3")
    both = availability(spans, ALWAYS, since, until, unavailable=("down", "degraded"))
    assert both.unavailable == 4 * H and both.percent == pytest.approx(100 * 20 / 24)


def test_from_an_incident_file_to_a_figure() -> None:
    config = {"types": {"incident": {"workflow": "incident"}},
              "workflows": {"incident": {"initial": "new", "states": {
                  "new": {"category": "new"}, "in_progress": {"category": "open"},
                  "resolved": {"category": "resolved"}}}}}
    ticket = {"id": "INC-0009", "type": "incident", "service": "email", "priority": "P1",
              "created": "2026-03-01T23:00:00Z", "status": "resolved", "history": [
                  {"at": "2026-03-01T23:00:00Z", "by": "a@x.org", "action": "create", "to": "new"},
                  {"at": "2026-03-01T23:05:00Z", "by": "a@x.org", "action": "transition", "from": "new",
                   "to": "in_progress"},
                  {"at": "2026-03-02T00:30:00Z", "by": "a@x.org", "action": "transition", "from": "in_progress",
                   "to": "resolved", "fields": {"resolution": "ok"}}]}
    spans = merge_spans(incident_outages(ticket, config, StatusRules.from_config(config), NOW), NOW)
    a = availability(spans, ALWAYS, t("2026-03-01T00:00:00Z"), t("2026-03-02T00:00:00Z"))
    assert (a.agreed, a.down) == (DAY, 1 * H)  # 23:00-24:00 of Sunday; the rest falls on Monday


CONFIG = {
    "calendars": {"24x7": {"timezone": "UTC", "always": True},
                  "office": {"timezone": "UTC", "days": ["mon"], "hours": [["09:00", "17:00"]]}},
    "sla": {"default_profile": "standard", "profiles": {
        "standard": {"availability": {"target": 99.5}, "P1": {"response": "15m"}},
        "premium": {"availability": {"target": 99.9, "hours": "24x7"}},
        "none": {"P1": {"response": "15m"}}}},
}


def test_the_target_and_its_hours_come_from_the_sla() -> None:
    target, cal = availability_target(CONFIG, {"id": "a", "support_hours": "office"})
    assert (target, cal.name) == (99.5, "office")  # the default profile, in the service's support hours
    target, cal = availability_target(CONFIG, {"id": "b", "support_hours": "office", "sla": "premium"})
    assert (target, cal.name) == (99.9, "24x7")  # the profile says around the clock
    assert availability_target(CONFIG, {"id": "c", "sla": "none"})[0] is None
    own = {"id": "d", "support_hours": "office", "sla_targets": {"availability": {"target": 98}}}
    assert availability_target(CONFIG, own)[0] == 98.0
    with pytest.raises(ValueError, match="no calendar 'nights'"):
        availability_target({**CONFIG, "sla": {"profiles": {"p": {"availability": {"target": 99, "hours": "nights"}}}}},
                            {"id": "e", "sla": "p"})
