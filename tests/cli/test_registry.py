"""The lazy command table of ``itsm_cli.cli`` against the commands its modules define."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import click
import pytest

import itsm_cli.cli as cli_package
from itsm_cli.cli import COMMAND_TABLE, cli, short_help


def _defined_commands() -> dict[str, tuple[str, click.Command]]:
    found: dict[str, tuple[str, click.Command]] = {}
    for info in pkgutil.iter_modules(cli_package.__path__):
        module = importlib.import_module(f"itsm_cli.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            found[command.name] = (info.name, command)
    return found


def test_the_table_names_every_command_of_every_module_and_its_module() -> None:
    defined = _defined_commands()
    assert set(COMMAND_TABLE) == set(defined), "add the missing commands to COMMAND_TABLE in itsm_cli/cli/__init__.py"
    for name, (module, _help) in COMMAND_TABLE.items():
        assert defined[name][0] == module, name


@pytest.mark.parametrize("limit", [45, 60, 300])
def test_the_tables_help_is_the_commands_own_first_line(limit: int) -> None:
    defined = _defined_commands()
    for name, (_module, text) in COMMAND_TABLE.items():
        assert short_help(text, limit) == defined[name][1].get_short_help_str(limit), name


def test_every_listed_command_loads() -> None:
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name


def _run_and_list_command_modules(*argv: str) -> tuple[str, str]:
    """Run ``itsm ARGV`` in a fresh interpreter: (what it printed, the command modules it had imported by the end)."""
    code = (
        "import sys; from itsm_cli.cli import main\n"
        f"sys.argv = ['itsm', *{list(argv)!r}]\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.endswith('_commands')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    printed, _, loaded = out.rpartition("LOADED ")
    return printed, loaded.strip()


def test_a_command_imports_only_its_own_module() -> None:
    assert _run_and_list_command_modules("show", "--help")[1] == "['itsm_cli.cli.record_commands']"


def test_top_level_help_lists_every_command_without_importing_them() -> None:
    out, loaded = _run_and_list_command_modules("--help")
    assert loaded == "[]"
    for name in COMMAND_TABLE:
        assert f"\n  {name} " in out, name
