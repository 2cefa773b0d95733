"""Set-up by command: ``itsm person add``, ``itsm group add``, ``itsm service new``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from itsm_cli.cli import Group

if TYPE_CHECKING:
    from itsm_cli.cli import Ctx


@click.group("person", cls=Group)
def person_group() -> None:
    """The desk's listed people (itsm.yaml people:)."""


@person_group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's name as colleagues know it.")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help="agent, approver, manager or bot (repeatable).")
@click.option("--group", "groups", multiple=True, metavar="GROUP", help="A group they belong to (repeatable).")
@click.option("--no-commit", is_flag=True, help="Write itsm.yaml but leave committing to you (for a pull request).")
@click.pass_obj
def person_add_cmd(obj: Ctx, email: str, name: str, roles: tuple[str, ...], groups: tuple[str, ...],
                   no_commit: bool) -> None:
    """List a person in itsm.yaml, keeping its comments and order; one commit.

    Agents work tickets (assign, transition); approvers sit in approving groups.
    Requesters need not be listed.

    Example: itsm person add tom.fletcher@northwind.example --name "Tom Fletcher" --role agent --group service-desk
    """
    from itsm_cli.app.setup_desk import add_person

    sha = add_person(obj.app(commit=not no_commit), email, name, list(roles), list(groups))
    click.echo(f"listed {email}" + (f" ({sha[:10]})" if sha else ""))


@click.group("group", cls=Group)
def group_group() -> None:
    """The desk's groups (itsm.yaml groups:)."""


@group_group.command("add")
@click.argument("group_id", metavar="ID")
@click.option("--name", required=True, help="The group's name.")
@click.option("--email", metavar="EMAIL", help="The group's shared mailbox (notifications go there).")
@click.option("--no-commit", is_flag=True, help="Write itsm.yaml but leave committing to you (for a pull request).")
@click.pass_obj
def group_add_cmd(obj: Ctx, group_id: str, name: str, email: str | None, no_commit: bool) -> None:
    """Add a group to itsm.yaml, keeping its comments and order; one commit.

    Example: itsm group add field-support --name "Field support" --email field@northwind.example
    """
    from itsm_cli.app.setup_desk import add_group

    sha = add_group(obj.app(commit=not no_commit), group_id, name, email)
    click.echo(f"added group {group_id}" + (f" ({sha[:10]})" if sha else ""))


@click.group("service", cls=Group)
def service_group() -> None:
    """The service catalog (catalog/<id>.yaml)."""


@service_group.command("new")
@click.argument("service_id", metavar="ID")
@click.option("--name", required=True, help="The service's name in the catalog.")
@click.option("--owner", metavar="EMAIL", help="Who owns it: a listed person (default: you).")
@click.option("--group", help="The group that supports it (default: the owner's first group).")
@click.option("--support-hours", metavar="CALENDAR", help="Its support hours (default: business).")
@click.option("--no-commit", is_flag=True, help="Write the file but leave committing to you (for a pull request).")
@click.pass_obj
def service_new_cmd(obj: Ctx, service_id: str, name: str, owner: str | None, group: str | None,
                    support_hours: str | None, no_commit: bool) -> None:
    """Write catalog/ID.yaml: a complete, valid service with comments saying what to fill in; one commit.

    Edit the file for its description, offerings and dependencies, then
    'itsm validate' and commit (or open a pull request).

    Example: itsm service new field-kit --name "Field kit and rugged tablets" --group service-desk
    """
    from itsm_cli.app.setup_desk import new_service

    rel, sha = new_service(obj.app(commit=not no_commit), service_id, name, owner, group, support_hours)
    click.echo(rel + (f" ({sha[:10]})" if sha else ""))


COMMANDS = [person_group, group_group, service_group]
