"""Month-over-month trends per service: the figures a continual improvement review starts from.

For each calendar month of a period (months of the desk's ``desk.timezone``,
UTC when unset) and each service, and for all services together: tickets
opened, tickets resolved and their mean time to resolve, and SLA attainment,
each beside its change from the month before. The figures are those of
:mod:`itsm_cli.core.report` (``volume``, ``mttr``, ``sla`` grouped by month),
so a month here reads the same as ``itsm report mttr --by month`` over the
same tickets; this module only arranges them and takes the differences.

Pure: tickets, config, services and ``now`` in, rows out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from itsm_cli.core.report import NONE_KEY, mttr_report, sla_report, volume_report
from itsm_cli.core.sla import parse_timestamp

__all__ = ["COLUMNS", "DEFAULT_MONTHS", "TOTAL_KEY", "Month", "default_period", "desk_timezone", "months_between",
           "trends_report"]

# The key of the row over every service (a service ID is a slug, so it never collides).
TOTAL_KEY = "(all)"
DEFAULT_MONTHS = 6
# Row keys, in order. *_delta: this month minus the month before (sla_pct_delta in percentage points);
# *_delta_pct: that change as a percentage of the month before (None when the month before is 0 or has no figure).
COLUMNS = (
    "service", "month",
    "opened", "opened_delta", "opened_delta_pct",
    "resolved", "resolved_delta", "resolved_delta_pct",
    "mttr_h", "mttr_h_delta", "mttr_h_delta_pct",
    "sla_pct", "sla_pct_delta",
)

Ticket = Mapping[str, Any]
Row = dict[str, Any]


@dataclass(frozen=True)
class Month:
    """One calendar month of the desk's time zone: its ``YYYY-MM`` label and its bounds in UTC, ``[start, end)``."""

    label: str
    start: datetime
    end: datetime


def desk_timezone(config: Mapping[str, Any]) -> tzinfo:
    """The time zone months are counted in: ``desk.timezone``, else UTC (as :mod:`itsm_cli.core.report` does)."""
    name = (config.get("desk") or {}).get("timezone")
    return ZoneInfo(name) if name else UTC


def _month_start(dt: datetime, tz: tzinfo) -> datetime:
    local = dt.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    # Day 28 + 4 days is always in the next month. Arithmetic on a zoned datetime is wall-clock time, and the
    # offset follows the date, so a month after a DST change still starts at local midnight.
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_between(since: datetime, until: datetime, tz: tzinfo = UTC) -> list[Month]:
    """The whole calendar months that ``[since, until)`` touches, in ``tz``.

    ``since`` counts from the start of its month; ``until`` is exclusive, so a
    month that starts exactly at ``until`` is left out, and one that ``until``
    falls inside is kept (the month so far when ``until`` is now).
    """
    since, until = parse_timestamp(since), parse_timestamp(until)
    out: list[Month] = []
    start = _month_start(since, tz)
    while start < until:
        end = _next_month(start)
        out.append(Month(start.strftime("%Y-%m"), start.astimezone(UTC), end.astimezone(UTC)))
        start = end
    return out


def default_period(now: datetime, tz: tzinfo = UTC, months: int = DEFAULT_MONTHS) -> tuple[datetime, datetime]:
    """The last ``months`` full calendar months before ``now``'s month: ``(since, until)`` in UTC."""
    until = _month_start(parse_timestamp(now), tz)
    since = until
    for _ in range(months):
        since = _month_start(since - timedelta(days=1), tz)
    return since.astimezone(UTC), until.astimezone(UTC)


def _delta(current: float | int | None, before: float | int | None) -> float | int | None:
    if current is None or before is None:
        return None
    diff = current - before
    return diff if isinstance(diff, int) else round(diff, 2)


def _delta_pct(current: float | int | None, before: float | int | None) -> float | None:
    # A change from nothing (0, or no figure) has no meaningful percentage.
    if current is None or not before:
        return None
    return round(100.0 * (current - before) / before, 1)


def _figures(tickets: list[Ticket], config: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]],
             now: datetime, months: Sequence[Month]) -> dict[str, dict[str, Any]]:
    """Per month label: opened, resolved, mttr_h, sla_pct (from the reports of :mod:`itsm_cli.core.report`)."""
    args = (tickets, config, services)
    period = {"now": now, "since": months[0].start, "until": months[-1].end, "group_by": "month"}
    volume = {r["key"]: r for r in volume_report(*args, **period)}
    mttr = {r["key"]: r for r in mttr_report(*args, **period)}
    sla = {r["key"]: r for r in sla_report(*args, **period)}
    out = {}
    for month in months:
        v, m, s = volume.get(month.label, {}), mttr.get(month.label, {}), sla.get(month.label, {})
        met = s.get("response_met", 0) + s.get("resolution_met", 0)
        breached = s.get("response_breached", 0) + s.get("resolution_breached", 0)
        out[month.label] = {
            "opened": v.get("opened", 0),
            "resolved": m.get("resolved", 0),
            "mttr_h": m.get("mttr_mean_h"),
            # Response and resolution targets together: the share of all targets due in the month that were met.
            "sla_pct": round(100.0 * met / (met + breached), 1) if met + breached else None,
        }
    return out


def _active(figures: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(f["opened"] or f["resolved"] or f["sla_pct"] is not None for f in figures.values())


def _rows(key: str, figures: Mapping[str, Mapping[str, Any]], months: Sequence[Month]) -> list[Row]:
    rows: list[Row] = []
    before: Mapping[str, Any] | None = None
    for month in months:
        f = figures[month.label]
        row: Row = {"service": key, "month": month.label}
        for name in ("opened", "resolved", "mttr_h"):
            prev = before[name] if before is not None else None
            row[name] = f[name]
            row[f"{name}_delta"] = _delta(f[name], prev) if before is not None else None
            row[f"{name}_delta_pct"] = _delta_pct(f[name], prev) if before is not None else None
        row["sla_pct"] = f["sla_pct"]
        row["sla_pct_delta"] = _delta(f["sla_pct"], before["sla_pct"]) if before is not None else None
        rows.append({c: row[c] for c in COLUMNS})
        before = f
    return rows


def trends_report(
    tickets: Iterable[Ticket],
    config: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime,
    until: datetime,
    types: Sequence[str] | None = None,
    service: str | None = None,
) -> list[Row]:
    """Month-over-month figures per service, then a total row per month (key :data:`TOTAL_KEY`).

    Months are those :func:`months_between` gives for ``[since, until)``.
    ``types``: only tickets of these types (None: every ticket type).
    ``service``: only that service's rows (and no total); it is listed even
    with nothing to show. Otherwise a service is listed when it has anything
    in one of the months, tickets without a service as ``(none)``, and the
    total whenever any service is listed.

    Per month, as ``itsm report`` computes them over the month: ``opened``
    (tickets created), ``resolved`` and ``mttr_h`` (tickets whose resolution
    clock stopped, and their mean business hours to resolve, as ``report
    mttr``), ``sla_pct`` (response and resolution targets that fell due in the
    month: the share met, as ``report sla``). Each has its change from the
    month before (blank for the first month): see :data:`COLUMNS`.
    """
    tz = desk_timezone(config)
    months = months_between(since, until, tz)
    if not months:
        return []
    chosen = [t for t in tickets if types is None or t.get("type") in types]
    by_service: dict[str, list[Ticket]] = {}
    for t in chosen:
        sid = t.get("service")
        by_service.setdefault(str(sid) if sid not in (None, "") else NONE_KEY, []).append(t)
    if service is not None:
        return _rows(service, _figures(by_service.get(service, []), config, services, now, months), months)
    rows: list[Row] = []
    for key in sorted(by_service, key=lambda k: (k == NONE_KEY, k)):
        figures = _figures(by_service[key], config, services, now, months)
        if _active(figures):
            rows.extend(_rows(key, figures, months))
    if rows:
        rows.extend(_rows(TOTAL_KEY, _figures(chosen, config, services, now, months), months))
    return rows
