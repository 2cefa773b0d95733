"""Service status and availability, computed from incidents alone (pure: no git, no files).

**Rules.** ``status.rules`` in itsm.yaml says what an incident does to its
service: the first rule whose ``when:`` an incident matches gives its level,
``down`` or ``degraded``; an incident no rule matches leaves its service
operational. Without ``status.rules`` the defaults hold: a P1 or major incident
means down, a P2 degraded. A service takes the worst level of its incidents.

**Outage windows.** An incident counts while it is in a ``new``, ``open`` or
``waiting`` category state, at the level its fields give at that moment; it
stops counting when it is resolved or closed. Everything comes from the ticket
file itself (its ``history``), so a site build needs no walk through git:

- the states and when they were entered are exact (``to`` of each entry);
- a history entry records the *new* value of each field it changes (``fields``),
  never the old one. A field no entry changes had its present value all along.
  Before the first recorded change of ``major`` it had the opposite value; before
  the first recorded change of ``impact``, ``urgency`` or ``priority`` it had the
  desk's default (``priority.default``, which ``itsm new`` gives), unless that equals the new
  value, in which case the change is taken to have set it from creation on. The
  priority at each moment follows the matrix; an entry that records ``priority``
  itself wins.
- An incident closed without ever being resolved (cancelled, a duplicate) was
  withdrawn: it has no outage windows. Internal incidents are left out by the
  caller, as they are from everything published.

**Availability** over a period is ``(agreed − unavailable) / agreed``, where
agreed time is the business time of the hours the SLA says (the service's
support hours by default, or a named calendar such as ``24x7``) and unavailable
time is the part of it the service spent at a level in ``status.unavailable``
(default: ``down`` only; degraded time is reported beside it). Windows of one
service are merged first, so overlapping incidents never count twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from itsm_cli.core.calendar import Calendar, calendar_from_config
from itsm_cli.core.security import is_security
from itsm_cli.core.sla import category_of, parse_timestamp, service_calendar

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_RULES",
    "LEVELS",
    "Availability",
    "Day",
    "Outage",
    "Span",
    "StatusRules",
    "availability",
    "availability_report",
    "availability_target",
    "daily",
    "incident_outages",
    "maintenance_windows",
    "merge_spans",
    "period_of_days",
    "status_changes",
]

OPERATIONAL, DEGRADED, DOWN = "operational", "degraded", "down"
LEVELS = (OPERATIONAL, DEGRADED, DOWN)
RANK = {level: i for i, level in enumerate(LEVELS)}
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"when": {"priority": "P1"}, "status": DOWN},
    {"when": {"major": True}, "status": DOWN},
    {"when": {"priority": "P2"}, "status": DEGRADED},
)
DEFAULT_DAYS = 90
DEFAULT_UNAVAILABLE = (DOWN,)
# The change states a planned window shows as scheduled maintenance in, when the desk names none:
# approved and later, up to the work itself (filtered to the states the change workflow has).
DEFAULT_MAINTENANCE_STATES = ("approved", "scheduled", "implementing")
COUNTING = frozenset({"new", "open", "waiting"})
BOOL_FIELDS = frozenset({"major"})
MATRIX_FIELDS = ("impact", "urgency")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class StatusRules:
    """The desk's status rules (``status:`` in itsm.yaml), with the defaults filled in."""

    rules: tuple[tuple[Mapping[str, Any], str], ...]
    unavailable: frozenset[str] = frozenset(DEFAULT_UNAVAILABLE)
    days: int = DEFAULT_DAYS
    maintenance_states: tuple[str, ...] | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StatusRules:
        """The rules of a desk's configuration data; ValueError names what is wrong."""
        entry = config.get("status") or {}
        if not isinstance(entry, Mapping):
            raise ValueError("status: must be a mapping")
        raw = entry.get("rules")
        rules = []
        for i, rule in enumerate(DEFAULT_RULES if raw is None else raw):
            if not isinstance(rule, Mapping) or rule.get("status") not in (DOWN, DEGRADED):
                raise ValueError(f"status.rules[{i}]: needs status: down or degraded")
            when = rule.get("when") or {}
            if not isinstance(when, Mapping):
                raise ValueError(f"status.rules[{i}].when: must be a mapping of field: value(s)")
            rules.append((when, str(rule["status"])))
        unavailable = entry.get("unavailable", list(DEFAULT_UNAVAILABLE))
        bad = [u for u in _as_list(unavailable) if u not in (DOWN, DEGRADED)]
        if bad:
            raise ValueError(f"status.unavailable: {bad[0]!r} is not down or degraded")
        days = entry.get("days", DEFAULT_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
            raise ValueError("status.days: a whole number of days from 1 to 366")
        states = (entry.get("maintenance") or {}).get("states")
        return cls(tuple(rules), frozenset(_as_list(unavailable)), days,
                   tuple(_as_list(states)) if states is not None else None)

    def level(self, fields: Mapping[str, Any]) -> str:
        """The level an incident with these fields gives its service (``operational`` when no rule matches)."""
        for when, level in self.rules:
            if all(_matches(fields.get(k), v) for k, v in when.items()):
                return level
        return OPERATIONAL

    def watched_fields(self) -> set[str]:
        """The fields the rules look at (and so the ones whose changes over time matter)."""
        return {k for when, _ in self.rules for k in when}


def _matches(actual: Any, expected: Any) -> bool:
    wanted = _as_list(expected)
    if any(isinstance(w, bool) for w in wanted):
        actual = actual is True  # an absent flag is false
    return actual in wanted


# -- outage windows of one incident ---------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """A span during which one incident held its service at ``level`` (``end`` None: still does)."""

    incident: str
    service: str
    level: str
    start: datetime
    end: datetime | None


def _priority_for(config: Mapping[str, Any], impact: Any, urgency: Any) -> Any:
    matrix = (config.get("priority") or {}).get("matrix") or {}
    return (matrix.get(impact) or {}).get(urgency)


def _initial_fields(ticket: Mapping[str, Any], config: Mapping[str, Any], watched: Iterable[str]) -> dict[str, Any]:
    """The watched fields as the incident was created, as far as its file tells (see the module notes)."""
    default = dict((config.get("priority") or {}).get("default") or {})
    default["priority"] = _priority_for(config, default.get("impact"), default.get("urgency"))
    first: dict[str, Any] = {}
    for entry in ticket.get("history") or ():
        for name, value in (entry.get("fields") or {}).items() if entry.get("action") != "create" else ():
            first.setdefault(name, value)
    fields: dict[str, Any] = {}
    for name in {*watched, *MATRIX_FIELDS, "priority"}:
        now = ticket.get(name)
        if name not in first:
            fields[name] = now
        elif name in BOOL_FIELDS:
            fields[name] = first[name] is not True
        elif name in (*MATRIX_FIELDS, "priority") and default.get(name) not in (None, first[name]):
            fields[name] = default[name]
        else:
            fields[name] = first[name]
    if "priority" not in first:
        derived = _priority_for(config, fields.get("impact"), fields.get("urgency"))
        if derived is not None:
            fields["priority"] = derived
    return fields


def incident_outages(ticket: Mapping[str, Any], config: Mapping[str, Any], rules: StatusRules,
                     now: datetime) -> list[Outage]:
    """The spans up to ``now`` during which ``ticket`` held its service down or degraded, oldest first.

    Empty for a ticket that is not an incident, has no service, was created
    after ``now`` or was withdrawn (closed without being resolved).
    Raises ValueError on a bad timestamp.
    """
    if ticket.get("type") != "incident" or not ticket.get("service"):
        return []
    now = parse_timestamp(now)
    created = parse_timestamp(ticket["created"])
    if created > now:
        return []
    kind = ticket.get("type")
    state = next((e.get("to") for e in ticket.get("history") or () if e.get("action") == "create" and e.get("to")),
                 None) or ticket.get("status")
    fields = _initial_fields(ticket, config, rules.watched_fields())
    events = sorted(((max(parse_timestamp(e["at"]), created), i, e) for i, e in enumerate(ticket.get("history") or ())
                     if e.get("action") != "create"), key=lambda x: (x[0], x[1]))
    events = [(at, e) for at, _, e in events if at <= now]
    resolved_ever = False

    def level_now() -> str:
        return rules.level(fields) if category_of(config, kind, state) in COUNTING else OPERATIONAL

    spans: list[Outage] = []
    current, since = level_now(), created
    for at, entry in events:
        changed = dict(entry.get("fields") or {})
        if changed:
            fields.update(changed)
            if "priority" not in changed and any(f in changed for f in MATRIX_FIELDS):
                derived = _priority_for(config, fields.get("impact"), fields.get("urgency"))
                fields["priority"] = derived if derived is not None else fields.get("priority")
        if entry.get("to"):
            state = entry["to"]
            resolved_ever = resolved_ever or category_of(config, kind, state) == "resolved"
        level = level_now()
        if level != current:
            if current != OPERATIONAL and at > since:
                spans.append(Outage(str(ticket.get("id")), str(ticket["service"]), current, since, at))
            current, since = level, at
    if category_of(config, kind, state) == "closed" and not resolved_ever:
        return []
    if current != OPERATIONAL:
        spans.append(Outage(str(ticket.get("id")), str(ticket["service"]), current, since, None))
    return spans


# -- a service's status over time -------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A span of one service's merged status (``end`` None: up to now) and the incidents behind it."""

    level: str
    start: datetime
    end: datetime | None
    incidents: tuple[str, ...] = ()


def merge_spans(outages: Iterable[Outage], now: datetime) -> list[Span]:
    """One service's outages merged into non-overlapping spans at the worst level at each moment.

    Adjacent spans at the same level join; the last one ends None when it reaches ``now``.
    """
    now = parse_timestamp(now)
    points: set[datetime] = set()
    items = list(outages)
    for o in items:
        points.add(o.start)
        points.add(o.end or now)
    cuts = sorted(points)
    spans: list[Span] = []
    for a, b in itertools.pairwise(cuts):
        active = [o for o in items if o.start <= a and (o.end or now) >= b]
        if not active:
            continue
        level = max((o.level for o in active), key=RANK.__getitem__)
        ids = tuple(sorted({o.incident for o in active if o.level == level}))
        if spans and spans[-1].end == a and spans[-1].level == level:
            prev = spans.pop()
            spans.append(Span(level, prev.start, b, tuple(sorted({*prev.incidents, *ids}))))
        else:
            spans.append(Span(level, a, b, ids))
    if spans and spans[-1].end == now and any(o.end is None for o in items):
        last = spans.pop()
        spans.append(Span(last.level, last.start, None, last.incidents))
    return spans


def status_changes(spans: Sequence[Span]) -> list[tuple[datetime, str, tuple[str, ...]]]:
    """The moments a service's status changed, as (at, new level, incidents behind it), oldest first."""
    changes: list[tuple[datetime, str, tuple[str, ...]]] = []
    level = OPERATIONAL
    for span in spans:
        if span.level != level:
            changes.append((span.start, span.level, span.incidents))
        level = span.level
        if span.end is not None:
            changes.append((span.end, OPERATIONAL, span.incidents))
            level = OPERATIONAL
    # Two changes at one instant (a span ending where the next begins): the later one is the state.
    out: list[tuple[datetime, str, tuple[str, ...]]] = []
    for change in changes:
        if out and out[-1][0] == change[0]:
            out.pop()
        if not out or out[-1][1] != change[1]:
            out.append(change)
    return out


# -- availability ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    """Agreed, unavailable and degraded business seconds over a period, and the share available."""

    since: datetime
    until: datetime
    agreed: float
    unavailable: float
    degraded: float
    down: float = 0.0
    incidents: tuple[str, ...] = field(default_factory=tuple)

    @property
    def percent(self) -> float | None:
        """Availability in percent (None when no time was agreed in the period)."""
        if self.agreed <= 0:
            return None
        return 100.0 * (self.agreed - self.unavailable) / self.agreed


def availability(spans: Iterable[Span], calendar: Calendar, since: datetime, until: datetime,
                 unavailable: Iterable[str] = DEFAULT_UNAVAILABLE) -> Availability:
    """Availability of one service between ``since`` and ``until`` from its merged spans, in ``calendar`` time."""
    lost = set(unavailable)
    totals = {DOWN: 0.0, DEGRADED: 0.0}
    incidents: set[str] = set()
    for span in spans:
        a, b = max(span.start, since), min(span.end or until, until)
        if b <= a:
            continue
        seconds = calendar.business_seconds(a, b)
        totals[span.level] = totals.get(span.level, 0.0) + seconds
        incidents.update(span.incidents)
    agreed = calendar.business_seconds(since, until)
    return Availability(since, until, agreed, sum(v for k, v in totals.items() if k in lost), totals[DEGRADED],
                        totals[DOWN], tuple(sorted(incidents)))


@dataclass(frozen=True)
class Day:
    """One day of a service's availability strip (local date of its calendar)."""

    day: date
    figures: Availability

    @property
    def level(self) -> str:
        """The worst level the service reached that day in agreed time (``closed`` when none was agreed)."""
        if self.figures.agreed <= 0:
            return "closed"
        if self.figures.down > 0:
            return DOWN
        return DEGRADED if self.figures.degraded > 0 else OPERATIONAL


def period_of_days(calendar: Calendar, now: datetime, days: int) -> tuple[datetime, list[date]]:
    """The last ``days`` local days of ``calendar`` up to today (today included) and when the first began."""
    now = parse_timestamp(now)
    today = now.astimezone(calendar.tz).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    return _midnight(calendar, dates[0]), dates


def _midnight(calendar: Calendar, day: date) -> datetime:
    return parse_timestamp(datetime.combine(day, time(0), tzinfo=calendar.tz))


def daily(spans: Sequence[Span], calendar: Calendar, now: datetime, days: int = DEFAULT_DAYS,
          unavailable: Iterable[str] = DEFAULT_UNAVAILABLE) -> list[Day]:
    """The availability of each of the last ``days`` local days (today up to ``now``), oldest first."""
    now = parse_timestamp(now)
    lost = tuple(unavailable)
    out = []
    for quiet in _days(calendar, now, days):
        start, end = quiet.figures.since, quiet.figures.until
        if not any(s.start < end and (s.end is None or s.end > start) for s in spans):
            out.append(quiet)  # nothing happened that day (most days of most services): the shared figures
        else:
            out.append(Day(quiet.day, availability(spans, calendar, start, end, lost)))
    return out


@lru_cache(maxsize=256)
def _days(calendar: Calendar, now: datetime, days: int) -> tuple[Day, ...]:
    """Each of the last ``days`` local days (today up to ``now``) as a day on which nothing happened.

    Shared by every service in the same hours: a catalog of a thousand services has a handful of calendars.
    """
    _, dates = period_of_days(calendar, now, days)
    out = []
    for d in dates:
        start = _midnight(calendar, d)
        end = min(_midnight(calendar, d + timedelta(days=1)), now)
        out.append(Day(d, Availability(start, end, calendar.business_seconds(start, end), 0.0, 0.0)))
    return tuple(out)


def availability_target(config: Mapping[str, Any], service: Mapping[str, Any]) -> tuple[float | None, Calendar]:
    """The service's availability target in percent (None when its SLA sets none) and the hours it is counted in.

    From the service's own ``sla_targets`` or its SLA profile, as :func:`itsm_cli.core.sla.sla_targets`
    chooses: ``availability: {target: 99.5, hours: support_hours}``; ``hours`` may instead name a
    calendar (``24x7``). Raises ValueError for an unknown profile or calendar.
    """
    sla = config.get("sla") or {}
    if service.get("sla_targets") is not None:
        table = service["sla_targets"] or {}
    else:
        profile = service.get("sla") or sla.get("default_profile")
        profiles = sla.get("profiles") or {}
        if profile and profile not in profiles:
            raise ValueError(f"unknown SLA profile {profile!r}")
        table = profiles.get(profile) or {} if profile else {}
    entry = table.get("availability") or {}
    hours = entry.get("hours") or "support_hours"
    if hours == "support_hours":
        calendar = service_calendar(config, service)
    else:
        calendars = config.get("calendars") or {}
        if hours not in calendars:
            raise ValueError(f"availability hours: no calendar {hours!r}")
        calendar = calendar_from_config(hours, calendars[hours])
    target = entry.get("target")
    return (float(target) if isinstance(target, int | float) and not isinstance(target, bool) else None), calendar


# -- scheduled maintenance ---------------------------------------------------------------------


def maintenance_windows(tickets: Iterable[Mapping[str, Any]], config: Mapping[str, Any], rules: StatusRules,
                        now: datetime) -> list[Mapping[str, Any]]:
    """Changes in a maintenance state whose planned window has not ended, soonest first.

    The states are ``status.maintenance.states`` or, by default, those of
    approved, scheduled and implementing the change workflow has.
    """
    now = parse_timestamp(now)
    out = []
    for t in tickets:
        if t.get("type") != "change" or not t.get("planned_start") or not t.get("planned_end"):
            continue
        states = rules.maintenance_states
        if states is None:
            workflow_states = _change_states(config)
            states = tuple(s for s in DEFAULT_MAINTENANCE_STATES if s in workflow_states)
        if t.get("status") not in states:
            continue
        if parse_timestamp(t["planned_end"]) > now:
            out.append(t)
    out.sort(key=lambda t: (parse_timestamp(t["planned_start"]), str(t.get("id"))))
    return out


def _change_states(config: Mapping[str, Any]) -> set[str]:
    entry = (config.get("types") or {}).get("change") or {}
    workflow = (config.get("workflows") or {}).get(entry.get("workflow") or "change") or {}
    return set(workflow.get("states") or {})


# -- the report ----------------------------------------------------------------------------------


def availability_report(tickets: Iterable[Mapping[str, Any]], config: Mapping[str, Any],
                        services: Mapping[str, Mapping[str, Any]], service_ids: Iterable[str], now: datetime,
                        since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
    """One row per service: availability between ``since`` and ``until`` against its target.

    ``until`` defaults to ``now`` and ``since`` to the start of the status window that ends
    there (``status.days`` local days of the service's hours, the last one included); a period reaching past ``now``
    stops at ``now``, since no one knows yet how the rest will go. Internal and security incidents
    are left out, as on the published status page, so the figures are the same. Raises ValueError on a
    bad rule, calendar, profile or timestamp.
    """
    rules = StatusRules.from_config(config)
    now = parse_timestamp(now)
    wanted = list(service_ids)
    outages: dict[str, list[Outage]] = {sid: [] for sid in wanted}
    for t in tickets:
        if t.get("service") in outages and not (t.get("internal") is True or "internal" in (t.get("tags") or [])
                                                 or is_security(t, config)):
            outages[t["service"]].extend(incident_outages(t, config, rules, now))
    rows = []
    for sid in wanted:
        target, calendar = availability_target(config, services[sid])
        end = min(until, now) if until is not None else now
        start = since if since is not None else period_of_days(calendar, end, rules.days)[0]
        figures = availability(merge_spans(outages[sid], now), calendar, start, max(start, end), rules.unavailable)
        pct = figures.percent
        rows.append({
            "service": sid, "name": services[sid].get("name"), "since": _iso(start), "until": _iso(max(start, end)),
            "hours": calendar.name, "target_pct": target,
            "availability_pct": None if pct is None else round(pct, 4),
            "met": None if target is None or pct is None else pct >= target,
            "agreed_h": round(figures.agreed / 3600, 2), "down_h": round(figures.down / 3600, 2),
            "degraded_h": round(figures.degraded / 3600, 2), "unavailable_h": round(figures.unavailable / 3600, 2),
            "incidents": list(figures.incidents),
        })
    return rows


def _iso(dt: datetime) -> str:
    return parse_timestamp(dt).strftime("%Y-%m-%dT%H:%M:%SZ")
