"""Unit tests of store/parse_memo.py: parsed files remembered by blob ID, and what must never come from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from desk_testing import git, run, ticket_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_cli.errors import InvalidRecord
from itsm_cli.store import cache_store, parse_memo, yaml_io
from itsm_cli.store.desk import Desk
from itsm_cli.store.parse_memo import ParseMemo

_PROBE = (
    "import sys\nfrom itsm_cli.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('\\nYAML', 'yaml' in sys.modules)\n"
)


def show(desk: Path, record_id: str) -> tuple[str, bool]:
    """``itsm show ID`` in a new interpreter: (what it printed, whether PyYAML was imported)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, "show", record_id], cwd=desk, capture_output=True,
                          text=True, check=True)
    printed, _, flag = done.stdout.rpartition("\nYAML ")
    return printed, flag.strip() == "True"


def entries(desk: Path) -> list[str]:
    folder = desk / ".git" / cache_store.DIRNAME / parse_memo.FOLDER
    return sorted(n for n in os.listdir(folder) if len(n) == 16) if folder.is_dir() else []


def memo_of(desk: Path) -> ParseMemo:
    memo = ParseMemo.for_desk(desk)
    assert memo.folder is not None
    return memo


def test_a_second_show_answers_without_importing_yaml(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    first, first_yaml = show(desk, "INC-0001")
    second, second_yaml = show(desk, "INC-0001")
    assert "Printer jams" in first and first == second
    assert first_yaml and not second_yaml
    raw = (desk / ticket_path("INC-0001")).read_bytes()
    assert parse_memo.entry_name(raw) in entries(desk)


def test_an_edited_file_is_parsed_again_and_its_new_value_shown(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    show(desk, "INC-0001")
    path = desk / ticket_path("INC-0001")
    path.write_text(path.read_text().replace("Printer jams", "Scanner jams"))
    printed, imported = show(desk, "INC-0001")
    assert "Scanner jams" in printed and "Printer jams" not in printed and imported


def test_a_file_the_loader_refuses_is_refused_every_time_and_never_remembered(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    path = desk / ticket_path("INC-0001")
    path.write_text(path.read_text() + "title: again\n")
    before = entries(desk)
    for _ in range(2):
        r = run("show", "INC-0001")
        assert r.exit_code != 0 and "duplicate key 'title'" in r.stderr
        assert f"{ticket_path('INC-0001')}:" in r.stderr  # file, line and column, each time
    assert entries(desk) == before


def test_a_damaged_or_foreign_entry_reads_as_a_miss_and_is_replaced(desk: Path) -> None:
    raw = (desk / "itsm.yaml").read_bytes()
    expected = yaml_io.load_mapping(raw, "itsm.yaml")
    memo = memo_of(desk)
    assert memo.load_mapping(raw, "itsm.yaml") == expected
    assert memo.folder is not None
    entry = memo.folder / parse_memo.entry_name(raw)
    good = entry.read_bytes()
    for damaged in (good[: len(good) // 2], good[:-8] + os.urandom(8), b""):
        entry.write_bytes(damaged)
        assert memo.load_mapping(raw, "itsm.yaml") == expected
        assert cache_store.read_framed(entry, memo.env) == (entry.name, (raw, expected))  # whole again
    other = ParseMemo(memo.folder, "another itsm")
    assert other.load_mapping(raw, "itsm.yaml") == expected  # written under its own environment
    assert memo.load_mapping(raw, "itsm.yaml") == expected


def test_an_entry_is_taken_only_for_the_very_bytes_it_holds(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two files whose entries share a name (a CRC-32 clash, forced here) each get their own value."""
    memo = memo_of(desk)
    a, b = b"id: A\ntitle: one\n", b"id: B\ntitle: two\n"
    monkeypatch.setattr(parse_memo, "entry_name", lambda raw: "0123456789abcdef")
    for _ in range(2):
        assert memo.load_mapping(a, "a.yaml") == {"id": "A", "title": "one"}
        assert memo.load_mapping(a, "a.yaml") == {"id": "A", "title": "one"}
        assert memo.load_mapping(b, "b.yaml") == {"id": "B", "title": "two"}
    assert "0123456789abcdef" in entries(desk)


def test_a_value_from_the_memo_is_the_callers_own(desk: Path) -> None:
    raw = b"id: A\nlist: [1, 2]\n"
    memo = memo_of(desk)
    memo.load_mapping(raw, "a.yaml")
    first = memo.load_mapping(raw, "a.yaml")
    first["list"].append(3)
    assert memo.load_mapping(raw, "a.yaml") == {"id": "A", "list": [1, 2]}


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.text(max_size=30),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(max_size=10), values, max_size=6))
def test_what_the_memo_returns_is_what_the_loader_returns(tmp_path: Path, data: dict) -> None:
    if not (tmp_path / ".git").exists():  # tmp_path is shared by the examples
        git(tmp_path, "init", "-q")
    raw = yaml_io.dumps(data).encode()
    memo = ParseMemo.for_desk(tmp_path)
    expected = yaml_io.load_mapping(raw, "x.yaml")
    assert memo.load_mapping(raw, "x.yaml") == expected  # the miss
    assert memo.load_mapping(raw, "x.yaml") == expected  # the hit
    assert type(memo.load_mapping(raw, "x.yaml")) is dict


def test_only_the_first_reads_of_a_desk_go_through_the_memo(desk: Path) -> None:
    for i in range(parse_memo.READS_PER_DESK + 6):
        assert run("new", "incident", "--title", f"Ticket {i}", "--service", "email").exit_code == 0
    shutil.rmtree(desk / ".git" / cache_store.DIRNAME / parse_memo.FOLDER, ignore_errors=True)
    d = Desk(desk)
    assert len(d.records(("tickets",))) == parse_memo.READS_PER_DESK + 6
    assert len(entries(desk)) == parse_memo.READS_PER_DESK


def test_no_memo_without_git_or_when_caches_are_off(tmp_path: Path, desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ParseMemo.for_desk(tmp_path).folder is None
    monkeypatch.setenv(cache_store.DISABLE_ENV, "1")
    shutil.rmtree(desk / ".git" / cache_store.DIRNAME)  # what making the desk left
    assert ParseMemo.for_desk(desk).folder is None
    assert run("show", "--format", "json", "INC-0001").exit_code != 0  # no such record; still no memo written
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    assert run("show", "INC-0001").exit_code == 0
    assert entries(desk) == []


def test_a_folder_that_cannot_be_written_is_no_error(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    folder = desk / ".git" / cache_store.DIRNAME / parse_memo.FOLDER
    shutil.rmtree(folder)
    folder.write_text("a file where the folder should be")
    r = run("show", "INC-0001")
    assert r.exit_code == 0 and "Printer jams" in r.stdout and r.stderr == ""


def test_the_folder_is_trimmed_to_its_newest_half(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_memo, "MAX_ENTRIES", 10)
    memo = ParseMemo(tmp_path, "env")
    for i in range(12):
        path = tmp_path / f"{i:016x}"
        path.write_bytes(b"x")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    (tmp_path / "lock").write_text("")  # not an entry: never counted, never removed
    memo.trim()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:016x}" for i in range(7, 12)] + ["lock"]
    memo.trim()  # under the limit: nothing more goes
    assert len(list(tmp_path.iterdir())) == 6


def test_a_write_of_a_key_starting_00_trims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(ParseMemo, "trim", lambda self: calls.append(1))
    git(tmp_path, "init", "-q")
    memo = ParseMemo.for_desk(tmp_path)
    raw = next(r for r in (b"id: %d\n" % i for i in range(10_000)) if parse_memo.entry_name(r).startswith("00"))
    memo.load_mapping(b"id: other\n", "o.yaml")
    assert calls == []
    memo.load_mapping(raw, "x.yaml")
    assert calls == [1]


def test_a_hit_still_gets_the_desks_own_checks(desk: Path) -> None:
    """The memo replaces parsing only: the file-name/ID check and the path checks run on every read."""
    assert run("new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    assert run("show", "INC-0001").exit_code == 0
    src = desk / ticket_path("INC-0001")
    dest = desk / ticket_path("INC-0002")
    dest.write_bytes(src.read_bytes())  # same bytes, so a memo hit, under the wrong name
    r = run("show", "INC-0002")
    assert r.exit_code != 0 and "file name says INC-0002 but its id is 'INC-0001'" in r.stderr
    with pytest.raises(InvalidRecord):
        Desk(desk).get("INC-0002")
