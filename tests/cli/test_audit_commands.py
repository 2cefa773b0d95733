"""The audit's CSV printer writes exactly what the csv module writes for the same cells."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_cli.cli import output
from itsm_cli.cli.audit_commands import _csv_lines

WIDTH = 4
CELLS = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list('ab ,"\'\n\r\t\x1b\x85\u2028é;')), max_size=6),
    st.text(alphabet=st.sampled_from(list("abc.@-:")), min_size=1, max_size=8),
    st.integers(-5, 5), st.booleans(), st.floats(allow_nan=False), st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def by_the_csv_module(rows: list[tuple]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([output.cell(v) for v in row])
    return buf.getvalue()


@settings(max_examples=400)
@given(st.lists(st.tuples(*[CELLS] * WIDTH), max_size=5))
def test_rows_are_printed_as_the_csv_module_prints_their_cells(rows: list[tuple]) -> None:
    assert "".join(_csv_lines(rows, WIDTH)) == by_the_csv_module(rows)


def test_plain_rows_are_joined_by_hand_and_the_rest_quoted() -> None:
    rows = [("2026-03-02T09:00:00Z", None, "ann@example.com", ""), ("a,b", 'say "hi"', "two\nlines", True)]
    assert "".join(_csv_lines(rows, WIDTH)) == (
        '2026-03-02T09:00:00Z,,ann@example.com,\n"a,b","say ""hi""",two lines,yes\n')
    assert "".join(_csv_lines([("",), (None,), ("x",)], 1)) == by_the_csv_module([("",), (None,), ("x",)])


@settings(max_examples=200)
@given(st.lists(st.one_of(st.tuples(*[CELLS] * (WIDTH - 1)), st.tuples(*[CELLS] * (WIDTH + 1))), max_size=4))
def test_a_row_of_another_width_is_still_what_the_csv_module_prints(rows: list[tuple]) -> None:
    """A short row with a comma in a cell has as many commas as a plain row of the right width: not plain."""
    assert "".join(_csv_lines(rows, WIDTH)) == by_the_csv_module(rows)
    assert "".join(_csv_lines([(None, None, ",")], WIDTH)) == ',,","\n'
