"""BlobVersion reads a history block as YAML would, whichever way it reads each entry."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_cli.store.history import BlobVersion, parse_entries

HEAD = "id: INC-0001\ntype: incident\ntitle: Printer\nhistory:\n"
SIMPLE = "  - at: '2026-03-02T09:00:00Z'\n    by: ann@example.com\n    action: {action}\n    note: {note}\n"
LINKED = ("  - at: '2026-03-02T10:00:00Z'\n    by: ann@example.com\n    action: link\n    fields:\n      links:\n"
          "        - kind: caused-by\n          id: PRB-000{n}\n")
NESTED = "  - at: '2026-03-02T11:00:00Z'\n    by: bob@example.com\n    action: assign\n    fields:\n      assignee: bob@example.com\n"
TAIL = "description: |\n  - not an entry: a line of the description\n"

NOTES = st.sampled_from(["plain words", "'quoted: with colon'", "'it''s'", "42", "null", "true", "'- dash'"])
ITEMS = st.one_of(
    st.builds(lambda a, n: SIMPLE.format(action=a, note=n), st.sampled_from(["comment", "transition"]), NOTES),
    st.builds(lambda n: LINKED.format(n=n), st.integers(1, 9)),
    st.just(NESTED),
)


@settings(max_examples=150)
@given(st.lists(ITEMS, min_size=1, max_size=8))
def test_history_is_what_yaml_says(items: list[str]) -> None:
    text = HEAD + "".join(items) + TAIL
    version = BlobVersion("0" * 40, "tickets/INC/000/INC-0001.yaml", "ticket", text.encode())
    assert version.history() == yaml.safe_load(text)["history"]


def test_entries_appended_after_a_linked_one_are_read_alone() -> None:
    old = HEAD + SIMPLE.format(action="comment", note="one") + LINKED.format(n=1) + TAIL
    new = HEAD + SIMPLE.format(action="comment", note="one") + LINKED.format(n=1) + LINKED.format(n=2) + NESTED + TAIL
    a = BlobVersion("1" * 40, "tickets/INC/000/INC-0001.yaml", "ticket", old.encode())
    b = BlobVersion("2" * 40, "tickets/INC/000/INC-0001.yaml", "ticket", new.encode())
    assert b.appended_to(a) == yaml.safe_load(new)["history"][2:]


def test_a_block_that_does_not_start_with_an_item_goes_to_the_loader_whole() -> None:
    assert parse_entries("  # a comment first\n  - action: x\n", "  - ", "p") == [{"action": "x"}]
