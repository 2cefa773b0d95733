"""What a command imports before it answers: the start-up budget, checked by module rather than by clock.

`itsm --help` and `itsm show ID` are meant to start in under 60 ms (README, benchmarks/run.py times
them); most of that is Python, click and PyYAML, so what is left is decided by which of our modules
and the standard library's a command drags in. These tests run the real entry point in a fresh
interpreter and name the modules that must not be loaded: a top-level import added in the wrong
place fails here, not as a slower benchmark months later.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desk_testing import ANN, BOB, git, run, ticket_path

# Run the CLI as its console script does, then list every loaded module (after a SystemExit too).
_PROBE = (
    "import sys\nfrom itsm_cli.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('\\nLOADED', ' '.join(sorted(sys.modules)))\n"
)

# Heavy or unrelated to every command below: the site builder, schema checking, Markdown, encryption.
NEVER = ("itsm_cli.site", "jsonschema", "markdown", "mkdocs", "pyrage", "mimetypes", "email", "sqlite3")


def loaded_by(*argv: str, cwd: Path) -> tuple[str, set[str]]:
    """Run ``itsm ARGV`` in a new interpreter in ``cwd``: (what it printed, the modules loaded by the end)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], cwd=cwd, capture_output=True, text=True, check=True)
    printed, _, modules = done.stdout.rpartition("\nLOADED ")
    return printed, set(modules.split())


def among(modules: set[str], *names: str) -> list[str]:
    """The ``modules`` that are one of ``names`` or inside one of them (a package's submodules)."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_top_level_help_imports_no_layer_below_the_cli_and_no_yaml(tmp_path: Path) -> None:
    printed, modules = loaded_by("--help", cwd=tmp_path)
    assert "show" in printed and "itsm_cli.cli" in modules and "click" in modules  # the probe ran the CLI
    # Help is the command table and click: no desk, so no YAML, paths, git or JSON either.
    assert among(modules, "itsm_cli.core", "itsm_cli.store", "itsm_cli.app", "yaml", "pathlib", "subprocess",
                 "json", "dataclasses", *NEVER) == []


def test_show_reads_a_record_without_the_application_layer(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    printed, modules = loaded_by("show", "INC-0001", cwd=desk)
    assert "Printer jams" in printed and "itsm_cli.store.desk" in modules and "yaml" in modules
    # Showing is reading: no App, no workflow or rules (records and attachments import them only to
    # add history), no validation, no caches, no clocks (zoneinfo), JSON or CSV for a table.
    assert among(modules, "itsm_cli.app", "itsm_cli.core.workflow", "itsm_cli.core.records", "itsm_cli.core.rules",
                 "itsm_cli.core.validate", "itsm_cli.core.schema", "itsm_cli.core.sla", "itsm_cli.core.calendar",
                 "itsm_cli.store.cache", "itsm_cli.store.transaction", "itsm_cli.store.history", "zoneinfo",
                 "json", "csv", *NEVER) == []


def test_show_as_json_loads_json_and_still_no_application_layer(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    printed, modules = loaded_by("show", "INC-0001", "--format", "json", cwd=desk)
    assert '"title": "Printer jams"' in printed and "json" in modules  # guards the probe: json comes when asked
    assert among(modules, "itsm_cli.app", "itsm_cli.core.workflow", "csv", *NEVER) == []


def test_changing_commands_load_neither_time_zones_nor_the_site(desk: Path) -> None:
    printed, modules = loaded_by("new", "incident", "--title", "Printer jams", "--service", "email", cwd=desk)
    assert printed.strip() == "INC-0001" and "itsm_cli.app.changes" in modules
    # The desk's SLA calendars are made when a clock is computed, which creating a ticket does not do.
    assert among(modules, "zoneinfo", *NEVER) == []
    for argv in (("--as", ANN, "assign", "INC-0001", BOB), ("--as", BOB, "transition", "INC-0001", "in_progress")):
        printed, modules = loaded_by(*argv, cwd=desk)
        assert printed.strip() == "INC-0001" and "itsm_cli.app.changes" in modules, argv
        assert among(modules, "zoneinfo", *NEVER) == [], argv
    assert "in_progress" in git(desk, "show", "HEAD:" + ticket_path("INC-0001"))


# --- the end of a process ---------------------------------------------------------------------------


def test_a_process_runs_its_exit_handlers_flushes_and_keeps_its_exit_code(desk: Path, tmp_path: Path) -> None:
    """main() in a process of its own skips the interpreter's teardown, not what exiting must do."""
    assert run("new", "incident", "--title", "Printer jams").exit_code == 0
    mark = tmp_path / "handler-ran"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
        "from itsm_cli.cli import main\n"
        "sys.argv = ['itsm', *sys.argv[1:]]\n"
        "main()\n"
        "print('never reached')\n"
    )
    shown = subprocess.run([sys.executable, "-c", code, "show", "INC-0001"], cwd=desk, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "Printer jams" in shown.stdout and "never reached" not in shown.stdout  # all the output, flushed
    assert mark.read_text() == "ran"
    mark.unlink()
    refused = subprocess.run([sys.executable, "-c", code, "show", "INC-9999"], cwd=desk, capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stderr.startswith("itsm: error: no record INC-9999")
    assert mark.read_text() == "ran"


def test_a_reader_that_goes_away_early_is_no_error(desk: Path) -> None:
    for i in range(2, 40):
        assert run("new", "incident", "--title", f"Ticket {i}").exit_code == 0
    proc = subprocess.Popen([sys.executable, "-m", "itsm_cli", "list"], cwd=desk, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline()
    proc.stdout.close()  # as `itsm list | head -1` does
    _, err = proc.communicate()
    assert proc.returncode == 0 and b"Exception" not in err and err == b""


def test_the_history_walk_starts_before_the_audit_rules_are_imported(tmp_path: Path) -> None:
    """A first `itsm history` starts git's walk as soon as it knows the path; core.audit (7 ms) loads meanwhile."""
    code = "import sys, itsm_cli.app.trail, itsm_cli.store.history\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    modules = set(done.stdout.split())
    assert "itsm_cli.store.history" in modules and "itsm_cli.store.gitstore" in modules
    assert among(modules, "itsm_cli.core.audit", "itsm_cli.core.workflow", "yaml", "tempfile", "json", "hashlib") == []
