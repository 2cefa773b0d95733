"""``itsm report trends``: month-over-month volume, MTTR and SLA attainment per service (continual improvement).

Registered in ``FURTHER_REPORTS`` (:mod:`itsm_cli.cli.service_level_commands`);
the figures come from :mod:`itsm_cli.core.trends`, this module loads the
tickets and prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from itsm_cli.cli import output
from itsm_cli.errors import BadArgument, InvalidRecord

if TYPE_CHECKING:
    from datetime import datetime

    from itsm_cli.cli import Ctx

# The tickets a trend counts: what users bring to the desk. Problems, changes and improvements are the desk's
# own work and would blur it; a desk without these types gets every ticket type.
TREND_TYPES = ("incident", "request")
HEADERS = ("SERVICE", "MONTH", "OPENED", "CHANGE", "RESOLVED", "CHANGE", "MTTR H", "CHANGE", "SLA %", "CHANGE (PTS)")
SHOWN = ("service", "month", "opened", "opened_change", "resolved", "resolved_change", "mttr_h", "mttr_h_change",
         "sla_pct", "sla_pct_change")


def _signed(value: float | int | None, pct: float | None = None) -> str:
    """A change for people: ``+3 (+50%)``, ``-1.25``, ``0``, blank when there is none."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    text = f"{value:+g}"
    return f"{text} ({pct:+g}%)" if pct is not None else text


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: ("-" if row.get(k) is None else row[k]) for k in ("service", "month", "opened", "resolved", "mttr_h",
                                                              "sla_pct")}
    for name in ("opened", "resolved", "mttr_h"):
        out[f"{name}_change"] = _signed(row[f"{name}_delta"], row[f"{name}_delta_pct"])
    out["sla_pct_change"] = _signed(row["sla_pct_delta"])
    return out


def trends(obj: Ctx, *, kind: str, since: datetime | None, until: datetime | None, service: str | None,
           group: str | None, group_by: str | None, fmt: str, out: str | None) -> None:
    """Print ``itsm report trends``: per service and month (default: the last 6 full months), then all services."""
    from itsm_cli.app import now_utc
    from itsm_cli.cli.service_level_commands import check_targets, refuse_document_options
    from itsm_cli.core import trends as core
    from itsm_cli.core.sla import parse_timestamp

    if group_by is not None:
        raise BadArgument("report trends is one row per service and month: --by does not apply")
    refuse_document_options(kind, fmt, out)
    desk = obj.desk
    config = desk.config_data
    now = parse_timestamp(now_utc())
    tz = core.desk_timezone(config)
    this_month = core.default_period(now, tz)[1]
    if since is None:
        since = core.default_period(until if until is not None else now, tz)[0]
    if until is None:
        if since >= now:
            raise BadArgument("--since must be in the past")
        # Whole months up to the start of this one; from --since within this month, the month so far.
        until = this_month if since < this_month else now
    if since >= until:
        raise BadArgument("--since must be before --until")
    types = [t for t in TREND_TYPES if t in desk.config.types] or None
    tickets = [r.data for r in desk.records(("tickets",))]
    if group:
        tickets = [t for t in tickets if t.get("group") == group]
    services = desk.services()
    for t in tickets:
        if types is None or t.get("type") in types:
            sid = t.get("service")
            check_targets(config, services.get(sid) if isinstance(sid, str) else None, t.get("priority"))
    try:
        rows = core.trends_report(tickets, config, services, now=now, since=since, until=until, types=types,
                                  service=service)
    except ValueError as e:
        raise InvalidRecord(f"cannot compute the report: {e} (run 'itsm validate')") from None
    if fmt == "json":
        click.echo(output.to_json(rows))
    elif fmt == "csv":
        click.echo(output.csv_text(rows, core.COLUMNS), nl=False)
    elif not rows:
        click.echo("nothing to show", err=True)
    else:
        counted = " and ".join(f"{t}s" for t in types) if types else "tickets of every type"
        click.echo(output.cell(
            f"Opened: {counted} created in the month. Resolved and MTTR: resolved in the month, mean business "
            "hours to resolve. SLA %: response and resolution targets due in the month that were met. "
            "CHANGE: from the month before."))
        click.echo(output.table([_shown(r) for r in rows], SHOWN, HEADERS))

