"""BlobVersion reads a history block as YAML would, whichever way it reads each entry."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_cli.errors import InvalidRecord
from itsm_cli.store.history import BlobVersion, _fast_entries, parse_entries

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


# -- the fast reader against the strict loader -------------------------------------------------------

# Characters YAML treats specially somewhere: indicators, quotes, blanks, control characters, the line
# breaks only YAML 1.1 knows, a byte-order mark, characters beyond the BMP.
ODD = ":#'\"-[]{},&*!|>%@` \t\r\x00\x07\x1b\x7f\x85\xa0\u2028\u2029\ufeff\ufffe\U0001f600é"
WORD = st.text(alphabet=st.sampled_from(list("abcXYZ019.+/(_é")), min_size=1, max_size=6)
NICE = st.builds(" ".join, st.lists(WORD, min_size=1, max_size=3))
TEXT = st.one_of(*[NICE] * 6, st.text(alphabet=st.sampled_from(list("abc -'") + list(ODD)), max_size=6),
                 st.builds(str.__add__, NICE, st.text(alphabet=st.sampled_from(list(ODD)), min_size=1, max_size=2)))
KEYS = st.sampled_from(["at", "by", "action", "note", "to", "from", "x_1"] * 3 + ["null", "true", "Key", "a b", "é"])


@st.composite
def scalar(draw: st.DrawFn, wild: bool = True) -> str:
    """A value as it might stand after "key: ": plain, quoted as the writer quotes, or (wild) quoted wrongly."""
    text = draw(TEXT if wild else NICE)
    how = draw(st.sampled_from(["plain"] * 4 + ["quoted"] * 3 + (["raw-quoted", "empty"] if wild else [])))
    if how == "quoted":
        return " '" + text.replace("'", "''") + "'"
    if how == "raw-quoted":
        return " '" + text + "'"
    return "" if how == "empty" else " " + text


@st.composite
def block(draw: st.DrawFn) -> tuple[str, str]:
    """(item marker, block text): entries with scalars, a mapping a key opens, a list of mappings under it."""
    marker = draw(st.sampled_from(["  - ", "- ", "    - "]))
    inner = " " * len(marker)
    tame = draw(st.booleans())  # tame: well-formed but for one value, where the readers could part ways
    keys = st.sampled_from(["at", "by", "action", "note", "to"]) if tame else KEYS
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        lead = marker
        for _ in range(draw(st.integers(1, 4))):
            shape = draw(st.sampled_from(["scalar"] * 12 + ["mapping"] * 2 + ["links"] * 2
                                         + ([] if tame else ["blank", "odd-indent"])))
            key = f"{draw(keys)}{len(lines)}" if tame else draw(keys)  # tame keys never repeat
            wild = not tame
            if shape == "scalar":
                lines.append(f"{lead}{key}:{draw(scalar(wild))}")
            elif shape == "mapping":
                lines.append(f"{lead}{key}:")
                lines += [f"{inner}  {draw(keys)}{i}:{draw(scalar(wild))}" for i in range(draw(st.integers(1, 3)))]
            elif shape == "links":
                lines += [f"{lead}fields:", f"{inner}  {key}:"]
                for _ in range(draw(st.integers(0 if wild else 1, 3))):
                    lines.append(f"{inner}    - kind:{draw(scalar(wild))}")
                    lines += [f"{inner}      {draw(keys)}{i}:{draw(scalar(wild))}" for i in range(draw(st.integers(0, 2)))]
            elif shape == "blank":
                lines.append(draw(st.sampled_from(["", " ", inner])))
            else:
                lines.append(" " * draw(st.integers(0, 12)) + f"{key}:{draw(scalar())}")
            lead = inner
    if tame:  # one value anything at all
        at = draw(st.integers(0, len(lines) - 1))
        if not lines[at].endswith(":"):
            lines[at] = lines[at].partition(": ")[0] + ":" + draw(scalar())
    return marker, "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


def loaded(text: str) -> object:
    """What the strict loader makes of a history block, or the error it raises."""
    from itsm_cli.store import yaml_io

    try:
        return yaml_io.loads("history:\n" + text)["history"]
    except InvalidRecord as e:
        return e


@settings(max_examples=1500)
@given(block())
def test_the_fast_reader_says_what_the_loader_says_or_leaves_it_to_the_loader(case: tuple[str, str]) -> None:
    marker, text = case
    fast = _fast_entries(text, marker)
    if fast is not None:
        assert fast == loaded(text)


@settings(max_examples=150)
@given(st.lists(ITEMS, min_size=1, max_size=8))
def test_entries_as_itsm_writes_them_never_reach_the_loader(items: list[str]) -> None:
    text = "".join(items)
    assert _fast_entries(text, "  - ") == yaml.safe_load("history:\n" + text)["history"]


def test_what_the_fast_reader_refuses_goes_to_the_loader() -> None:
    refused = [
        "  - at: x\n    at: y\n",  # a duplicate key
        "  - fields:\n    by: x\n",  # a "key:" with nothing under it is null
        "  - note: a\x85b\n",  # a line break to YAML 1.1
        "  - note: 'a\x07'\n",  # a control character
        "  - true: x\n",  # a key that is not a string
        "  - note: a\n      more\n",  # a scalar over two lines
        "  - fields:\n      links:\n    by: x\n",  # a list with no items
        "    - at: x\n",  # another indent than the marker's
    ]
    for text in refused:
        assert _fast_entries(text, "  - ") is None, text
    with pytest.raises(InvalidRecord, match="duplicate key"):
        parse_entries("  - at: x\n    at: y\n", "  - ", "p")
    assert parse_entries("  - fields:\n    by: x\n", "  - ", "p") == [{"fields": None, "by": "x"}]


def test_a_line_of_spaces_inside_an_entry_is_read_as_yaml_reads_it() -> None:
    # The line reader this replaced raised IndexError here (a line of exactly an entry's indent), ending the audit.
    assert parse_entries("  - at: x\n    \n    by: y\n", "  - ", "p") == [{"at": "x", "by": "y"}]


def test_the_fast_readers_character_classes_are_the_printable_ranges_they_stand_for() -> None:
    """The classes are written as what they leave out (quick to compile); every code point says the same."""
    import re

    from itsm_cli.store import history

    wide = r"\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff"  # printable beyond ASCII, as ranges
    spelled_out = {
        history._QUOTED_CHAR: rf"[\x20-\x26\x28-\x7e{wide}]",
        history._PLAIN_CHAR: rf"[\x20-\x22\x24-\x39\x3b-\x7e{wide}]",
        history._PLAIN_END: rf"[\x21\x22\x24-\x39\x3b-\x7e{wide}]",
    }
    everything = "".join(map(chr, range(0x110000)))
    for short, long in spelled_out.items():
        assert re.findall(short, everything) == re.findall(long, everything)
