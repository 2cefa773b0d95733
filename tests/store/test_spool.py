"""reversed_groups: groups back last first, items in each group in order, whatever the chunk size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from itsm_cli.store.spool import reversed_groups


@given(st.lists(st.lists(st.integers(), max_size=5), max_size=40), st.integers(min_value=1, max_value=7))
def test_reversed_groups_is_the_groups_reversed_then_flattened(groups: list[list[int]], chunk: int) -> None:
    expected = [item for group in reversed(groups) for item in group]
    assert list(reversed_groups(iter(groups), chunk=chunk)) == expected


def test_reversed_groups_reads_its_input_once_and_lazily() -> None:
    seen: list[int] = []

    def groups():
        for i in range(10):
            seen.append(i)
            yield [{"row": i, "cells": ["a", i]}]

    out = reversed_groups(groups(), chunk=3)
    assert seen == []  # nothing read before the first item is asked for
    assert next(out) == {"row": 9, "cells": ["a", 9]}
    assert seen == list(range(10))
    assert [r["row"] for r in out] == list(range(8, -1, -1))
