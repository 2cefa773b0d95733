"""Service levels: ``itsm sla ID`` (one ticket's clocks) and ``itsm report`` (figures over many tickets).

The clocks and figures come from :mod:`itsm_cli.core.sla` and
:mod:`itsm_cli.core.report`; this module loads the records, picks the clock
and prints. A bad calendar, duration or profile in the configuration is an
InvalidRecord naming ``itsm.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from itsm_cli.cli import output
from itsm_cli.cli.output import format_option
from itsm_cli.errors import BadArgument, InvalidRecord, Refused

if TYPE_CHECKING:
    from datetime import datetime

    from itsm_cli.cli import Ctx
    from itsm_cli.core.sla import TicketClocks
    from itsm_cli.store.desk import Desk, Record

REPORT_COLUMNS = {
    "sla": ("key", "response_met", "response_breached", "response_pending", "response_pct",
            "resolution_met", "resolution_breached", "resolution_pending", "resolution_pct"),
    "mttr": ("key", "acknowledged", "mtta_mean_h", "mtta_median_h", "resolved", "mttr_mean_h", "mttr_median_h"),
    "volume": ("key", "opened", "resolved", "closed"),
    "backlog": ("key", "open", "age_lt_1d", "age_1_3d", "age_3_7d", "age_7_30d", "age_gt_30d"),
    "time": ("key", "entries", "tickets", "minutes", "hours"),
    "csat": ("key", "ratings", "average", "satisfied_pct", "score_1", "score_2", "score_3", "score_4", "score_5"),
}
REPORT_HEADERS = {
    "sla": ("RESP MET", "RESP BREACHED", "RESP PENDING", "RESP %", "RESOL MET", "RESOL BREACHED",
            "RESOL PENDING", "RESOL %"),
    "mttr": ("ACKED", "MTTA MEAN H", "MTTA MEDIAN H", "RESOLVED", "MTTR MEAN H", "MTTR MEDIAN H"),
    "volume": ("OPENED", "RESOLVED", "CLOSED"),
    "backlog": ("OPEN", "< 1D", "1-3D", "3-7D", "7-30D", ">= 30D"),
    "time": ("ENTRIES", "TICKETS", "MINUTES", "HOURS"),
    "csat": ("RATINGS", "AVERAGE", "SATISFIED %", "1", "2", "3", "4", "5"),
}


# Reports of their own module, imported only when asked for: kind -> "module:function".
# The function is called as fn(obj, kind=..., since=..., until=..., service=..., group=...,
# group_by=..., fmt=..., out=...) with --service and --group already checked, and prints
# its own output. One line here per report; the report's module owns its columns.
FURTHER_REPORTS: dict[str, str] = {
    "releases": "itsm_cli.cli.release_commands:releases_report",
    "review": "itsm_cli.cli.review_commands:review_report",
    "trends": "itsm_cli.cli.improvement_reports:trends",
    "suppliers": "itsm_cli.cli.supplier_commands:report_suppliers",
}


def refuse_document_options(kind: str, fmt: str, out: str | None) -> None:
    """A table report takes neither --out nor --format markdown (those go with reports that write a document)."""
    if out is not None:
        raise BadArgument(f"report {kind} prints to standard output: --out goes with reports that write a document")
    if fmt == "markdown":
        raise BadArgument(f"report {kind} is a table: --format table, json or csv")


def format_seconds(seconds: float | None) -> str:
    """Business seconds for people: ``1h 30m``, ``45m 10s``, ``-2h 05m`` when overdue, ``-`` for none."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h {minutes:02d}m" + (f" {secs:02d}s" if secs else "")
    elif minutes:
        text = f"{minutes}m" + (f" {secs:02d}s" if secs else "")
    else:
        text = f"{secs}s"
    return sign + text


def check_targets(config: Mapping[str, Any], service: Mapping[str, Any] | None, priority: str | None) -> None:
    """Resolve a ticket's targets and calendar once, turning a config mistake into InvalidRecord on itsm.yaml."""
    from itsm_cli.core.sla import service_calendar, sla_targets

    try:
        sla_targets(config, service, priority)
        service_calendar(config, service)
    except ValueError as e:
        line, col = _config_position(getattr(e, "where", ()))
        raise InvalidRecord(f"SLA settings: {e}", "itsm.yaml", line, col) from None


def _config_position(where: tuple) -> tuple[int | None, int | None]:
    """Line and column of ``where`` (a JSON path) in the running desk's itsm.yaml; (None, None) when unknown."""
    from itsm_cli.errors import ItsmError
    from itsm_cli.store import yaml_io

    ctx = click.get_current_context(silent=True)
    if not where or ctx is None or ctx.find_root().obj is None:
        return None, None
    try:
        desk = ctx.find_root().obj.desk
        positions: dict = {}
        yaml_io.load_mapping(desk.read_bytes("itsm.yaml"), "itsm.yaml", positions)
    except ItsmError:
        return None, None
    path = tuple(where)
    while path and path not in positions:
        path = path[:-1]
    return positions.get(path, (None, None))


def clocks_for(ticket: Mapping[str, Any], path: str, config: Mapping[str, Any], service: Mapping[str, Any] | None,
               now: datetime) -> TicketClocks:
    """A ticket's clocks at ``now``; config errors name itsm.yaml, ticket errors (bad times) the ticket."""
    from itsm_cli.core.sla import compute_clocks

    check_targets(config, service, ticket.get("priority"))
    try:
        return compute_clocks(ticket, config, service, now)
    except ValueError as e:
        raise InvalidRecord(str(e), path) from None


@click.command("sla")
@click.argument("record_id", metavar="ID")
@click.option("--at", "rev", metavar="REV",
              help="As the ticket stood at commit REV, with that commit's date as the clock: what it said then.")
@format_option("table", "json")
@click.pass_obj
def sla_cmd(obj: Ctx, record_id: str, rev: str | None, fmt: str) -> None:
    """A ticket's response and resolution clocks: target, elapsed, paused, remaining, breached, when it breaches.

    Times are business time in the calendar of the ticket's service
    (support_hours); waiting states pause the clocks. JSON is the clocks as data.
    """
    from itsm_cli.app import now_utc
    from itsm_cli.core.sla import parse_timestamp

    desk = obj.desk
    if rev is None:
        rec = desk.get(record_id)
        config = desk.config_data
        service = desk.service(rec.data.get("service"))
        now = parse_timestamp(now_utc())
    else:
        rec, config, service, now = _at_revision(desk, record_id, rev)
    if rec.kind != "ticket":
        raise Refused(f"{record_id} is not a ticket; service levels apply to tickets")
    clocks = clocks_for(rec.data, rec.path, config, service, now)
    if fmt == "json":
        click.echo(output.to_json(clocks.to_dict()))
        return
    head = output.cell(f"{rec.id}  {rec.data.get('title', '')}")
    lines = [
        output.style(head, bold=True),
        output.cell(f"priority {clocks.priority or '(none)'}, calendar {clocks.calendar}, "
                    f"status {rec.data.get('status')}, as of {clocks.to_dict()['now']}"
                    + (f" (commit {rev})" if rev else "")),
        "",
    ]
    from itsm_cli.core.sla import target_entry

    spelled = target_entry(config, service, rec.data.get("priority")) or {}
    rows = []
    for clock in (clocks.response, clocks.resolution):
        d = clock.to_dict()
        target = spelled.get(clock.name) if clock.target is not None else None
        rows.append({
            "clock": clock.name, "state": clock.state, "target": target or format_seconds(clock.target),
            "elapsed": format_seconds(clock.elapsed), "paused": format_seconds(clock.paused),
            "remaining": format_seconds(clock.remaining), "breached": clock.breached,
            "due": d["breach_at"] or (d["stopped_at"] and f"stopped {d['stopped_at']}") or "-",
        })
    cols = ("clock", "state", "target", "elapsed", "paused", "remaining", "breached", "due")
    headers = ("CLOCK", "STATE", "TARGET", "ELAPSED", "PAUSED", "REMAINING", "BREACHED", "BREACHES AT")
    lines.append(output.table(rows, cols, headers))
    click.echo("\n".join(lines))


def _at_revision(
    desk: Desk, record_id: str, rev: str
) -> tuple[Record, dict[str, Any], dict[str, Any] | None, datetime]:
    """The ticket, config and service as they were at commit ``rev``, and that commit's date."""
    from itsm_cli.core.sla import parse_timestamp
    from itsm_cli.store import yaml_io
    from itsm_cli.store.desk import CONFIG_FILE, kind_of_path, parse_record
    from itsm_cli.store.gitstore import Git

    if rev.startswith("-"):
        raise BadArgument(f"--at: '{rev}' is not a revision")
    git = Git(desk.root)
    sha = git.run("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False).strip()
    if not sha:
        raise BadArgument(f"--at: unknown revision '{rev}'")
    date = git.run("show", "-s", "--format=%cI", sha).strip()
    rel = desk.path_for(record_id).relative_to(desk.root.resolve()).as_posix()
    raw = git.show(sha, f"./{rel}")  # ./ : relative to the desk, which may be a subfolder
    if raw is None:
        raise Refused(f"no record {record_id} at {rev} (looked for {rel})")
    rec = parse_record(raw, rel, kind_of_path(rel) or desk.type_for(record_id).kind)
    config_raw = git.show(sha, f"./{CONFIG_FILE}")
    config = yaml_io.load_mapping(config_raw, CONFIG_FILE) if config_raw is not None else desk.config_data
    service = None
    sid = rec.data.get("service")
    if isinstance(sid, str) and sid:
        from itsm_cli.core import ids

        if ids.is_slug(sid):
            service_raw = git.show(sha, f"./catalog/{sid}.yaml")
            if service_raw is not None:
                service = yaml_io.load_mapping(service_raw, f"catalog/{sid}.yaml")
    return rec, config, service, parse_timestamp(date)


AVAILABILITY_COLUMNS = ("service", "target_pct", "availability_pct", "met", "agreed_h", "down_h", "degraded_h",
                        "incidents", "hours", "since", "until")
AVAILABILITY_HEADERS = ("SERVICE", "TARGET %", "AVAILABLE %", "MET", "AGREED H", "DOWN H", "DEGRADED H", "INCIDENTS",
                        "HOURS", "SINCE", "UNTIL")


@click.command("report")
@click.argument("kind", type=click.Choice([*REPORT_COLUMNS, "availability", *FURTHER_REPORTS]))
@click.option("--since", metavar="TIME", help="Start of the period (ISO date or time; inclusive).")
@click.option("--until", metavar="TIME", help="End of the period (exclusive); for backlog, the moment to look at.")
@click.option("--service", help="Only tickets of this service.")
@click.option("--group", help="Only tickets of this group.")
@click.option("--by", "group_by", type=click.Choice(["service", "priority", "group", "type", "month", "person", "ticket"]),
              default=None, help="One row per value of this (default: service; for time: person). "
                                 "person and ticket go with time and csat.")
@click.option("--out", "out", metavar="FILE", default=None,
              help="Write the report to FILE instead of standard output (reports that write a document).")
@format_option("table", "json", "csv", "markdown")
@click.pass_obj
def report_cmd(obj: Ctx, kind: str, since: str | None, until: str | None, service: str | None, group: str | None,
               group_by: str, out: str | None, fmt: str) -> None:
    """Service-level figures: sla (attainment), mttr (mean/median times), volume, backlog (ageing),
    time (time spent, from --time), csat (requesters' ratings, from itsm rate), availability.

    sla counts clocks whose target fell due in the period, met or breached;
    mttr averages business hours to acknowledge and to resolve; volume counts
    tickets opened, resolved and closed; backlog ages the tickets open at --until
    (default: now); time sums the minutes entries recorded with --time in the
    period, by person, ticket, service, group or type; csat counts ratings
    (1-5) given in the period, by service, person (the assignee rated),
    group, type or month. availability is each live service's share of its
    agreed hours not lost to outages (the status rules of itsm.yaml), against
    the SLA's target, over the status page's window (90 days) unless
    --since/--until say otherwise: the same figures as the published status
    page. Tables for people; JSON and CSV keep the column names.

    Further reports: trends (month over month per service: opened, resolved,
    MTTR, SLA attainment and the change from the month before; default the
    last 6 full months), suppliers (each contract's end and notice date, days
    left, and incidents escalated to the supplier), releases (changes by the
    release their implementing commits, tags or pull requests name), review
    (a one-page service review for the service's customers; needs --service,
    default the last full month; Markdown, or JSON; --out FILE).

    \b
    Example: itsm report time --since 2026-12-01 --by person --format csv
    Example: itsm report availability --service email --since 2026-11-01 --format json
    Example: itsm report trends --service vpn --since 2026-09-01
    Example: itsm report review --service web-shop --since 2026-10-01 --until 2026-11-01 --out review.md
    """
    from itsm_cli.app import normalise_time, now_utc
    from itsm_cli.core import report
    from itsm_cli.core.sla import parse_timestamp

    desk = obj.desk
    config = desk.config_data
    start = parse_timestamp(normalise_time(since, "--since")) if since else None
    end = parse_timestamp(normalise_time(until, "--until")) if until else None
    if start and end and start >= end:
        raise BadArgument("--since must be before --until")
    now = parse_timestamp(now_utc())
    from itsm_cli.core.query import choose

    if service:
        known = [p.rpartition("/")[2].removesuffix(".yaml") for p in desk.record_paths(("catalog",))]
        service = choose(service, known, "service")
    if group:
        group = choose(group, desk.config.groups, "group")
    if kind in FURTHER_REPORTS:
        import importlib

        module, _, name = FURTHER_REPORTS[kind].partition(":")
        getattr(importlib.import_module(module), name)(
            obj, kind=kind, since=start, until=end, service=service, group=group, group_by=group_by, fmt=fmt, out=out)
        return
    refuse_document_options(kind, fmt, out)
    if kind == "availability":
        if group_by is not None:
            raise BadArgument("availability is one row per service: --by does not apply")
        _availability(desk, config, service, group, start, end, now, fmt)
        return
    tickets = [r.data for r in desk.records(("tickets",))]
    if service:
        tickets = [t for t in tickets if t.get("service") == service]
    if group:
        tickets = [t for t in tickets if t.get("group") == group]
    services = desk.services()
    for t in tickets:
        sid = t.get("service")
        check_targets(config, services.get(sid) if isinstance(sid, str) else None, t.get("priority"))
    group_by = group_by or ("person" if kind == "time" else "service")
    try:
        if kind in ("time", "csat"):
            rows = worklog_rows(kind, tickets, start, end, group_by)
        elif group_by in ("person", "ticket"):
            raise BadArgument(f"--by {group_by} goes with the time and csat reports")
        elif kind == "backlog":
            if start is not None:
                raise BadArgument("backlog is a snapshot: give --until for the moment to look at, not --since")
            rows = report.backlog_report(tickets, config, services, now=end or now, group_by=group_by)
        else:
            fn = {"sla": report.sla_report, "mttr": report.mttr_report, "volume": report.volume_report}[kind]
            rows = fn(tickets, config, services, now=now, since=start, until=end, group_by=group_by)
    except ValueError as e:
        raise InvalidRecord(f"cannot compute the report: {e} (run 'itsm validate')") from None
    columns = REPORT_COLUMNS[kind]
    if fmt == "table":
        if not rows:
            click.echo("nothing to show", err=True)
            return
        click.echo(output.table(rows, columns, (group_by.upper(), *REPORT_HEADERS[kind])))
    elif fmt == "csv":
        renamed = [{group_by: r["key"], **r} for r in rows]
        click.echo(output.csv_text(renamed, (group_by, *columns[1:])), nl=False)
    else:
        click.echo(output.to_json(rows))


def worklog_rows(kind: str, tickets: list[dict[str, Any]], start: datetime | None, end: datetime | None,
                 group_by: str) -> list[dict[str, Any]]:
    """The rows of ``report time`` / ``report csat`` (see :mod:`itsm_cli.core.worklog`)."""
    from itsm_cli.core import worklog

    allowed = worklog.TIME_BY if kind == "time" else worklog.CSAT_BY
    if group_by not in allowed:
        raise BadArgument(f"report {kind} goes --by {', '.join(allowed)}, not {group_by}")
    since = start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else None
    until = end.strftime("%Y-%m-%dT%H:%M:%SZ") if end else None
    fn = worklog.time_report if kind == "time" else worklog.csat_report
    return fn(tickets, since=since, until=until, group_by=group_by)


def _availability(desk: Desk, config: Mapping[str, Any], service: str | None, group: str | None,
                  start: datetime | None, end: datetime | None, now: datetime, fmt: str) -> None:
    """``itsm report availability``: one row per live service (or the one ``--service`` names)."""
    from itsm_cli.core.status import availability_report

    if group:
        raise BadArgument("availability is per service: --group does not apply")
    services = desk.services()
    stype = desk.config.service_type()
    live = [sid for sid, s in sorted(services.items())
            if (desk.config.category(stype.name, str(s.get("status"))) if stype else s.get("status") == "live")
            in ("open", True)]
    if service is not None and service not in services:
        raise BadArgument(f"unknown service '{service}': choose one of {', '.join(live or sorted(services))}")
    if start is not None and start >= now:
        raise BadArgument("--since must be in the past")
    tickets = [r.data for r in desk.records(("tickets",))]
    try:
        rows = availability_report(tickets, config, services, [service] if service else live, now, start, end)
    except ValueError as e:
        raise InvalidRecord(f"cannot compute availability: {e}", "itsm.yaml") from None
    if fmt == "json":
        click.echo(output.to_json(rows))
        return
    flat = [{**r, "incidents": " ".join(r["incidents"]),
             "met": "" if r["met"] is None else ("yes" if r["met"] else "no")} for r in rows]
    if fmt == "csv":
        click.echo(output.csv_text(flat, ("service", "name", *AVAILABILITY_COLUMNS[1:], "unavailable_h")), nl=False)
        return
    if not rows:
        click.echo("nothing to show", err=True)
        return
    shown = [{k: ("-" if v is None or v == "" else v) for k, v in r.items()} for r in flat]
    click.echo(output.table(shown, AVAILABILITY_COLUMNS, AVAILABILITY_HEADERS))


COMMANDS = [sla_cmd, report_cmd]


def sla_filter(desk: Desk, records: list[dict[str, Any]], *, breaching: bool, within: str | None,
               breached: bool) -> list[dict[str, Any]]:
    """For ``itsm list --breaching [--within D]`` / ``--breached``: the tickets among ``records`` that qualify.

    Records that are not tickets never qualify. ``within`` is wall-clock time
    (``30m``, ``2h``, ``1d`` = 24 h), default 2 hours.
    """
    from itsm_cli.app import now_utc
    from itsm_cli.core import sla
    from itsm_cli.core.calendar import parse_duration

    if within is not None and not breaching:
        raise BadArgument("--within goes with --breaching")
    if breaching and breached:
        raise BadArgument("--breaching (about to breach) and --breached (already breached) exclude each other")
    try:
        horizon = parse_duration(within or "2h")
    except ValueError as e:
        raise BadArgument(f"--within: {e}") from None
    config = desk.config
    services = desk.services()
    now = sla.parse_timestamp(now_utc())
    out = []
    for record in records:
        rtype = config.types.get(str(record.get("type")))
        if rtype is None or rtype.kind != "ticket":
            continue
        sid = record.get("service")
        service = services.get(sid) if isinstance(sid, str) else None
        clocks = clocks_for(record, f"{rtype.folder}/{record.get('id')}.yaml", config.data, service, now)
        if (breached and clocks.breached) or (breaching and clocks.breaching(horizon)):
            out.append(record)
    return out
