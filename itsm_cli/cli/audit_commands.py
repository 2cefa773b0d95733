"""The trail from git: ``itsm history``, ``itsm audit`` (list, ``verify``, ``change``).

Parse the options, call :mod:`itsm_cli.app.trail` (which follows records
through history, the commit index and the audit cache), print its answer as
a table, JSON or CSV.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from itsm_cli.cli import output
from itsm_cli.cli.output import format_option
from itsm_cli.errors import BadArgument

if TYPE_CHECKING:
    from itsm_cli.app.trail import AuditRow, RecordTrail, TrailCommit
    from itsm_cli.cli import Ctx
    from itsm_cli.core.config import Config

HISTORY_COLUMNS = ("date", "commit", "author", "subject", "at", "by", "action", "from", "to", "committer", "signer")
AUDIT_TABLE = (("date", 20), ("commit", 10), ("author", 24), ("by", 24), ("id", 12), ("action", 18), ("change", 0))
FINDING_COLUMNS = ("commit", "date", "record", "check", "message")


def _who(name: str, email: str) -> str:
    return output.cell(f"{name} <{email}>" if name and name != email else email)


def _move(entry: dict[str, Any]) -> str:
    if entry.get("to") and entry.get("from"):
        return output.cell(f"{entry['from']} -> {entry['to']}")
    return output.cell(f"-> {entry['to']}") if entry.get("to") else ""


# -- itsm history ----------------------------------------------------------------------------


@click.command("history")
@click.argument("record_id", metavar="ID")
@format_option("table", "json", "csv")
@click.pass_obj
def history_cmd(obj: Ctx, record_id: str, fmt: str) -> None:
    """A record's history entries side by side with the commits that made them.

    Each commit that touched the record's file is listed (oldest first) with the
    entries it introduced; merge commits show the entries they brought in from a
    branch; entries no commit introduced (uncommitted work, or changed since) come
    last. JSON: {"id", "path", "entries": [entry + "commit"], "commits": [commit +
    "entries", "brought_in" (indices into entries), "rewrote_history"]}.
    """
    from itsm_cli.app.trail import record_trail

    trail = record_trail(obj.desk, record_id)
    rec, entries = trail.record, trail.entries
    if fmt == "json":
        click.echo(output.to_json({
            "id": rec.id,
            "path": rec.path,
            "entries": [{**e, "commit": trail.entry_commit[i]} for i, e in enumerate(entries)],
            "commits": [asdict(c) for c in trail.commits],
        }))
        return
    if fmt == "csv":
        click.echo(output.csv_text(list(_history_rows(trail)), HISTORY_COLUMNS), nl=False)
        return
    config = obj.desk.config
    lines = [output.style(f"{rec.id}  {rec.data.get('title') or rec.data.get('name', '')}", bold=True)]
    for c in trail.commits:
        mark = " (merge)" if c.merge else ""
        lines.append(f"{output.style(c.commit[:10], fg='yellow')}  {output.cell(c.date)}  "
                     f"{_who(c.author_name, c.author_email)}{_differs(c)}  {output.cell(c.subject)}{mark}")
        lines.extend(_entry_line(entries[i], config) for i in c.entries)
        if c.brought_in:
            n = len(c.brought_in)
            lines.append(f"    brought in {n} entr{'y' if n == 1 else 'ies'} from the merged branch")
        if c.rewrote_history:
            lines.append("    " + output.style("rewrote earlier history entries", fg="red"))
        if not c.entries and not c.brought_in and not c.merge:
            lines.append("    (no history entry)")
    loose = [i for i, sha in enumerate(trail.entry_commit) if sha is None]
    if loose:
        lines.append(output.style("not in any commit (uncommitted, or changed since it was committed)", fg="red"))
        lines.extend(_entry_line(entries[i], config) for i in loose)
    click.echo("\n".join(lines))


def _entry_line(entry: dict[str, Any], config: Config) -> str:
    who = config.display_name(str(entry.get("by", "")))
    move = _move(entry)
    return output.cell(f"    {entry.get('at')}  {who}: {entry.get('action')}{' ' + move if move else ''}")


def _not_the_author(author: Any, committer: Any, signer: Any) -> list[str]:
    """["committed by X", "signed by Y"] for whichever of committer and signer is someone other than the author."""
    author = str(author or "").lower()
    return [f"{label} {who}" for label, who in (("committed by", committer), ("signed by", signer))
            if who and str(who).lower() != author]


def _differs(c: TrailCommit) -> str:
    """" (committed by X, signed by Y)" where committer or signer are not the author; "" otherwise."""
    notes = _not_the_author(c.author_email, c.committer_email, c.signer)
    return output.cell(f" ({', '.join(notes)})") if notes else ""


def _history_rows(trail: RecordTrail) -> Iterator[dict[str, Any]]:
    """The CSV rows: one a commit and entry it introduced (a commit without entries: one row), then loose entries."""
    for c in trail.commits:
        base = {"date": c.date, "commit": c.commit, "author": c.author_email, "subject": c.subject,
                "committer": c.committer_email, "signer": c.signer}
        if not c.entries:
            yield base
        for i in c.entries:
            yield {**base, **_entry_cells(trail.entries[i])}
    for i, sha in enumerate(trail.entry_commit):
        if sha is None:
            yield _entry_cells(trail.entries[i])


def _entry_cells(e: dict[str, Any]) -> dict[str, Any]:
    return {"at": e.get("at"), "by": e.get("by"), "action": e.get("action"), "from": e.get("from"), "to": e.get("to")}


# -- itsm audit --------------------------------------------------------------------------------


@click.group("audit", invoke_without_command=True)
@click.option("--since", metavar="TIME", help="Only commits made at or after TIME (ISO date or time, UTC unless it says).")
@click.option("--until", metavar="TIME", help="Only commits made before TIME.")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only records of this type (repeatable; 'config' for itsm.yaml).")
@format_option("table", "json", "csv")
@click.pass_context
def audit_group(ctx: click.Context, since: str | None, until: str | None, types: tuple[str, ...], fmt: str) -> None:
    """Who changed which record, and when, from git: one row per change.

    Each row: the commit date, the commit, its author (git) and the history
    entry's 'by', the record, the action and the move, oldest first; JSON and
    CSV also name the commit's committer and signer (the person itsm.yaml
    gives the signing key to; checked where the desk lists signing keys). Rows
    stream as git is read, so a long period costs no memory, and each
    commit's rows are remembered under .git/itsm-cache, so the next run reads
    only new commits from git; '--format csv' is for auditors.
    Subcommands: 'verify' checks the trail, 'change ID' shows a change's evidence.
    """
    if ctx.invoked_subcommand is not None:
        if since or until or types:
            raise BadArgument("--since, --until and --type belong to the listing, not to a subcommand")
        return
    from itsm_cli.app.trail import audit_listing
    from itsm_cli.core.audit import ROW_KEYS

    start = _moment(since, "--since") if since else None
    end = _moment(until, "--until") if until else None
    if start and end and start >= end:
        raise BadArgument("--since must be before --until")
    if fmt == "csv":
        _emit_csv(audit_listing(ctx.obj.desk, since=start, until=end, types=types, as_tuples=True), ROW_KEYS)
        return
    _emit_stream(audit_listing(ctx.obj.desk, since=start, until=end, types=types), ROW_KEYS, fmt)


def _moment(text: str, what: str) -> datetime:
    """An option's time, to the second (a bare date: midnight UTC); BadArgument names ``what`` when it is none."""
    from itsm_cli.app import normalise_time

    return datetime.fromisoformat(normalise_time(text, what).replace("Z", "+00:00"))


def _text(value: Any) -> str:
    return output.cell(value)


_EMPTY_FOR_NONE = {None: ""}
_CSV_BATCH = 512  # rows checked at once


def _csv_lines(rows: Iterable[tuple[Any, ...]], width: int) -> Iterator[str]:
    """CSV text of rows given as tuples: each cell as :func:`itsm_cli.cli.output.cell` makes it, as the csv module
    writes them; a batch of rows at a time.

    Rows of text needing neither quotes nor escaping (no comma, quote or
    control character), or None, are joined by hand and checked a batch at a
    time: the csv module's per-field checks were most of a 100,000-commit
    audit's printing. A batch that fails the check goes row by row, and any
    row with something else to write goes to the csv module.
    """
    import csv
    from itertools import islice

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    commas = width - 1
    empty = _EMPTY_FOR_NONE.get

    def plain(batch: list[tuple[Any, ...]]) -> str | None:
        """The batch's lines joined by hand, or None when a row needs the csv module (or is of another width)."""
        if not commas:  # (a row of one empty cell is written "")
            return None
        try:
            text = "\n".join([",".join(map(empty, row, row)) for row in batch]) + "\n"
        except TypeError:  # a cell that is neither text nor None
            return None
        if (text.count(",") == commas * len(batch) and text.count("\n") == len(batch) and '"' not in text
                and set(map(len, batch)) == {width} and text.replace("\n", "").isprintable()):
            return text
        return None

    rows = iter(rows)
    while batch := list(islice(rows, _CSV_BATCH)):
        text = plain(batch)
        if text is not None:
            yield text
            continue
        for row in batch:  # row by row: the plain ones joined by hand, the others by the csv module
            text = plain([row])
            if text is not None:
                yield text
                continue
            writer.writerow([cell if type(cell) is str and cell.isprintable() else output.cell(cell) for cell in row])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()


def _emit_csv(rows: Iterator[tuple[Any, ...]], keys: tuple[str, ...], flush_at: int = 1 << 18) -> None:
    """Print rows (tuples in ``keys`` order) as CSV as they come, ``flush_at`` characters or so at a time."""
    out = [",".join(keys) + "\n"]
    size = 0
    for text in _csv_lines(rows, len(keys)):
        out.append(text)
        size += len(text)
        if size >= flush_at:
            click.echo("".join(out), nl=False)
            out, size = [], 0
    click.echo("".join(out), nl=False)


def _emit_stream(rows: Iterator[AuditRow], keys: tuple[str, ...], fmt: str, batch: int = 512) -> None:
    """Print rows as they come, a batch at a time: a JSON array, or a table with fixed column widths (CSV: :func:`_emit_csv`)."""
    import json

    buf = io.StringIO()
    count = 0
    if fmt == "json":
        buf.write("[")
    for row in rows:
        if fmt == "json":
            buf.write(("," if count else "") + "\n  " + json.dumps(row, ensure_ascii=False))
        else:
            if not count:
                buf.write(output.style("  ".join(n.upper().ljust(w) for n, w in AUDIT_TABLE).rstrip(), bold=True) + "\n")
            cells = {**row, "commit": (row["commit"] or "")[:10], "change": _move(row)}
            buf.write("  ".join(_text(cells.get(n)).ljust(w) for n, w in AUDIT_TABLE).rstrip() + "\n")
        count += 1
        if count % batch == 0:
            click.echo(buf.getvalue(), nl=False)
            buf.seek(0)
            buf.truncate()
    if fmt == "json":
        buf.write("\n]\n" if count else "]\n")
    click.echo(buf.getvalue(), nl=False)
    if fmt == "table" and not count:
        click.echo("nothing to show", err=True)


@audit_group.command("verify")
@format_option("table", "json")
@click.pass_obj
def verify_cmd(obj: Ctx, fmt: str) -> int:
    """Check the trail: every entry backed by a commit of its author, no history rewritten, approvals independent.

    Also, where itsm.yaml sets desk.require_signed_commits, every commit since
    that setting was switched on must carry a good signature by a key that
    itsm.yaml gives to the person who acted (people's signing_keys; SSH keys
    are checked with an allowed-signers list built from itsm.yaml, so a fresh
    clone needs no set-up; GPG keys must be in the local keyring). Findings:
    unsigned, bad-signature, cannot-check, unknown-key, wrong-key. A squash
    merge or a rebase that lost who did what is reported once per commit
    (squashed, rebased). Entries of records added by 'itsm init' or an import
    are the baseline and need no backing commit. Exit 1 when anything is found.
    """
    from itsm_cli.app.trail import verify_trail

    check = verify_trail(obj.desk)
    findings = [f.as_dict() for f in check.findings]
    if fmt == "json":
        click.echo(output.to_json({"ok": check.ok, "commits": check.commits, "findings": findings}))
    else:
        if findings:
            click.echo(output.table(findings, FINDING_COLUMNS, max_width=200))
        n = len(findings)
        summary = f"{n} finding(s)" if n else "the trail is intact"
        click.echo(f"itsm: {check.commits} commit(s) checked, {summary}", err=True)
    return 0 if check.ok else 1


@audit_group.command("change")
@click.argument("record_id", metavar="CHG-ID")
@format_option("table", "json")
@click.pass_obj
def change_cmd(obj: Ctx, record_id: str, fmt: str) -> None:
    """The evidence chain of a change: request, assessment, approvals, schedule, work, links, commits.

    Approvals show the approver's groups and whether they were independent
    (a member of the approving group, not the requester, assignee or
    implementer as the workflow's segregation asks), and any later entry
    that broke it; a standard change shows its pre-authorised model; every
    entry names the commit that introduced it, who authored it, and who
    committed and signed it where they are someone else;
    merge commits (pull requests) that brought the work in are listed too.
    """
    from itsm_cli.app.trail import change_evidence

    evidence = change_evidence(obj.desk, record_id)
    if fmt == "json":
        click.echo(output.to_json(evidence))
    else:
        click.echo(_render_evidence(evidence, obj.desk.config))


def _implementation_row(item: dict[str, Any]) -> str:
    """One implemented_by item: what it is and what its repository (where at hand) says of it."""
    row = item["description"]
    if item.get("subject"):
        row += f"  {item['date']}  {_who(item['author_name'], item['author_email'])}  {item['subject']}"
    elif item["exists"] is False:
        row += "  MISSING from its repository"
    elif not item["checked"] and item.get("kind") != "pr":
        row += "  (repository not at hand: not checked)"
    if item.get("url"):
        row += f"  <{item['url']}>"
    return row


def _render_evidence(ev: dict[str, Any], config: Config) -> str:
    short = {c["commit"]: c["commit"][:10] for c in ev["commits"]}

    def at_commit(item: dict[str, Any]) -> str:
        sha = item.get("commit")
        if not sha:
            return "  [not committed]"
        author = item.get("authored_by")
        notes = [f"by {author}", *_not_the_author(author, item.get("committed_by"), item.get("signed_by"))]
        return f"  [{short.get(sha, sha[:10])} {', '.join(notes)}]"

    def name(email: str | None) -> str:
        return config.display_name(email) if email else "?"

    title = f"{ev['id']}  {ev.get('title') or ''}  ({ev.get('status')}"
    title += f", {ev['change_class']} change)" if ev.get("change_class") else ")"
    lines = [output.style(title, bold=True)]

    def section(label: str, *rows: str) -> None:
        lines.append(output.style(label, bold=True))
        lines.extend("  " + output.cell(r) for r in rows)

    req = ev["request"]
    section("Request", f"{name(req.get('requester'))} ({req.get('requester')}), created {req.get('created')}"
            + (at_commit(req) if "commit" in req else ""))
    risk = ev["assessment"]["risk"]
    section("Assessment", f"risk {risk or '(none)'}, plan {'written' if ev['assessment']['plan'] else 'missing'}")
    model = ev.get("standard_model")
    if model:
        if model.get("title"):
            row = (f"{model['id']}  {model['title']}: pre-authorised by {name(model['approved_by'])} "
                   f"<{model['approved_by']}> at {model['approved_at']}")
            row += f", expires {model['expires']}" if model.get("expires") else ""
        else:
            row = f"{model.get('id') or '(none named)'}"
        rows_model = [row] + ([f"NOT VALID: {model['problem']}"] if model.get("problem") else [])
        section("Standard change model", *rows_model)
    rule = ev["approval_rule"]
    rows = [f"needs {rule['count']} approval(s) from group {rule['group']}" if rule else "no approval required"]
    for a in ev["approvals"]:
        groups = ", ".join(a["groups"]) or "no groups"
        verdict = "independent" if a["independent"] else "NOT INDEPENDENT: " + "; ".join(a["problems"])
        rows.append(f"{a['at']}  {a['decision']} by {name(a['by'])} <{a['by']}> (groups: {groups}) for "
                    f"{a.get('group') or '?'}: {verdict}{at_commit(a)}")
        if a.get("note"):
            rows.append(f"    \"{a['note']}\"")
    seg = ev.get("segregation") or {}
    if seg.get("roles") and (rule or ev["approvals"]):
        rows.append(f"separation of duties: the approver is not the {', '.join(seg['roles'])}")
    for v in seg.get("violations") or []:
        rows.append(f"{v['at']}  {v['action']} by {name(v['by'])}: NOT INDEPENDENT: {v['problem']}{at_commit(v)}")
    section("Approvals", *rows)
    sched = ev["schedule"]
    section("Schedule", f"{sched['planned_start'] or '(not planned)'} -> {sched['planned_end'] or '(not planned)'}")
    section("Transitions", *(f"{t['at']}  {_move(t)}  by {name(t['by'])}{at_commit(t)}" for t in ev["transitions"]))
    links = [f"{link.get('kind')} {link.get('id')}" for link in ev["links"]["outgoing"]]
    links += [f"{link['id']} links here ({link['kind']})" for link in ev["links"]["incoming"]]
    section("Links", *(links or ["(none)"]))
    if ev.get("implemented_by") or ev.get("type") == "change":
        section("Implemented by", *(_implementation_row(item) for item in ev.get("implemented_by") or []),
                *([] if ev.get("implemented_by") else ["(nothing recorded; itsm implement adds it)"]))
    commit_rows = []
    for c in ev["commits"]:
        notes = []
        if c["entries"]:
            notes.append(f"{len(c['entries'])} entr{'y' if len(c['entries']) == 1 else 'ies'}")
        if c["merge"] and c["brought_in"]:
            notes.append(f"brought in {len(c['brought_in'])} entries")
        if c["rewrote_history"]:
            notes.append("REWROTE HISTORY")
        tail = f"  ({', '.join(notes)})" if notes else ""
        also = _not_the_author(c["author_email"], c.get("committer_email"), c.get("signer"))
        shown = f" ({', '.join(also)})" if also else ""
        commit_rows.append(f"{c['commit'][:10]}  {c['date']}  {_who(c['author_name'], c['author_email'])}{shown}"
                           f"  {c['subject']}{tail}")
    if ev["uncommitted_entries"]:
        commit_rows.append(f"{len(ev['uncommitted_entries'])} entries not in any commit")
    section("Commits", *commit_rows)
    return "\n".join(lines)


COMMANDS = [history_cmd, audit_group]
