"""Business calendars: hand-worked examples, then invariants with hypothesis."""

from __future__ import annotations

import time as wallclock
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_cli.core.calendar import Calendar, calendar_from_config, parse_duration

H = 3600

# Europe/London, Mon-Fri, split shift 09:00-12:30 + 13:30-17:30 = 3.5 h + 4 h = 7.5 h a day.
BUSINESS = {
    "timezone": "Europe/London",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "hours": [["09:00", "12:30"], ["13:30", "17:30"]],
    "holidays": ["2026-12-25"],
}


def z(text: str) -> datetime:
    """A UTC instant from ``YYYY-MM-DDTHH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def business() -> Calendar:
    return Calendar.from_config("business", BUSINESS)


@pytest.fixture
def always() -> Calendar:
    return Calendar.from_config("24x7", {"timezone": "UTC", "always": True})


# -- hand-worked examples ---------------------------------------------------------


def test_24x7_counts_wall_clock(always):
    # Mon 09:00 -> Wed 10:30 = 2 days + 1.5 h = 49.5 h
    assert always.business_seconds(z("2026-03-02T09:00"), z("2026-03-04T10:30")) == 49.5 * H
    assert always.add_business_seconds(z("2026-03-02T09:00"), 49.5 * H) == z("2026-03-04T10:30")
    assert always.is_open(z("2026-03-08T03:00"))  # a Sunday night


def test_split_shift_skips_lunch(business):
    # March is GMT, so UTC = local. 12:00-12:30 = 0.5 h, lunch 12:30-13:30 = 0, 13:30-14:00 = 0.5 h -> 1 h
    assert business.business_seconds(z("2026-03-02T12:00"), z("2026-03-02T14:00")) == 1 * H
    # a whole working day is 3.5 + 4 = 7.5 h, even measured from midnight to midnight
    assert business.business_seconds(z("2026-03-02T00:00"), z("2026-03-03T00:00")) == 7.5 * H


def test_weekend_is_skipped(business):
    # Fri 16:00-17:30 = 1.5 h; Sat, Sun = 0; Mon 09:00-10:00 = 1 h -> 2.5 h
    assert business.business_seconds(z("2026-03-06T16:00"), z("2026-03-09T10:00")) == 2.5 * H
    # Fri 16:00 + 4 h: 1.5 h on Friday, 2.5 h left -> Mon 09:00 + 2.5 h = 11:30
    assert business.add_business_seconds(z("2026-03-06T16:00"), 4 * H) == z("2026-03-09T11:30")
    # starting on a Saturday: nothing counts until Mon 09:00, so +1 h -> Mon 10:00
    assert business.add_business_seconds(z("2026-03-07T10:00"), 1 * H) == z("2026-03-09T10:00")


def test_holiday_is_skipped(business):
    # Thu 24 Dec 16:00-17:30 = 1.5 h; Fri 25 Dec holiday; weekend; Mon 28 Dec 09:00-10:00 = 1 h -> 2.5 h
    assert business.business_seconds(z("2026-12-24T16:00"), z("2026-12-28T10:00")) == 2.5 * H
    assert not business.is_open(z("2026-12-25T10:00"))
    assert business.is_open(z("2026-12-24T10:00"))


def test_spring_forward_weekend(business):
    # Fri 27 Mar 16:00Z = 16:00 GMT: 1.5 h to 17:30. Clocks go forward Sun 29 Mar.
    # Mon 30 Mar 09:00Z = 10:00 BST: 09:00-10:00 local = 1 h. Total 2.5 h
    # (a calculation that forgot DST would count Monday as 0 h and get 1.5 h).
    assert business.business_seconds(z("2026-03-27T16:00"), z("2026-03-30T09:00")) == 2.5 * H
    # +4 h from Fri 16:00 GMT: 1.5 h Friday, 2.5 h Monday -> 11:30 BST = 10:30Z
    assert business.add_business_seconds(z("2026-03-27T16:00"), 4 * H) == z("2026-03-30T10:30")
    assert business.is_open(z("2026-03-30T08:30"))  # 09:30 BST
    assert not business.is_open(z("2026-03-30T16:45"))  # 17:45 BST


def test_fall_back_weekend(business):
    # Fri 23 Oct 15:00Z = 16:00 BST: 1.5 h. Clocks go back Sun 25 Oct.
    # Mon 26 Oct 10:00Z = 10:00 GMT: 1 h. Total 2.5 h
    assert business.business_seconds(z("2026-10-23T15:00"), z("2026-10-26T10:00")) == 2.5 * H


def test_dst_change_day_keeps_nominal_hours():
    # Open every day 09:00-17:00 London: the change days 29 Mar and 25 Oct are still 8 h
    seven = Calendar("seven", "Europe/London", hours=[["09:00", "17:00"]])
    for day in ("2026-03-29", "2026-10-25"):
        start = datetime.combine(date.fromisoformat(day), time(0), tzinfo=seven.tz)
        assert seven.business_seconds(start, start + timedelta(days=1)) == 8 * H
    # 29 Mar: 09:00 BST = 08:00Z, 17:00 BST = 16:00Z
    assert seven.add_business_seconds(z("2026-03-29T00:00"), 8 * H) == z("2026-03-29T16:00")


def test_whole_day_across_dst_is_real_time():
    # A 00:00-24:00 shift (and an always calendar) in London really is 23 h on 29 Mar and 25 h on 25 Oct.
    whole = Calendar("whole", "Europe/London", hours=[["00:00", "24:00"]])
    london_always = Calendar("always", "Europe/London", always=True)
    # 29 Mar local midnight = 00:00Z; 30 Mar local midnight = 29 Mar 23:00Z -> 23 h
    assert whole.business_seconds(z("2026-03-29T00:00"), z("2026-03-29T23:00")) == 23 * H
    # 25 Oct local midnight = 24 Oct 23:00Z; 26 Oct local midnight = 26 Oct 00:00Z -> 25 h
    assert whole.business_seconds(z("2026-10-24T23:00"), z("2026-10-26T00:00")) == 25 * H
    assert london_always.business_seconds(z("2026-10-24T23:00"), z("2026-10-26T00:00")) == 25 * H


def test_shift_edges_inside_dst_changes_follow_the_wall_clock():
    night = Calendar("night", "Europe/London", hours=[["00:30", "01:30"]])
    # 25 Oct: 00:30-01:30 BST = 23:30Z-00:30Z (1 h), then clocks go back at 01:00Z and the wall
    # clock shows 01:00-01:30 again = 01:00Z-01:30Z (0.5 h) -> 1.5 h
    assert night.business_seconds(z("2026-10-24T12:00"), z("2026-10-25T12:00")) == 1.5 * H
    # 29 Mar: 00:30-01:00 GMT = 00:30Z-01:00Z, then the wall clock jumps to 02:00 -> 0.5 h
    assert night.business_seconds(z("2026-03-29T00:00"), z("2026-03-29T12:00")) == 0.5 * H


def test_shift_may_end_at_2400():
    # Every day 20:00-24:00 UTC. Mon 22:00 -> Tue 21:00: 22:00-24:00 = 2 h + 20:00-21:00 = 1 h -> 3 h
    late = Calendar("late", "UTC", hours=[["20:00", "24:00"]])
    assert late.business_seconds(z("2026-03-02T22:00"), z("2026-03-03T21:00")) == 3 * H
    # Mon 23:00 + 2 h: 1 h to midnight, then Tue 20:00 + 1 h
    assert late.add_business_seconds(z("2026-03-02T23:00"), 2 * H) == z("2026-03-03T21:00")
    assert late.day_seconds == 4 * H


def test_add_ending_on_shift_end_returns_the_end(business):
    # Mon 09:00 + 3.5 h lands exactly on 12:30, the end of the morning shift, not 13:30
    assert business.add_business_seconds(z("2026-03-02T09:00"), 3.5 * H) == z("2026-03-02T12:30")
    assert business.add_business_seconds(z("2026-03-02T09:00"), 0) == z("2026-03-02T09:00")


def test_is_open_edges(business):
    assert business.is_open(z("2026-03-02T09:00"))  # start inclusive
    assert not business.is_open(z("2026-03-02T12:30"))  # end exclusive
    assert not business.is_open(z("2026-03-02T12:45"))  # lunch
    assert business.is_open(z("2026-03-02T13:30"))
    assert not business.is_open(z("2026-03-07T10:00"))  # Saturday


def test_reversed_span_is_zero(business):
    assert business.business_seconds(z("2026-03-03T10:00"), z("2026-03-02T10:00")) == 0


def test_spanning_years_is_fast_and_right(business):
    # 2027-01-01 (Fri) to 2028-01-01: 2027 has 365 days = 52 weeks + 1 day (Fri 1 Jan),
    # so 52 * 5 + 1 = 261 weekdays; no listed holiday in 2027 -> 261 * 7.5 h
    assert business.business_seconds(z("2027-01-01T00:00"), z("2028-01-01T00:00")) == 261 * 7.5 * H
    began = wallclock.perf_counter()
    total = business.business_seconds(z("2001-01-01T00:00"), z("2051-01-01T00:00"))
    target = business.add_business_seconds(z("2001-01-01T00:00"), total)
    assert wallclock.perf_counter() - began < 2.0
    assert business.business_seconds(z("2001-01-01T00:00"), target) == total
    # the last working moment of 2050 is Fri 30 Dec 17:30 GMT
    assert target == z("2050-12-30T17:30")


def test_parse_duration(business, always):
    assert parse_duration("15m", business) == 900
    assert parse_duration("1.5h", business) == 5400
    assert parse_duration("3d", business) == 3 * 27000  # 3 x 7.5 h working days
    assert parse_duration("0.5d", business) == 13500
    assert parse_duration("1d", always) == 86400
    assert parse_duration("2d") == 172800
    for bad in ("5x", "h", "-1h", "1.h", ""):
        with pytest.raises(ValueError):
            parse_duration(bad, business)


@pytest.mark.parametrize(
    "entry",
    [
        {"timezone": "Mars/Olympus"},
        {"timezone": "UTC", "days": ["monday"]},
        {"timezone": "UTC", "hours": [["17:00", "09:00"]]},
        {"timezone": "UTC", "hours": [["09:00", "13:00"], ["12:00", "17:00"]]},
        {"timezone": "UTC", "hours": [["24:00", "24:00"]]},
        {"timezone": "UTC", "hours": [["09:00", "24:30"]]},
        {"timezone": "UTC", "holidays": ["25/12/2026"]},
    ],
)
def test_bad_calendars_are_refused(entry):
    with pytest.raises(ValueError):
        Calendar.from_config("bad", entry)


def test_never_open_calendar_cannot_project():
    closed = Calendar("closed", "UTC", days=[])
    assert closed.business_seconds(z("2026-01-01T00:00"), z("2026-02-01T00:00")) == 0
    with pytest.raises(ValueError):
        closed.add_business_seconds(z("2026-01-01T00:00"), 60)


def test_naive_datetimes_are_refused(business):
    with pytest.raises(ValueError):
        business.business_seconds(datetime(2026, 3, 2, 9), z("2026-03-02T10:00"))


def test_calendar_from_config_is_shared():
    assert calendar_from_config("business", BUSINESS) is calendar_from_config("business", dict(BUSINESS))


# -- invariants ------------------------------------------------------------------

CALENDARS = [
    Calendar.from_config("business", BUSINESS),
    Calendar("ny", "America/New_York", days=["mon", "wed", "sat"], hours=[["00:00", "01:30"], ["22:00", "24:00"]]),
    Calendar("london-night", "Europe/London", hours=[["00:30", "02:30"], ["23:00", "24:00"]]),
    # shift edges inside the spring-forward gap (01:00-02:00) and the repeated autumn hour
    Calendar("london-gap", "Europe/London", hours=[["01:15", "01:45"], ["02:00", "03:00"]]),
    Calendar("24x7", "Europe/London", always=True),
]
calendars = st.sampled_from(CALENDARS)
# whole seconds, clustered around the 2026 DST changes and the new year
instants = st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2026, 11, 10)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
near_dst = st.sampled_from([datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC)]).flatmap(
    lambda base: st.integers(min_value=0, max_value=5 * 86400).map(lambda s: base + timedelta(seconds=s))
)
instants = st.one_of(instants, near_dst)
spans = st.integers(min_value=0, max_value=20 * 86400)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, spans)
def test_add_then_count_round_trips(cal, start, seconds):
    end = cal.add_business_seconds(start, seconds)
    assert end >= start
    assert cal.business_seconds(start, end) == seconds
    if seconds:  # the earliest such instant: a second earlier, not yet
        assert cal.business_seconds(start, end - timedelta(seconds=1)) < seconds


@settings(max_examples=200, deadline=None)
@given(calendars, instants, spans, spans)
def test_additive_over_a_split_point(cal, a, d1, d2):
    b, c = a + timedelta(seconds=d1), a + timedelta(seconds=d1 + d2)
    ab, bc, ac = cal.business_seconds(a, b), cal.business_seconds(b, c), cal.business_seconds(a, c)
    assert ab >= 0 and bc >= 0
    assert ab + bc == ac
    assert ac <= (c - a).total_seconds()


@settings(max_examples=80, deadline=None)
@given(calendars, instants.map(lambda d: d.replace(second=0)), st.integers(min_value=0, max_value=3 * 24 * 60))
def test_matches_minute_by_minute_wall_clock_reference(cal, start, minutes):
    # Independent reference: step one real minute at a time and ask the wall clock whether it is open.
    def open_at(t: datetime) -> bool:
        if cal.always:
            return True
        local = t.astimezone(cal.tz)
        if local.weekday() not in cal.days or local.date() in cal.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(s <= minute < e for s, e in cal.shifts)

    expected = sum(60 for i in range(minutes) if open_at(start + timedelta(minutes=i)))
    assert cal.business_seconds(start, start + timedelta(minutes=minutes)) == expected
