"""The pure parts of the day at the desk: durations, ratings by mail, attachment names, itsm.yaml edits, reports."""

from __future__ import annotations

import pytest
import yaml

from itsm_cli.core import attachments, collab, setup, worklog
from itsm_cli.core.merge import merge_records
from itsm_cli.errors import BadArgument, Refused


@pytest.mark.parametrize(("text", "minutes"), [("30m", 30), ("1h", 60), ("1h30m", 90), ("1.5h", 90), (" 2H ", 120),
                                               ("24h", 1440)])
def test_time_spent_in_minutes(text: str, minutes: int) -> None:
    assert collab.parse_time_spent(text) == minutes


@pytest.mark.parametrize("text", ["", "30", "2 hours", "0m", "25h", "-5m", "1d"])
def test_time_spent_refuses_what_is_not_a_short_duration(text: str) -> None:
    with pytest.raises(BadArgument, match="--time"):
        collab.parse_time_spent(text)


def test_format_minutes() -> None:
    assert [collab.format_minutes(m) for m in (5, 60, 90, 605)] == ["5m", "1h", "1h 30m", "10h 05m"]


@pytest.mark.parametrize(("text", "rating"), [
    ("5", (5, None)), ("4/5\nQuick, thanks.\n", (4, "Quick, thanks.")), ("  1.\n\nStill broken", (1, "Still broken")),
    ("5 minutes later it broke again", None), ("6", None), ("", None), ("Thanks!\n5", None),
])
def test_a_rating_is_a_first_line_of_one_digit(text: str, rating: tuple[int, str | None] | None) -> None:
    assert collab.rating_from_reply(text) == rating


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\eve\\report.pdf", "report.pdf"), (".bashrc", "bashrc"),
    ("..", "attachment-1"), ("scan 1.png", "scan_1.png"), ("Café menu.pdf", "Cafe_menu.pdf"),
    ("evil\x1b[31m.txt", "evil_31m.txt"), ("con.txt", "_con.txt"), ("a" * 300 + ".pdf", "a" * 96 + ".pdf"),
    (None, "attachment-1"), ("x..pdf", "x.pdf"),
])
def test_attachment_names_are_plain_visible_and_stay_in_their_folder(name: str | None, safe: str) -> None:
    assert attachments.safe_name(name) == safe


def test_a_name_clash_gets_a_suffix_before_the_extension() -> None:
    assert attachments.unique_name("report.pdf", {"REPORT.pdf", "report-2.pdf"}) == "report-3.pdf"
    assert attachments.unique_name("README", {"README"}) == "README-2"
    assert attachments.unique_name("new.txt", {"old.txt"}) == "new.txt"


def test_content_types_by_extension_then_as_declared() -> None:
    assert attachments.content_type("a.png") == "image/png"
    assert attachments.content_type("noext", "application/pdf") == "application/pdf"
    assert attachments.content_type("noext") == "application/octet-stream"


CONFIG = """# the desk
desk: {name: Test}
# Listed people: agents work tickets.
people:
  - email: ann@example.com
    name: Ann
    roles: [agent]

  # a comment inside the list stays where it is
# Groups come next
groups:
  - {id: service-desk, name: Service Desk}
rules: []
"""


def test_an_item_is_inserted_after_the_last_one_in_the_list_style() -> None:
    person = {"email": "bo@example.com", "name": "Bo: nights", "roles": ["agent"]}
    text = setup.insert_list_item(CONFIG, "people", person)
    assert text.replace('  - email: bo@example.com\n    name: "Bo: nights"\n    roles: [agent]\n', "") == CONFIG
    assert setup.added_item(yaml.safe_load(CONFIG), yaml.safe_load(text), "people", person)
    group = {"id": "cab", "name": "Change board"}
    text = setup.insert_list_item(CONFIG, "groups", group)
    assert "  - {id: service-desk, name: Service Desk}\n  - {id: cab, name: Change board}\nrules: []\n" in text
    empty = setup.insert_list_item("people: [] # nobody yet\ngroups: []\n", "people", {"email": "a@b.c", "name": "A"})
    assert yaml.safe_load(empty)["people"] == [{"email": "a@b.c", "name": "A"}] and "# nobody yet" in empty


def test_shapes_that_cannot_be_edited_safely_are_refused() -> None:
    with pytest.raises(Refused, match="flow style"):
        setup.insert_list_item("people: [{email: a@b.c, name: A}]\n", "people", {"email": "x@y.z", "name": "X"})
    with pytest.raises(Refused, match="no top-level 'people:'"):
        setup.insert_list_item("desk: {}\n", "people", {"email": "x@y.z", "name": "X"})
    with pytest.raises(Refused, match="not in a shape"):
        setup.insert_list_item("people:\n  ann: {}\n", "people", {"email": "x@y.z", "name": "X"})
    assert not setup.added_item({"a": [1], "b": 2}, {"a": [1, {"x": 1}], "b": 3}, "a", {"x": 1})


def test_scalars_are_plain_only_when_they_cannot_be_misread() -> None:
    assert [setup._scalar(v) for v in ("Ann Agent", "yes", "a@b.example", "Ann: lead", "#1", "Inês")] == [
        "Ann Agent", '"yes"', "a@b.example", '"Ann: lead"', '"#1"', "Inês"]


TICKETS = [
    {"id": "INC-0001", "service": "email", "assignee": "bob@x", "history": [
        {"at": "2026-03-01T09:00:00Z", "by": "ann@x", "action": "comment", "time_spent": 30},
        {"at": "2026-03-02T09:00:00Z", "by": "bob@x", "action": "transition", "time_spent": 90},
        {"at": "2026-03-03T09:00:00Z", "by": "eve@x", "action": "rate", "score": 5},
    ]},
    {"id": "INC-0002", "history": [
        {"at": "2026-03-02T10:00:00Z", "by": "bob@x", "action": "edit", "time_spent": 15},
        {"at": "2026-03-04T09:00:00Z", "by": "eve@x", "action": "rate", "score": 2},
        {"at": "2026-03-04T09:00:00Z", "by": "eve@x", "action": "rate", "score": "bad"},
    ]},
]


def test_time_report_sums_minutes_in_the_period() -> None:
    assert worklog.time_report(TICKETS) == [
        {"key": "ann@x", "entries": 1, "tickets": 1, "minutes": 30, "hours": 0.5},
        {"key": "bob@x", "entries": 2, "tickets": 2, "minutes": 105, "hours": 1.75},
    ]
    rows = worklog.time_report(TICKETS, since="2026-03-02T00:00:00Z", until="2026-03-02T10:00:00Z", group_by="service")
    assert rows == [{"key": "email", "entries": 1, "tickets": 1, "minutes": 90, "hours": 1.5}]


def test_csat_report_counts_valid_scores() -> None:
    rows = worklog.csat_report(TICKETS, group_by="person")
    assert [(r["key"], r["ratings"], r["average"], r["satisfied_pct"]) for r in rows] == [
        ("bob@x", 1, 5.0, 100.0), ("(none)", 1, 2.0, 0.0)]
    assert worklog.csat_report(TICKETS, since="2026-03-04T00:00:00Z")[0]["score_2"] == 1


def test_watchers_added_on_two_branches_merge_as_a_set() -> None:
    base = {"id": "INC-0001", "watchers": ["a@x.example", "b@x.example"], "history": []}
    ours = {**base, "watchers": ["a@x.example", "b@x.example", "c@x.example"]}
    theirs = {**base, "watchers": ["b@x.example", "d@x.example"]}  # a unwatched, d watched
    result = merge_records(base, ours, theirs)
    assert result.conflicts == [] and result.merged["watchers"] == ["b@x.example", "c@x.example", "d@x.example"]
