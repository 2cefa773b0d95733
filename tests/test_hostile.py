"""Hostile input (issue 7): every file and every argument is treated as an attack.

A desk's files arrive in pull requests from anyone who can open one. Each case
here plants a hostile file (committed, as if merged) or passes a hostile
argument, and checks three things: the exact exit code; that the one-line
``itsm: error:`` (or ``validate``'s ``path:line:col: message``) names the file
and the problem; and that HEAD and the work tree are exactly as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from desk_testing import ANN, EMAIL_SERVICE, Result, git, head, itsm_subprocess, run, status

from itsm_cli.cli import cli

ESC = "\x1b"


# --- helpers -----------------------------------------------------------------------------


def plant(desk: Path, rel: str, content: bytes | str, commit: bool = True) -> None:
    """Put a file in the desk and commit it, as a merged pull request would."""
    path = desk / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    if commit:
        git(desk, "add", "-A")
        git(desk, "commit", "-q", "--no-verify", "-m", f"plant {rel}")


class Unchanged:
    """Remembers HEAD and ``git status``; ``check()`` asserts neither moved."""

    def __init__(self, desk: Path):
        self.desk = desk
        self.head = head(desk)
        self.status = status(desk)

    def check(self) -> None:
        assert head(self.desk) == self.head, "a refused command must not commit"
        assert status(self.desk) == self.status, "a refused command must not touch the work tree"


def one_error_line(r: Result) -> str:
    """The single ``itsm: error:`` line on stderr (and nothing else there, no traceback)."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got: {r.stderr!r}"
    assert lines[0].startswith("itsm: error: "), lines[0]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    return lines[0]


def refused(desk: Path, args: list[str], code: int, *fragments: str, input: str | bytes | None = None) -> str:
    """Run itsm, expecting exit ``code`` with one error line holding every fragment, and no change."""
    before = Unchanged(desk)
    r = run(*args, input=input)  # type: ignore[arg-type]
    assert r.exit_code == code, (r.exit_code, r.stderr)
    line = one_error_line(r)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert ESC not in line
    before.check()
    return line


def invalid(desk: Path, rel: str, fragment: str, line: int | None = None) -> str:
    """``itsm validate`` exits 1 and reports ``rel:LINE:COL: ...fragment``; nothing changes."""
    before = Unchanged(desk)
    r = run("validate")
    assert r.exit_code == 1, (r.stdout, r.stderr)
    mine = [p for p in r.stdout.splitlines() if p.startswith(f"{rel}:")]
    assert mine, f"no problem reported for {rel}: {r.stdout}"
    hits = [p for p in mine if fragment in p]
    assert hits, (fragment, mine)
    _path, lineno, col, _ = hits[0].split(":", 3)
    assert int(lineno) >= 1 and int(col) >= 1
    if line is not None:
        assert int(lineno) == line, hits[0]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert ESC not in r.stdout
    before.check()
    return hits[0]


@pytest.fixture
def ticket(desk: Path) -> str:
    """A valid committed incident INC-0001; returns its text (the template for hostile variants)."""
    r = run("new", "incident", "--title", "Printer on fire", "--impact", "low", "--urgency", "low")
    assert r.exit_code == 0, r.stderr
    return (desk / "tickets/INC/000/INC-0001.yaml").read_text()


def variant(ticket: str, extra: str = "", record_id: str = "INC-0002") -> str:
    """The template ticket renamed to ``record_id`` with ``extra`` lines appended."""
    return ticket.replace("INC-0001", record_id) + extra


def itsm_child(*args: str, cwd: Path, timeout: float = 60, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real entry point in a child process, with a timeout (for cases that could hang or crash)."""
    return subprocess.run(
        [sys.executable, "-m", "itsm_cli", *args], cwd=cwd, capture_output=True, timeout=timeout, input=input,
        env=os.environ.copy(),
    )


# --- unsafe YAML: refused before any object is built -----------------------------------

UNSAFE_YAML = {
    "duplicate-key": ("title: Printer still on fire\n", "duplicate key 'title'"),
    "binary-tag": ("attachment: !!binary aGVsbG8=\n", "explicit tags (tag:yaml.org,2002:binary) are not allowed"),
    "set-tag": ("tags: !!set\n  ? a\n  ? b\n", "explicit tags (tag:yaml.org,2002:set) are not allowed"),
    "python-object": (
        "x: !!python/object/apply:os.system ['touch /tmp/itsm-pwned']\n",
        "explicit tags (tag:yaml.org,2002:python/object/apply:os.system) are not allowed",
    ),
    "local-tag": ("x: !custom value\n", "explicit tags (!custom) are not allowed"),
    "merge-key": ("<<: {title: merged}\n", "merge keys (<<) are not allowed"),
    "anchor": ("base: &b {a: 1}\n", "anchors (&b) are not allowed"),
    "second-document": ("---\nid: INC-0099\n", "more than one YAML document in the file"),
    "integer-key": ("1: one\n", "mapping keys must be strings"),
    "null-key": ("null: nothing\n", "mapping keys must be strings"),
    "boolean-key": ("true: yes\n", "mapping keys must be strings"),
    "sequence-key": ("? [a, b]\n: value\n", "mapping keys must be strings"),
    "too-deep": ("x: " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 32 levels"),
    "nul-byte": ("note: a\x00b\n", "control character U+0000 is not allowed"),
    "raw-escape": (f"note: {ESC}[2J\n", "control character U+001B is not allowed"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_YAML))
def test_unsafe_yaml_is_refused_by_show_and_validate(desk: Path, ticket: str, case: str) -> None:
    extra, problem = UNSAFE_YAML[case]
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket, extra))
    line = ticket.count("\n") + 1  # the first appended line
    err = refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:", problem)
    assert err.startswith(f"itsm: error: tickets/INC/000/INC-0002.yaml:{line}:")
    invalid(desk, "tickets/INC/000/INC-0002.yaml", problem, line)
    # A broken file elsewhere does not stop work on a good one, and is not touched by it.
    r = run("comment", "INC-0001", "still fine")
    assert r.exit_code == 0, r.stderr
    assert status(desk) == ""


def test_alias_bomb_is_refused_in_well_under_a_second(desk: Path, ticket: str) -> None:
    # "Billion laughs": 9 levels of 9 aliases each is 9**9 strings once expanded.
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(ord("b"), ord("j") + 1):
        prev = chr(i - 1)
        lines.append(f"{chr(i)}: &{chr(i)} [" + ",".join([f"*{prev}"] * 9) + "]")
    plant(desk, "tickets/INC/000/INC-0002.yaml", "\n".join(lines) + "\n")
    for args in (["show", "INC-0002"], ["validate"], ["list"]):
        start = time.monotonic()
        r = run(*args)
        elapsed = time.monotonic() - start
        assert elapsed < 1.0, f"{args} took {elapsed:.2f}s on an alias bomb"  # a guard against hangs, not a benchmark
        if args[0] == "show":
            assert r.exit_code == 1
            assert "tickets/INC/000/INC-0002.yaml:1:4: anchors (&a) are not allowed" in one_error_line(r)
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "anchors (&a) are not allowed", 1)


def test_aliases_without_anchors_are_refused(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket, "copy: *nothing\n"))
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:", "aliases (*name) are not allowed")


def test_30000_deep_brackets_never_segfault(desk: Path) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", "[" * 30_000)
    before = Unchanged(desk)
    for args in (("show", "INC-0002"), ("validate",)):
        p = itsm_subprocess(*args, cwd=desk)
        assert p.returncode == 1, (p.returncode, p.stderr)  # not -11 / 139 (SIGSEGV)
        assert "tickets/INC/000/INC-0002.yaml:1:" in p.stdout + p.stderr
        assert "Traceback" not in p.stderr
    assert "nest" in p.stdout  # "nested deeper than 32 levels" or libyaml's own nesting limit
    before.check()


def test_30000_deep_mappings_never_segfault(desk: Path) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", "{a: " * 30_000)
    before = Unchanged(desk)
    p = itsm_subprocess("show", "INC-0002", cwd=desk)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.startswith("itsm: error: tickets/INC/000/INC-0002.yaml:1:") and "nested deeper than 32 levels" in p.stderr
    before.check()


def test_too_many_values_are_refused(desk: Path) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", "x: [" + "1," * 210_000 + "1]\n")
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:1:", "more than 200,000 values in one file")


# --- YAML 1.1 surprises: values stay exactly what was written ---------------------------

COERCIONS = {
    # line appended: (the value show --format json must print, a validate problem or None when valid)
    "country: NO": ("country", "NO", "'country' was unexpected"),
    "major: NO": ("major", "NO", "major: 'NO' is not of type 'boolean'"),
    "major: yes": ("major", "yes", "major: 'yes' is not of type 'boolean'"),
    "due: 2026-01-01": ("due", "2026-01-01", "due: '2026-01-01' is not "),
    "due: 1:30": ("due", "1:30", "due: '1:30' is not "),
    "workaround: 0755": ("workaround", "0755", None),
    "workaround: 0x1F": ("workaround", "0x1F", None),
    "workaround: 1_000": ("workaround", "1_000", None),
    "workaround: .inf": ("workaround", ".inf", None),
    "workaround: 1.0e999": ("workaround", "1.0e999", None),
    "workaround: ~no": ("workaround", "~no", None),
    f"workaround: {'9' * 5000}": ("workaround", "9" * 5000, None),
}


@pytest.mark.parametrize("line", sorted(COERCIONS), ids=lambda s: s[:30])
def test_implicit_conversions_never_happen(desk: Path, ticket: str, line: str) -> None:
    field, value, problem = COERCIONS[line]
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket, line + "\n"))
    before = Unchanged(desk)
    r = run("show", "INC-0002", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[field] == value  # a string, never False / a date / 493 / 90 / inf
    before.check()
    if problem is None:
        assert run("validate").exit_code == 0
    else:
        invalid(desk, "tickets/INC/000/INC-0002.yaml", problem, ticket.count("\n") + 1 if field != "country" else None)


def test_id_0001_is_the_string_0001_not_the_number_1(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket).replace("id: INC-0002", "id: 0001"))
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:1:", "file name says INC-0002 but its id is '0001'")
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "file name must equal the ID", 1)


def test_an_id_with_a_trailing_newline_in_the_file_is_refused(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket).replace("id: INC-0002", 'id: "INC-0002\\n"'))
    err = refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:1:", "its id is 'INC-0002\\n'")
    assert "\n" not in err
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "id", 1)


# --- encodings and sizes -----------------------------------------------------------------


def test_non_utf8_bytes_are_refused_with_line_and_column(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket).encode() + b"workaround: caf\xe9\n")
    line = ticket.count("\n") + 1
    refused(desk, ["show", "INC-0002"], 1, f"tickets/INC/000/INC-0002.yaml:{line}:16:", "not valid UTF-8 (byte 0xe9)")
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "not valid UTF-8", line)


def test_a_utf16_file_is_refused_and_named(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket).encode("utf-16"))
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:1:1:", "UTF-16; save it as UTF-8")
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "UTF-16", 1)


def test_a_utf8_bom_is_accepted_and_dropped_on_rewrite(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", b"\xef\xbb\xbf" + variant(ticket).encode())
    r = run("show", "INC-0002", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["id"] == "INC-0002"
    assert run("validate").exit_code == 0
    assert run("comment", "INC-0002", "BOM or not").exit_code == 0
    assert not (desk / "tickets/INC/000/INC-0002.yaml").read_bytes().startswith(b"\xef\xbb\xbf")
    assert status(desk) == ""


def test_a_2mb_file_is_refused_before_it_is_read(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket, "workaround: " + "x" * 2_000_000 + "\n"))
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml: file is 2,", "the limit is 1,000,000")
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "the limit is 1,000,000", 1)
    r = run("list")
    assert r.exit_code == 0 and "INC-0001" in r.stdout  # the rest of the desk still lists


# --- files that are not plain files -------------------------------------------------------


@pytest.mark.parametrize(("rel", "record_id"), [
    ("tickets/INC/000/INC-0002.yaml", "INC-0002"), ("catalog/vpn.yaml", "vpn"), ("kb/KB-0001.md", "KB-0001"),
])
def test_a_symlinked_record_file_is_refused(desk: Path, ticket: str, rel: str, record_id: str) -> None:
    secret = desk.parent / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (desk / rel).symlink_to(secret)
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "a link")
    err = refused(desk, ["show", record_id], 1, f"{rel}: symbolic links are not allowed in a desk")
    assert "root:x" not in err
    invalid(desk, rel, "symbolic links are not allowed", 1)


def test_a_symlink_to_another_record_is_refused_too(desk: Path, ticket: str) -> None:
    (desk / "tickets/INC/000/INC-0002.yaml").symlink_to("INC-0001.yaml")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "a link")
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml: symbolic links are not allowed")
    refused(desk, ["comment", "INC-0002", "through the link"], 1, "tickets/INC/000/INC-0002.yaml: symbolic links")
    assert (desk / "tickets/INC/000/INC-0002.yaml").is_symlink()


def test_a_symlinked_tickets_folder_is_refused_for_reads_and_writes(desk: Path, ticket: str) -> None:
    outside = desk.parent / "outside"
    outside.mkdir()
    (outside / "INC" / "000").mkdir(parents=True)
    (outside / "INC" / "000" / "INC-0001.yaml").write_text(ticket)
    real = desk.parent / "tickets.real"
    (desk / "tickets").rename(real)
    (desk / "tickets").symlink_to(outside)
    before = Unchanged(desk)
    problem = "tickets/ is a symbolic link; symbolic links are not allowed in a desk"
    for args in (["show", "INC-0001"], ["comment", "INC-0001", "x"],
                 ["new", "incident", "--title", "x", "--impact", "low", "--urgency", "low"]):
        r = run(*args)
        assert r.exit_code == 1, (args, r.stderr)
        assert problem in one_error_line(r)
    r = run("validate")
    assert r.exit_code == 1 and f"tickets/INC/000/INC-0001.yaml:1:1: {problem}" in r.stdout
    assert "Printer on fire" not in run("list").stdout  # nothing is read through the link
    assert (outside / "INC/000/INC-0001.yaml").read_text() == ticket and sorted(os.listdir(outside)) == ["INC"]
    assert os.listdir(outside / "INC" / "000") == ["INC-0001.yaml"]
    before.check()


def test_a_fifo_is_refused_without_blocking(desk: Path) -> None:
    (desk / "tickets/INC/000").mkdir(parents=True, exist_ok=True)
    os.mkfifo(desk / "tickets/INC/000/INC-0002.yaml")
    before = Unchanged(desk)
    p = itsm_child("show", "INC-0002", cwd=desk, timeout=30)  # a blocking open() would time out here
    assert p.returncode == 1
    assert p.stderr.decode() == "itsm: error: tickets/INC/000/INC-0002.yaml: not a regular file\n"
    v = itsm_child("validate", cwd=desk, timeout=30)
    assert v.returncode == 1 and b"tickets/INC/000/INC-0002.yaml:1:1: not a regular file" in v.stdout
    before.check()


def test_a_schema_linked_to_dev_zero_is_refused_not_read(desk: Path) -> None:
    (desk / "schemas/evil.schema.json").symlink_to("/dev/zero")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "endless schema")
    before = Unchanged(desk)
    p = itsm_child("validate", cwd=desk, timeout=30)
    assert p.returncode == 1
    assert b"schemas/evil.schema.json:1:1: symbolic links are not allowed in a desk" in p.stdout
    before.check()


# --- IDs as arguments: validated with fullmatch before they become paths ------------------

BAD_IDS = ["../itsm", "/etc/passwd", "INC-1\n", "INC-0001\n", "INC-0001/../../itsm", "tickets/INC-0001",
           "INC-0001.yaml", "", "..", ".", "INC-0001\x00", " INC-0001", "INC-0001 ", "INC-１２", "email/../x",
           "INC-" + "9" * 10, "\x1b]0;pwned\x07"]
ID_COMMANDS = [
    ["show", "{id}"], ["transition", "{id}", "assigned"], ["assign", "{id}", ANN], ["comment", "{id}", "hi"],
    ["link", "{id}", "relates", "INC-0001"], ["link", "INC-0001", "relates", "{id}"], ["edit", "{id}", "--set", "x=1"],
    ["approve", "{id}"], ["reject", "{id}", "--note", "no"], ["renumber", "{id}"], ["history", "{id}"], ["sla", "{id}"],
]


def _commands_taking_ids() -> Iterator[list[str]]:
    for template in ID_COMMANDS:
        if template[0] in cli.list_commands(click.Context(cli)):  # commands other sessions are still adding join in when they exist
            yield template


@pytest.mark.parametrize("template", list(_commands_taking_ids()), ids=lambda t: "-".join(t[:2]))
def test_path_traversal_ids_are_usage_errors_in_every_command(desk: Path, ticket: str, template: list[str]) -> None:
    for bad in BAD_IDS:
        args = [a.replace("{id}", bad) for a in template]
        err = refused(desk, args, 2, "is not a valid ID")
        assert "\n" not in err and "\x00" not in err
    assert sorted(os.listdir(desk.parent)) == ["desk"]  # nothing was created next to the desk


def test_ids_differing_only_by_case(desk: Path, ticket: str) -> None:
    refused(desk, ["show", "inc-0001"], 1, "no record inc-0001")
    refused(desk, ["comment", "Inc-0001", "x"], 2, "'Inc-0001' is not a valid ID")
    # A lower-case twin of a record in a pull request is reported, not taken for the same record.
    plant(desk, "tickets/inc-0001.yaml", ticket.replace("INC-0001", "inc-0001"))
    invalid(desk, "tickets/inc-0001.yaml", "file name 'inc-0001' is not a valid ID", 1)
    refused(desk, ["show", "inc-0001"], 1, "no record inc-0001")
    # And a file whose id differs from its name only by case is not the record it claims to be.
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket).replace("id: INC-0002", "id: inc-0002"))
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:1:", "file name says INC-0002 but its id is 'inc-0002'")


def test_a_service_file_differing_only_by_case_is_reported(desk: Path) -> None:
    plant(desk, "catalog/Email.yaml", EMAIL_SERVICE)
    invalid(desk, "catalog/Email.yaml", "Email", 1)
    refused(desk, ["show", "Email"], 2, "'Email' is not a valid ID")


# --- hostile values through the command line ---------------------------------------------


def test_overlong_title_is_refused_with_a_bounded_message(desk: Path, ticket: str) -> None:
    err = refused(desk, ["new", "incident", "--title", "x" * 500, "--impact", "low", "--urgency", "low"], 1,
                  "tickets/INC/000/INC-0002.yaml", "is too long")
    assert len(err) < 1200


def test_a_huge_comment_from_stdin_is_refused_with_a_bounded_message(desk: Path, ticket: str) -> None:
    err = refused(desk, ["comment", "INC-0001", "-"], 1, "tickets/INC/000/INC-0001.yaml", "characters cut",
                  input="y" * 200_000)
    assert len(err) < 1200
    refused(desk, ["comment", "INC-0001", "-"], 2, "standard input is larger than 1 MB", input="z" * 1_000_001)


def test_table_cells_escape_every_control_character() -> None:
    # click strips CSI sequences when stdout is not a terminal, which would hide a raw one in the
    # tests above; on a real terminal nothing strips them, so cell() itself must.
    from itsm_cli.cli.output import cell, style

    for raw in (ESC, "\x07", "\x08", "\r", "\x9b", "\x7f", "\u202e", "\x00", "\x0c"):
        assert raw not in cell(f"a{raw}[31mb") and raw not in style(f"a{raw}b")
    assert cell("two\nlines\tand a tab") == "two lines and a tab"
    assert cell(f"{ESC}]0;x") == "\\x1b]0;x"


@pytest.mark.parametrize("title", [
    f"{ESC}]0;pwned{chr(7)}", f"red {ESC}[31malert{ESC}[0m", "bell\x07", "back\x08\x08\x08space",
    "c1 csi \x9b31m", "bidi \u202egnp.exe", f"clear {ESC}[2J{ESC}[H", "del \x7f",
])
def test_control_characters_in_titles_never_reach_the_terminal(desk: Path, ticket: str, title: str) -> None:
    r = run("new", "incident", "--title", title, "--impact", "low", "--urgency", "low")
    if any(ord(c) < 0x20 or c == "\x7f" for c in title):  # C0 controls and DEL break the schema's `line`
        assert r.exit_code == 1 and "title:" in r.stderr and ESC not in r.stderr
        assert not (desk / "tickets/INC/000/INC-0002.yaml").exists() and status(desk) == ""
        return
    assert r.exit_code == 0, r.stderr
    raw = {ESC, "\x07", "\x08", "\r", "\x9b", "\u202e", "\x7f"}
    for args in (["list"], ["list", "--format", "csv"], ["show", "INC-0002"]):
        out = run(*args).stdout
        assert "INC-0002" in out
        assert not raw & set(out), (args, out)
    subject = git(desk, "log", "-1", "--format=%B")
    assert not raw & set(subject)
    assert subject.rstrip("\n").splitlines()[1:] == ["", "Itsm-Id: INC-0002", "Itsm-Action: create"]
    assert json.loads(run("show", "INC-0002", "--format", "json").stdout)["title"] == title  # data kept exactly


def test_control_characters_planted_in_a_file_never_reach_the_terminal(desk: Path, ticket: str) -> None:
    body = variant(ticket).replace("title: Printer on fire", 'title: "\\e]2;owned\\a\\e[8mhidden"')
    body = body.replace("status: new", 'status: "\\e]0;pwned\\anew"')
    plant(desk, "tickets/INC/000/INC-0002.yaml", body)
    assert ESC not in run("list").stdout
    assert ESC not in run("show", "INC-0002").stdout
    refused(desk, ["transition", "INC-0002", "closed"], 1, "INC-0002")


def test_validate_output_never_carries_terminal_escapes(desk: Path, ticket: str) -> None:
    # OSC, not CSI: click itself strips CSI sequences (only) when stdout is not a terminal.
    plant(desk, "tickets/INC/000/INC-0002.yaml", variant(ticket).replace("status: new", 'status: "\\e]0;pwned\\anew"'))
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "is not a state of incident", 4)


def test_line_breaks_in_a_title_are_refused(desk: Path, ticket: str) -> None:
    for title in ("carriage\rreturn", "two\nlines"):
        refused(desk, ["new", "incident", "--title", title, "--impact", "low", "--urgency", "low"], 1,
                "tickets/INC/000/INC-0002.yaml", "title")


SETS = {
    # --set value: (exit code, fragment of the error, or the exact value stored)
    "title=*alias": (0, "*alias"),
    "title=&anchor x": (0, "&anchor x"),
    "title=!!python/object:os.system x": (0, "!!python/object:os.system x"),
    "title=[1, 2]": (0, "[1, 2]"),
    "title={a: b}": (0, "{a: b}"),
    "title=a: b": (0, "a: b"),
    "title=- item": (0, "- item"),
    "title=#comment": (0, "#comment"),
    "title=---": (0, "---"),
    "title=no": (0, "no"),
    "title=0755": (0, "0755"),
    "title=": (1, "'title' is required"),
    "major=yes": (1, "major: 'yes' is not of type 'boolean'"),
    "major=1": (1, "major: 1 is not of type 'boolean'"),
    "due=2024-05-01": (1, "due: '2024-05-01' is not "),
    "due=1:30": (1, "due: '1:30' is not "),
    "title=line\nbreak": (1, "title"),
    "id=INC-0009": (2, "'id' cannot be set directly"),
    "status=closed": (2, "'status' cannot be set directly"),
    "history=[]": (2, "'history' cannot be set directly"),
    "Title=x": (2, "--set expects FIELD=VALUE with a lower-case field name"),
    "../../etc/passwd=x": (2, "--set expects FIELD=VALUE"),
    "__class__=x": (1, "__class__"),
    "no-equals-sign": (2, "--set expects FIELD=VALUE"),
    "=value": (2, "--set expects FIELD=VALUE"),
}


@pytest.mark.parametrize("pair", sorted(SETS), ids=lambda s: s[:24].replace("\n", "\\n"))
def test_hostile_set_values(desk: Path, ticket: str, pair: str) -> None:
    code, expected = SETS[pair]
    if code == 0:
        r = run("edit", "INC-0001", "--set", pair)
        assert r.exit_code == 0, r.stderr
        field = pair.partition("=")[0]
        stored = yaml.safe_load((desk / "tickets/INC/000/INC-0001.yaml").read_text())[field]  # any YAML reader agrees
        assert stored == expected
        assert json.loads(run("show", "INC-0001", "--format", "json").stdout)[field] == expected
        assert status(desk) == ""
    else:
        fragments = [expected] if code == 2 else ["tickets/INC/000/INC-0001.yaml", expected]
        refused(desk, ["edit", "INC-0001", "--set", pair], code, *fragments)


def test_non_utf8_description_on_stdin_is_a_usage_error(desk: Path, ticket: str) -> None:
    refused(desk, ["new", "incident", "--title", "t", "--impact", "low", "--urgency", "low", "--description", "-"], 2,
            "standard input is not valid UTF-8", input=b"caf\xe9\n")
    refused(desk, ["comment", "INC-0001", "-"], 2, "standard input is not valid UTF-8", input=b"\xff\xfe\x00a")


# --- shapes that are YAML but not records -------------------------------------------------

NOT_A_MAPPING = {
    "empty": ("", "expected a mapping at the top level, found empty"),
    "only-a-comment": ("# nothing to see here\n", "expected a mapping at the top level, found empty"),
    "top-level-list": ("- id: INC-0002\n- id: INC-0003\n", "expected a mapping at the top level, found list"),
    "top-level-string": ("just text\n", "expected a mapping at the top level, found str"),
    "top-level-number": ("42\n", "expected a mapping at the top level, found int"),
    "unclosed-quote": ('id: "INC-0002\n', "malformed YAML"),
    "tab-indent": ("id: INC-0002\nhistory:\n\t- x\n", "malformed YAML"),
}


@pytest.mark.parametrize("case", sorted(NOT_A_MAPPING))
def test_files_that_are_not_a_mapping(desk: Path, case: str) -> None:
    content, problem = NOT_A_MAPPING[case]
    plant(desk, "tickets/INC/000/INC-0002.yaml", content)
    refused(desk, ["show", "INC-0002"], 1, "tickets/INC/000/INC-0002.yaml:", problem)
    refused(desk, ["comment", "INC-0002", "x"], 1, "tickets/INC/000/INC-0002.yaml:", problem)
    invalid(desk, "tickets/INC/000/INC-0002.yaml", problem)


def _with_history(ticket: str, history: str) -> str:
    return variant(ticket).split("history:")[0] + history


def test_history_entries_that_are_not_mappings_are_reported(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", _with_history(ticket, "history:\n  - just a string\n  - 42\n"))
    first = ticket.split("history:")[0].count("\n") + 2
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "'just a string' is not of type 'object'", first)
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "42 is not of type 'object'", first + 1)
    r = run("comment", "INC-0002", "x")
    assert r.exit_code == 1
    assert "INC-0002" in one_error_line(r)
    assert status(desk) == ""


def test_show_survives_history_entries_that_are_not_mappings(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", _with_history(ticket, "history:\n  - just a string\n"))
    r = run("show", "INC-0002")
    assert r.exit_code in (0, 1)
    assert "internal error" not in r.stderr


def test_a_history_that_is_not_a_list_is_refused_cleanly(desk: Path, ticket: str) -> None:
    plant(desk, "tickets/INC/000/INC-0002.yaml", _with_history(ticket, "history: 5\n"))
    invalid(desk, "tickets/INC/000/INC-0002.yaml", "history: 5 is not of type 'array'")
    refused(desk, ["comment", "INC-0002", "x"], 1, "tickets/INC/000/INC-0002.yaml")


def test_a_10000_entry_history_works_and_is_bounded(desk: Path, ticket: str) -> None:
    entry = "  - at: '2026-03-02T09:00:00Z'\n    by: ann@example.com\n    action: comment\n    note: c{}\n"
    history = ticket.split("history:")[1]
    big = variant(ticket).split("history:")[0] + "history:" + history + "".join(entry.format(i) for i in range(10_000))
    plant(desk, "tickets/INC/000/INC-0002.yaml", big)
    start = time.monotonic()
    r = run("show", "INC-0002", "--format", "json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["history"]) == 10_001
    r = run("comment", "INC-0002", "one more")
    assert r.exit_code == 0, r.stderr
    assert time.monotonic() - start < 60  # generous: a guard against quadratic blow-ups
    assert status(desk) == ""
    # Beyond the limits it is refused, not slow: 30,000 entries is more than 1 MB.
    huge = big + "".join(entry.format(i) for i in range(20_000))
    plant(desk, "tickets/INC/000/INC-0003.yaml", huge.replace("INC-0002", "INC-0003"))
    refused(desk, ["show", "INC-0003"], 1, "tickets/INC/000/INC-0003.yaml", "the limit is 1,000,000")


# --- knowledge base front matter ----------------------------------------------------------

ARTICLE = """---
id: KB-0001
title: Reset your VPN token
status: draft
services: [email]
owner: ann@example.com
review_by: '2026-09-01'
updated: '2026-03-02T09:00:00Z'
history:
  - at: '2026-03-02T09:00:00Z'
    by: ann@example.com
    action: create
    to: draft
---
# Reset your VPN token

Open the portal.
"""

FRONT_MATTER = {
    "no-front-matter": ("# Just Markdown\n\nNo metadata.\n", "kb/KB-0001.md:1:1:", "expected YAML front matter"),
    "never-closed": ("---\nid: KB-0001\ntitle: x\n", "kb/KB-0001.md:1:1:", "front matter is not closed"),
    "only-opening": ("---\n", "kb/KB-0001.md:1:1:", "front matter is not closed"),
    "fence-inside-a-quoted-value": ('---\nid: KB-0001\ntitle: "a\n---\nb"\n---\nbody\n', "kb/KB-0001.md:", "malformed YAML"),
    "front-matter-is-a-list": ("---\n- id: KB-0001\n---\nbody\n", "kb/KB-0001.md:2:1:", "front matter must be a mapping"),
    "empty-front-matter": ("---\n---\nbody\n", "kb/KB-0001.md:2:1:", "front matter must be a mapping"),
    "alias-in-front-matter": ("---\nid: &i KB-0001\n---\nbody\n", "kb/KB-0001.md:2:5:", "anchors (&i) are not allowed"),
    "indented-fence": ("  ---\nid: KB-0001\n---\n", "kb/KB-0001.md:1:1:", "expected YAML front matter"),
}


@pytest.mark.parametrize("case", sorted(FRONT_MATTER))
def test_kb_front_matter_tricks(desk: Path, case: str) -> None:
    content, where, problem = FRONT_MATTER[case]
    plant(desk, "kb/KB-0001.md", content)
    refused(desk, ["show", "KB-0001"], 1, where, problem)
    invalid(desk, "kb/KB-0001.md", problem)


def test_a_second_front_matter_block_in_the_body_stays_markdown(desk: Path) -> None:
    trick = ARTICLE.replace("# Reset", "---\nstatus: published\ninternal: false\n---\n# Reset")
    plant(desk, "kb/KB-0001.md", trick)
    r = run("show", "KB-0001", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "draft"  # the fence in the body changed nothing


def test_front_matter_line_numbers_point_into_the_file(desk: Path) -> None:
    plant(desk, "kb/KB-0001.md", ARTICLE.replace("owner: ann@example.com\n", "owner: ann@example.com\nowner: eve\n"))
    refused(desk, ["show", "KB-0001"], 1, "kb/KB-0001.md:7:1: duplicate key 'owner'")


# --- git states a command must not commit in ---------------------------------------------


def test_a_reader_that_stops_early_is_not_an_error(desk: Path, ticket: str) -> None:
    for n in range(2, 700):  # enough rows to fill a pipe, written as they come
        (desk / f"tickets/INC-{n:04d}.yaml").write_text(ticket.replace("INC-0001", f"INC-{n:04d}"))
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "many")
    proc = subprocess.Popen([sys.executable, "-m", "itsm_cli", "audit", "--format", "csv"], cwd=desk,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `itsm audit --format csv | head -1` does
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait() == 0 and err == b""


def test_shell_completion_still_answers(tmp_path: Path) -> None:
    env = {**os.environ, "_ITSM_COMPLETE": "bash_complete", "COMP_WORDS": "itsm tra", "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-m", "itsm_cli"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and "plain,transition" in proc.stdout.splitlines(), (proc.stdout, proc.stderr)


def test_detached_head_is_refused_with_a_hint(desk: Path, ticket: str) -> None:
    git(desk, "checkout", "-q", "--detach")
    refused(desk, ["comment", "INC-0001", "lost?"], 3, "HEAD is detached", "git switch")
    refused(desk, ["new", "incident", "--title", "x", "--impact", "low", "--urgency", "low"], 3, "HEAD is detached")
    assert run("comment", "INC-0001", "kept", "--no-commit").exit_code == 0  # a hand-made change is still possible


def test_unmerged_paths_are_refused(desk: Path, ticket: str) -> None:
    git(desk, "checkout", "-q", "-b", "other")
    assert run("comment", "INC-0001", "on other").exit_code == 0
    git(desk, "checkout", "-q", "main")
    assert run("comment", "INC-0001", "on main").exit_code == 0
    git(desk, "config", "merge.itsm.driver", "false")  # no record-aware merge: let git conflict
    assert subprocess.run(["git", "merge", "-q", "other"], cwd=desk, capture_output=True).returncode != 0
    assert git(desk, "ls-files", "-u")
    # Any change is refused before anything is written, with the way out.
    refused(desk, ["comment", "INC-0001", "x"], 3, "tickets/INC/000/INC-0001.yaml: the index has unmerged paths")
    refused(desk, ["new", "incident", "--title", "x", "--impact", "low", "--urgency", "low"], 3,
            "tickets/INC/000/INC-0001.yaml: the index has unmerged paths", "resolve them")


def test_a_merge_waiting_for_its_commit_is_refused(desk: Path, ticket: str) -> None:
    git(desk, "checkout", "-q", "-b", "other")
    (desk / "notes.txt").write_text("other\n")
    git(desk, "add", "notes.txt")
    git(desk, "commit", "-q", "-m", "other")
    git(desk, "checkout", "-q", "main")
    git(desk, "merge", "-q", "--no-commit", "--no-ff", "other")  # resolved, not committed yet
    refused(desk, ["comment", "INC-0001", "x"], 3, "a merge, cherry-pick or revert is in progress", "finish it")
    git(desk, "merge", "--abort")
    assert run("comment", "INC-0001", "x").exit_code == 0


def test_a_held_index_lock_fails_cleanly_and_restores(desk: Path, ticket: str) -> None:
    (desk / ".git/index.lock").write_text("")
    try:
        refused(desk, ["comment", "INC-0001", "x"], 3, "git update-index failed", "index.lock")
    finally:
        (desk / ".git/index.lock").unlink()
    assert run("comment", "INC-0001", "x").exit_code == 0


def test_a_refusing_hook_restores_the_work_tree_and_index(desk: Path, ticket: str) -> None:
    hook = desk / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy: no' >&2\nexit 1\n")
    hook.chmod(0o755)
    # The record has a staged edit and a further unstaged one: both must survive, each where it was.
    record = desk / "tickets/INC/000/INC-0001.yaml"
    record.write_text(ticket.replace("Printer on fire", "Printer on fire (staged)"))
    git(desk, "add", "tickets/INC/000/INC-0001.yaml")
    record.write_text(ticket.replace("Printer on fire", "Printer on fire (unstaged)"))
    work_tree = record.read_bytes()
    index_before = git(desk, "ls-files", "-s")
    refused(desk, ["comment", "INC-0001", "x"], 3, "git commit failed: policy: no")
    refused(desk, ["new", "incident", "--title", "x", "--impact", "low", "--urgency", "low"], 3, "policy: no")
    assert git(desk, "ls-files", "-s") == index_before
    assert record.read_bytes() == work_tree
    assert "(staged)" in git(desk, "show", ":tickets/INC/000/INC-0001.yaml")
    assert not list((desk / "tickets").glob(".*.tmp"))


@pytest.mark.parametrize("actor", [f"ev{ESC}]0;x\x07il@example.com", "eve@example.com>", "<eve@example.com", "eve\x7f@x.org"])
def test_hostile_acting_person_cannot_forge_a_commit_author(desk: Path, ticket: str, actor: str) -> None:
    err = refused(desk, ["--as", actor, "comment", "INC-0001", "hi"], 2, "is not an e-mail address")
    assert "\x07" not in err and "\x7f" not in err
