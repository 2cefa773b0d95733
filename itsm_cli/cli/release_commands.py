"""Release and deployment: ``itsm implement`` and ``itsm report releases``.

What a change's implemented_by means, and the report's figures, are in
:mod:`itsm_cli.core.releases`; the repositories are looked at by
:mod:`itsm_cli.app.releases`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from itsm_cli.cli import output
from itsm_cli.cli.record_commands import change_options, print_change
from itsm_cli.errors import BadArgument

if TYPE_CHECKING:
    from datetime import datetime

    from itsm_cli.cli import Ctx


@click.command("implement")
@click.argument("record_id", metavar="CHG-ID")
@click.option("--commit", "commit", metavar="SHA", help="A commit that implemented the change.")
@click.option("--tag", "tag", metavar="NAME", help="A tag that implemented (shipped) the change.")
@click.option("--pr", "pr", metavar="NUMBER", help="A pull request that implemented the change.")
@click.option("--repo", metavar="NAME",
              help="The repository (a name under repositories: in itsm.yaml); default: this desk's own.")
@click.option("--release", metavar="TAG", help="The release the work shipped in (a tag name).")
@change_options
@click.pass_obj
def implement_cmd(obj: Ctx, record_id: str, commit: str | None, tag: str | None, pr: str | None, repo: str | None,
                  release: str | None, no_commit: bool, fmt: str) -> None:
    """Record a commit, tag or pull request that implemented a change (one of --commit, --tag, --pr).

    Where the repository is at hand (this desk's own, or a declared one whose
    path holds a clone) the commit or tag must exist, and a commit is kept by
    its full ID; pull requests and repositories not at hand are recorded as
    given. 'itsm validate' checks them again wherever they can be checked;
    'itsm audit change' shows them.

    \b
    Example: itsm implement CHG-0007 --commit 3f2a9c1 --repo shop-web --release v2.3
    Example: itsm implement CHG-0007 --pr 42 --repo shop-web
    """
    from itsm_cli.app.releases import implement

    given = [(k, v) for k, v in (("commit", commit), ("tag", tag), ("pr", pr)) if v is not None]
    if len(given) != 1:
        raise BadArgument("give one of --commit SHA, --tag NAME or --pr NUMBER")
    kind, value = given[0]
    print_change(implement(obj.app(commit=not no_commit), record_id, kind, value, repo, release), fmt)


COLUMNS = ("release", "change", "service", "status", "done_at", "items", "title")
HEADERS = ("RELEASE", "CHANGE", "SERVICE", "STATUS", "DONE", "IMPLEMENTED BY", "TITLE")


def releases_report(obj: Ctx, *, kind: str, since: datetime | None, until: datetime | None, service: str | None,
                    group: str | None, group_by: str | None, fmt: str, out: str | None) -> None:
    """``itsm report releases``: changes by release tag, done (reviewed or closed) in the period."""
    from itsm_cli.app import now_utc
    from itsm_cli.cli.service_level_commands import refuse_document_options
    from itsm_cli.core.releases import releases_report as compute
    from itsm_cli.core.sla import parse_timestamp

    if group is not None or group_by is not None:
        raise BadArgument("report releases groups by release: --group and --by do not apply")
    refuse_document_options(kind, fmt, out)
    desk = obj.desk
    from itsm_cli.app.releases import change_paths
    from itsm_cli.errors import ItsmError

    changes = []
    for rel in change_paths(desk, None):
        try:
            changes.append(desk.load(rel).data)
        except ItsmError:
            continue  # 'itsm validate' names it
    rows = compute(changes, desk.config_data, now=parse_timestamp(now_utc()), since=since, until=until, service=service)
    if fmt == "json":
        click.echo(output.to_json([{k: v for k, v in r.items() if k != "items"} for r in rows]))
        return
    flat = [{**r, "items": "; ".join(r["items"]), "service": r["service"] or "-"} for r in rows]
    if fmt == "csv":
        click.echo(output.csv_text(flat, COLUMNS), nl=False)
        return
    if not rows:
        click.echo("nothing to show: no change with implemented_by was done in the period", err=True)
        return
    click.echo(output.table(flat, COLUMNS, HEADERS))


COMMANDS = [implement_cmd]
