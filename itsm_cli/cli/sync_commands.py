"""Commands that keep a pull request up to date: sync, settle."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from itsm_cli.cli import Ctx


@click.command("sync")
@click.option("--target", metavar="BRANCH", help="The branch to merge in (default: the remote's default branch).")
@click.option("--remote", default="origin", show_default=True, metavar="NAME", help="The remote to fetch from and push to.")
@click.option("--push", is_flag=True, help="Push the branch when the merged result is valid.")
@click.pass_obj
def sync_cmd(obj: Ctx, target: str | None, remote: str, push: bool) -> int:
    """Bring the current branch up to date with its target, merging records with the record-aware driver.

    Fetches REMOTE, merges the target branch with the itsm merge driver (enabled
    for this command only; the clone's git configuration is not changed), then
    checks the result as the pull-request check does (validate --base TARGET).
    Refuses on uncommitted changes. A workflow fork (both branches moved a
    record to different states) stops the merge, in progress, naming the
    records: settle each with 'itsm settle ID STATE', then 'git commit --no-edit',
    or undo it with 'git merge --abort'. Ctrl-C or a failure leaves the
    repository as git left it.
    """
    from itsm_cli.app.sync import sync

    outcome = sync(obj.desk, target, remote, push)
    result = outcome.result
    assert result is not None
    for problem in result.problems:
        click.echo(str(problem))
    state = "already up to date with" if outcome.up_to_date else "merged"
    click.echo(f"{outcome.branch}: {state} {outcome.target}", err=True)
    if not result.ok:
        n = len(result.problems)
        click.echo(f"itsm: error: the merged branch has {n} problem(s) against {outcome.target}"
                   f"{'; not pushed' if push else ''}; fix them and commit", err=True)
        return 1
    click.echo(f"{result.files} file(s) checked against {outcome.target}, all valid", err=True)
    if outcome.pushed_to:
        click.echo(f"pushed to {outcome.pushed_to}", err=True)
    return 0


@click.command("settle")
@click.argument("record_id", metavar="ID")
@click.argument("state")
@click.option("--note", help="Why this state (kept in the settling entry).")
@click.pass_obj
def settle_cmd(obj: Ctx, record_id: str, state: str, note: str | None) -> None:
    """Settle a workflow fork a merge left in ID: keep both sides' entries, add one settling entry to STATE.

    For a merge in progress (itsm sync, git merge) that stopped because both
    branches moved the record to different states. STATE is one of the states
    the sides reached; the acting person must be a listed agent. The record is
    written and staged (git add); commit the merge yourself (git commit --no-edit).
    """
    from itsm_cli.app.sync import settle

    app = obj.app()
    rel = settle(app, record_id, state, note)
    click.echo(f"settled {record_id} at '{state}' ({rel} staged); when nothing else is unmerged: git commit --no-edit",
               err=True)


COMMANDS = [sync_cmd, settle_cmd]
