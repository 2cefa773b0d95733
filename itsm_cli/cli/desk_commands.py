"""Commands about the desk as a whole: init, upgrade, validate, codeowners, the merge driver."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from itsm_cli.cli import output

if TYPE_CHECKING:
    from itsm_cli.cli import Ctx
    from itsm_cli.core.validate import Problem
    from itsm_cli.store.desk import Desk


@click.command("init")
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--demo", is_flag=True, help="Fill the desk with the demo company's services, tickets and articles.")
@click.option("--name", "desk_name", help="The desk's name (shown on the catalog site).")
@click.option("--package", metavar="SPEC",
              help="What the desk's workflows pip-install as itsm, written as given (default: exactly this itsm).")
@click.pass_obj
def init_cmd(obj: Ctx, path: str, demo: bool, desk_name: str | None, package: str | None) -> None:
    """Create a new desk at PATH as its own git repository, with a first commit.

    The desk's workflows install exactly the itsm that runs this command:
    itsm==X.Y.Z when it came from a package index, itsm @ git+URL@COMMIT when
    pip installed it from Git, and otherwise a wheel of it that the desk
    carries in .itsm/dist/, checked by its SHA-256. It says which, and why.

    \b
    Example:
      itsm init helpdesk --name "Acme IT"
      itsm init helpdesk --package "itsm==1.2.0"
    """
    from itsm_cli.store.skeleton import init_desk
    from itsm_cli.store.tool_pin import resolve_pin

    base = Path(obj.directory or ".") / path
    pin = resolve_pin(package) if package is not None else None
    result = init_desk(base, demo=demo, actor=obj.actor, name=desk_name, pin=pin)
    click.echo(f"workflows install {result.pin.describe()}", err=True)
    click.echo(f"Initialised {'demo ' if demo else ''}desk in {base.resolve()} ({result.commit[:8]})", err=True)
    click.echo(first_agent_text(base), err=True)


def first_agent_text(base: Path) -> str:
    """Who can work the new desk, and how to list the rest of the team (printed by ``itsm init``)."""
    from itsm_cli.store.desk import Desk

    config = Desk(base.resolve()).config
    agents = [p for p in config.people.values() if "agent" in p.roles and "bot" not in p.roles]
    add = "itsm person add EMAIL --name NAME --role agent --group service-desk"
    if not agents:
        return (f"No one is listed yet, so no one can be assigned work. List your first agent with:\n  {add}\n"
                "(act as them with --as EMAIL, ITSM_USER or git config user.email)")
    if len(agents) > 1:
        names = ", ".join(p.email for p in agents[:3])
        return f"Listed agents include {names}; act as one with --as EMAIL (or ITSM_USER). Add people with:\n  {add}"
    first = agents[0]
    roles = " and ".join(sorted(first.roles))
    groups = ", ".join(sorted(first.groups)) or "no group"
    return (f"You ({first.email}) are its first listed person: {roles}, in {groups}; itsm acts as you "
            f"(git config user.email, or ITSM_USER, or --as).\nAdd your team, one command each, then 'git push':\n"
            f"  {add}\n  itsm group add field-support --name \"Field support\"\n"
            "Change your own name in itsm.yaml (people:).")


@click.command("upgrade")
@click.pass_obj
def upgrade_cmd(obj: Ctx) -> None:
    """Bring a desk up to this itsm, in one commit: the ticket layout and the schemas.

    A desk of the earlier flat layout (tickets/INC-0042.yaml) moves to
    tickets/<PREFIX>/<NNN>/; git sees every move as a rename, so history,
    audit and verify follow each ticket across it, and branches made before
    the upgrade still merge after it. Schemas this itsm ships that the desk
    lacks are added, and those the desk never edited are replaced by this
    itsm's copies; a schema the desk edited is kept and named. The work tree
    must be clean. Running it again does nothing.

    \b
    Example: pip install --upgrade itsm && itsm upgrade && git push
    """
    from itsm_cli.app import resolve_actor
    from itsm_cli.store.upgrade import shipped_schemas, upgrade

    desk = obj.desk
    actor = resolve_actor(obj.actor, desk)
    result = upgrade(desk, desk.config.display_name(actor), actor)
    for rel in result.schemas_kept:
        click.echo(f"itsm: note: {rel} was edited on this desk, so it is kept; this itsm's copy is "
                   f"{shipped_schemas() / rel.rpartition('/')[2]}", err=True)
    if result.commit is None:
        click.echo("nothing to upgrade: every ticket is in tickets/<PREFIX>/<NNN>/ and the schemas are this itsm's")
        return
    schemas = [f"added {', '.join(result.schemas_added)}"] if result.schemas_added else []
    if result.schemas_updated:
        schemas.append(f"updated {', '.join(result.schemas_updated)}")
    if result.moved:
        widened = ("; .gitattributes now routes tickets/**/*.yaml through the merge driver"
                   if result.attributes else "")
        click.echo(f"moved {result.moved} ticket(s) into {result.buckets} folder(s) under tickets/ "
                   f"in commit {result.commit[:10]}{widened}" + "".join(f"; {part}" for part in schemas))
    else:
        click.echo(f"brought the schemas up to this itsm in commit {result.commit[:10]}: {'; '.join(schemas)}")
    unused = sorted(set(_shipped_types()) - set(desk.config.types))
    if unused:
        click.echo(f"itsm: note: this itsm also knows the record type(s) {', '.join(unused)}, which itsm.yaml does "
                   "not use; to add one, copy its entries (types:, workflows:) from "
                   f"{shipped_schemas().parent / 'itsm.yaml'}", err=True)


def _shipped_types() -> list[str]:
    """The record types a new desk's itsm.yaml has (what this itsm ships)."""
    from itsm_cli.store import yaml_io
    from itsm_cli.store.upgrade import shipped_schemas

    path = shipped_schemas().parent / "itsm.yaml"
    data = yaml_io.load_mapping(path.read_bytes(), "itsm.yaml")
    types = data.get("types")
    return list(types) if isinstance(types, dict) else []


@click.command("upgrade-tool")
@click.option("--package", metavar="SPEC", help="Pin this instead of the running itsm, written as given.")
@click.pass_obj
def upgrade_tool_cmd(obj: Ctx, package: str | None) -> None:
    """Make the desk's workflows install the running itsm (or SPEC), in one commit.

    Rewrites the ITSM_PACKAGE pin in .github/workflows/ and, when the desk
    carries its tool, replaces the wheel in .itsm/dist/ and its SHA-256.
    Workflows the desk never edited (last committed by 'itsm init' or
    'upgrade-tool') are replaced by this itsm's own, and ones new in this itsm
    are added; an edited one keeps its text and gets the new pin (named on
    stderr), and a deleted one stays deleted. Running it again with the same
    itsm does nothing.

    \b
    Example:
      pip install "itsm @ git+https://github.com/acme/itsm@v1.3.0" && itsm upgrade-tool
    """
    from itsm_cli.app import resolve_actor
    from itsm_cli.store.tool_pin import upgrade_tool

    desk = obj.desk
    actor = resolve_actor(obj.actor, desk)
    result = upgrade_tool(desk, desk.config.display_name(actor), actor, package)
    for rel in result.skipped:
        click.echo(f"itsm: warning: {rel}: no ITSM_PACKAGE line and 'Install itsm' step; left as it is", err=True)
    for rel in result.kept:
        click.echo(f"itsm: warning: {rel}: edited on this desk, so only its pin was changed (compare it with "
                   "this itsm's own, which 'itsm init' writes)", err=True)
    if result.commit is None:
        click.echo(f"nothing to do: the workflows already install {result.pin.describe()}")
        return
    click.echo(f"workflows now install {result.pin.describe()}")
    if result.refreshed:
        click.echo(f"brought up to this itsm's: {', '.join(result.refreshed)}")
    if result.added:
        click.echo(f"added (new in this itsm): {', '.join(result.added)}")
    click.echo(f"changed {len(result.changed)} file(s) in commit {result.commit[:10]}: {', '.join(result.changed)}")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--base", metavar="REF", help="Check in depth only what changed since REF, plus the rules only a diff can see.")
@output.format_option("text", "json", "github", default="text")
@click.pass_obj
def validate_cmd(obj: Ctx, paths: tuple[str, ...], base: str | None, fmt: str) -> int:
    """Check the desk: YAML safety, schemas, references, workflows, priorities; every problem is reported."""
    from itsm_cli.errors import one_line
    from itsm_cli.store.basecheck import check_against_base
    from itsm_cli.store.check import check_desk
    from itsm_cli.store.tool_pin import workflow_warnings

    desk = obj.desk
    rels = None
    if paths:
        cwd = Path(obj.directory or ".").resolve()
        rels = []
        for p in paths:
            full = (cwd / p).resolve()
            try:
                rels.append(full.relative_to(desk.root).as_posix())
            except ValueError:
                raise click.BadParameter(f"{p} is outside the desk", param_hint="PATHS") from None
    result = check_against_base(desk, base, rels) if base else check_desk(desk, rels)
    if not any(p.path == "itsm.yaml" for p in result.problems):  # checks that need a sound itsm.yaml
        from itsm_cli.app.releases import implementation_problems
        from itsm_cli.app.service_review import customer_problems

        more = [*implementation_problems(desk, rels, result.listing), *customer_problems(desk, rels)]
        result.problems = sorted({*result.problems, *more})
    # Warnings say what could go wrong; they never fail the check.
    warnings = [*workflow_warnings(desk, rels), *_pages_warnings(desk, rels)]
    if fmt == "json":
        click.echo(output.to_json({"ok": result.ok, "files": result.files,
                                   "problems": [p.as_dict() for p in result.problems],
                                   "warnings": [w.as_dict() for w in warnings]}))
    elif fmt == "github":
        for level, found in (("error", result.problems), ("warning", warnings)):
            for p in found:
                click.echo(
                    f"::{level} file={_escape_property(p.path)},line={p.line},col={p.col},"
                    f"title={_escape_property('itsm ' + p.rule)}::{_escape_data(p.message)}"
                )
    else:
        for p in result.problems:
            click.echo(str(p))
        for w in warnings:
            if w.rule == "public-pages":  # about the desk's publishing, not a file to fix: said, not listed
                click.echo(f"itsm: warning: {one_line(w.message)}", err=True)
            else:
                click.echo(one_line(f"{w.path}:{w.line}:{w.col}: warning: {w.message}"))
    n = len(result.problems)
    summary = f"{result.files} file(s) checked, {n} problem(s)" if n else f"{result.files} file(s) checked, all valid"
    if warnings:
        summary += f", {len(warnings)} warning(s)"
    if fmt != "json":
        click.echo(("itsm: " if n else "") + summary, err=True)
    return 1 if n else 0


def _pages_warnings(desk: Desk, rels: list[str] | None) -> list[Problem]:
    """The internal-site-on-public-Pages warning as a validate warning, at the publish workflow's deploy step."""
    from itsm_cli.core.publishing import PUBLISH_WORKFLOW, pages_warning, site_settings
    from itsm_cli.core.validate import Problem

    if rels is not None and PUBLISH_WORKFLOW not in rels and "itsm.yaml" not in rels:
        return []
    workflow = desk.root / PUBLISH_WORKFLOW
    try:
        text = workflow.read_text(encoding="utf-8") if workflow.is_file() else None
    except (OSError, UnicodeDecodeError):
        text = None
    warning = pages_warning(site_settings(desk.config.data), text)
    if not warning:
        return []
    at = (text or "").find("deploy-pages")
    line = (text or "")[:at].count("\n") + 1 if at >= 0 else 1
    return [Problem(PUBLISH_WORKFLOW, line, 1, warning, "public-pages")]


@click.command("codeowners")
@click.option("--check", is_flag=True, help="Exit 1 if .github/CODEOWNERS is out of date instead of writing it.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print instead of writing the file.")
@click.pass_obj
def codeowners_cmd(obj: Ctx, check: bool, to_stdout: bool) -> int:
    """Write .github/CODEOWNERS from the catalog's owners and the approving groups."""
    from itsm_cli.core.codeowners import codeowners

    desk = obj.desk
    text = codeowners(desk.config, desk.services())
    target = desk.root / ".github" / "CODEOWNERS"
    if to_stdout:
        click.echo(text, nl=False)
        return 0
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if check:
        if current != text:
            click.echo("itsm: error: .github/CODEOWNERS is out of date; run 'itsm codeowners'", err=True)
            return 1
        return 0
    if current != text:
        desk.write_text(".github/CODEOWNERS", text)
        click.echo("wrote .github/CODEOWNERS (commit it with your next change)", err=True)
    return 0


@click.command("merge-driver", context_settings={"ignore_unknown_options": True})
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("marker_size", required=False, default="7")
@click.argument("path", required=False)
def merge_driver_cmd(base: str, ours: str, theirs: str, marker_size: str, path: str | None) -> int:
    """Git merge driver for records (git config merge.itsm.driver "itsm merge-driver %O %A %B %L %P").

    Merges two versions field by field: history entries from both sides in
    time order; fields changed differently on both sides are a conflict.
    """
    from itsm_cli.store.merge_driver import main as merge_main

    return merge_main([base, ours, theirs, marker_size, path or ours])


COMMANDS = [init_cmd, upgrade_cmd, upgrade_tool_cmd, validate_cmd, codeowners_cmd, merge_driver_cmd]
