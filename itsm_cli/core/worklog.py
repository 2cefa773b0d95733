"""Reports on the work done and how it was received: time spent (``--time``) and ratings (``itsm rate``).

Pure functions of ticket dicts, like :mod:`itsm_cli.core.report`: rows of flat
dicts with a ``key`` and stable columns, sorted by key, for the CLI to print as
a table, JSON or CSV. The period is ``[since, until)`` on each history entry's
time (ISO ``...Z`` strings compare in time order); either end None = unbounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TIME_BY = ("person", "ticket", "service", "group", "type")
TIME_COLUMNS = ("key", "entries", "tickets", "minutes", "hours")
CSAT_BY = ("service", "person", "group", "type", "month")
CSAT_COLUMNS = ("key", "ratings", "average", "satisfied_pct", "score_1", "score_2", "score_3", "score_4", "score_5")
NONE_KEY = "(none)"

Row = dict[str, Any]


def _in_period(at: Any, since: str | None, until: str | None) -> bool:
    return isinstance(at, str) and (since is None or at >= since) and (until is None or at < until)


def _key(ticket: Mapping[str, Any], entry: Mapping[str, Any], group_by: str) -> str:
    if group_by == "person":
        value = entry.get("by")
    elif group_by == "ticket":
        value = ticket.get("id")
    elif group_by == "month":
        value = str(entry.get("at", ""))[:7]
    elif group_by == "person_assignee":
        value = ticket.get("assignee")
    else:
        value = ticket.get(group_by)
    return str(value) if value not in (None, "") else NONE_KEY


def _sorted(rows: Mapping[str, Row]) -> list[Row]:
    return [rows[k] for k in sorted(rows, key=lambda k: (k == NONE_KEY, k))]


def _entries(tickets: Iterable[Mapping[str, Any]], action: str | None, since: str | None, until: str | None):
    for ticket in tickets:
        for entry in ticket.get("history") or []:
            if isinstance(entry, dict) and (action is None or entry.get("action") == action) \
                    and _in_period(entry.get("at"), since, until):
                yield ticket, entry


def time_report(tickets: Iterable[Mapping[str, Any]], *, since: str | None = None, until: str | None = None,
                group_by: str = "person") -> list[Row]:
    """Time spent (each history entry's ``time_spent``, in minutes) per person, ticket, service, group or type."""
    rows: dict[str, Row] = {}
    seen: dict[str, set[str]] = {}
    for ticket, entry in _entries(tickets, None, since, until):
        minutes = entry.get("time_spent")
        if type(minutes) is not int or minutes <= 0:
            continue
        key = _key(ticket, entry, group_by)
        row = rows.setdefault(key, {"key": key, "entries": 0, "tickets": 0, "minutes": 0, "hours": 0.0})
        row["entries"] += 1
        row["minutes"] += minutes
        row["hours"] = round(row["minutes"] / 60, 2)
        ids = seen.setdefault(key, set())
        ids.add(str(ticket.get("id")))
        row["tickets"] = len(ids)
    return _sorted(rows)


def csat_report(tickets: Iterable[Mapping[str, Any]], *, since: str | None = None, until: str | None = None,
                group_by: str = "service") -> list[Row]:
    """Satisfaction ratings (``rate`` entries, 1-5) per service, agent (the assignee rated), group, type or month.

    ``satisfied_pct`` is the share of 4s and 5s, the usual CSAT figure.
    """
    rows: dict[str, Row] = {}
    for ticket, entry in _entries(tickets, "rate", since, until):
        score = entry.get("score")
        if type(score) is not int or not 1 <= score <= 5:
            continue
        key = _key(ticket, entry, "person_assignee" if group_by == "person" else group_by)
        row = rows.setdefault(key, {"key": key, "ratings": 0, "average": 0.0, "satisfied_pct": 0.0,
                                    **{f"score_{n}": 0 for n in range(1, 6)}})
        row["ratings"] += 1
        row[f"score_{score}"] += 1
    for row in rows.values():
        total = sum(n * row[f"score_{n}"] for n in range(1, 6))
        row["average"] = round(total / row["ratings"], 2)
        row["satisfied_pct"] = round(100.0 * (row["score_4"] + row["score_5"]) / row["ratings"], 1)
    return _sorted(rows)
