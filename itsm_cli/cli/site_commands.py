"""Commands about what the desk publishes and takes in: site build/serve, intake-forms, intake."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from itsm_cli.core.intake import FORM_PATH
from itsm_cli.errors import BadArgument, EnvironmentProblem

if TYPE_CHECKING:
    from itsm_cli.cli import Ctx


@click.group("site")
def site_group() -> None:
    """Build or preview the published site: service catalog, knowledge base, status and metrics."""


@site_group.command("build")
@click.option("--engine", type=click.Choice(["mkdocs", "zensical"]), default="mkdocs", show_default=True,
              help="The static site engine: MkDocs with the itsm plugin, or Zensical over the same pages.")
@click.option("--strict/--no-strict", default=True, show_default=True, help="Fail on any warning.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to write the site (default: site_dir of mkdocs.yml, usually site/).")
@click.option("--site-url", metavar="URL",
              help="The address the site is served from, e.g. https://org.github.io/repo/ (default: site_url of "
                   "mkdocs.yml, else site.url of itsm.yaml).")
@click.pass_obj
def build_cmd(obj: Ctx, engine: str, strict: bool, out: str | None, site_url: str | None) -> None:
    """Build the site from catalog/, kb/ and tickets/ (nothing generated is committed).

    \b
    Example:
      itsm site build -o /tmp/site --site-url https://example.github.io/it-desk/
    """
    from itsm_cli.site.build import build_site, pages_warning_for

    site_dir = build_site(obj.desk, engine=engine, strict=strict, out=Path(out) if out else None, site_url=site_url)
    click.echo(f"itsm: site built in {site_dir}", err=True)
    warning = pages_warning_for(obj.desk)
    if warning:
        click.echo(f"itsm: warning: {warning}", err=True)


@site_group.command("serve")
@click.option("--addr", default="127.0.0.1:8000", show_default=True, metavar="HOST:PORT",
              help="Where to serve the preview.")
@click.pass_obj
def serve_cmd(obj: Ctx, addr: str) -> None:
    """Preview the site, rebuilding it when a record changes."""
    from itsm_cli.site.build import check_addr, serve_site

    check_addr(addr)
    click.echo(f"itsm: serving the site on http://{addr}/ (Ctrl-C to stop); it rebuilds when a record changes", err=True)
    serve_site(obj.desk, addr)


@click.command("intake-forms")
@click.option("-o", "--output", "out", metavar="PATH", help=f"Write here instead of {FORM_PATH}; '-' for stdout.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the form is out of date with the catalog.")
@click.pass_obj
def intake_forms_cmd(obj: Ctx, out: str | None, check: bool) -> int:
    """Write the Git host's request form (a GitHub issue form) from the catalog's live services."""
    from itsm_cli.store.desk import write_atomic
    from itsm_cli.store.skeleton import request_form_text

    desk = obj.desk
    text = request_form_text(desk)
    if out == "-":
        click.echo(text, nl=False)
        return 0
    target = Path(out) if out else desk.root / FORM_PATH
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            click.echo(f"itsm: {target} is out of date; run 'itsm intake-forms'", err=True)
            return 1
        return 0
    if target.is_symlink():
        raise EnvironmentProblem("refusing to write through a symbolic link", str(target))
    write_atomic(target, text)
    click.echo(f"itsm: wrote {target}", err=True)
    return 0


def _read_event(path: str) -> bytes:
    from itsm_cli.core.intake import MAX_EVENT_BYTES

    if path == "-":
        data = sys.stdin.buffer.read(MAX_EVENT_BYTES + 1)
    else:
        p = Path(path)
        if not p.is_file():
            raise BadArgument(f"no such file: {path}")
        try:
            with p.open("rb") as f:
                data = f.read(MAX_EVENT_BYTES + 1)
        except OSError as e:
            raise EnvironmentProblem(f"cannot read: {e.strerror}", path) from None
    if len(data) > MAX_EVENT_BYTES:
        raise BadArgument(f"the event payload is larger than {MAX_EVENT_BYTES:,} bytes")
    return data


@click.command("intake")
@click.argument("event", metavar="EVENT.json")
@click.option("--no-commit", is_flag=True, help="Write the file but leave committing to you.")
@click.option("--format", "fmt", type=click.Choice(["id", "json"]), default="id",
              help="Print the ID (default) or the whole record as JSON.")
@click.pass_obj
def intake_cmd(obj: Ctx, event: str, no_commit: bool, fmt: str) -> None:
    """Create a request from a GitHub 'issues' event payload (EVENT.json, or '-' for stdin); prints its ID."""
    from itsm_cli.cli import output
    from itsm_cli.core.intake import request_from_event

    raw = _read_event(event)
    desk = obj.desk
    request = request_from_event(raw, desk.config, desk.services())
    change = obj.app(commit=not no_commit).new("request", request.fields)
    click.echo(output.to_json(change.record) if fmt == "json" else change.record["id"])


COMMANDS = [site_group, intake_forms_cmd, intake_cmd]
