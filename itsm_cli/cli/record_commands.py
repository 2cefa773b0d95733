"""Commands that create, read and move records: new, show, list, transition, assign, comment, link, edit, approve, reject."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from itsm_cli.cli import output
from itsm_cli.cli.bulk import time_option
from itsm_cli.cli.output import format_option
from itsm_cli.errors import BadArgument

FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}(\.[a-z_][a-z0-9_-]{0,63})?")
LIST_COLUMNS = ("id", "type", "status", "priority", "assignee", "service", "updated", "title")


def parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as a dict; values read like YAML scalars (``true``, ``3``), empty means unset.

    ``FIELD.KEY=VALUE`` sets one key of a mapping field, e.g. ``form.model=ThinkPad``.
    """
    from itsm_cli.store.yaml_io import resolve_plain

    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not FIELD_NAME.fullmatch(name):
            raise BadArgument(f"--set expects FIELD=VALUE with a lower-case field name, got '{pair}'")
        if len(value) > 100_000:
            raise BadArgument(f"--set {name}: value too long")
        parsed = resolve_plain(value) if value else None
        field, _, key = name.partition(".")
        if key:
            nested = out.setdefault(field, {})
            if not isinstance(nested, dict):
                raise BadArgument(f"--set {name}: '{field}' is already set to a plain value")
            nested[key] = parsed
        else:
            out[name] = parsed
    return out


def read_text(value: str | None) -> str | None:
    """A text option, where ``-`` means standard input."""
    if value == "-":
        data = sys.stdin.buffer.read(1_000_001)
        if len(data) > 1_000_000:
            raise BadArgument("standard input is larger than 1 MB")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadArgument("standard input is not valid UTF-8") from None
    return value


def print_change(change: Any, fmt: str) -> None:
    """What a changing command prints: the ID, or the record with ``--format json``.

    What the desk's rules did goes to stderr, so stdout stays just the ID.
    """
    for note in change.notes:
        click.echo(f"itsm: {'warning: ' if ': skipped' in note else ''}rule {note}", err=True)
    changed = change.records or [change.record]  # an ID of '-' changes many
    if fmt == "json":
        click.echo(output.to_json(change.record if not change.records else changed))
    else:
        click.echo("\n".join(r["id"] for r in changed))


def change_options(f: Any) -> Any:
    """``--no-commit`` and ``--format`` for changing commands (whose ID may be '-': IDs from standard input)."""
    f = click.option("--format", "fmt", type=click.Choice(["id", "json"]), default="id", help="Print the ID (default) or the whole record as JSON.")(f)
    f = click.option("--no-commit", is_flag=True, help="Write the file but leave committing to you (for a hand-made pull request).")(f)
    return f


@click.command("new")
@click.argument("type_name", metavar="TYPE")
@click.option("--title", required=True, help="One line saying what this is about.")
@click.option("--service", help="The catalog service it concerns.")
@click.option("--offering", help="The service offering requested.")
@click.option("--impact", help="Impact level (e.g. high, medium, low).")
@click.option("--urgency", help="Urgency level (e.g. high, medium, low).")
@click.option("--description", help="Longer text; '-' reads standard input.")
@click.option("--requester", metavar="EMAIL", help="Who asked, when filing for someone else (default: you).")
@click.option("--template", metavar="NAME", help="Start from a template in itsm.yaml (e.g. outage).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Set another field (repeatable).")
@change_options
@click.pass_obj
def new_cmd(obj: Any, type_name: str, title: str, service: str | None, offering: str | None, impact: str | None,
            urgency: str | None, description: str | None, requester: str | None, template: str | None,
            sets: tuple[str, ...], no_commit: bool, fmt: str) -> None:
    """Create a record (incident, request, problem, change, article); prints its ID."""
    fields = parse_sets(sets)
    fields.update({k: v for k, v in {
        "title": title, "service": service, "offering": offering, "impact": impact, "urgency": urgency,
    }.items() if v is not None})
    text = read_text(description)
    body = None
    app = obj.app(commit=not no_commit)
    if app.config.types.get(type_name) and app.config.types[type_name].kind == "article":
        body = text or f"# {title}\n"
    elif text is not None:
        fields["description"] = text
    if requester:
        fields["requester_override"] = requester
    print_change(app.new(type_name, fields, body, template), fmt)


@click.command("show")
@click.argument("record_id", metavar="ID")
@format_option("table", "json", "yaml")
@click.pass_obj
def show_cmd(obj: Any, record_id: str, fmt: str) -> None:
    """Show one record."""
    from itsm_cli.store import yaml_io

    rec = obj.desk.get(record_id)
    if fmt == "json":
        click.echo(output.to_json(rec.data))
    elif fmt == "yaml":
        click.echo(yaml_io.dumps(rec.data), nl=False)
    else:
        click.echo(render_record(rec, obj.desk.config))


def render_record(rec: Any, config: Any) -> str:
    """A record as people read it: title, fields, then the history as a timeline."""
    data = rec.data
    lines = [output.style(f"{data.get('id')}  {data.get('title') or data.get('name', '')}", bold=True)]
    skip = {"id", "title", "name", "history", "description", "links"}
    width = max((len(k) for k in data if k not in skip), default=8)
    for key, value in data.items():
        if key in skip:
            continue
        lines.append(f"  {key.ljust(width)}  {output.cell(value)}")
    for link in data.get("links") or []:
        lines.append(f"  {'link'.ljust(width)}  {link.get('kind')} {link.get('id')}")
    lines += attachment_lines(data, width)
    text = data.get("description")
    if text:
        lines += ["", *("  " + output.cell(t) for t in str(text).rstrip().splitlines())]
    if rec.body:
        lines += ["", *("  " + output.cell(t) for t in rec.body.rstrip().splitlines())]
    history = data.get("history")
    if isinstance(history, list) and history:
        lines += ["", output.style("History", bold=True)]
        for e in history:
            if not isinstance(e, dict):
                lines.append(f"  (not a history entry: {output.cell(e)}; run 'itsm validate')")
                continue
            move = f" {e.get('from')} -> {e.get('to')}" if "from" in e and "to" in e else (f" -> {e['to']}" if "to" in e else "")
            who = config.display_name(str(e.get("by", "")))
            extra = ""
            if isinstance(e.get("fields"), dict):
                extra = " " + ", ".join(f"{k}={v}" for k, v in e["fields"].items())
            flag = " (internal)" if e.get("internal") else ""
            flag += entry_detail(e)
            lines.append(output.cell(f"  {e.get('at')}  {who}: {e.get('action')}{move}{extra}{flag}"))
            if e.get("note"):
                lines.extend(f"      {output.cell(t)}" for t in str(e["note"]).splitlines())
    return "\n".join(lines)


def entry_detail(entry: dict[str, Any]) -> str:
    """What a history line adds for a file attached, a rating and time spent: `` report.pdf``, `` 4/5``, `` [30m]``."""
    from itsm_cli.core.collab import format_minutes

    out = ""
    if isinstance(entry.get("attachment"), dict):
        out += f" {entry['attachment'].get('name')}"
    if entry.get("score") is not None:
        out += f" {entry['score']}/5"
    if type(entry.get("time_spent")) is int:
        out += f" [{format_minutes(entry['time_spent'])}]"
    return out


def attachment_lines(data: dict[str, Any], width: int) -> list[str]:
    """``attached  attachments/INC-0042/screenshot.png (image/png, 48 KB)`` for each file the history attached."""
    from itsm_cli.core.attachments import FOLDER, listed

    out = []
    for item in listed(data):
        size = int(item.get("bytes") or 0)
        human = f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else (
            f"{round(size / 1000)} KB" if size >= 1000 else f"{size} bytes")
        out.append(output.cell(f"  {'attached'.ljust(width)}  {FOLDER}/{data.get('id')}/{item.get('name')} "
                               f"({item.get('content_type')}, {human})"))
    return out


_QUERY_OPTIONS = (
    click.argument("type_name", metavar="[TYPE]", required=False),
    click.option("--status", "statuses", multiple=True, help="Only these states (repeatable)."),
    click.option("--service", help="Only this service."),
    click.option("--assignee", help="Only this assignee ('none' for unassigned)."),
    click.option("--group", help="Only this group."),
    click.option("--priority", "priorities", multiple=True, help="Only these priorities (repeatable)."),
    click.option("--open", "open_", is_flag=True, help="Only records still being worked on."),
    click.option("--closed", is_flag=True, help="Only resolved or closed records."),
    click.option("--search", help="Case-insensitive text in title, description and public comments."),
    click.option("--sort", "sort_key", default="id", show_default=True, help="Field to sort by; prefix '-' for descending."),
    click.option("--limit", type=click.IntRange(min=1), help="At most N records."),
)


def query_options(f: Any) -> Any:
    """The record filters ``list`` and ``export`` share (TYPE, --status, --service, ... --limit)."""
    for decorator in reversed(_QUERY_OPTIONS):
        f = decorator(f)
    return f


def build_query(config: Any, type_name: str | None, statuses: tuple[str, ...], service: str | None,
                assignee: str | None, group: str | None, priorities: tuple[str, ...], open_: bool, closed: bool,
                search: str | None, sort_key: str, limit: int | None) -> Any:
    """The :class:`~itsm_cli.core.query.Query` the shared filter options describe."""
    from itsm_cli.core.query import Query

    if type_name is not None:
        config.record_type(type_name)
    if open_ and closed:
        raise BadArgument("--open and --closed exclude each other")
    return Query(
        type_name=type_name, statuses=set(statuses), service=service, assignee=assignee, group=group,
        priorities=set(priorities), open_only=open_, closed_only=closed, search=search, sort=sort_key, limit=limit,
    )


@click.command("list")
@query_options
@click.option("--breaching", is_flag=True, help="Only tickets whose running SLA clock breaches within --within.")
@click.option("--within", metavar="DURATION", help="With --breaching: how soon, e.g. 30m, 2h, 1d (wall-clock; default 2h).")
@click.option("--breached", is_flag=True, help="Only tickets whose response or resolution clock has breached.")
@format_option("table", "json", "csv", "ids")
@click.pass_obj
def list_cmd(obj: Any, breaching: bool, within: str | None, breached: bool, fmt: str, **filters: Any) -> None:
    """List records (tickets unless TYPE says otherwise), filtered, searched and sorted.

    ``--format ids`` prints one ID a line, for ``xargs`` or an ID of ``-``.
    """
    from itsm_cli.cli.service_level_commands import sla_filter
    from itsm_cli.store.cache import find_records

    desk = obj.desk
    config = desk.config
    query = build_query(config, **filters)
    limit = query.limit
    if breaching or breached:
        query.limit = None  # the SLA filter runs after the query; limit what it leaves
    folders = ("tickets",) if query.type_name is None else (config.types[query.type_name].folder,)
    # Cached summaries answer the filters; whole records are parsed only for JSON and SLA clocks.
    found = find_records(desk, query, folders, full=fmt == "json" or breaching or breached or bool(within))
    if breaching or breached or within:
        found = sla_filter(desk, found, breaching=breaching, within=within, breached=breached)[:limit]
    emit_records(found, fmt)


def emit_records(found: list[dict[str, Any]], fmt: str) -> None:
    """Print records as a table, CSV, (full) JSON, or one ID a line."""
    if fmt == "ids":
        if found:
            click.echo("\n".join(output.cell(r.get("id")) for r in found))
        return
    rows = [{**r, "title": r.get("title") or r.get("name")} for r in found]
    output.emit_rows(rows, LIST_COLUMNS, fmt, records=found)


@click.command("transition")
@click.argument("record_id", metavar="ID")
@click.argument("state")
@click.option("--note", help="Why, for the history.")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Fields the new state needs (repeatable).")
@time_option
@change_options
@click.pass_obj
def transition_cmd(obj: Any, record_id: str, state: str, note: str | None, sets: tuple[str, ...], no_commit: bool, fmt: str) -> None:
    """Move a record to STATE along its workflow; an illegal move names the legal ones."""
    print_change(obj.app(commit=not no_commit).transition(record_id, state, note, parse_sets(sets)), fmt)


@click.command("assign")
@click.argument("record_id", metavar="ID")
@click.argument("person", required=False)
@click.option("--group", help="The group responsible.")
@change_options
@click.pass_obj
def assign_cmd(obj: Any, record_id: str, person: str | None, group: str | None, no_commit: bool, fmt: str) -> None:
    """Assign a record to a listed agent (PERSON) and/or a --group."""
    print_change(obj.app(commit=not no_commit).assign(record_id, person, group), fmt)


@click.command("comment")
@click.argument("record_id", metavar="ID")
@click.argument("text", required=False)
@click.option("--internal", is_flag=True, help="Keep the comment off anything published.")
@click.option("--reply", metavar="NAME", help="Start from the canned reply NAME of itsm.yaml (replies:).")
@time_option
@change_options
@click.pass_obj
def comment_cmd(obj: Any, record_id: str, text: str | None, internal: bool, reply: str | None, no_commit: bool,
                fmt: str) -> None:
    """Add a comment to a record ('-' reads the text from standard input).

    A public comment is e-mailed to the requester and the watchers by 'itsm notify'.

    Example: itsm comment INC-0042 --reply password-reset --time 15m
    """
    if text is None and reply is None:
        raise BadArgument("give the comment TEXT, or --reply NAME")
    if record_id == "-" and text == "-":
        raise BadArgument("standard input can hold the IDs or the text, not both")
    print_change(obj.app(commit=not no_commit).comment(record_id, read_text(text) or "", internal, reply), fmt)


@click.command("link")
@click.argument("record_id", metavar="ID")
@click.argument("kind")
@click.argument("other_id", metavar="OTHER_ID")
@change_options
@click.pass_obj
def link_cmd(obj: Any, record_id: str, kind: str, other_id: str, no_commit: bool, fmt: str) -> None:
    """Link a record to another: parent, child, duplicate-of, caused-by, fixed-by, relates, implements."""
    print_change(obj.app(commit=not no_commit).link(record_id, kind, other_id), fmt)


@click.command("edit")
@click.argument("record_id", metavar="ID")
@click.option("--set", "sets", multiple=True, required=True, metavar="FIELD=VALUE", help="Field to change (repeatable; empty value unsets).")
@time_option
@change_options
@click.pass_obj
def edit_cmd(obj: Any, record_id: str, sets: tuple[str, ...], no_commit: bool, fmt: str) -> None:
    """Change fields of a record (not its identity, status, history or links)."""
    print_change(obj.app(commit=not no_commit).edit(record_id, parse_sets(sets)), fmt)


@click.command("approve")
@click.argument("record_id", metavar="ID")
@click.option("--note", help="A remark for the record.")
@change_options
@click.pass_obj
def approve_cmd(obj: Any, record_id: str, note: str | None, no_commit: bool, fmt: str) -> None:
    """Approve a change or request (a member of the approving group, not its requester or assignee)."""
    print_change(obj.app(commit=not no_commit).approve(record_id, note), fmt)


@click.command("reject")
@click.argument("record_id", metavar="ID")
@click.option("--note", required=True, help="Why it is rejected.")
@change_options
@click.pass_obj
def reject_cmd(obj: Any, record_id: str, note: str, no_commit: bool, fmt: str) -> None:
    """Reject a change or request awaiting approval."""
    print_change(obj.app(commit=not no_commit).reject(record_id, note), fmt)


@click.command("renumber")
@click.argument("record_id", metavar="ID")
@change_options
@click.pass_obj
def renumber_cmd(obj: Any, record_id: str, no_commit: bool, fmt: str) -> None:
    """Give a record the next free ID across all branches, rewriting links to it; prints the new ID."""
    print_change(obj.app(commit=not no_commit).renumber(record_id), fmt)


COMMANDS = [new_cmd, show_cmd, list_cmd, transition_cmd, assign_cmd, comment_cmd, link_cmd, edit_cmd, approve_cmd, reject_cmd, renumber_cmd]
