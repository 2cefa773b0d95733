"""Business calendars: when the desk is open, and how much open time lies between two instants.

A calendar is a time zone, the working weekdays, the working hours of a day as one
or more shifts (split shifts such as 09:00-12:30 and 13:30-17:30) and holidays
(local dates). ``24:00`` may end a shift. ``always: true`` makes a 24x7 calendar.

Business time is the real time that passes while the calendar is open. Shifts are
read as local wall-clock times, so a 09:00-17:00 day is 8 h on a DST-change day too,
while a shift that spans the change itself (or an ``always`` calendar in a zone with
DST) really is an hour shorter or longer that day.

Counting is O(days) once per calendar year and O(1) per query after that: each year
is laid out once as a cumulative sum of open time per day, so a query spanning years
costs a subtraction per year and a bisection for :meth:`Calendar.add_business_seconds`.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["DAY_NAMES", "DURATION", "Calendar", "calendar_from_config", "parse_duration"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_US_PER_S = 1_000_000
_US_PER_MIN = 60 * _US_PER_S
_US_PER_DAY = 86400 * _US_PER_S
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
# A duration as desks write them (SLA targets, fulfilment times): 30m, 4h, 1.5d; the site shows them in words.
DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([mhd])$")

Interval = tuple[int, int]  # [start, end) in microseconds since the Unix epoch


def _to_us(dt: datetime) -> int:
    """Exact microseconds since the epoch of an aware datetime (no float rounding)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: business time needs an aware datetime")
    return (dt - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _parse_hhmm(text: str, *, end: bool) -> int:
    match = _HHMM.match(str(text))
    if not match:
        raise ValueError(f"bad time {text!r}: expected HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 1440 or (minutes == 1440 and not end):
        raise ValueError(f"bad time {text!r}: only a shift's end may be 24:00")
    return minutes


class _Year:
    """One calendar year laid out day by day: open intervals and their cumulative length."""

    __slots__ = ("cum", "intervals", "total")

    def __init__(self, cum: list[int], intervals: list[tuple[Interval, ...]]):
        self.cum = cum  # cum[i] = open microseconds in the year before day i; len = days + 1
        self.intervals = intervals
        self.total = cum[-1]


def _within(intervals: tuple[Interval, ...], t: int) -> int:
    """Open microseconds of one day's intervals that lie before instant ``t``."""
    total = 0
    for start, end in intervals:
        if t <= start:
            break
        total += min(t, end) - start
    return total


class CalendarError(ValueError):
    """A calendar of ``itsm.yaml`` that cannot be used; ``where`` is the JSON path of the culprit in the file."""

    def __init__(self, message: str, where: tuple = ()):
        super().__init__(message)
        self.where = where


def holiday_problem(value: object, exc: Exception) -> str:
    """Why a holiday is not a date, with the form expected (Python's "Invalid isoformat string" says neither)."""
    detail = str(exc)
    what = f"not a real date ({detail})" if "range" in detail or "must be in" in detail else "not a date"
    return f"holiday {str(value)!r} is {what}; write holidays as 'YYYY-MM-DD', e.g. '2026-12-25'"


class Calendar:
    """A business calendar; build one with :meth:`from_config` or :func:`calendar_from_config`."""

    def __init__(
        self,
        name: str = "",
        timezone: str = "UTC",
        *,
        always: bool = False,
        days: Sequence[str] | None = None,
        hours: Sequence[Sequence[str]] | None = None,
        holidays: Sequence[str | date] = (),
    ):
        """Make a calendar.

        ``days`` defaults to every day and ``hours`` to the whole day, so a calendar
        with only a time zone is open around the clock. Raises ValueError on an
        unknown zone, weekday, malformed or overlapping shift, or bad holiday date.
        """
        # zoneinfo here, not at the top: it costs 2 ms to import (sysconfig, to find the zone files), and
        # `itsm new` imports this module through the rules and validation without always making a calendar.
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        self.name = name
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"calendar {name!r}: unknown time zone {timezone!r}") from exc
        self.timezone = timezone
        self.always = bool(always)
        day_list = DAY_NAMES if days is None else days
        unknown = [d for d in day_list if d not in DAY_NAMES]
        if unknown:
            raise ValueError(f"calendar {name!r}: unknown weekday {unknown[0]!r}")
        self.days = frozenset(DAY_NAMES.index(d) for d in day_list)
        shifts = []
        for shift in hours if hours is not None else [["00:00", "24:00"]]:
            if len(shift) != 2:
                raise ValueError(f"calendar {name!r}: a shift is [start, end], got {list(shift)!r}")
            start, end = _parse_hhmm(shift[0], end=False), _parse_hhmm(shift[1], end=True)
            if start >= end:
                raise ValueError(f"calendar {name!r}: shift {shift[0]}-{shift[1]} ends before it starts")
            shifts.append((start, end))
        shifts.sort()
        for (_, prev_end), (start, _) in itertools.pairwise(shifts):
            if start < prev_end:
                raise ValueError(f"calendar {name!r}: shifts overlap")
        self.shifts: tuple[tuple[int, int], ...] = tuple(shifts)  # minutes after local midnight
        days = []
        for i, h in enumerate(holidays):
            try:
                days.append(h if isinstance(h, date) else date.fromisoformat(str(h)))
            except ValueError as exc:
                raise CalendarError(f"calendar {name!r}: {holiday_problem(h, exc)}", ("calendars", name, "holidays", i)) from exc
        self.holidays = frozenset(days)
        self._years: dict[int, _Year] = {}

    @classmethod
    def from_config(cls, name: str, entry: Mapping[str, Any]) -> Calendar:
        """Build a calendar from its ``calendars.<name>`` entry in itsm.yaml."""
        return cls(
            name,
            entry.get("timezone") or "UTC",
            always=entry.get("always", False),
            days=entry.get("days"),
            hours=entry.get("hours"),
            holidays=entry.get("holidays") or (),
        )

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, {self.timezone!r}, always={self.always})"

    @property
    def day_seconds(self) -> int:
        """Seconds in one standard working day: 86400 for 24x7, else the sum of the shifts."""
        if self.always:
            return 86400
        return sum(end - start for start, end in self.shifts) * 60

    @property
    def ever_open(self) -> bool:
        """Whether the calendar has any working time at all in a normal week."""
        return self.always or bool(self.days and self.shifts)

    # -- the year layout -------------------------------------------------------------

    def _offset_us(self, t: int) -> int:
        offset = _from_us(t).astimezone(self.tz).utcoffset()
        return offset // _US if offset is not None else 0

    def _transition(self, a: int, b: int) -> int:
        """The first instant in (a, b] whose UTC offset differs from that at ``a``."""
        before = self._offset_us(a)
        while b - a > 1:
            mid = (a + b) // 2
            if self._offset_us(mid) == before:
                a = mid
            else:
                b = mid
        return b

    def _day_intervals(self, day: date) -> tuple[Interval, ...]:
        """The instants whose local wall-clock time falls in one of the shifts of ``day``.

        Worked per stretch of constant UTC offset, so a shift that a DST change cuts
        into, or an hour that happens twice, is counted as the wall clock shows it.
        """
        midnight = (day.toordinal() - _EPOCH_ORDINAL) * _US_PER_DAY  # local midnight read as if UTC
        # every instant whose local date is ``day`` lies in this window, whatever the offset
        lo, hi = midnight - 2 * _US_PER_DAY, midnight + 3 * _US_PER_DAY
        pieces: list[tuple[int, int, int]] = []
        start = lo
        while self._offset_us(start) != self._offset_us(hi):
            cut = self._transition(start, hi)
            pieces.append((start, cut, self._offset_us(start)))
            start = cut
        pieces.append((start, hi, self._offset_us(start)))
        out: list[Interval] = []
        for start_min, end_min in self.shifts:
            for piece_start, piece_end, offset in pieces:
                a = max(midnight + start_min * _US_PER_MIN - offset, piece_start)
                b = min(midnight + end_min * _US_PER_MIN - offset, piece_end)
                if b > a:
                    out.append((a, b))
        out.sort()
        merged: list[Interval] = []
        for a, b in out:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return tuple(merged)

    def _year(self, year: int) -> _Year:
        data = self._years.get(year)
        if data is None:
            first = date(year, 1, 1).toordinal()
            n = date(year + 1, 1, 1).toordinal() - first if year < 9999 else 365
            cum = [0] * (n + 1)
            intervals: list[tuple[Interval, ...]] = [()] * n
            total = 0
            for i in range(n):
                day = date.fromordinal(first + i)
                if day.weekday() in self.days and day not in self.holidays:
                    day_iv = self._day_intervals(day)
                    intervals[i] = day_iv
                    total += sum(end - start for start, end in day_iv)
                cum[i + 1] = total
            data = self._years[year] = _Year(cum, intervals)
        return data

    def _position(self, dt: datetime) -> tuple[int, int]:
        """(year, open microseconds from the start of that local year to ``dt``)."""
        t = _to_us(dt)
        local = dt.astimezone(self.tz).date()
        data = self._year(local.year)
        i = local.toordinal() - date(local.year, 1, 1).toordinal()
        return local.year, data.cum[i] + _within(data.intervals[i], t)

    # -- queries -------------------------------------------------------------------

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Business seconds between two aware datetimes; 0 when ``end`` is not after ``start``.

        Exact to the microsecond; whole-second inputs give whole-number results.
        """
        a, b = _to_us(start), _to_us(end)
        if b <= a:
            return 0.0
        if self.always:
            return (b - a) / _US_PER_S
        year_a, pos_a = self._position(start)
        year_b, pos_b = self._position(end)
        if year_a == year_b:
            diff = pos_b - pos_a
        else:
            diff = self._year(year_a).total - pos_a + pos_b
            diff += sum(self._year(y).total for y in range(year_a + 1, year_b))
        return diff / _US_PER_S

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant (UTC) by which ``seconds`` of business time have passed since ``start``.

        So ``business_seconds(start, result) == seconds``; when the time runs out at
        the end of a shift the answer is that end, not the next opening. Raises
        ValueError for negative ``seconds`` or a calendar that is never open.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        need_us = round(seconds * _US_PER_S)
        if need_us == 0:
            return start.astimezone(UTC)
        if self.always:
            return _from_us(_to_us(start) + need_us)
        if not self.ever_open:
            raise ValueError(f"calendar {self.name!r} is never open")
        year, pos = self._position(start)
        need = pos + need_us
        while True:
            data = self._year(year)
            if need <= data.total:
                j = bisect.bisect_left(data.cum, need)  # first day end at or past the target
                rest = need - data.cum[j - 1]
                for iv_start, iv_end in data.intervals[j - 1]:
                    if rest <= iv_end - iv_start:
                        return _from_us(iv_start + rest)
                    rest -= iv_end - iv_start
                raise AssertionError("unreachable: cumulative sums and intervals disagree")  # pragma: no cover
            need -= data.total
            year += 1
            if year > 9998:
                raise OverflowError(f"calendar {self.name!r} has no working time left before year 9999")

    def is_open(self, dt: datetime) -> bool:
        """Whether the calendar is open at the aware datetime ``dt`` (shift start inclusive, end exclusive)."""
        t = _to_us(dt)
        if self.always:
            return True
        local = dt.astimezone(self.tz).date()
        data = self._year(local.year)
        i = local.toordinal() - date(local.year, 1, 1).toordinal()
        return any(start <= t < end for start, end in data.intervals[i])


def parse_duration(text: str, calendar: Calendar | None = None) -> int:
    """Seconds in an SLA duration such as ``15m``, ``1.5h`` or ``3d``, rounded to whole seconds.

    ``d`` is one standard working day of ``calendar`` (:attr:`Calendar.day_seconds`;
    86400 for 24x7 or when no calendar is given). Raises ValueError on anything else.
    """
    match = DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"bad duration {text!r}: expected a number and m, h or d, e.g. 15m, 1.5h, 3d")
    unit = {"m": 60, "h": 3600, "d": calendar.day_seconds if calendar is not None else 86400}[match.group(2)]
    return round(float(match.group(1)) * unit)


def calendar_from_config(name: str, entry: Mapping[str, Any]) -> Calendar:
    """A calendar for a config entry, shared between calls so its year layouts are reused."""
    return _cached_calendar(name, json.dumps(entry, sort_keys=True, default=str))


@lru_cache(maxsize=128)
def _cached_calendar(name: str, key: str) -> Calendar:
    return Calendar.from_config(name, json.loads(key))
