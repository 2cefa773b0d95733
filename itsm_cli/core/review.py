"""Service reviews: one service's period in figures and lists, for its customers (pure: no git, no files).

:func:`service_review` gathers what a review meeting walks through, reusing
the figures the desk reports elsewhere, so the numbers agree:

- availability against target: :func:`itsm_cli.core.status.availability_report`
  (the status page's computation);
- SLA attainment per ticket type: :func:`itsm_cli.core.report.sla_report`;
- incidents opened or resolved in the period (major ones marked) and the
  mean time to resolve: :func:`itsm_cli.core.report.mttr_report`;
- changes made: moved into a resolved state (their review) in the period, or
  closed in it after their implementation;
- problems open at the end of the period;
- requests opened in the period, by offering;
- satisfaction: :func:`itsm_cli.core.worklog.csat_report`;
- improvements planned: open tickets of type ``improvement`` for the service;
- the customers (``customers:`` in itsm.yaml) that use the service.

Security incidents are never reportable (:func:`is_security`): they are left
out of every figure and list, availability included, as they are left off the
status page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from itsm_cli.core.customers import customers_of
from itsm_cli.core.releases import describe
from itsm_cli.core.report import mttr_report, sla_report
from itsm_cli.core.security import is_security
from itsm_cli.core.sla import OPEN_CATEGORIES, category_of, parse_timestamp, state_timeline
from itsm_cli.core.status import availability_report
from itsm_cli.core.worklog import csat_report

IMPROVEMENT = "improvement"
Ticket = Mapping[str, Any]


def last_full_month(now: datetime, config: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The calendar month before the one ``now`` is in, in the desk's time zone: [first day, first day of next)."""
    tz_name = (config.get("desk") or {}).get("timezone")
    tz = ZoneInfo(tz_name) if tz_name else UTC
    local = parse_timestamp(now).astimezone(tz)
    end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end.replace(year=end.year - 1, month=12) if end.month == 1 else end.replace(month=end.month - 1))
    return start.astimezone(UTC), end.astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    return parse_timestamp(dt).strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


class _Period:
    def __init__(self, since: datetime, until: datetime):
        self.since, self.until = since, until

    def __contains__(self, dt: object) -> bool:
        return isinstance(dt, datetime) and self.since <= dt < self.until


def _moves(ticket: Ticket, config: Mapping[str, Any], now: datetime) -> list[tuple[datetime, str, str]]:
    """(at, state, category) of each state the ticket entered up to ``now``."""
    return [(at, state, category_of(config, ticket.get("type"), state)) for at, state in state_timeline(ticket, config, now)]


def _last(moves: Sequence[tuple[datetime, str, str]], categories: Iterable[str]) -> datetime | None:
    wanted = set(categories)
    found = [at for at, _, cat in moves if cat in wanted]
    return found[-1] if found else None


def _implementation_states(config: Mapping[str, Any], type_name: str | None) -> set[str]:
    workflow_name = ((config.get("types") or {}).get(type_name) or {}).get("workflow") or type_name
    states = ((config.get("workflows") or {}).get(workflow_name) or {}).get("states") or {}
    return {name for name, s in states.items() if isinstance(s, Mapping) and s.get("implementation")}


def made_at(change: Ticket, config: Mapping[str, Any], now: datetime) -> datetime | None:
    """When a change was made: its last move into a resolved state (its review), else into a closed
    state after it passed an implementation state; None for a change never carried out (rejected, open)."""
    moves = _moves(change, config, now)
    resolved = _last(moves, ("resolved",))
    if resolved is not None:
        return resolved
    implemented = _implementation_states(config, change.get("type"))
    if any(state in implemented for _, state, _ in moves):
        return _last(moves, ("closed",))
    return None


def service_review(service_id: str, services: Mapping[str, Mapping[str, Any]], tickets: Iterable[Ticket],
                   config: Mapping[str, Any], *, now: datetime, since: datetime, until: datetime) -> dict[str, Any]:
    """The review of one service over ``[since, until)`` as JSON-ready data (see the module docstring).

    Raises ValueError on a bad calendar, profile or timestamp (as the reports it reuses do).
    """
    now, since, until = parse_timestamp(now), parse_timestamp(since), parse_timestamp(until)
    period = _Period(since, until)
    service = services[service_id]
    mine = [t for t in tickets if t.get("service") == service_id and not is_security(t, config)]
    by_type: dict[str, list[Ticket]] = {}
    for t in mine:
        by_type.setdefault(str(t.get("type")), []).append(t)
    reportable = [t for t in tickets if not is_security(t, config)]

    availability = availability_report(reportable, config, services, [service_id], now, since, until)[0]
    sla = sla_report(mine, config, services, now=now, since=since, until=until, group_by="type")
    mttr = {r["key"]: r for r in mttr_report(mine, config, services, now=now, since=since, until=until, group_by="type")}

    incidents = []
    for t in by_type.get("incident", []):
        moves = _moves(t, config, now)
        if not moves:
            continue
        opened, resolved = moves[0][0], _last(moves, ("resolved",))
        withdrawn = resolved is None and moves[-1][2] == "closed"
        if opened in period or resolved in period:
            incidents.append({
                "id": t.get("id"), "title": t.get("title"), "priority": t.get("priority"),
                "major": t.get("major") is True, "status": t.get("status"), "opened": _iso(opened),
                "resolved": _iso(resolved), "withdrawn": withdrawn,
            })
    incidents.sort(key=lambda i: (i["opened"], str(i["id"])))
    inc_mttr = mttr.get("incident") or {}

    changes = []
    for t in by_type.get("change", []):
        when = made_at(t, config, now)
        if when in period:
            changes.append({
                "id": t.get("id"), "title": t.get("title"), "change_class": t.get("change_class"),
                "status": t.get("status"), "made_at": _iso(when),
                "implemented_by": [describe(r) for r in t.get("implemented_by") or [] if isinstance(r, Mapping)],
            })
    changes.sort(key=lambda c: (c["made_at"], str(c["id"])))

    problems = []
    for t in by_type.get("problem", []):
        moves = _moves(t, config, until if until < now else now)
        if moves and moves[-1][2] in OPEN_CATEGORIES:
            problems.append({"id": t.get("id"), "title": t.get("title"), "status": moves[-1][1],
                             "priority": t.get("priority"), "opened": _iso(moves[0][0])})
    problems.sort(key=lambda p: (p["opened"], str(p["id"])))

    offerings = {o.get("id"): o.get("name") for o in service.get("offerings") or [] if isinstance(o, Mapping)}
    requests: dict[str, dict[str, Any]] = {}
    for t in by_type.get("request", []):
        moves = _moves(t, config, now)
        if not moves:
            continue
        opened, fulfilled = moves[0][0], _last(moves, ("resolved",))
        if opened not in period and fulfilled not in period:
            continue
        key = str(t.get("offering") or "(none)")
        row = requests.setdefault(key, {"offering": key, "name": offerings.get(key), "opened": 0, "fulfilled": 0})
        row["opened"] += opened in period
        row["fulfilled"] += fulfilled in period
    by_offering = sorted(requests.values(), key=lambda r: (-r["opened"], r["offering"]))

    csat = csat_report(mine, since=_iso(since), until=_iso(until), group_by="service")
    satisfaction = {k: csat[0][k] for k in ("ratings", "average", "satisfied_pct")} if csat else None

    register = IMPROVEMENT in (config.get("types") or {})
    improvements = []
    for t in by_type.get(IMPROVEMENT, []):
        if category_of(config, IMPROVEMENT, t.get("status")) in ("resolved", "closed"):
            continue
        improvements.append({"id": t.get("id"), "title": t.get("title"), "status": t.get("status"),
                             "target_date": t.get("target_date") or t.get("due"), "owner": t.get("owner") or t.get("assignee")})
    improvements.sort(key=lambda i: (i["target_date"] is None, str(i["target_date"] or ""), str(i["id"])))

    return {
        "service": {"id": service_id, "name": service.get("name"), "owner": service.get("owner"),
                    "status": service.get("status"), "category": service.get("category")},
        "period": {"since": _iso(since), "until": _iso(until)},
        "customers": customers_of(config, service_id),
        "availability": {k: availability[k] for k in ("target_pct", "availability_pct", "met", "agreed_h", "down_h",
                                                      "degraded_h", "hours")},
        "sla": sla,
        "incidents": {
            "opened": sum(1 for i in incidents if parse_timestamp(i["opened"]) in period),
            "resolved": sum(1 for i in incidents if i["resolved"] and parse_timestamp(i["resolved"]) in period),
            "major": sum(1 for i in incidents if i["major"]),
            "mttr_mean_h": inc_mttr.get("mttr_mean_h"),
            "items": incidents,
        },
        "changes": {"made": len(changes), "items": changes},
        "problems": {"open": len(problems), "items": problems},
        "requests": {"opened": sum(r["opened"] for r in by_offering),
                     "fulfilled": sum(r["fulfilled"] for r in by_offering), "by_offering": by_offering},
        "satisfaction": satisfaction,
        "improvements": {"register": register, "items": improvements},
    }
