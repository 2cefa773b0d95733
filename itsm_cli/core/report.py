"""Report figures over many tickets: SLA attainment, mean times, volumes, backlog ageing.

Every report is a pure function of the tickets, the config, the services (a dict
from service ID to service record), ``now`` and, where it applies, a period
``[since, until)`` (either end None = unbounded). Each returns a list of flat row
dicts with stable keys, sorted by ``key``, so the CLI can print them as a table,
JSON or CSV. ``key`` is the value of the group-by field:

- ``service``, ``priority``, ``group``, ``type``: the ticket's current field,
  or ``(none)`` when it has none;
- ``month``: ``YYYY-MM`` of the event being counted, in the desk's
  ``desk.timezone`` (UTC when unset).

Only records whose type has ``kind: ticket`` are counted (types the config does
not know are counted too), except types marked ``reports: false``. Times are business time of each ticket's service
calendar unless a docstring says calendar time.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from itsm_cli.core.sla import (
    OPEN_CATEGORIES,
    Clock,
    TicketClocks,
    category_of,
    compute_clocks,
    parse_timestamp,
    state_timeline,
)

__all__ = [
    "BACKLOG_BUCKETS",
    "GROUP_BY",
    "NONE_KEY",
    "backlog_report",
    "combine_rows",
    "mttr_report",
    "sla_report",
    "volume_report",
]

GROUP_BY = ("service", "priority", "group", "type", "month")
NONE_KEY = "(none)"
# (row key, lower bound in days inclusive, upper bound exclusive or None)
BACKLOG_BUCKETS = (
    ("age_lt_1d", 0, 1),
    ("age_1_3d", 1, 3),
    ("age_3_7d", 3, 7),
    ("age_7_30d", 7, 30),
    ("age_gt_30d", 30, None),
)

Ticket = Mapping[str, Any]
Row = dict[str, Any]


# -- shared plumbing ----------------------------------------------------------------


class _Context:
    """What every report needs: the inputs, validated, and a key function."""

    def __init__(
        self,
        config: Mapping[str, Any],
        services: Mapping[str, Mapping[str, Any]],
        now: datetime,
        since: datetime | None,
        until: datetime | None,
        group_by: str,
    ):
        if group_by not in GROUP_BY:
            raise ValueError(f"unknown group-by {group_by!r}: choose one of {', '.join(GROUP_BY)}")
        self.config = config
        self.services = services or {}
        self.now = parse_timestamp(now)
        self.since = parse_timestamp(since) if since is not None else None
        self.until = parse_timestamp(until) if until is not None else None
        self.group_by = group_by
        tz_name = (config.get("desk") or {}).get("timezone")
        self.tz = ZoneInfo(tz_name) if tz_name else UTC

    def tickets(self, tickets: Iterable[Ticket]) -> Iterable[Ticket]:
        types = self.config.get("types") or {}
        for ticket in tickets:
            entry = types.get(ticket.get("type")) or {}
            # reports: false (improvements) keeps the desk's own internal work out of the service's figures.
            if entry.get("kind", "ticket") == "ticket" and entry.get("reports", True) is not False:
                yield ticket

    def in_period(self, dt: datetime | None) -> bool:
        if dt is None:
            return False
        return (self.since is None or dt >= self.since) and (self.until is None or dt < self.until)

    def key(self, ticket: Ticket, when: datetime) -> str:
        if self.group_by == "month":
            return when.astimezone(self.tz).strftime("%Y-%m")
        value = ticket.get(self.group_by)
        return str(value) if value not in (None, "") else NONE_KEY

    def clocks(self, ticket: Ticket) -> TicketClocks:
        service = self.services.get(ticket.get("service")) if ticket.get("service") else None
        return compute_clocks(ticket, self.config, service, self.now)


def _sorted_rows(rows: Mapping[str, Row]) -> list[Row]:
    return [rows[k] for k in sorted(rows, key=lambda k: (k == NONE_KEY, k))]


def _row(rows: dict[str, Row], key: str, factory: Callable[[str], Row]) -> Row:
    if key not in rows:
        rows[key] = factory(key)
    return rows[key]


def _pct(met: int, missed: int) -> float | None:
    return round(100.0 * met / (met + missed), 1) if met + missed else None


def _hours(samples: list[float], how: Callable[[list[float]], float]) -> float | None:
    return round(how(samples) / 3600, 2) if samples else None


def combine_rows(parts: Iterable[list[Row]]) -> list[Row]:
    """One report's rows computed over disjoint sets of tickets, as that report over all of them.

    For the reports whose figures are counts (:func:`volume_report`,
    :func:`sla_report`): counts are summed per key and each ``X_pct`` is
    recomputed from ``X_met`` and ``X_breached``. Means and medians
    (:func:`mttr_report`) cannot be combined this way.
    """
    rows: dict[str, Row] = {}
    for part in parts:
        for row in part:
            into = rows.get(row["key"])
            if into is None:
                rows[row["key"]] = dict(row)
                continue
            for name, value in row.items():
                if type(value) is int:
                    into[name] = into.get(name, 0) + value
    for row in rows.values():
        for name in [n for n in row if n.endswith("_pct")]:
            stem = name[: -len("_pct")]
            row[name] = _pct(row[f"{stem}_met"], row[f"{stem}_breached"])
    return _sorted_rows(rows)


# -- reports ---------------------------------------------------------------------------


def sla_report(
    tickets: Iterable[Ticket],
    config: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: str = "service",
) -> list[Row]:
    """SLA attainment: clocks whose target fell due in the period, met vs breached.

    A clock counts in the period holding its ``due_at`` (see :class:`Clock`):
    the breach instant for a breached clock, the deadline it beat for a met one,
    the projected deadline for a running one. Clocks without a target, paused
    clocks not yet breached, and cancelled clocks are left out. ``month`` groups
    by the month of ``due_at``.

    Row keys: ``key``, ``response_met``, ``response_breached``, ``response_pending``,
    ``response_pct``, ``resolution_met``, ``resolution_breached``,
    ``resolution_pending``, ``resolution_pct``. ``*_pending`` counts clocks due in
    the period (after ``now``) that are still running; ``*_pct`` is
    ``100 * met / (met + breached)`` to one decimal, or None when both are 0.
    """
    ctx = _Context(config, services, now, since, until, group_by)
    rows: dict[str, Row] = {}

    def new_row(key: str) -> Row:
        row: Row = {"key": key}
        for name in ("response", "resolution"):
            row.update({f"{name}_met": 0, f"{name}_breached": 0, f"{name}_pending": 0, f"{name}_pct": None})
        return row

    for ticket in ctx.tickets(tickets):
        clocks = ctx.clocks(ticket)
        for clock in (clocks.response, clocks.resolution):
            if clock.target is None or clock.cancelled or not ctx.in_period(clock.due_at):
                continue
            row = _row(rows, ctx.key(ticket, clock.due_at), new_row)
            outcome = {"met": "met", "breached": "breached"}.get(clock.state, "pending")
            row[f"{clock.name}_{outcome}"] += 1
    for row in rows.values():
        for name in ("response", "resolution"):
            row[f"{name}_pct"] = _pct(row[f"{name}_met"], row[f"{name}_breached"])
    return _sorted_rows(rows)


def mttr_report(
    tickets: Iterable[Ticket],
    config: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: str = "service",
) -> list[Row]:
    """Mean and median time to acknowledge (response) and to resolve, in business hours.

    A ticket counts as acknowledged in the period when its response clock stopped
    in it, and as resolved when its resolution clock is stopped at ``now`` and
    stopped in the period (a reopened ticket counts at its last resolution). The
    time is the clock's elapsed business time, so waiting time is not included.
    Cancelled clocks are left out. ``month`` groups by the month of the stop.

    Row keys: ``key``, ``acknowledged``, ``mtta_mean_h``, ``mtta_median_h``,
    ``resolved``, ``mttr_mean_h``, ``mttr_median_h``; hours to two decimals,
    None when there is no sample.
    """
    ctx = _Context(config, services, now, since, until, group_by)
    samples: dict[str, dict[str, list[float]]] = {}

    def add(ticket: Ticket, clock: Clock, kind: str) -> None:
        if clock.cancelled or not ctx.in_period(clock.stopped_at):
            return
        key = ctx.key(ticket, clock.stopped_at)
        samples.setdefault(key, {"ack": [], "res": []})[kind].append(clock.elapsed)

    for ticket in ctx.tickets(tickets):
        clocks = ctx.clocks(ticket)
        add(ticket, clocks.response, "ack")
        add(ticket, clocks.resolution, "res")
    rows = {
        key: {
            "key": key,
            "acknowledged": len(s["ack"]),
            "mtta_mean_h": _hours(s["ack"], statistics.fmean),
            "mtta_median_h": _hours(s["ack"], statistics.median),
            "resolved": len(s["res"]),
            "mttr_mean_h": _hours(s["res"], statistics.fmean),
            "mttr_median_h": _hours(s["res"], statistics.median),
        }
        for key, s in samples.items()
    }
    return _sorted_rows(rows)


def volume_report(
    tickets: Iterable[Ticket],
    config: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: str = "service",
) -> list[Row]:
    """Tickets opened, resolved and closed in the period.

    ``opened``: created in the period. ``resolved``: entered a ``resolved``-category
    state in the period. ``closed``: entered a ``closed``-category state in the
    period (cancelled and rejected included). Each ticket counts at most once per
    column, at its last such move up to ``now``; ``month`` groups each column by
    the month of its own event.

    Row keys: ``key``, ``opened``, ``resolved``, ``closed``.
    """
    ctx = _Context(config, services, now, since, until, group_by)
    rows: dict[str, Row] = {}

    def new_row(key: str) -> Row:
        return {"key": key, "opened": 0, "resolved": 0, "closed": 0}

    for ticket in ctx.tickets(tickets):
        timeline = state_timeline(ticket, config, ctx.now)
        if not timeline:
            continue
        events: dict[str, datetime] = {"opened": timeline[0][0]}
        for at, state in timeline:
            category = category_of(config, ticket.get("type"), state)
            if category in ("resolved", "closed"):
                events[category] = at
        for column, at in events.items():
            if ctx.in_period(at):
                _row(rows, ctx.key(ticket, at), new_row)[column] += 1
    return _sorted_rows(rows)


def backlog_report(
    tickets: Iterable[Ticket],
    config: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    group_by: str = "service",
) -> list[Row]:
    """Tickets open at ``now`` (state category new, open or waiting), by age in calendar time.

    Age is ``now - created``. Buckets are half-open: under 1 day, 1-3, 3-7, 7-30 days,
    30 days and over. ``month`` groups by the month the ticket was created.

    Row keys: ``key``, ``open``, then the bucket keys of :data:`BACKLOG_BUCKETS`:
    ``age_lt_1d``, ``age_1_3d``, ``age_3_7d``, ``age_7_30d``, ``age_gt_30d``.
    """
    ctx = _Context(config, services, now, None, None, group_by)
    rows: dict[str, Row] = {}

    def new_row(key: str) -> Row:
        row: Row = {"key": key, "open": 0}
        row.update({name: 0 for name, _, _ in BACKLOG_BUCKETS})
        return row

    for ticket in ctx.tickets(tickets):
        timeline = state_timeline(ticket, config, ctx.now)
        if not timeline or category_of(config, ticket.get("type"), timeline[-1][1]) not in OPEN_CATEGORIES:
            continue
        created = timeline[0][0]
        age = ctx.now - created
        row = _row(rows, ctx.key(ticket, created), new_row)
        row["open"] += 1
        for name, low, high in BACKLOG_BUCKETS:
            if age >= timedelta(days=low) and (high is None or age < timedelta(days=high)):
                row[name] += 1
                break
    return _sorted_rows(rows)
