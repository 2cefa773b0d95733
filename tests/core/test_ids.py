"""Unit tests of core/ids.py: what a valid ID is, where its file lives, and the next ID."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsm_cli.core import ids
from itsm_cli.errors import BadArgument

# --- what a valid ID is -------------------------------------------------------------


@pytest.mark.parametrize("text", ["INC-0042", "KB-1", "ABCDE-123456789", "CHG-0000"])
def test_record_ids_are_two_to_five_capitals_a_dash_and_up_to_nine_digits(text: str) -> None:
    assert ids.is_record_id(text)
    assert ids.check_id(text) == text


@pytest.mark.parametrize("text", [
    "INC-0042\n",  # re.match would take this; fullmatch does not
    "inc-0042", "I-0042", "ABCDEF-1", "INC-", "INC-1234567890", "INC_0042", " INC-0042", "INC--1", "INC-42a",
])
def test_near_misses_are_not_record_ids(text: str) -> None:
    assert not ids.is_record_id(text)


@pytest.mark.parametrize("text", ["email", "vpn-access", "a", "0day", "a" * 63])
def test_slugs_are_lower_case_letters_digits_and_inner_dashes(text: str) -> None:
    assert ids.is_slug(text)
    assert ids.check_id(text) == text


@pytest.mark.parametrize("text", ["", "-email", "Email", "e_mail", "e.mail", "a" * 64, "email\n", "ü"])
def test_bad_slugs(text: str) -> None:
    assert not ids.is_slug(text)


@pytest.mark.parametrize("text", [
    "../etc/passwd", "..", ".", "INC-0042/../../x", "tickets/INC-0042", "/etc/passwd", "email\x00", "a\\b",
    "INC-0042.yaml", "", " ",
])
def test_check_id_refuses_anything_that_could_leave_the_folder(text: str) -> None:
    with pytest.raises(BadArgument, match="is not a valid ID") as info:
        ids.check_id(text)
    assert info.value.exit_code == 2


def test_check_id_refuses_a_non_string() -> None:
    with pytest.raises(BadArgument):
        ids.check_id(42)  # type: ignore[arg-type]


@given(st.text(max_size=20))
def test_every_accepted_id_is_a_single_safe_path_component(text: str) -> None:
    try:
        ids.check_id(text)
    except BadArgument:
        return
    assert "/" not in text and "\\" not in text and not text.startswith(".") and "\x00" not in text
    assert text == text.strip()


# --- where a file lives ---------------------------------------------------------------


@pytest.mark.parametrize(("record_id", "bucket", "path"), [
    ("INC-0000", "000", "tickets/INC/000/INC-0000.yaml"),
    ("INC-0042", "000", "tickets/INC/000/INC-0042.yaml"),
    ("INC-0999", "000", "tickets/INC/000/INC-0999.yaml"),
    ("INC-1000", "001", "tickets/INC/001/INC-1000.yaml"),
    ("INC-12345", "012", "tickets/INC/012/INC-12345.yaml"),
    ("CHG-12011", "012", "tickets/CHG/012/CHG-12011.yaml"),
    ("INC-1234567", "1234", "tickets/INC/1234/INC-1234567.yaml"),
    ("CHG-999999999", "999999", "tickets/CHG/999999/CHG-999999999.yaml"),
])
def test_ticket_path_buckets_by_thousands(record_id: str, bucket: str, path: str) -> None:
    assert ids.bucket_of(record_id) == bucket
    assert ids.ticket_path("tickets", record_id) == path


def test_a_million_tickets_never_put_more_than_a_thousand_entries_in_a_folder() -> None:
    """The 1,000,000-record check on paper: every folder of every level, counted."""
    buckets = Counter(ids.bucket_of(ids.format_id("INC", n)) for n in range(1, 1_000_001))
    assert max(buckets.values()) == 1000 and len(buckets) == 1001  # 000 holds 1-999, 1000 holds 1,000,000 alone
    assert len(buckets) - 1 <= 1000  # tickets/INC/ holds 1,001 folders only at the millionth ticket


def test_number_of_reads_the_digits_after_the_dash() -> None:
    assert ids.number_of("INC-0042") == 42
    assert ids.number_of("KB-7") == 7


def test_record_path_per_kind() -> None:
    assert ids.record_path("ticket", "tickets", "REQ-0007") == "tickets/REQ/000/REQ-0007.yaml"
    assert ids.record_path("article", "kb", "KB-0005") == "kb/KB-0005.md"
    assert ids.record_path("service", "catalog", "email") == "catalog/email.yaml"


def test_flat_ticket_path_is_the_old_layout() -> None:
    assert ids.flat_ticket_path("tickets", "INC-0042") == "tickets/INC-0042.yaml"


valid_ids = st.builds(
    lambda prefix, number, width: f"{prefix}-{number:0{width}d}",
    st.from_regex(r"[A-Z]{2,5}", fullmatch=True),
    st.integers(min_value=0, max_value=999_999_999),
    st.integers(min_value=1, max_value=9),
).filter(ids.is_record_id)


@given(valid_ids)
def test_any_ticket_lives_in_a_bucket_of_at_most_a_thousand_ids(record_id: str) -> None:
    path = ids.ticket_path("tickets", record_id)
    folder, _, name = path.rpartition("/")
    prefix = record_id.partition("-")[0]
    assert name == f"{record_id}.yaml"
    assert folder.startswith(f"tickets/{prefix}/")
    bucket = int(folder.rpartition("/")[2])
    # Exactly the numbers bucket*1000 .. bucket*1000+999 share this folder.
    assert bucket * 1000 <= ids.number_of(record_id) < (bucket + 1) * 1000
    assert len(folder.rpartition("/")[2]) >= 3


@given(st.integers(min_value=0, max_value=10**6))
def test_neighbouring_numbers_share_a_folder_unless_a_thousand_boundary_lies_between(n: int) -> None:
    a, b = ids.format_id("INC", n), ids.format_id("INC", n + 1)
    same = ids.ticket_path("tickets", a).rpartition("/")[0] == ids.ticket_path("tickets", b).rpartition("/")[0]
    assert same == ((n + 1) % 1000 != 0)


# --- the next ID ------------------------------------------------------------------------


def test_format_id_pads_to_four_digits_but_never_cuts() -> None:
    assert ids.format_id("INC", 42) == "INC-0042"
    assert ids.format_id("INC", 12345) == "INC-12345"


def test_next_id_follows_the_highest_of_its_own_prefix_only() -> None:
    taken = ["INC-0001", "INC-0041", "REQ-0900", "INC-0007", "INCX-0999", "INC-oops", "email"]
    assert ids.next_id("INC", taken) == "INC-0042"
    assert ids.next_id("PRB", taken) == "PRB-0001"
    assert ids.next_id("INC", []) == "INC-0001"


def test_the_file_name_pattern_gives_the_number_of_whole_record_names_only() -> None:
    # Raw trees are the git boundary's (gitstore.tree_names, tested there and in test_cli_records); core matches names.
    pattern = re.compile(ids.number_pattern("INC"))
    names = ["INC-0007.yaml", "INC-0100.yaml", "REQ-5000.yaml", "INC-12.md", "INC-x.yaml"]
    assert [m.group(1) for n in names if (m := pattern.fullmatch(n))] == ["0007", "0100", "12"]
    assert ids.highest_number(["0007", "0100", "12"]) == 100
    assert ids.highest_number([]) == 0


def test_the_highest_bucket_is_numeric_not_alphabetical() -> None:
    buckets = re.compile(ids.BUCKET_PATTERN)
    assert all(buckets.fullmatch(b) for b in ("000", "999", "1000", "1234567"))
    assert not any(buckets.fullmatch(b) for b in ("00", "abc", "0001234567890"))
    assert ids.highest_bucket(["000", "999", "1000"]) == "1000"
    assert ids.highest_bucket([]) is None
