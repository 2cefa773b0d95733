"""``itsm report review``: a one-page review of a service for its customers, as Markdown or JSON.

Registered in ``FURTHER_REPORTS`` (itsm_cli/cli/service_level_commands.py);
the figures come from :mod:`itsm_cli.app.service_review`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from itsm_cli.cli import output
from itsm_cli.errors import BadArgument, EnvironmentProblem

if TYPE_CHECKING:
    from datetime import datetime

    from itsm_cli.cli import Ctx


def review_report(obj: Ctx, *, kind: str, since: datetime | None, until: datetime | None, service: str | None,
                  group: str | None, group_by: str | None, fmt: str, out: str | None) -> None:
    """Write the review of ``--service`` over the period (default: the last full calendar month).

    ``--format markdown`` (also the default, table) or ``json``; ``--out FILE``
    writes the file atomically instead of printing.
    """
    from itsm_cli.app import now_utc
    from itsm_cli.app.service_review import review
    from itsm_cli.core.review_render import to_markdown
    from itsm_cli.core.sla import parse_timestamp

    desk = obj.desk
    if service is None:
        services = sorted(desk.services())
        raise BadArgument(f"report review needs --service: one of {', '.join(services)}")
    if group is not None or group_by is not None:
        raise BadArgument("report review is about one service: --group and --by do not apply")
    if fmt == "csv":
        raise BadArgument("report review is a document: --format markdown or json")
    data = review(desk, service, since, until, parse_timestamp(now_utc()))
    text = output.to_json(data) + "\n" if fmt == "json" else to_markdown(data)
    if out is None:
        click.echo(text, nl=False)
        return
    from itsm_cli.store.atomic import write_atomic

    path = Path(obj.directory or ".", out) if not Path(out).is_absolute() else Path(out)
    try:
        write_atomic(path, text)
    except OSError as e:
        raise EnvironmentProblem(f"cannot write {out}: {e.strerror or e}") from None
    click.echo(f"wrote {out}", err=True)
