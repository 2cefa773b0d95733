"""SLA clocks for one ticket, computed from its history alone.

Two clocks run in the business calendar of the ticket's service (its
``support_hours``), both from ``created``:

- **response** stops at the first history entry after ``create`` that moves the
  ticket out of a ``new``-category state, or at the first ``assign`` entry,
  whichever comes first. A ticket created in a state that is not ``new`` has
  responded at once.
- **resolution** stops when the ticket enters a ``resolved``- or
  ``closed``-category state; if it is reopened the clock resumes, and the time
  spent resolved counts for nothing (neither elapsed nor paused).

Both pause while the ticket is in a ``waiting``-category state; that business
time is reported as ``paused``. Entries after ``now`` are ignored, so the clocks
of a ticket at a given ``now`` never depend on when they are computed. The
workflow's state categories come from the config; this module names no state.

A clock stopped by going straight to a ``closed``-category state without passing
a ``resolved`` one (cancelled, rejected) is marked ``cancelled``; reports leave
those out of attainment and mean times.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from itsm_cli.core.calendar import Calendar, calendar_from_config, parse_duration

__all__ = [
    "Clock",
    "SlaTargets",
    "TicketClocks",
    "breached",
    "breaching",
    "category_of",
    "compute_clocks",
    "parse_timestamp",
    "service_calendar",
    "sla_targets",
    "state_at",
    "state_timeline",
]

WAITING = "waiting"
STOPPED = frozenset({"resolved", "closed"})
OPEN_CATEGORIES = frozenset({"new", "open", "waiting"})
DEFAULT_CALENDAR = "24x7"


# Made on first use: a calendar imports zoneinfo (2 ms), and importing this module need not.
@functools.cache
def _utc_24x7() -> Calendar:
    return Calendar(DEFAULT_CALENDAR, "UTC", always=True)


def parse_timestamp(value: str | datetime) -> datetime:
    """An aware UTC datetime from an ISO 8601 string (``...Z``) or a datetime (naive means UTC)."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValueError(f"bad timestamp {value!r}: expected ISO 8601 such as 2026-03-02T09:15:00Z") from exc
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


# -- calendars and targets ---------------------------------------------------------


def service_calendar(config: Mapping[str, Any], service: Mapping[str, Any] | None) -> Calendar:
    """The calendar a ticket's clocks run in.

    The service's ``support_hours``; without a service, ``24x7`` if configured,
    else the first configured calendar, else a built-in 24x7 UTC calendar.
    Raises ValueError when the service names a calendar the config lacks.
    """
    calendars = config.get("calendars") or {}
    if service and service.get("support_hours"):
        name = service["support_hours"]
        if name not in calendars:
            raise ValueError(f"service {service.get('id')!r}: unknown calendar {name!r} in support_hours")
    elif DEFAULT_CALENDAR in calendars:
        name = DEFAULT_CALENDAR
    elif calendars:
        name = next(iter(calendars))
    else:
        return _utc_24x7()
    return calendar_from_config(name, calendars[name])


class SlaTargets(NamedTuple):
    """Targets in seconds (None when the profile sets none) and the calendar they are counted in."""

    response: int | None
    resolution: int | None
    calendar: Calendar


def target_entry(
    config: Mapping[str, Any], service: Mapping[str, Any] | None, priority: str | None
) -> Mapping[str, Any] | None:
    """The targets for a priority as ``itsm.yaml`` or the service spell them (``{response: 2h, resolution: 3d}``).

    People read "3d" (three working days), not the "24h 00m" of business time it counts.
    """
    if not priority:
        return None
    sla = config.get("sla") or {}
    if service and service.get("sla_targets") is not None:
        table = service["sla_targets"]
    else:
        profile = (service or {}).get("sla") or sla.get("default_profile")
        if not profile:
            return None
        profiles = sla.get("profiles") or {}
        if profile not in profiles:
            raise ValueError(f"unknown SLA profile {profile!r}")
        table = profiles[profile]
    entry = (table or {}).get(priority)
    if not entry or not (entry.get("response") or entry.get("resolution")):
        return None
    return entry


def sla_targets(
    config: Mapping[str, Any], service: Mapping[str, Any] | None, priority: str | None
) -> SlaTargets | None:
    """(response_s, resolution_s, calendar) for a priority, or None when no target applies.

    The service's own ``sla_targets`` win; otherwise its ``sla`` profile, otherwise
    ``sla.default_profile``. Durations in ``d`` are working days of the calendar.
    Raises ValueError for an unknown profile or calendar, or a bad duration.
    """
    entry = target_entry(config, service, priority)
    if entry is None:
        return None
    calendar = service_calendar(config, service)
    response = parse_duration(entry["response"], calendar) if entry.get("response") else None
    resolution = parse_duration(entry["resolution"], calendar) if entry.get("resolution") else None
    return SlaTargets(response, resolution, calendar)


# -- states over time ----------------------------------------------------------------


def category_of(config: Mapping[str, Any], ticket_type: str | None, state: str | None) -> str:
    """The category of a state in the workflow of a ticket type; ``open`` when unknown."""
    workflow = _workflow(config, ticket_type)
    entry = (workflow.get("states") or {}).get(state) if state else None
    return (entry or {}).get("category") or "open"


def _workflow(config: Mapping[str, Any], ticket_type: str | None) -> Mapping[str, Any]:
    type_entry = (config.get("types") or {}).get(ticket_type) or {}
    name = type_entry.get("workflow") or ticket_type
    return (config.get("workflows") or {}).get(name) or {}


def _created(ticket: Mapping[str, Any]) -> datetime:
    if ticket.get("created"):
        return parse_timestamp(ticket["created"])
    for entry in ticket.get("history") or ():
        if entry.get("action") == "create":
            return parse_timestamp(entry["at"])
    raise ValueError(f"ticket {ticket.get('id')!r} has no created time")


def _initial_state(ticket: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    for entry in ticket.get("history") or ():
        if entry.get("action") == "create" and entry.get("to"):
            return entry["to"]
    return _workflow(config, ticket.get("type")).get("initial") or ticket.get("status")


def _events(ticket: Mapping[str, Any], created: datetime, now: datetime) -> list[tuple[datetime, Mapping[str, Any]]]:
    """History entries after ``create`` up to ``now``, in time order (stable for equal times)."""
    events = []
    for entry in ticket.get("history") or ():
        if entry.get("action") == "create":
            continue
        at = max(parse_timestamp(entry["at"]), created)
        if at <= now:
            events.append((at, entry))
    events.sort(key=lambda pair: pair[0])
    return events


def state_timeline(ticket: Mapping[str, Any], config: Mapping[str, Any], now: datetime) -> list[tuple[datetime, str]]:
    """The states a ticket entered up to ``now``, as (at, state), starting with (created, initial).

    Empty when the ticket was created after ``now``.
    """
    now = parse_timestamp(now)
    created = _created(ticket)
    if created > now:
        return []
    timeline = [(created, _initial_state(ticket, config))]
    for at, entry in _events(ticket, created, now):
        to = entry.get("to")
        if to and to != timeline[-1][1]:
            timeline.append((at, to))
    return timeline


def state_at(ticket: Mapping[str, Any], config: Mapping[str, Any], now: datetime) -> str | None:
    """The state the history says the ticket was in at ``now`` (None before it was created)."""
    timeline = state_timeline(ticket, config, now)
    return timeline[-1][1] if timeline else None


# -- clocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """One SLA clock at a point in time. Seconds are business seconds of the ticket's calendar.

    - ``target``: seconds allowed, or None when no target applies (then the clock still
      measures, for mean times, and its state is never ``met``/``breached``).
    - ``elapsed``: business time counted so far; ``paused``: business time spent waiting.
    - ``remaining``: ``target - elapsed``; negative once overdue; None without a target.
    - ``breached``: ``elapsed > target``.
    - ``due_at``: when the target is, was or would be reached: the breach instant once
      crossed, else projected from ``now`` (running) or from ``stopped_at`` (met);
      None while paused or without a target.
    - ``breach_at``: ``due_at``, except None for a clock that stopped within target.
    - ``stopped_at``: when the clock stopped (None while running or paused).
    - ``state``: ``running``, ``paused``, ``met``, ``breached``, or ``stopped`` (stopped, no target).
    - ``cancelled``: stopped by a move straight into a ``closed`` state (cancel, reject).
    """

    name: str
    target: int | None
    elapsed: float
    paused: float
    remaining: float | None
    breached: bool
    due_at: datetime | None
    breach_at: datetime | None
    stopped_at: datetime | None
    state: str
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ``...Z`` strings, seconds as numbers."""
        return {
            "target": self.target,
            "elapsed": self.elapsed,
            "paused": self.paused,
            "remaining": self.remaining,
            "breached": self.breached,
            "due_at": _iso(self.due_at),
            "breach_at": _iso(self.breach_at),
            "stopped_at": _iso(self.stopped_at),
            "state": self.state,
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True)
class TicketClocks:
    """Both clocks of a ticket at ``now``."""

    ticket_id: str | None
    priority: str | None
    calendar: str
    now: datetime
    response: Clock
    resolution: Clock

    @property
    def breached(self) -> bool:
        """Whether either clock has breached."""
        return self.response.breached or self.resolution.breached

    def breaching(self, within_seconds: float) -> bool:
        """Whether a running clock, not yet breached, will breach within ``within_seconds`` (wall-clock) of now."""
        horizon = self.now + timedelta(seconds=within_seconds)
        return any(
            c.state == "running" and not c.breached and c.breach_at is not None and c.breach_at <= horizon
            for c in (self.response, self.resolution)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of both clocks."""
        return {
            "id": self.ticket_id,
            "priority": self.priority,
            "calendar": self.calendar,
            "now": _iso(self.now),
            "response": self.response.to_dict(),
            "resolution": self.resolution.to_dict(),
        }


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Run:
    """A clock being replayed over the history."""

    def __init__(self, name: str, target: int | None, calendar: Calendar):
        self.name = name
        self.target = target
        self.calendar = calendar
        self.elapsed = 0.0
        self.paused = 0.0
        self.crossed_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.cancelled = False

    def advance(self, start: datetime, end: datetime, waiting: bool) -> None:
        if self.stopped_at is not None or end <= start:
            return
        seconds = self.calendar.business_seconds(start, end)
        if waiting:
            self.paused += seconds
            return
        if self.target is not None and self.crossed_at is None and self.elapsed + seconds >= self.target:
            self.crossed_at = self.calendar.add_business_seconds(start, self.target - self.elapsed)
        self.elapsed += seconds

    def finish(self, now: datetime, waiting: bool) -> Clock:
        stopped = self.stopped_at is not None
        target = self.target
        remaining = None if target is None else target - self.elapsed
        is_breached = target is not None and self.elapsed > target
        if target is None:
            due = None
        elif self.crossed_at is not None:
            due = self.crossed_at
        elif stopped:
            due = self.calendar.add_business_seconds(self.stopped_at, remaining)
        elif waiting:
            due = None
        else:
            due = self.calendar.add_business_seconds(now, remaining)
        if is_breached:
            state = "breached"
        elif stopped:
            state = "met" if target is not None else "stopped"
        else:
            state = "paused" if waiting else "running"
        return Clock(
            name=self.name,
            target=target,
            elapsed=self.elapsed,
            paused=self.paused,
            remaining=remaining,
            breached=is_breached,
            due_at=due,
            breach_at=None if state == "met" else due,
            stopped_at=self.stopped_at,
            state=state,
            cancelled=self.cancelled,
        )


def compute_clocks(
    ticket: Mapping[str, Any],
    config: Mapping[str, Any],
    service: Mapping[str, Any] | None,
    now: datetime,
) -> TicketClocks:
    """Replay a ticket's history up to ``now`` and return its response and resolution clocks.

    ``service`` is the ticket's service record (or None); ``now`` is an aware datetime.
    Raises ValueError on a bad timestamp or a config the ticket cannot be matched to.
    """
    now = parse_timestamp(now)
    created = _created(ticket)
    ticket_type = ticket.get("type")
    targets = sla_targets(config, service, ticket.get("priority"))
    calendar = targets.calendar if targets else service_calendar(config, service)
    response = _Run("response", targets.response if targets else None, calendar)
    resolution = _Run("resolution", targets.resolution if targets else None, calendar)

    def category(state: str | None) -> str:
        return category_of(config, ticket_type, state)

    state = _initial_state(ticket, config)
    if category(state) != "new":
        response.stopped_at = created
    if category(state) in STOPPED:
        resolution.stopped_at = created
    since = created
    for at, entry in _events(ticket, created, now):
        waiting = category(state) == WAITING
        response.advance(since, at, waiting)
        resolution.advance(since, at, waiting)
        since = at
        to = entry.get("to")
        moves = bool(to) and to != state
        old_cat, new_cat = category(state), category(to) if moves else None
        if response.stopped_at is None and (
            entry.get("action") == "assign" or (moves and old_cat == "new" and new_cat != "new")
        ):
            response.stopped_at = at
            response.cancelled = new_cat == "closed"
        if moves:
            if new_cat in STOPPED and old_cat not in STOPPED:
                resolution.stopped_at = at
                resolution.cancelled = new_cat == "closed"
            elif new_cat not in STOPPED and old_cat in STOPPED:
                resolution.stopped_at = None
                resolution.cancelled = False
            state = to
    waiting = category(state) == WAITING
    end = max(now, created)
    response.advance(since, end, waiting)
    resolution.advance(since, end, waiting)
    return TicketClocks(
        ticket_id=ticket.get("id"),
        priority=ticket.get("priority"),
        calendar=calendar.name,
        now=now,
        response=response.finish(end, waiting),
        resolution=resolution.finish(end, waiting),
    )


def breaching(
    ticket: Mapping[str, Any],
    config: Mapping[str, Any],
    service: Mapping[str, Any] | None,
    now: datetime,
    within_seconds: float,
) -> bool:
    """For ``itsm list --breaching --within``: a running clock will breach within ``within_seconds`` of ``now``.

    Wall-clock seconds: "breaches in the next 2 hours". Clocks already breached,
    paused or stopped do not count.
    """
    return compute_clocks(ticket, config, service, now).breaching(within_seconds)


def breached(
    ticket: Mapping[str, Any],
    config: Mapping[str, Any],
    service: Mapping[str, Any] | None,
    now: datetime,
) -> bool:
    """For ``itsm list --breached``: the response or resolution clock has breached by ``now``."""
    return compute_clocks(ticket, config, service, now).breached
