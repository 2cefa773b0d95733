"""The ``itsm`` command line: thin click commands over :mod:`itsm_cli.app` and the core.

Errors become one ``itsm: error: ...`` line and the exit code of their kind
(1 refused/invalid, 2 usage, 3 environment); nothing ever prints a traceback
(set ``ITSM_DEBUG=1`` to see one).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import TYPE_CHECKING

import click

from itsm_cli import __version__
from itsm_cli.errors import ItsmError

if TYPE_CHECKING:  # for annotations only: `itsm --help` imports neither the store nor the app
    from itsm_cli.app import App
    from itsm_cli.store.desk import Desk


class Ctx:
    """What every command shares: where the desk is and who is acting."""

    assignee_given: str  # what --assignee said, set by a listing command (see record_commands.build_query)

    def __init__(self, directory: str | None, actor: str | None):
        self.directory = directory
        self.actor = actor
        self._desk: Desk | None = None
        self.time_spent: int | None = None  # minutes, from a command's --time

    @property
    def desk(self) -> Desk:
        """The desk at ``-C`` (or the current directory), found on first use."""
        if self._desk is None:
            from itsm_cli.store.desk import Desk

            self._desk = Desk.find(self.directory or ".")
        return self._desk

    def app(self, commit: bool = True) -> App:
        """The library object for changing commands (an ID of '-' reads IDs from standard input)."""
        from itsm_cli.app import App, now_utc
        from itsm_cli.cli.bulk import read_ids

        app = App(self.desk, self.actor, now_utc(), commit=commit)
        app.time_spent = self.time_spent
        app.ids_input = read_ids
        return app


pass_ctx = click.make_pass_decorator(Ctx)


# Every command: its name, the module under itsm_cli.cli that defines it, and its one-line help.
# A command's module is imported only when that command runs (importing all of them cost 25 ms
# on every call); `itsm --help` lists the commands from this table without importing any.
# tests/cli/test_registry.py checks the table against the modules' COMMANDS lists.
COMMAND_TABLE: dict[str, tuple[str, str]] = {
    "new": ("record_commands", "Create a record (incident, request, problem, change, article); prints its ID."),
    "show": ("record_commands", "Show one record: its fields, its links both ways (what it links to, what links to "
             "it), its history."),
    "list": ("record_commands", "List records (tickets unless TYPE says otherwise), filtered, searched and sorted."),
    "transition": ("record_commands",
                   "Move a record to STATE along its workflow; an illegal move names the legal ones."),
    "assign": ("record_commands",
               "Assign a record to a listed agent (PERSON, or 'me' for yourself) and/or a --group."),
    "comment": ("record_commands", "Add a comment to a record ('-' reads the text from standard input)."),
    "link": ("record_commands",
             "Link a record to another: parent, child, duplicate-of, caused-by, fixed-by, relates, implements."),
    "edit": ("record_commands", "Change fields of a record (not its identity, status, history or links)."),
    "duplicate": ("record_commands",
                  "Close ID as a duplicate of OF_ID: link it, close it with a note, make its requester a watcher of OF_ID."),
    "approve": ("record_commands",
                "Approve a change or request (a member of the approving group, not its requester or assignee)."),
    "reject": ("record_commands", "Reject a change or request awaiting approval."),
    "renumber": ("record_commands",
                 "Give a record the next free ID across all branches, rewriting links to it; prints the new ID."),
    "implement": ("release_commands", "Record a commit, tag or pull request that implemented a change (one of "
                  "--commit, --tag, --pr)."),
    "watch": ("collaboration_commands",
              "Follow a ticket: PERSON (default: you; 'me' works too) is e-mailed its public comments."),
    "unwatch": ("collaboration_commands", "Stop PERSON (default: you) following a ticket."),
    "attach": ("collaboration_commands",
               "Keep files with a ticket, in attachments/<ID>/, committed with the ticket."),
    "rate": ("collaboration_commands", "Rate how a resolved ticket was handled, 1 (very unhappy) to 5 (very happy): "
             "its requester, once."),
    "escalate": ("supplier_commands",
                 "Escalate an incident to a supplier (suppliers/<id>.yaml), with the supplier's own reference."),
    "init": ("desk_commands", "Create a new desk at PATH as its own git repository, with a first commit."),
    "upgrade": ("desk_commands", "Bring a desk up to this itsm, in one commit: the ticket layout and the schemas."),
    "upgrade-tool": ("desk_commands", "Make the desk's workflows install the running itsm (or SPEC), in one commit."),
    "validate": ("desk_commands",
                 "Check the desk: YAML safety, schemas, references, workflows, priorities; every problem is reported."),
    "codeowners": ("desk_commands", "Write .github/CODEOWNERS from the catalog's owners and the approving groups."),
    "merge-driver": ("desk_commands",
                     'Git merge driver for records (git config merge.itsm.driver "itsm merge-driver %O %A %B %L %P").'),
    "person": ("setup_commands", "The desk's listed people (itsm.yaml people:)."),
    "group": ("setup_commands", "The desk's groups (itsm.yaml groups:)."),
    "service": ("setup_commands", "The service catalog (catalog/<id>.yaml)."),
    "sla": ("service_level_commands", "A ticket's response and resolution clocks: target, elapsed, paused, "
            "remaining, breached, when it breaches."),
    "report": ("service_level_commands",
               "Service-level figures: sla (attainment), mttr (mean/median times), volume, backlog (ageing), "
               "time (time spent, from --time), csat (requesters' ratings, from itsm rate), availability."),
    "history": ("audit_commands", "A record's history entries side by side with the commits that made them."),
    "audit": ("audit_commands", "Who changed which record, and when, from git: one row per change."),
    "site": ("site_commands",
             "Build or preview the published site: service catalog, knowledge base, status and metrics."),
    "intake-forms": ("site_commands",
                     "Write the Git host's request form (a GitHub issue form) from the catalog's live services."),
    "intake": ("site_commands", "Create a request from a GitHub 'issues' event payload (EVENT.json, or '-' for "
               "stdin); prints its ID."),
    "sweep": ("automation_commands",
              "Apply the time-based rules: auto-close, escalate, remind approvers, flag overdue reviews."),
    "notify": ("automation_commands", "Send due notifications (e-mail over SMTP, JSON to webhooks), each once."),
    "intake-mail": ("automation_commands", "Turn e-mail into tickets: one message on standard input, or a Maildir "
                    "folder or mbox file at PATH."),
    "import": ("automation_commands",
               "Import records from a CSV or JSON FILE (from another tool, or an itsm export), in one commit."),
    "export": ("automation_commands",
               "Export whole records (tickets unless TYPE says otherwise) as JSON or CSV, filtered like list."),
    "sync": ("sync_commands",
             "Bring the current branch up to date with its target, merging records with the record-aware driver."),
    "settle": ("sync_commands", "Settle a workflow fork a merge left in ID: keep both sides' entries, add one "
               "settling entry to STATE."),
}


def short_help(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters as click shortens a command's help in a list."""
    return click.Command(None, help=text).get_short_help_str(limit)


class Group(click.Group):
    """The top-level group: lists commands in the order of a ticket's life and loads each one's module on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMAND_TABLE) + [name for name in self.commands if name not in COMMAND_TABLE]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_TABLE:
            import importlib

            module = importlib.import_module(f"itsm_cli.cli.{COMMAND_TABLE[cmd_name][0]}")
            for command in module.COMMANDS:
                self.commands.setdefault(command.name, command)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``itsm --help``, from the table (so that help imports no command module)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMAND_TABLE:
                rows.append((name, short_help(COMMAND_TABLE[name][1], limit)))
            else:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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
    # os.path rather than pathlib, which `itsm --help` then never imports (3 ms of its start-up);
    # '' is the current directory, as Path('') is.
    if directory is not None and not os.path.isdir(directory or "."):
        raise click.BadParameter(f"no such directory: {directory}", param_hint="-C")
    ctx.obj = Ctx(directory, actor)


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
        for detail in getattr(e, "details", ()):  # one line per record a many-record change refused
            click.echo(f"itsm: error: {detail}", err=True)
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
    if argv is None:  # a process of its own
        _end_process(code)
    sys.exit(code)


def _end_process(code: int) -> None:
    """Exit now, doing what exiting must do but skipping the interpreter's teardown.

    Freeing every module and object one by one at exit costs 7-10 ms of CPU
    on every command (a quarter of ``itsm show``'s own time), and none of it
    is needed: the handlers registered to run at exit are run here (the git
    readers' finalizers among them: each git process is ended and waited
    for), then the output is flushed and the process ends. Normal exit is
    kept while a thread that is not a daemon still runs (the interpreter
    would wait for it).
    """
    import atexit
    import threading

    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    # Every handler, as at a normal exit (weakref.finalize's included); atexit has no public way to run them.
    # The git readers they close are not waited for: they exit at the end of their input (gitprocess.leaving).
    gitprocess = sys.modules.get("itsm_cli.store.gitprocess")  # imported only if git was run: no import here
    if gitprocess is not None:
        gitprocess.leaving()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the reader went away (| head): as at a closed pipe above
        pass
    except OSError as e:  # a full disk under a redirect: the output is not all there, so this is no success
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"itsm: error: cannot write the output: {e.strerror or e}\n")
        code = code or 3
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


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
