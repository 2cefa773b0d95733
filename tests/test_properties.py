"""Property-based tests (hypothesis) for the one loader, the one writer and the validator.

- Any record the writer is given reads back as the same data, and writing it
  again gives the same bytes (so an edit never reformats what it did not touch).
- No bytes or text crash the loader: it returns data or raises InvalidRecord.
- No file crashes the validator: it reports problems, it never raises.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from itsm_cli.errors import InvalidRecord
from itsm_cli.store import yaml_io
from itsm_cli.store.check import check_desk
from itsm_cli.store.desk import Desk

# Strings YAML 1.1 (and people) misread: each must survive as the very same string.
TRICKY = [
    "no", "No", "NO", "yes", "on", "off", "y", "n", "true", "True", "false", "null", "Null", "~", "", " ", "  ",
    "0755", "0o755", "0x1F", "1:30", "1_000", "2026-01-01", "2026-01-01T09:00:00Z", "1e3", "1.0e+3", ".inf", "-.inf",
    ".nan", "+1", "-0", "0.", ".5", "=", "<<", "*alias", "&anchor", "!tag", "!!str x", "%YAML", "@", "`", "|", ">",
    "- item", "? key", "key: value", "a #comment", "#comment", "---", "...", "'", '"', "'quoted'", '"quoted"',
    "trailing ", " leading", "tab\tinside", "line\nbreak", "ends with newline\n", "\n", "\r\n", "crlf\r\nline",
    "multi\nline\n\ntext\n", "  indented\nblock", "\ufeffbom", "nel\x85line", "ls\u2028ps\u2029", "\x1b[31mred",
    "nul\x00byte", "bell\x07", "é ü 中文 🎉", "\U0001f600", "9" * 150, "[1, 2]", "{a: b}", ",", "a,b", "[", "{",
]

keys = st.one_of(st.sampled_from(TRICKY), st.text(max_size=20))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(TRICKY),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)
records = st.dictionaries(keys, values, max_size=12)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(a: object, b: object) -> bool:
    """Equal, with -0.0 and 0.0 told apart (a writer that loses the sign would change bytes)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    return a == b


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

YAMLISH = st.text(alphabet=st.sampled_from([*list("abc019 :-?[]{},&*!|>'\"%@`#~\n\t.<=\\"), "\x00", "é", "\ufeff"]),
                  max_size=200)


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


# --- the validator never crashes -------------------------------------------------------------

TICKET = """id: INC-0002
type: incident
title: Base
status: new
created: '2026-03-02T09:00:00Z'
updated: '2026-03-02T09:00:00Z'
requester: ann@example.com
impact: low
urgency: low
priority: P5
history:
  - at: '2026-03-02T09:00:00Z'
    by: ann@example.com
    action: create
    to: new
"""


def validate_file(desk: Path, rel: str, content: bytes) -> list:
    (desk / rel).parent.mkdir(parents=True, exist_ok=True)
    (desk / rel).write_bytes(content)
    result = check_desk(Desk(desk), [rel])  # raises nothing, whatever the file holds
    for p in result.problems:
        assert p.line >= 1 and p.col >= 1 and p.message
    return result.problems


@pytest.mark.parametrize("rel", ["tickets/INC/000/INC-0002.yaml", "kb/KB-0002.md", "catalog/fuzz.yaml"])
def test_random_files_never_crash_the_validator(desk: Path, rel: str) -> None:
    @SETTINGS
    @given(st.one_of(st.binary(max_size=300), YAMLISH.map(lambda t: t.encode("utf-8"))))
    def check(content: bytes) -> None:
        body = content
        if rel.endswith(".md") and not content.startswith(b"---"):
            body = b"---\n" + content + b"\n---\nbody\n"
        problems = validate_file(desk, rel, body)
        assert problems or body.strip()  # an empty record is never valid

    check()


def test_random_structured_records_never_crash_the_validator(desk: Path) -> None:
    base = yaml_io.loads(TICKET)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from([*base, "links", "service", "assignee", "group", "due", "major", "x"]),
                           values, max_size=6))
    def check(edit: dict) -> None:
        record = {**base, **edit}
        validate_file(desk, "tickets/INC/000/INC-0002.yaml", yaml_io.dumps(record).encode("utf-8"))

    check()


def test_random_history_entries_never_crash_the_validator(desk: Path) -> None:
    base = yaml_io.loads(TICKET)
    entry_keys = st.sampled_from(["at", "by", "action", "from", "to", "note", "internal", "fields", "group"])

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.one_of(st.dictionaries(entry_keys, values, max_size=5), scalars), max_size=4))
    def check(extra: list) -> None:
        record = {**base, "history": [*base["history"], *extra]}
        problems = validate_file(desk, "tickets/INC/000/INC-0002.yaml", yaml_io.dumps(record).encode("utf-8"))
        assert problems or all(isinstance(e, dict) for e in extra)

    check()


# --- list order -----------------------------------------------------------------------------------------------

sort_values = st.one_of(st.none(), st.booleans(), st.integers(-50, 50), st.floats(-5, 5), st.sampled_from(TRICKY),
                        st.text(max_size=4))


@given(st.lists(st.fixed_dictionaries({"id": st.one_of(st.sampled_from(["INC-0001", "INC-0002", "inc-0002"]),
                                                          st.integers(0, 3), st.none()),
                                        "v": sort_values}), max_size=30),
       st.booleans(), st.booleans())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_list_order_is_the_documented_one(records: list[dict], descending: bool, text_only: bool) -> None:
    """run_query sorts by (value, lower-cased; numbers zero-padded) then by ID, stable, records without the value last.

    The reference is the plain sort the query once did record by record; the fast path for text values must give
    the very same order, ties included (records equal in both keys keep their order, in either direction).
    """
    from itsm_cli.core.config import Config
    from itsm_cli.core.query import Query, _sort_key, run_query

    if text_only:
        records = [{"id": str(r["id"]), "v": None if r["v"] is None else str(r["v"])} for r in records]
    records = [dict(r, n=i) for i, r in enumerate(records)]  # tells apart records equal in every field
    q = Query(sort="-v" if descending else "v")
    expected = [r for r in records if r["v"] is not None]
    expected.sort(key=lambda r: (_sort_key(r["v"]), str(r["id"])), reverse=descending)
    expected += [r for r in records if r["v"] is None]
    got = run_query(Config.__new__(Config), records, q)
    assert [r["n"] for r in got] == [r["n"] for r in expected]


@given(st.lists(st.fixed_dictionaries({"id": st.text(max_size=8), "title": st.one_of(scalars, st.text(max_size=70)),
                                        "tags": st.lists(st.sampled_from(TRICKY), max_size=3)}), max_size=12),
       st.integers(1, 80))
@settings(max_examples=300)
def test_table_is_every_cell_escaped_cut_and_padded(rows: list[dict], max_width: int) -> None:
    """The table, built column by column, is the one the cell-by-cell reading of its contract gives."""
    from itsm_cli.cli.output import cell, table

    columns = ["id", "missing", "title", "tags"]
    headers = ["ID", "MISSING", "TITLE", "TAGS"]
    cells = [[cell(r.get(c))[:max_width] for c in columns] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    expected = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    expected += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    assert table(rows, columns, max_width=max_width) == "\n".join(expected)
