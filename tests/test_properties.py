"""Property-based tests (hypothesis) for the validator, list order and tables.

- No file crashes the validator: it reports problems, it never raises.
(The loader's and writer's own properties are in store/test_yaml_io.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml_strategies import SETTINGS, TRICKY, YAMLISH, scalars, values

from itsm_cli.store import yaml_io
from itsm_cli.store.check import check_desk
from itsm_cli.store.desk import Desk

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
