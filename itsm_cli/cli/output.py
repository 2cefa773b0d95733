"""Printing for people (tables, colour on a terminal only) and for machines (JSON, CSV, YAML)."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import click


# C0 and C1 controls (ESC starts every terminal escape sequence; C1 CSI is one byte),
# DEL, and the bidi overrides that make text display in a different order than it is.
# Compiled on first use: most text is printable and never needs it (0.2 ms of `itsm show`).
@functools.cache
def _unsafe() -> re.Pattern[str]:
    return re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters shown as escapes (``\\x1b``), never sent raw.

    Newlines and tabs are kept; use :func:`cell` for one-line output.
    """
    if text.isprintable():  # every character the pattern escapes is one str.isprintable() refuses
        return text
    return _unsafe().sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def use_colour() -> bool:
    """Colour only on a terminal, and never with NO_COLOR set."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def style(text: str, **kwargs: Any) -> str:
    """``click.style`` when colour is on, else the text; control characters in it escaped either way."""
    text = printable(text)
    return click.style(text, **kwargs) if use_colour() else text


def to_json(data: Any) -> str:
    """Stable, readable JSON."""
    import json  # here, not at the top: the table commands never load it

    return json.dumps(data, indent=2, ensure_ascii=False)


def cell(value: Any) -> str:
    """A value as one table or CSV cell: one line, with no raw control characters.

    Record values come from files anyone can propose in a pull request; an
    escape sequence in a title must not reach the terminal of whoever runs
    ``itsm list`` (it could retitle the window, hide lines or fake output).
    """
    if type(value) is str and value.isprintable():  # the common case: nothing to escape or join (no tab, no newline)
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        import json

        return printable(json.dumps(value, ensure_ascii=False))
    text = str(value)
    if text.isprintable():  # no line break, tab or control character: nothing to replace or escape
        return text
    return printable(re.sub(r"\r\n|[\r\n\t]", " ", text))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], headers: Sequence[str] | None = None, max_width: int = 60) -> str:
    """Rows as an aligned text table."""
    headers = list(headers or [c.upper() for c in columns])
    # Column by column, and one format call per line: 46,000 rows are a common `list --open` on a big desk.
    cells = []
    for c in columns:
        values = [r.get(c) for r in rows]
        column = [v if type(v) is str and v.isprintable() else cell(v) for v in values]
        cells.append([v[:max_width] for v in column] if any(len(v) > max_width for v in column) else column)
    widths = [max([len(h), *map(len, column)]) for h, column in zip(headers, cells)]
    lines = ["  ".join(style(h.ljust(w), bold=True) for h, w in zip(headers, widths)).rstrip()]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    lines += [line.format(*row).rstrip() for row in zip(*cells)]
    return "\n".join(lines)


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV with a header line."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([cell(r.get(c)) for c in columns])
    return buf.getvalue()


def emit_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, records: Sequence[Any] | None = None) -> None:
    """Print rows in the chosen format (``json`` prints ``records`` when given: the full data)."""
    if fmt == "json":
        click.echo(to_json(list(records) if records is not None else list(rows)))
    elif fmt == "csv":
        click.echo(csv_text(rows, columns), nl=False)
    else:
        if rows:
            click.echo(table(rows, columns))
        else:
            click.echo("nothing to show", err=True)


def format_option(*choices: str, default: str = "table"):
    """The ``--format`` option every reading command shares."""
    return click.option(
        "--format", "fmt", type=click.Choice(list(choices)), default=default, show_default=True,
        help="Output format: a table for people, json/csv for scripts.",
    )
