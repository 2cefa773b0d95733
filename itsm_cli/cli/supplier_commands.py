"""Suppliers: escalate an incident to one; ``itsm report suppliers`` (contracts due, escalations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from itsm_cli.cli import output
from itsm_cli.cli.record_commands import change_options, print_change
from itsm_cli.errors import BadArgument

if TYPE_CHECKING:
    from datetime import datetime

    from itsm_cli.cli import Ctx


@click.command("escalate")
@click.argument("record_id", metavar="ID")
@click.argument("supplier", metavar="SUPPLIER")
@click.option("--ref", "reference", metavar="THEIR-REF", help="The supplier's own case or ticket number.")
@click.option("--note", help="What was asked of the supplier, for the history.")
@change_options
@click.pass_obj
def escalate_cmd(obj: Ctx, record_id: str, supplier: str, reference: str | None, note: str | None, no_commit: bool,
                 fmt: str) -> None:
    """Escalate an incident to a supplier (suppliers/<id>.yaml), with the supplier's own reference.

    The incident keeps the escalation (supplier, their reference, when, by
    whom) under escalations: and an 'escalate' history entry; an agent
    escalates; one commit. 'itsm report suppliers' counts escalations per
    supplier. An unknown SUPPLIER is refused, naming the desk's suppliers.

    Example: itsm escalate INC-0042 kestrel-networks --ref KN-448213 --note "Lisbon uplink down since 08:10"
    """
    from itsm_cli.app import suppliers

    print_change(suppliers.escalate(obj.app(commit=not no_commit), record_id, supplier, reference, note), fmt)


def report_suppliers(obj: Ctx, *, kind: str, since: datetime | None, until: datetime | None, service: str | None,
                     group: str | None, group_by: str | None, fmt: str, out: str | None) -> None:
    """``itsm report suppliers``: one row per contract: when to act (notice, end), whether due, escalations.

    Due means the next date to act on falls within --until (default: 90 days
    ahead); escalated counts the incidents escalated to the supplier in the
    period (--since/--until; all time without them).
    """
    from itsm_cli.app import now_utc, suppliers
    from itsm_cli.cli.service_level_commands import refuse_document_options
    from itsm_cli.core.sla import parse_timestamp
    from itsm_cli.core.suppliers import COLUMNS, HEADERS

    refuse_document_options(kind, fmt, out)
    if group is not None or group_by is not None:
        raise BadArgument(f"report {kind} is one row per contract: --group and --by do not apply")
    rows = suppliers.report_rows(obj.desk, parse_timestamp(now_utc()), since, until, service)
    if fmt == "json":
        click.echo(output.to_json(rows))
        return
    flat = [{**r, "services": " ".join(r["services"]), "due": "yes" if r["due"] else "",
             "days_left": "-" if r["days_left"] is None else r["days_left"],
             "notice": r["notice"] or "-"} for r in rows]
    if fmt == "csv":
        click.echo(output.csv_text(flat, COLUMNS), nl=False)
    elif not rows:
        click.echo("nothing to show", err=True)
    else:
        click.echo(output.table(flat, COLUMNS, HEADERS))


COMMANDS = [escalate_cmd]
