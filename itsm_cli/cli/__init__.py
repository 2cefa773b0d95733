"""The ``itsm`` command line: thin click commands over :mod:`itsm_cli.app` and the core.

Errors become one ``itsm: error: ...`` line and the exit code of their kind
(1 refused/invalid, 2 usage, 3 environment); nothing ever prints a traceback
(set ``ITSM_DEBUG=1`` to see one).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import click

from itsm_cli import __version__
from itsm_cli.errors import ItsmError


class Ctx:
    """What every command shares: where the desk is and who is acting."""

    def __init__(self, directory: str | None, actor: str | None):
        self.directory = directory
        self.actor = actor
        self._desk = None

    @property
    def desk(self):
        """The desk at ``-C`` (or the current directory), found on first use."""
        if self._desk is None:
            from itsm_cli.store.desk import Desk

            self._desk = Desk.find(self.directory or ".")
        return self._desk

    def app(self, commit: bool = True):
        """The library object for changing commands."""
        from itsm_cli.app import App, now_utc

        return App(self.desk, self.actor, now_utc(), commit=commit)


pass_ctx = click.make_pass_decorator(Ctx)


class Group(click.Group):
    """Lists commands in the order they were added (the order of a ticket's life)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="itsm")
@click.option("-C", "directory", metavar="PATH", help="Run as if itsm was started in PATH (like git -C).")
@click.option("--as", "actor", metavar="EMAIL", help="Act as this person (default: $ITSM_USER, then git config user.email).")
@click.pass_context
def cli(ctx: click.Context, directory: str | None, actor: str | None) -> None:
    """IT service management for small teams, kept as plain files in Git.

    Incidents, requests, problems, changes, the service catalog and the
    knowledge base are YAML and Markdown files; every change is one commit.
    """
    if directory is not None and not Path(directory).is_dir():
        raise click.BadParameter(f"no such directory: {directory}", param_hint="-C")
    ctx.obj = Ctx(directory, actor)


def _register() -> None:
    from itsm_cli.cli import (
        audit_commands,
        automation_commands,
        desk_commands,
        record_commands,
        service_level_commands,
        site_commands,
        sync_commands,
    )

    for module in (record_commands, desk_commands, service_level_commands, audit_commands, site_commands,
                   automation_commands, sync_commands):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


# click 8.2 raises this when a group runs without arguments; its name changed in 8.5.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", None) or click.exceptions.NoArgsIsHelp


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and map every failure to one line and an exit code."""
    # A command is a short-lived process that may hold 100,000 summaries at once; with the default
    # thresholds the collector walks them again and again as they are made (40 % of `itsm list --open`
    # on such a desk). Reference counting frees nearly everything; cycles are still collected, less often.
    gc.set_threshold(10_000, 10, 10)
    if argv is None:  # a process of its own (tests call main(argv) inside theirs)
        _catch_interrupts()
    prog = "itsm"
    try:
        if os.environ.get("_ITSM_COMPLETE"):  # click's shell completion lives in cli.main
            cli.main(args=argv, prog_name=prog, complete_var="_ITSM_COMPLETE")
        # make_context + invoke rather than cli.main: click's main turns a closed pipe into exit 1,
        # and `itsm audit --format csv | head` is a success.
        args = list(sys.argv[1:] if argv is None else argv)
        with cli.make_context(prog, args) as ctx:
            rv = cli.invoke(ctx)
        code = rv if isinstance(rv, int) else 0
    except ItsmError as e:
        click.echo(f"itsm: error: {e}", err=True)
        code = e.exit_code
    except _NO_ARGS_IS_HELP as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        code = 2
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
        click.echo(f"itsm: error: {e.format_message()}{hint}", err=True)
        code = 2
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.Abort:
        click.echo("itsm: error: interrupted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("itsm: error: interrupted", err=True)
        code = 130
    except click.ClickException as e:
        click.echo(f"itsm: error: {e.format_message()}", err=True)
        code = e.exit_code
    except BrokenPipeError:
        code = 0
        _silence_stdout()
    except Exception as e:
        if os.environ.get("ITSM_DEBUG"):
            raise
        click.echo(f"itsm: error: internal error: {type(e).__name__}: {e} (set ITSM_DEBUG=1 for details)", err=True)
        code = 3
    sys.exit(code)


def _catch_interrupts() -> None:
    """Make SIGINT an interrupt (exit 130, work tree put back) even when itsm was started with it ignored.

    A shell without job control starts background commands with SIGINT
    ignored, and Python then installs no handler of its own; but the git that
    itsm runs installs its own and dies on SIGINT all the same. itsm then saw a
    commit that "failed" (exit 3) or, signalled alone, ignored the interrupt and
    committed (exit 0). Like git, a command that changes files takes the
    signal, cleans up and stops.
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
