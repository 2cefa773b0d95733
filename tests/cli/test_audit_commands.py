"""The audit's CSV printer writes exactly what the csv module writes for the same cells."""

from __future__ import annotations

import csv
import io
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_cli.cli import audit_commands, output
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


PLAIN = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("abc.@-:")), max_size=8))
MOSTLY_PLAIN = st.one_of(PLAIN, PLAIN, PLAIN, PLAIN, CELLS)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.tuples(*[MOSTLY_PLAIN] * WIDTH), st.tuples(*[PLAIN] * WIDTH),
                          st.tuples(*[PLAIN] * (WIDTH - 1)), st.tuples(*[PLAIN] * (WIDTH + 1))), max_size=40),
       st.integers(1, 7))
def test_rows_checked_a_batch_at_a_time_are_what_the_csv_module_prints(rows: list[tuple], batch: int) -> None:
    """Plain batches are joined whole; a batch with one odd row (a quote, a newline, a number, another width) is not."""
    with mock.patch.object(audit_commands, "_CSV_BATCH", batch):
        assert "".join(_csv_lines(rows, WIDTH)) == by_the_csv_module(rows)


def test_a_long_listing_is_printed_in_batches_with_the_odd_rows_quoted() -> None:
    plain = ("2026-03-02T09:00:00Z", "abc123", None, "ann@example.com")
    rows = [plain] * 1500
    rows[3], rows[700], rows[1499] = ("a,b", None, "x", "y"), ("x", 5, None, "z"), ("line\nbreak", "", "", "")
    text = "".join(_csv_lines(rows, WIDTH))
    assert text == by_the_csv_module(rows)
    assert text.count("\n") == 1500 and '"a,b"' in text and ",5," in text
