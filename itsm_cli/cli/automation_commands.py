"""Commands that automate the desk: sweep, notify, intake-mail, import and export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from itsm_cli.cli import output
from itsm_cli.cli.record_commands import build_query, query_options
from itsm_cli.errors import BadArgument, EnvironmentProblem

if TYPE_CHECKING:
    from itsm_cli.cli import Ctx


def _now() -> str:
    from itsm_cli.app import now_utc

    return now_utc()


@click.command("sweep")
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@output.format_option("text", "json", default="text")
@click.pass_obj
def sweep_cmd(obj: Ctx, dry_run: bool, fmt: str) -> int:
    """Apply the time-based rules: auto-close, escalate, remind approvers, flag overdue reviews.

    Also reminds each supplier's owner of a contract's notice and end dates
    (sweep.supplier_reminders: days ahead, 30 by default), once per date,
    recorded on the supplier for 'itsm notify' to e-mail.

    Each action is one commit by the desk's bot. Meant for a schedule (see
    .github/workflows/sweep.yml); a second run with nothing new changes nothing.
    """
    from itsm_cli.app.sweep import sweep

    result = sweep(obj.desk, _now(), dry_run=dry_run)
    if fmt == "json":
        click.echo(output.to_json({
            "steps": [{"id": s.record_id, "action": s.action, "summary": s.summary} for s in result.steps],
            "problems": result.problems, "commits": result.commits,
        }))
    else:
        for step in result.steps:
            click.echo(f"{step.record_id}: {step.summary}")
        if not result.steps:
            click.echo("nothing to do", err=True)
    for problem in result.problems:
        click.echo(f"itsm: warning: {problem}", err=True)
    return 0


@click.command("notify")
@click.option("--dry-run", is_flag=True, help="List the notifications that are due; send and remember nothing.")
@click.pass_obj
def notify_cmd(obj: Ctx, dry_run: bool) -> int:
    """Send due notifications (e-mail over SMTP, JSON to webhooks), each once.

    The SMTP password comes only from ITSM_SMTP_PASSWORD. What was sent is
    remembered in .itsm/notified.yaml, committed by the bot. Exits 3 when
    some could not be sent (they are tried again next time).
    """
    from itsm_cli.app.notify import notify

    result = notify(obj.desk, _now(), dry_run=dry_run)
    if not result.configured:
        click.echo("notifications are not configured: set notifications.smtp or notifications.webhooks in itsm.yaml",
                   err=True)
        return 0
    for line in result.sent:
        click.echo(("due: " if dry_run else "sent: ") + line)
    if not result.sent and not result.failed:
        click.echo("nothing to send", err=True)
    for line in result.failed:
        click.echo(f"itsm: error: {line}", err=True)
    return EnvironmentProblem.exit_code if result.failed else 0


@click.command("intake-mail")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--type", "type_name", help="Record type for new tickets (default: intake_mail.type, else incident).")
@click.pass_obj
def intake_mail_cmd(obj: Ctx, path: Path | None, type_name: str | None) -> int:
    """Turn e-mail into tickets: one message on standard input, or a Maildir folder or mbox file at PATH.

    The sender is the requester, the subject the title, the text the
    description. A reply with [INC-0042] in the subject becomes a comment on
    that ticket. Prints the ID of each ticket created or commented on.
    """
    from itsm_cli.app.mail_intake import DEFAULT_MAIL_LIMIT, IntakeResult, intake_mail, intake_mailbox

    desk = obj.desk
    now = _now()
    if path is None:
        limit = int((desk.config.data.get("intake_mail") or {}).get("max_bytes", DEFAULT_MAIL_LIMIT))
        data = sys.stdin.buffer.read(limit + 1)
        click.echo(intake_mail(desk, data, now, type_name).record_id)
        return 0
    failures = 0
    for key, result in intake_mailbox(desk, path, now, type_name):
        if isinstance(result, IntakeResult):
            click.echo(result.record_id)
        else:
            failures += 1
            click.echo(f"itsm: error: message {key}: {result}", err=True)
    return 1 if failures else 0


def _parse_mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column or not target:
            raise BadArgument(f"--map expects COLUMN=FIELD (or COLUMN=- to drop it), got '{pair}'")
        mapping[column] = target
    return mapping


@click.command("import")
@click.argument("kind", type=click.Choice(["csv", "json"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "type_name", required=True, help="Record type of every row (incident, request...).")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD", help="Read COLUMN as FIELD; COLUMN=- drops it (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would be created and every rejected row with why.")
@click.option("--skip-rejected", is_flag=True, help="Import the valid rows even if some are rejected.")
@output.format_option("text", "json", default="text")
@click.pass_obj
def import_cmd(obj: Ctx, kind: str, file: Path, type_name: str, maps: tuple[str, ...], dry_run: bool,
               skip_rejected: bool, fmt: str) -> int:
    """Import records from a CSV or JSON FILE (from another tool, or an itsm export), in one commit.

    Rows with a history (an itsm export) are kept as they are, IDs included;
    other rows become new records, moved along the workflow to their status.
    """
    from itsm_cli.app.transfer import import_records

    result = import_records(obj.desk, kind, file, type_name, _parse_mapping(maps), dry_run,
                            actor=obj.actor, now=_now(), skip_rejected=skip_rejected)
    if fmt == "json":
        click.echo(output.to_json({
            "created": [d["id"] for d in result.created],
            "rejected": [{"row": n, "reason": why} for n, why in result.rejected],
            "ignored_columns": result.ignored_columns, "commit": result.commit, "dry_run": dry_run,
        }))
    else:
        verb = "would create" if dry_run else "created"
        for d in result.created:
            click.echo(f"{verb} {d['id']}: {d.get('title', '')}" if dry_run else d["id"])
        for n, why in result.rejected:
            click.echo(f"row {n}: rejected: {why}", err=True)
    if result.ignored_columns:
        click.echo(f"itsm: warning: columns ignored (not fields of {type_name}): {', '.join(result.ignored_columns)}; "
                   "map them with --map COLUMN=FIELD", err=True)
    return 1 if dry_run and result.rejected else 0


@click.command("export")
@query_options
@click.option("--output", "-o", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of standard output.")
@output.format_option("json", "csv", default="json")
@click.pass_obj
def export_cmd(obj: Ctx, out: Path | None, fmt: str, **filters: Any) -> None:
    """Export whole records (tickets unless TYPE says otherwise) as JSON or CSV, filtered like list.

    'itsm import' of the output into an empty desk reproduces the records.
    """
    from itsm_cli.app.transfer import export_records

    query = build_query(obj, **filters)
    text = export_records(obj.desk, query, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise EnvironmentProblem(f"cannot write: {e.strerror}", str(out)) from None


COMMANDS = [sweep_cmd, notify_cmd, intake_mail_cmd, import_cmd, export_cmd]
