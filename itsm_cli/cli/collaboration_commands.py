"""Commands for working a ticket with its people: watch, unwatch, attach, rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from itsm_cli.cli.bulk import time_option
from itsm_cli.cli.record_commands import change_options, print_change

if TYPE_CHECKING:
    from itsm_cli.cli import Ctx


@click.command("watch")
@click.argument("record_id", metavar="ID")
@click.argument("person", required=False)
@change_options
@click.pass_obj
def watch_cmd(obj: Ctx, record_id: str, person: str | None, no_commit: bool, fmt: str) -> None:
    """Follow a ticket: PERSON (default: you; 'me' works too) is e-mailed its public comments.

    Any e-mail address may watch (as a Cc in Request Tracker): a requester's
    manager need not be a listed person. Agents and the requester add others;
    anyone may watch or unwatch a ticket themselves.

    Example: itsm watch INC-0042 lena.fischer@northwind.example
    """
    from itsm_cli.app import collaboration

    print_change(collaboration.watch(obj.app(commit=not no_commit), record_id, person), fmt)


@click.command("unwatch")
@click.argument("record_id", metavar="ID")
@click.argument("person", required=False)
@change_options
@click.pass_obj
def unwatch_cmd(obj: Ctx, record_id: str, person: str | None, no_commit: bool, fmt: str) -> None:
    """Stop PERSON (default: you) following a ticket.

    Example: itsm list --status resolved --format ids | itsm unwatch - me
    """
    from itsm_cli.app import collaboration

    print_change(collaboration.unwatch(obj.app(commit=not no_commit), record_id, person), fmt)


@click.command("attach")
@click.argument("record_id", metavar="ID")
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
@click.option("--note", help="What the file is, for the history.")
@time_option
@change_options
@click.pass_obj
def attach_cmd(obj: Ctx, record_id: str, files: tuple[str, ...], note: str | None, no_commit: bool, fmt: str) -> None:
    """Keep files with a ticket, in attachments/<ID>/, committed with the ticket.

    The name is made safe (no folders, no leading dot, no odd characters) and
    unique (report-2.pdf); the content type, size and SHA-256 go in the
    history. attachments.max_bytes in itsm.yaml limits the size (default 10 MB).
    Attachments are never published by 'itsm site build'.

    Example: itsm attach INC-0042 ~/Desktop/error-screenshot.png --note "The error Lena sees"
    """
    from itsm_cli.app import collaboration

    app = obj.app(commit=not no_commit)
    loaded = [collaboration.read_file(app, path) for path in files]
    change, paths = collaboration.attach(app, record_id, loaded, note)
    for path in paths:
        click.echo(f"itsm: stored {path}", err=True)
    print_change(change, fmt)


@click.command("rate")
@click.argument("record_id", metavar="ID")
@click.argument("score", type=click.IntRange(1, 5))
@click.option("--note", help="What went well or not, in your words.")
@change_options
@click.pass_obj
def rate_cmd(obj: Ctx, record_id: str, score: int, note: str | None, no_commit: bool, fmt: str) -> None:
    """Rate how a resolved ticket was handled, 1 (very unhappy) to 5 (very happy): its requester, once.

    A requester can also rate by e-mail: a reply to the ticket (with [ID] in
    the subject) whose first line is just a digit 1-5; the lines after it are
    the note. See 'itsm report csat'.

    Example: itsm --as lena.fischer@northwind.example rate INC-0042 5 --note "Fixed in ten minutes"
    """
    from itsm_cli.app import collaboration

    print_change(collaboration.rate(obj.app(commit=not no_commit), record_id, score, note), fmt)


COMMANDS = [watch_cmd, unwatch_cmd, attach_cmd, rate_cmd]
