"""Unit tests of app/listing.py: ``itsm list``'s engine answers as the plain query over whole records would."""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import BOB, load_ticket, run, save_ticket

from itsm_cli.app.listing import SUMMARY_FIELDS, find_records
from itsm_cli.core.query import Query, run_query
from itsm_cli.store.desk import Desk


@pytest.fixture
def listed(desk: Path) -> Path:
    for title, service in (("Printer jams", "email"), ("VPN drops", "email"), ("Mail slow", "email")):
        assert run("new", "incident", "--title", title, "--service", service).exit_code == 0
    assert run("assign", "INC-0002", BOB).exit_code == 0
    assert run("--as", BOB, "comment", "INC-0003", "The printer queue again").exit_code == 0
    return desk


def plain(desk: Path, query: Query) -> list[dict]:
    return run_query(Desk(desk).config, (r.data for r in Desk(desk).records(("tickets",))), query)


@pytest.mark.parametrize("query", [
    Query(),
    Query(sort="-title"),
    Query(assignee=BOB),
    Query(search="printer"),  # in a title, and in a comment
    Query(open_only=True, limit=2),
    Query(sort="description"),  # outside the summary: whole records are read for the order
])
def test_the_same_records_in_the_same_order_as_the_plain_query(listed: Path, query: Query) -> None:
    full = find_records(Desk(listed), query, full=True)
    assert full == plain(listed, query) and full
    short = find_records(Desk(listed), query)
    assert [s["id"] for s in short] == [r["id"] for r in full]
    assert all(set(s) <= set(SUMMARY_FIELDS) for s in short) or query.sort == "description"


def test_a_status_no_state_of_its_type_is_reported_as_a_stray(listed: Path) -> None:
    data = load_ticket(listed, "INC-0001")
    data["status"] = "limbo"
    save_ticket(listed, data)
    strays: list[dict] = []
    found = find_records(Desk(listed), Query(open_only=True), strays=strays)
    assert [s["id"] for s in strays] == ["INC-0001"]
    assert "INC-0001" not in [s["id"] for s in found] and len(found) == 2
