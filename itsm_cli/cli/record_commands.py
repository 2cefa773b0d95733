"""Commands that create, read and move records: new, show, list, transition, assign, comment, link, edit, approve, reject."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import click

from itsm_cli.cli import output
from itsm_cli.cli.bulk import time_option
from itsm_cli.cli.output import format_option
from itsm_cli.errors import BadArgument

if TYPE_CHECKING:
    from itsm_cli.app import Change
    from itsm_cli.cli import Ctx
    from itsm_cli.core.config import Config
    from itsm_cli.core.query import Query
    from itsm_cli.store.desk import Desk, Record

# A pattern, compiled by re on first use: `itsm show` loads this module and never parses --set.
FIELD_NAME = r"[a-z_][a-z0-9_]{0,63}(\.[a-z_][a-z0-9_-]{0,63})?"
LIST_COLUMNS = ("id", "type", "status", "priority", "assignee", "service", "updated", "title")


def parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as a dict; values read like YAML scalars (``true``, ``3``), empty means unset.

    ``FIELD.KEY=VALUE`` sets one key of a mapping field, e.g. ``form.model=ThinkPad``.
    """
    from itsm_cli.store.yaml_io import resolve_plain

    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(FIELD_NAME, name):
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


def print_change(change: Change, fmt: str) -> None:
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
def new_cmd(obj: Ctx, type_name: str, title: str, service: str | None, offering: str | None, impact: str | None,
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
@click.option("--links", "all_links", is_flag=True,
              help="Look up what links to it even on a desk of more than 20,000 records (reads every record file).")
@format_option("table", "json", "yaml")
@click.pass_obj
def show_cmd(obj: Ctx, record_id: str, all_links: bool, fmt: str) -> None:
    """Show one record: its fields, its links both ways (what it links to, what links to it), its history.

    Encrypted values (security incidents, confidential comments) are decrypted
    with $ITSM_AGE_IDENTITY, else ~/.ssh/id_ed25519, else ~/.ssh/id_rsa; without
    a key they read "(encrypted for the security group)".

    \b
    Example:
      itsm show INC-0042
      ITSM_AGE_IDENTITY=~/.ssh/id_ed25519 itsm show INC-0026
    """
    rec = obj.desk.get(record_id)
    rec = revealed(rec, keep_armor=fmt != "table")
    if fmt == "json":
        click.echo(output.to_json(rec.data))
    elif fmt == "yaml":
        from itsm_cli.store import yaml_io

        click.echo(yaml_io.dumps(rec.data), nl=False)
    else:
        from itsm_cli.store.links import linked_from

        incoming = linked_from(obj.desk, rec, everywhere=all_links)
        click.echo(render_record(rec, obj.desk.config, incoming or [], searched=incoming is not None))


def revealed(rec: Record, keep_armor: bool) -> Record:
    """``rec`` with its encrypted values decrypted where this person holds a key (see :mod:`itsm_cli.store.crypto`).

    Without one, a value reads ``(encrypted for the security group)`` in the
    table, and stays the age message in JSON and YAML (what the file holds).
    """
    from itsm_cli.core import security

    if not security.has_encrypted(rec.data):
        return rec
    from itsm_cli.store.crypto import decryptor
    from itsm_cli.store.desk import Record

    data = security.reveal(rec.data, decryptor(), None if keep_armor else security.PLACEHOLDER)
    return Record(rec.path, data, rec.kind, rec.body, rec.body_line)


# How a link reads from the other end: INC-0002 "parent INC-0004" makes INC-0002 a child of INC-0004.
_INVERSE = {"parent": "child", "child": "parent", "duplicate-of": "duplicate", "caused-by": "causes",
            "fixed-by": "fixes", "relates": "relates", "implements": "implemented by"}


def human(value: Any) -> str:
    """A field's value as a person reads it: yes/no, "parent INC-0004", "name: x, ..." (never a Python repr)."""
    if isinstance(value, dict):
        if set(value) == {"kind", "id"}:
            return f"{output.cell(value['kind'])} {output.cell(value['id'])}"
        if set(value) <= {"item", "done"} and "item" in value:
            return f"[{'x' if value.get('done') else ' '}] {output.cell(value['item'])}"
        if "id" in value and "name" in value and ("form" in value or "approval" in value):
            return _offering(value)
        return ", ".join(f"{output.cell(k)}: {human(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(human(v) for v in value)
    return output.cell(value)


def _offering(value: dict[str, Any]) -> str:
    """A catalog offering on one line: "New shared mailbox (shared-mailbox): approval by service-owners; ..."."""
    parts = []
    approval = value.get("approval")
    if isinstance(approval, dict):
        parts.append(f"approval by {approval.get('group') or 'the type default'}")
    elif approval is not None:
        parts.append("approval" if approval else "no approval")
    if value.get("fulfilment"):
        parts.append(f"fulfilment {value['fulfilment']}")
    form = [f for f in value.get("form") or [] if isinstance(f, dict)]
    if form:
        parts.append("form: " + ", ".join(f"{f.get('id')}{'*' if f.get('required') else ''}" for f in form))
    head = f"{value.get('name')} ({value.get('id')})"
    return output.cell(head + (": " + "; ".join(parts) if parts else ""))


def render_record(rec: Record, config: Config, incoming: list[tuple[str, str]] | None = None, searched: bool = True) -> str:
    """A record as people read it: title, fields, links both ways, then the history as a timeline.

    ``incoming`` is (ID, kind) of the records that link to this one; ``searched``
    false says they were not looked up (a big desk, see :mod:`itsm_cli.store.links`).
    """
    data = rec.data
    lines = [output.style(f"{data.get('id')}  {data.get('title') or data.get('name', '')}", bold=True)]
    skip = {"id", "title", "name", "history", "description", "links"}
    width = max((len(k) for k in data if k not in skip), default=8)
    width = max(width, 11)
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            # Offerings, checklists, form fields: one line each.
            lines.append(f"  {key.ljust(width)}  {human(value[0])}")
            lines.extend(f"  {''.ljust(width)}  {human(v)}" for v in value[1:])
        else:
            lines.append(f"  {key.ljust(width)}  {human(value)}")
    for link in data.get("links") or []:
        if isinstance(link, dict):
            lines.append(f"  {str(link.get('kind')).ljust(width)}  {output.cell(link.get('id'))}")
    by_kind: dict[str, list[str]] = {}
    for other, kind in incoming or []:
        by_kind.setdefault(_INVERSE.get(kind, f"linked from ({kind})"), []).append(other)
    for kind, others in by_kind.items():
        label = {"child": "children", "duplicate": "duplicates"}.get(kind, kind)
        lines.append(f"  {label.ljust(width)}  {output.cell(', '.join(others))}")
    if not searched:
        lines.append(f"  {'linked from'.ljust(width)}  not looked up on a desk this size "
                     f"(itsm show --links {output.cell(data.get('id'))})")
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
                extra = " " + "; ".join(f"{k}: {human(v) if v is not None else '(unset)'}" for k, v in e["fields"].items())
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
    click.option("--assignee", help="Only this assignee: a listed person, 'me', or 'none' for unassigned."),
    click.option("--group", help="Only this group."),
    click.option("--priority", "priorities", multiple=True, help="Only these priorities (repeatable; p1 means P1)."),
    click.option("--tag", "tags", multiple=True, help="Only records with this tag (repeatable: all of them)."),
    click.option("--open", "open_", is_flag=True, help="Only records still being worked on."),
    click.option("--closed", is_flag=True, help="Only resolved or closed records."),
    click.option("--search", help="Case-insensitive text in title, description and public comments."),
    click.option("--sort", "sort_key", help="Field to sort by (default id); prefix '-' for descending."),
    click.option("--limit", type=click.IntRange(min=1), help="At most N records."),
    click.option("--view", "view_name", metavar="NAME", help="A saved view from itsm.yaml (views:); options given too override it."),
)


def query_options(f: Any) -> Any:
    """The record filters ``list`` and ``export`` share (TYPE, --status, --service, ... --limit, --view)."""
    for decorator in reversed(_QUERY_OPTIONS):
        f = decorator(f)
    return f


# Fields a list is never sorted by: long text and structures.
_UNSORTABLE = frozenset({"history", "links", "description", "form", "checklist", "tags", "watchers", "services"})


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def apply_view(config: Config, view_name: str | None, given: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The filter options with a saved view's values for those not given; and whether the view asks for --breached.

    Options given on the command line win over the view's (``--closed`` over a
    view's ``open: true`` too).
    """
    from itsm_cli.core.query import view

    if view_name is None:
        return given, False
    v = view(config, view_name)
    out = dict(given)
    defaults = {
        "type_name": v.get("type"), "statuses": _as_tuple(v.get("status")), "service": v.get("service"),
        "assignee": v.get("assignee"), "group": v.get("group"), "priorities": _as_tuple(v.get("priority")),
        "tags": _as_tuple(v.get("tag")), "search": v.get("search"), "sort_key": v.get("sort"), "limit": v.get("limit"),
    }
    for key, value in defaults.items():
        if not out.get(key) and value is not None:
            out[key] = value
    if not given.get("open_") and not given.get("closed"):
        out["open_"], out["closed"] = bool(v.get("open")), bool(v.get("closed"))
    return out, bool(v.get("breached"))


def sort_keys(desk: Desk, type_names: list[str]) -> list[str]:
    """The fields a list can be sorted by: what ``itsm list`` shows and the plain fields of the types' schemas."""
    from itsm_cli.app.listing import SUMMARY_FIELDS

    keys = {f for f in SUMMARY_FIELDS if f not in _UNSORTABLE}
    schemas = desk.schemas()
    for name in type_names:
        props = schemas.get(desk.config.types[name].schema, {}).get("properties") or {}
        keys.update(k for k in props if k not in _UNSORTABLE)
    return sorted(keys)


def resolve_person(obj: Ctx, value: str) -> str:
    """A person as a command line names one: ``me`` (the acting person), a listed e-mail or name, or an address."""
    from itsm_cli.app import resolve_actor

    if value.lower() == "me":
        return resolve_actor(obj.actor, obj.desk)
    config = obj.desk.config
    person = config.person(value)
    if person is not None:
        return person.email
    named = [p.email for p in config.people.values() if p.name.lower() == value.lower()]
    if len(named) == 1:
        return named[0]
    if "@" not in value:
        raise BadArgument(unknown_person(config, value) + "; a person is 'me', an e-mail address or a listed name")
    return value


def unknown_person(config: Config, value: str) -> str:
    """``unknown person 'tom'; did you mean 'tom.fletcher@...'? (valid: ...)``, matching names and addresses."""
    from itsm_cli.core.query import unknown

    low = value.lower()
    starts = [p.email for p in config.people.values()
              if p.email.lower().startswith(low) or any(w.startswith(low) for w in p.name.lower().split())]
    valid = [p.email for p in config.people.values()] + ["me", "none"]
    if not starts:
        import difflib

        local = {p.email.lower().partition("@")[0]: p.email for p in config.people.values()}
        starts = [local[m] for m in difflib.get_close_matches(low.partition("@")[0], list(local), n=1, cutoff=0.6)]
    if len(starts) == 1:
        return f"unknown person '{value}'; did you mean '{starts[0]}'? (valid: {', '.join(sorted(valid))})"
    return unknown(value, valid, "person")


def build_query(obj: Ctx, type_name: str | None, statuses: tuple[str, ...], service: str | None,
                assignee: str | None, group: str | None, priorities: tuple[str, ...], tags: tuple[str, ...],
                open_: bool, closed: bool, search: str | None, sort_key: str | None, limit: int | None,
                view_name: str | None = None) -> Query:
    """The :class:`~itsm_cli.core.query.Query` the shared filter options (and ``--view``) describe, checked.

    Every value is checked against the desk: an unknown state, priority,
    service, group, person or sort key is a usage error naming the valid ones.
    """
    from itsm_cli.core.query import Query, check_query

    desk = obj.desk
    config = desk.config
    given = {"type_name": type_name, "statuses": statuses, "service": service, "assignee": assignee, "group": group,
             "priorities": priorities, "tags": tags, "open_": open_, "closed": closed, "search": search,
             "sort_key": sort_key, "limit": limit}
    f, breached = apply_view(config, view_name, given)
    if f["open_"] and f["closed"]:
        raise BadArgument("--open and --closed exclude each other")
    who = f["assignee"]
    if who is not None and who != "none":
        who = resolve_person(obj, who)
        obj.assignee_given = f["assignee"]
    query = Query(
        type_name=f["type_name"], statuses=set(f["statuses"]), service=f["service"], assignee=who, group=f["group"],
        priorities=set(f["priorities"]), tags=set(f["tags"]), open_only=f["open_"], closed_only=f["closed"],
        search=f["search"], sort=f["sort_key"] or "id", limit=f["limit"],
    )
    if query.type_name is not None and query.type_name not in config.types:
        check_query(config, query, (), ())  # names the valid types
    names = [query.type_name] if query.type_name else [t.name for t in config.types.values() if t.kind == "ticket"]
    services = [p.rpartition("/")[2].removesuffix(".yaml") for p in desk.record_paths(("catalog",))]
    folder = config.types[query.type_name].folder if query.type_name else "tickets"
    query = check_query(config, query, services, sort_keys(desk, names), (folder,))
    query.breached = breached
    return query


def unlisted_assignee(obj: Ctx, query: Query) -> None:
    """When nothing matched an assignee no one in itsm.yaml is: say so (a typo), rather than print nothing."""
    config = obj.desk.config
    if not query.assignee or query.assignee == "none" or config.person(query.assignee) is not None:
        return
    if str(getattr(obj, "assignee_given", "")).lower() == "me":
        raise BadArgument(f"'me' is {query.assignee}, who is not a listed person of this desk and has nothing "
                          "assigned; act as yourself with --as EMAIL or ITSM_USER")
    raise BadArgument(unknown_person(config, query.assignee) + "; no ticket is assigned to that address either")


@click.command("list")
@query_options
@click.option("--breaching", is_flag=True, help="Only tickets whose running SLA clock breaches within --within.")
@click.option("--within", metavar="DURATION", help="With --breaching: how soon, e.g. 30m, 2h, 1d (wall-clock; default 2h).")
@click.option("--breached", is_flag=True, help="Only tickets whose response or resolution clock has breached.")
@format_option("table", "json", "csv", "ids")
@click.pass_obj
def list_cmd(obj: Ctx, breaching: bool, within: str | None, breached: bool, fmt: str, **filters: Any) -> None:
    """List records (tickets unless TYPE says otherwise), filtered, searched and sorted.

    An unknown state, priority, service, group, person or sort key is refused,
    naming the valid ones. --breached and --breaching look at open tickets
    (add --closed for closed ones). A view saved in itsm.yaml (views:) names a
    set of these options; options given as well override the view's.
    ``--format ids`` prints one ID a line, for ``xargs`` or an ID of ``-``.

    \b
    Examples:
      itsm list --open --assignee me --sort priority
      itsm list incident --status in_progress --priority P1
      itsm list --view unassigned --service email
      itsm list --tag outage --closed --format ids
    """
    from itsm_cli.app.listing import find_records
    from itsm_cli.cli.service_level_commands import sla_filter

    desk = obj.desk
    config = desk.config
    query = build_query(obj, **filters)
    breached = breached or query.breached
    limit = query.limit
    if (breaching or breached) and not query.closed_only:
        query.open_only = True  # a queue of what breaches: a closed ticket's breach is history (report sla)
    if breaching or breached:
        query.limit = None  # the SLA filter runs after the query; limit what it leaves
    folders = ("tickets",) if query.type_name is None else (config.types[query.type_name].folder,)
    # Cached summaries answer the filters; whole records are parsed only for JSON and SLA clocks.
    strays: list[dict[str, Any]] | None = [] if query.open_only or query.closed_only else None
    found = find_records(desk, query, folders, full=fmt == "json" or breaching or breached or bool(within), strays=strays)
    if breaching or breached or within:
        found = sla_filter(desk, found, breaching=breaching, within=within, breached=breached)[:limit]
    if not found:
        unlisted_assignee(obj, query)
    if strays:
        named = ", ".join(f"{r.get('id')}: '{r.get('status')}'" for r in strays[:5])
        more = ", ..." if len(strays) > 5 else ""
        n = len(strays)
        click.echo(f"itsm: warning: {n} ticket{'s' if n != 1 else ''} ha{'ve' if n != 1 else 's'} an unknown status "
                   f"({output.cell(named)}{more}), neither open nor closed; see itsm validate", err=True)
    emit_records(found, fmt)


def emit_records(found: list[dict[str, Any]], fmt: str) -> None:
    """Print records as a table, CSV, (full) JSON, or one ID a line."""
    if fmt == "ids":
        if found:
            click.echo("\n".join(output.cell(r.get("id")) for r in found))
        return
    rows = [r if r.get("title") else {**r, "title": r.get("name")} for r in found]  # (a copy only where needed)
    output.emit_rows(rows, LIST_COLUMNS, fmt, records=found)


@click.command("transition")
@click.argument("record_id", metavar="ID")
@click.argument("state")
@click.option("--note", help="Why, for the history.")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Fields the new state needs (repeatable).")
@time_option
@change_options
@click.pass_obj
def transition_cmd(obj: Ctx, record_id: str, state: str, note: str | None, sets: tuple[str, ...], no_commit: bool, fmt: str) -> None:
    """Move a record to STATE along its workflow; an illegal move names the legal ones."""
    print_change(obj.app(commit=not no_commit).transition(record_id, state, note, parse_sets(sets)), fmt)


@click.command("assign")
@click.argument("record_id", metavar="ID")
@click.argument("person", required=False)
@click.option("--group", help="The group responsible.")
@change_options
@click.pass_obj
def assign_cmd(obj: Ctx, record_id: str, person: str | None, group: str | None, no_commit: bool, fmt: str) -> None:
    """Assign a record to a listed agent (PERSON, or 'me' for yourself) and/or a --group.

    \b
    Examples:
      itsm assign INC-0042 me
      itsm assign INC-0042 tom.fletcher@northwind.example --group service-desk
    """
    print_change(obj.app(commit=not no_commit).assign(record_id, person, group), fmt)


@click.command("comment")
@click.argument("record_id", metavar="ID")
@click.argument("text", required=False)
@click.option("--internal", is_flag=True, help="Keep the comment off anything published.")
@click.option("--reply", metavar="NAME", help="Start from the canned reply NAME of itsm.yaml (replies:).")
@click.option("--confidential", is_flag=True,
              help="Encrypt the comment for the security group (internal too; always so on a security incident).")
@time_option
@change_options
@click.pass_obj
def comment_cmd(obj: Ctx, record_id: str, text: str | None, internal: bool, reply: str | None, confidential: bool,
                no_commit: bool, fmt: str) -> None:
    """Add a comment to a record ('-' reads the text from standard input).

    A public comment is e-mailed to the requester and the watchers by 'itsm notify'.

    Example: itsm comment INC-0042 --reply password-reset --time 15m

    Example: itsm comment INC-0026 --confidential "Token revoked; attacker IP in the SIEM case"
    """
    if text is None and reply is None:
        raise BadArgument("give the comment TEXT, or --reply NAME")
    if record_id == "-" and text == "-":
        raise BadArgument("standard input can hold the IDs or the text, not both")
    print_change(obj.app(commit=not no_commit).comment(record_id, read_text(text) or "", internal, reply,
                                                      confidential), fmt)


@click.command("link")
@click.argument("record_id", metavar="ID")
@click.argument("kind")
@click.argument("other_id", metavar="OTHER_ID")
@change_options
@click.pass_obj
def link_cmd(obj: Ctx, record_id: str, kind: str, other_id: str, no_commit: bool, fmt: str) -> None:
    """Link a record to another: parent, child, duplicate-of, caused-by, fixed-by, relates, implements."""
    print_change(obj.app(commit=not no_commit).link(record_id, kind, other_id), fmt)


@click.command("edit")
@click.argument("record_id", metavar="ID")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Field to change (repeatable; empty value unsets; a list field takes a comma list).")
@click.option("--add", "adds", multiple=True, metavar="FIELD=VALUE", help="Add VALUE to a list field (repeatable).")
@click.option("--remove", "removes", multiple=True, metavar="FIELD=VALUE", help="Remove VALUE from a list field (repeatable).")
@click.option("--done", multiple=True, metavar="ITEM", help="Tick a checklist item, by number (1, 2...) or text.")
@click.option("--undone", multiple=True, metavar="ITEM", help="Untick a checklist item.")
@time_option
@change_options
@click.pass_obj
def edit_cmd(obj: Ctx, record_id: str, sets: tuple[str, ...], adds: tuple[str, ...], removes: tuple[str, ...],
             done: tuple[str, ...], undone: tuple[str, ...], no_commit: bool, fmt: str) -> None:
    """Change fields of a record (not its identity, status, history or links).

    List fields (tags, an article's services, watchers) take --add and
    --remove; --set replaces one with a comma list. A request's checklist
    takes --add checklist=TEXT and --remove checklist=TEXT, and --done /
    --undone tick an item by its number or its text (see 'itsm show').

    \b
    Examples:
      itsm edit INC-0042 --set impact=high --add tags=printer
      itsm edit INC-0042 --remove tags=printer --set due=2026-12-10
      itsm edit REQ-0007 --done 1 --done "Issue a laptop"
    """
    if not (sets or adds or removes or done or undone):
        raise BadArgument("nothing to edit: give --set, --add, --remove, --done or --undone")
    app = obj.app(commit=not no_commit)
    change = app.edit(record_id, parse_sets(sets), pairs("--add", adds), pairs("--remove", removes), done, undone)
    print_change(change, fmt)


def pairs(option: str, values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``FIELD=VALUE`` options as (field, value) pairs, the value as typed (a tag ``yes`` stays text)."""
    out = []
    for pair in values:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(FIELD_NAME, name) or not value:
            raise BadArgument(f"{option} expects FIELD=VALUE with a lower-case field name, got '{pair}'")
        out.append((name, value))
    return tuple(out)


@click.command("duplicate")
@click.argument("record_id", metavar="ID")
@click.argument("original_id", metavar="OF_ID")
@change_options
@click.pass_obj
def duplicate_cmd(obj: Ctx, record_id: str, original_id: str, no_commit: bool, fmt: str) -> None:
    """Close ID as a duplicate of OF_ID: link it, close it with a note, make its requester a watcher of OF_ID.

    ID goes to the first closed state its workflow allows now (an incident
    that is new: cancelled), or is resolved ("Duplicate of OF_ID") and then
    closed. One commit for both tickets.

    \b
    Example:
      itsm duplicate INC-0020 INC-0019
    """
    print_change(obj.app(commit=not no_commit).duplicate(record_id, original_id), fmt)


@click.command("approve")
@click.argument("record_id", metavar="ID")
@click.option("--note", help="A remark for the record.")
@change_options
@click.pass_obj
def approve_cmd(obj: Ctx, record_id: str, note: str | None, no_commit: bool, fmt: str) -> None:
    """Approve a change or request (a member of the approving group, not its requester or assignee)."""
    print_change(obj.app(commit=not no_commit).approve(record_id, note), fmt)


@click.command("reject")
@click.argument("record_id", metavar="ID")
@click.option("--note", required=True, help="Why it is rejected.")
@change_options
@click.pass_obj
def reject_cmd(obj: Ctx, record_id: str, note: str, no_commit: bool, fmt: str) -> None:
    """Reject a change or request awaiting approval."""
    print_change(obj.app(commit=not no_commit).reject(record_id, note), fmt)


@click.command("renumber")
@click.argument("record_id", metavar="ID")
@change_options
@click.pass_obj
def renumber_cmd(obj: Ctx, record_id: str, no_commit: bool, fmt: str) -> None:
    """Give a record the next free ID across all branches, rewriting links to it; prints the new ID."""
    print_change(obj.app(commit=not no_commit).renumber(record_id), fmt)


COMMANDS = [new_cmd, show_cmd, list_cmd, transition_cmd, assign_cmd, comment_cmd, link_cmd, edit_cmd, duplicate_cmd, approve_cmd, reject_cmd, renumber_cmd]
