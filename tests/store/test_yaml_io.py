"""Unit tests of store/yaml_io.py: the one loader (every file hostile) and the one writer (stable, diffable).

Properties (hypothesis): what the writer writes reads back as the same data and writes the same bytes
again; no bytes or text crash the loader, which returns data or raises InvalidRecord.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from yaml_strategies import SETTINGS, YAMLISH, records, same

from itsm_cli.errors import InvalidRecord
from itsm_cli.store import yaml_io


def refused(text: str | bytes, path: str = "x.yaml") -> InvalidRecord:
    """The InvalidRecord loading ``text`` raises."""
    with pytest.raises(InvalidRecord) as info:
        if isinstance(text, bytes):
            yaml_io.load_bytes(text, path)
        else:
            yaml_io.loads(text, path)
    return info.value


# --- what plain scalars mean -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("False", False), ("null", None), ("~", None), ("", None), ("42", 42), ("-7", -7), ("+3", 3),
    ("0", 0), ("1.5", 1.5), ("-2.5e3", -2500.0),
    # YAML 1.1 would read these as booleans, octal, sexagesimal, dates or infinities; itsm keeps the text.
    ("no", "no"), ("yes", "yes"), ("on", "on"), ("0755", "0755"), ("1:30", "1:30"), ("2026-01-01", "2026-01-01"),
    ("1_000", "1_000"), (".inf", ".inf"), ("0x1F", "0x1F"), ("1e3", "1e3"), ("1.", "1."), ("9" * 101, "9" * 101),
    ("1.0e999", "1.0e999"),
])
def test_resolve_plain(text: str, value: object) -> None:
    got = yaml_io.resolve_plain(text)
    assert got == value and type(got) is type(value)


def test_quoted_scalars_are_always_text() -> None:
    assert yaml_io.loads("a: 'true'\nb: \"42\"\nc: '~'\n") == {"a": "true", "b": "42", "c": "~"}


# --- what the loader refuses, and where ------------------------------------------------------------


@pytest.mark.parametrize(("text", "where", "message"), [
    ("a: 1\nb:\n  c: 2\n  c: 3\n", "x.yaml:4:3", "duplicate key 'c'"),
    ("a: &x [1]\nb: *x\n", "x.yaml:1:4", "anchors (&x) are not allowed"),
    ("a: *x\n", "x.yaml:1:4", "aliases (*name) are not allowed"),
    ("a: !!python/object x\n", "x.yaml:1:4", "explicit tags (tag:yaml.org,2002:python/object) are not allowed"),
    ("a: !!map {b: 1}\n", "x.yaml:1:4", "explicit tags (tag:yaml.org,2002:map) are not allowed"),
    ("<<: {a: 1}\n", "x.yaml:1:1", "merge keys (<<) are not allowed"),
    ("a: 1\n---\nb: 2\n", "x.yaml:2:1", "more than one YAML document in the file"),
    ("a: [1\n", "x.yaml:2:1", "malformed YAML: did not find expected ',' or ']'"),
    ("a: b\x01\n", "x.yaml:1:5", "control character U+0001 is not allowed"),
    ("1: one\n", "x.yaml:1:1", "mapping keys must be strings (quote numbers, true, false, null)"),
])
def test_unsafe_or_malformed_yaml_is_refused_naming_line_and_column(text: str, where: str, message: str) -> None:
    error = refused(text)
    assert str(error).startswith(f"{where}: {message}")


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    assert yaml_io.loads("'<<': 1\n") == {"<<": 1}


def test_a_billion_laughs_is_refused_before_anything_is_built() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    assert "anchors (&a) are not allowed" in str(refused(bomb))


def test_nesting_past_the_depth_limit_is_refused() -> None:
    ok = "[" * yaml_io.MAX_DEPTH + "]" * yaml_io.MAX_DEPTH
    assert yaml_io.loads(ok) is not None
    deep = "[" * (yaml_io.MAX_DEPTH + 1) + "]" * (yaml_io.MAX_DEPTH + 1)
    error = refused(deep)
    assert error.message == f"nested deeper than {yaml_io.MAX_DEPTH} levels"
    assert (error.line, error.col) == (1, yaml_io.MAX_DEPTH + 1)


def test_too_many_values_are_refused() -> None:
    text = "[" + ",".join(["1"] * yaml_io.MAX_NODES) + "]"
    assert f"more than {yaml_io.MAX_NODES:,} values in one file" in str(refused(text))


def test_huge_files_are_refused_by_size_before_parsing() -> None:
    data = b"a: " + b"x" * yaml_io.MAX_BYTES + b"\n"
    error = refused(data)
    assert error.message == f"file is {len(data):,} bytes; the limit is {yaml_io.MAX_BYTES:,}"
    assert error.line is None
    assert "the limit is" in str(refused("a" * (yaml_io.MAX_BYTES + 1)))


def test_exactly_the_limit_is_allowed() -> None:
    data = b"a: " + b"x" * (yaml_io.MAX_BYTES - 4) + b"\n"
    assert len(data) == yaml_io.MAX_BYTES
    assert yaml_io.load_bytes(data, "x.yaml") == {"a": "x" * (yaml_io.MAX_BYTES - 4)}


def test_non_utf8_names_the_byte_and_where_it_is() -> None:
    error = refused(b"a: 1\nb: caf\xe9\n")
    assert str(error) == "x.yaml:2:7: not valid UTF-8 (byte 0xe9)"
    assert str(refused(b"\xff\xfea\x00:\x00")) == "x.yaml:1:1: the file is UTF-16; save it as UTF-8"


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    assert yaml_io.load_bytes(b"\xef\xbb\xbfa: 1\n", "x.yaml") == {"a": 1}


def test_load_mapping_wants_a_mapping_at_the_top() -> None:
    assert yaml_io.load_mapping(b"a: 1\n", "x.yaml") == {"a": 1}
    for data, kind in ((b"", "empty"), (b"- 1\n", "list"), (b"hello\n", "str"), (b"42\n", "int")):
        with pytest.raises(InvalidRecord, match=f"expected a mapping at the top level, found {kind}") as info:
            yaml_io.load_mapping(data, "x.yaml")
        assert (info.value.line, info.value.col) == (1, 1)


def test_positions_map_every_place_to_line_and_column() -> None:
    positions: dict = {}
    data = yaml_io.loads("a: 1\nb:\n  - x\n  - {c: 2}\n", "x.yaml", positions)
    assert data == {"a": 1, "b": ["x", {"c": 2}]}
    assert positions == {(): (1, 1), ("a",): (1, 1), ("b",): (2, 1), ("b", 0): (3, 5), ("b", 1): (4, 5),
                         ("b", 1, "c"): (4, 6)}


# --- the writer ----------------------------------------------------------------------------------


def test_the_writer_keeps_key_order_indents_lists_and_writes_text_as_block_literals() -> None:
    data = {"id": "INC-0001", "country": "no", "mode": "0755", "n": 5, "tags": ["a", "b"], "d": "line1\nline2\n",
            "nested": {"k": None, "t": True}, "e": [], "m": {}}
    assert yaml_io.dumps(data) == (
        "id: INC-0001\ncountry: 'no'\nmode: '0755'\nn: 5\ntags:\n  - a\n  - b\nd: |\n  line1\n  line2\n"
        "nested:\n  k: null\n  t: true\ne: []\nm: {}\n"
    )


def test_the_writer_never_uses_aliases_for_shared_objects() -> None:
    shared = {"x": 1}
    text = yaml_io.dumps({"a": shared, "b": shared})
    assert "&" not in text and "*" not in text
    assert yaml_io.loads(text) == {"a": {"x": 1}, "b": {"x": 1}}


def test_text_with_odd_line_breaks_is_double_quoted() -> None:
    assert yaml_io.dumps({"a": "x\u2028y"}) == 'a: "x\\Ly"\n'


def test_values_the_loader_could_not_read_back_are_refused() -> None:
    with pytest.raises(InvalidRecord, match="cannot be stored"):
        yaml_io.dumps({"n": math.inf})
    with pytest.raises(InvalidRecord, match="longer than 100 characters"):
        yaml_io.dumps({"n": 10**200})


def test_front_matter() -> None:
    text = yaml_io.dumps_front_matter({"id": "KB-0001", "title": "VPN"}, "Body")
    assert text == "---\nid: KB-0001\ntitle: VPN\n---\nBody\n"
    assert yaml_io.split_front_matter(text, "kb/KB-0001.md") == ("id: KB-0001\ntitle: VPN\n", "Body\n", 5)
    assert yaml_io.split_front_matter("---\n---\nB", "k.md") == ("", "B", 3)
    with pytest.raises(InvalidRecord, match="expected YAML front matter starting with '---'"):
        yaml_io.split_front_matter("a: 1\n", "k.md")
    with pytest.raises(InvalidRecord, match="front matter is not closed with '---'"):
        yaml_io.split_front_matter("---\na: 1\n", "k.md")


# --- the writer and the loader agree ---------------------------------------------------------


@SETTINGS
@given(records)
@example({"country": "NO", "mode": "0755", "time": "1:30", "due": "2026-01-01", "id": "0001"})
@example({"<<": {"a": 1}, "": None, "~": "~"})
@example({"note": "trailing space \nnext", "t": "a\tb\nc"})
def test_write_read_write_round_trips_byte_for_byte(record: dict) -> None:
    text = yaml_io.dumps(record)
    back = yaml_io.loads(text, "rt.yaml")
    assert same(back, record)
    assert back == record and list(back) == list(record)  # key order kept too
    assert yaml_io.dumps(back) == text
    assert yaml_io.load_bytes(text.encode("utf-8"), "rt.yaml") == record  # through the file path as well


@SETTINGS
@given(records, st.text(max_size=300))
def test_front_matter_round_trips(meta: dict, body: str) -> None:
    assume(meta)
    text = yaml_io.dumps_front_matter(meta, body)
    front, rest, _ = yaml_io.split_front_matter(text, "kb/KB-0001.md")
    assume("\r" not in body)  # the fence regex tolerates CRLF: a body's own CR is not ours to keep
    assert yaml_io.loads("\n" + front, "kb/KB-0001.md") == meta
    expected = body if body.endswith("\n") or not body else body + "\n"
    assert rest == expected
    assert yaml_io.dumps_front_matter(meta, rest) == text


@SETTINGS
@given(st.text(min_size=1, max_size=60))
def test_set_values_store_what_they_parse_to(value: str) -> None:
    # itsm --set FIELD=VALUE resolves VALUE like a plain YAML scalar, then writes it.
    parsed = yaml_io.resolve_plain(value)
    assert same(yaml_io.loads(yaml_io.dumps({"field": parsed}))["field"], parsed)
    if isinstance(parsed, str):
        assert parsed == value  # anything that is not a plain number/bool/null is kept verbatim


@SETTINGS
@given(st.integers())
def test_numbers_that_cannot_be_read_back_are_never_written(number: int) -> None:
    try:
        text = yaml_io.dumps({"n": number})
    except InvalidRecord:
        assert len(str(number)) > yaml_io.MAX_NUMBER_CHARS
        return
    assert yaml_io.loads(text) == {"n": number}


# --- the loader never crashes --------------------------------------------------------------

def load_or_refuse(data: bytes) -> None:
    try:
        yaml_io.load_bytes(data, "fuzz.yaml")
    except InvalidRecord as e:
        assert e.path == "fuzz.yaml"
        assert "\n" not in str(e)


@SETTINGS
@given(st.binary(max_size=500))
def test_random_bytes_never_crash_the_loader(data: bytes) -> None:
    load_or_refuse(data)


@SETTINGS
@given(YAMLISH)
@example("[" * 5000)
@example("{a: " * 3000)
@example("- " * 3000)
@example("a: &x 1\nb: *x")
@example("a: " + "9" * 5000)
def test_random_yamlish_text_never_crashes_the_loader(text: str) -> None:
    load_or_refuse(text.encode("utf-8"))


@SETTINGS
@given(st.text(max_size=300))
def test_random_unicode_never_crashes_the_loader(text: str) -> None:
    load_or_refuse(text.encode("utf-8", "surrogatepass"))
    for encoding in ("utf-16", "latin-1"):
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        load_or_refuse(data)




def test_crlf_front_matter_keeps_line_numbers() -> None:
    # Bug fixed with this test: the opening CRLF fence left a "\n" in front of the front matter,
    # so its keys, and the body, were placed one line too low.
    text = "---\r\nid: KB-0001\r\ntitle: VPN\r\n---\r\nBody\r\n"
    front, body, body_line = yaml_io.split_front_matter(text, "kb/KB-0001.md")
    assert (front, body, body_line) == ("id: KB-0001\r\ntitle: VPN\r\n", "Body\r\n", 5)
    positions: dict = {}
    yaml_io.loads("\n" + front, "kb/KB-0001.md", positions)  # as store/desk.py reads an article
    assert positions[("title",)] == (3, 1)
    assert text.split("\r\n")[body_line - 1] == "Body"
