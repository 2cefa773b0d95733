"""Unit tests of errors.py: one exit code per class, one line per message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsm_cli.errors import (
    MAX_MESSAGE,
    BadArgument,
    EnvironmentProblem,
    InvalidRecord,
    ItsmError,
    Refused,
    one_line,
)


@pytest.mark.parametrize(("cls", "code"), [
    (ItsmError, 1), (Refused, 1), (InvalidRecord, 1), (BadArgument, 2), (EnvironmentProblem, 3),
])
def test_exit_codes_per_class(cls: type[ItsmError], code: int) -> None:
    assert cls.exit_code == code
    assert cls("x").exit_code == code
    assert issubclass(cls, ItsmError)


def test_the_message_names_path_line_and_column_when_known() -> None:
    assert str(InvalidRecord("duplicate key 'a'", "tickets/INC/000/INC-0001.yaml", 3, 5)) == \
        "tickets/INC/000/INC-0001.yaml:3:5: duplicate key 'a'"
    assert str(InvalidRecord("bad", "x.yaml", 3)) == "x.yaml:3: bad"
    assert str(InvalidRecord("bad", "x.yaml")) == "x.yaml: bad"
    # A column without a line means nothing, and is left out.
    assert str(InvalidRecord("bad", "x.yaml", None, 4)) == "x.yaml: bad"
    assert str(Refused("no")) == "no"


def test_attributes_are_kept() -> None:
    e = InvalidRecord("m", "p", 1, 2)
    assert (e.message, e.path, e.line, e.col) == ("m", "p", 1, 2)


def test_control_characters_are_escaped_not_printed() -> None:
    assert one_line("a\nb") == "a\\nb"
    assert one_line("bell\x07") == "bell\\x07"
    assert one_line("\x1b[31mred") == "\\x1b[31mred"
    assert one_line("\x85") == "\\x85"
    # Bidirectional overrides and Unicode line separators could hide or break a line.
    assert one_line("a\u202eb\u2028c") == "a\\u202eb\\u2028c"
    assert one_line("plain ü é ✓") == "plain ü é ✓"


def test_a_hostile_path_cannot_break_the_line() -> None:
    text = str(Refused("refused", "evil\nitsm: error: fake"))
    assert "\n" not in text
    assert text.startswith("evil\\nitsm: error: fake: ")


def test_long_messages_keep_both_ends_and_say_how_much_was_cut() -> None:
    text = "A" * 600 + "B" * 600
    out = one_line(text)
    assert out == "A" * 500 + " ...[200 characters cut]... " + "B" * 500
    assert one_line("x" * MAX_MESSAGE) == "x" * MAX_MESSAGE
    assert one_line("abcdefghij", limit=4) == "ab ...[6 characters cut]... ij"


@given(st.text())
def test_one_line_never_holds_a_line_break_or_control_character(text: str) -> None:
    out = one_line(text)
    assert out.splitlines() in ([out], [])
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert len(out) <= MAX_MESSAGE + 50
