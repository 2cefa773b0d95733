"""What changing commands share for daily work: IDs from standard input (an ID of ``-``) and ``--time``."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from itsm_cli.errors import BadArgument

_MAX_INPUT = 10_000_000
_TOKEN = re.compile(r"\S+")


def read_ids() -> list[str]:
    """Record IDs from standard input: one or more a line, blank lines and ``#`` comments skipped.

    ``itsm list --format ids`` prints exactly this, so ``itsm list ... --format
    ids | itsm assign - PERSON`` works on what the list showed.
    """
    data = sys.stdin.buffer.read(_MAX_INPUT + 1)
    if len(data) > _MAX_INPUT:
        raise BadArgument("standard input is larger than 10 MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadArgument("standard input is not valid UTF-8") from None
    out: list[str] = []
    for line in text.splitlines():
        out.extend(_TOKEN.findall(line.split("#", 1)[0]))
    return out


def _set_time(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    from itsm_cli.core.collab import parse_time_spent

    obj = ctx.find_root().obj  # the command's Ctx, which hands the minutes to the App it makes
    if obj is not None:
        obj.time_spent = parse_time_spent(value)


def time_option(f: Any) -> Any:
    """``--time DURATION``: time spent on this step, recorded on the history entry (see ``itsm report time``)."""
    return click.option(
        "--time", "time_spent", metavar="DURATION", expose_value=False, callback=_set_time,
        help="Time you spent on this, e.g. 30m, 1h30m (see 'itsm report time').",
    )(f)
