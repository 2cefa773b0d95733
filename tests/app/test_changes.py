"""Unit tests of app/changes.py: the application object behind every changing command (real desk, real git).

The commands' own behaviour is tested through the CLI elsewhere; here the App is called as a library.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, git, head, load_ticket, save_ticket, status, ticket_path

from itsm_cli.app import App, BulkRefused, normalise_time, now_utc, resolve_actor, review_date
from itsm_cli.errors import BadArgument, InvalidRecord, Refused
from itsm_cli.store.desk import Desk

NOW = "2026-03-02T09:00:00Z"

# --- time and the acting person ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-03-02T09:15:00Z", "2026-03-02T09:15:00Z"),
    ("2026-03-02T10:15:00+01:00", "2026-03-02T09:15:00Z"),
    ("2026-03-02T09:15:00.123456Z", "2026-03-02T09:15:00Z"),
    ("2026-03-02", "2026-03-02T00:00:00Z"),
    ("2026-03-02T09:15", "2026-03-02T09:15:00Z"),
])
def test_normalise_time(text: str, utc: str) -> None:
    assert normalise_time(text, "--since") == utc


def test_a_bad_time_names_the_option() -> None:
    with pytest.raises(BadArgument, match="--since: 'yesterday' is not an ISO 8601 time"):
        normalise_time("yesterday", "--since")


def test_now_comes_from_itsm_now_else_the_clock() -> None:
    assert now_utc({"ITSM_NOW": "2026-03-02T10:00:00+01:00"}) == "2026-03-02T09:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_utc({}))
    with pytest.raises(BadArgument, match="ITSM_NOW"):
        now_utc({"ITSM_NOW": "soon"})


def test_review_date() -> None:
    assert review_date("2026-03-02T09:00:00Z", {}) == "2026-08-29"  # 180 days on
    assert review_date("2026-12-31T23:00:00Z", {"review_after_days": 1}) == "2027-01-01"


def test_the_actor_is_as_then_itsm_user_then_git(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = Desk(desk)
    assert resolve_actor(BOB, d) == BOB
    monkeypatch.setenv("ITSM_USER", ANN)
    assert resolve_actor(None, d) == ANN
    monkeypatch.delenv("ITSM_USER")
    git(desk, "config", "user.email", "git-user@example.com")
    assert resolve_actor(None, d) == "git-user@example.com"


@pytest.mark.parametrize("actor", ["bob", "bob @example.com", "<bob@example.com>", "bob@example.com\n", "a" * 321 + "@x"])
def test_a_malformed_actor_is_refused(desk: Path, actor: str) -> None:
    with pytest.raises(BadArgument, match="is not an e-mail address"):
        resolve_actor(actor, Desk(desk))


def test_without_any_actor_the_question_is_asked(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITSM_USER")
    with pytest.raises(BadArgument, match="who is acting\\? pass --as EMAIL"):
        resolve_actor(None, Desk(desk))


# --- changes -------------------------------------------------------------------------------------------


def test_new_takes_the_next_id_and_commits_once_with_trailers(desk: Path) -> None:
    app = App(Desk(desk), ANN, NOW)
    change = app.new("incident", {"title": "Printer", "assignee": "me"})
    assert change.record["id"] == "INC-0001" and change.record["assignee"] == ANN
    assert change.commit == head(desk)
    assert git(desk, "log", "-1", "--format=%B").strip().splitlines() == [
        'INC-0001: create incident "Printer"', "", "Itsm-Id: INC-0001", "Itsm-Action: create"]
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == [ticket_path("INC-0001")]
    assert App(Desk(desk), ANN, NOW).new("incident", {"title": "Second"}).record["id"] == "INC-0002"


def test_the_next_id_skips_ids_taken_on_another_branch_or_not_yet_committed(desk: Path) -> None:
    App(Desk(desk), ANN, NOW).new("incident", {"title": "One"})
    git(desk, "checkout", "-qb", "elsewhere")
    App(Desk(desk), ANN, NOW).new("incident", {"title": "Two, on a branch"})
    git(desk, "checkout", "-q", "main")
    uncommitted = App(Desk(desk), ANN, NOW, commit=False).new("incident", {"title": "Three, not committed"})
    assert uncommitted.record["id"] == "INC-0003" and uncommitted.commit is None
    assert App(Desk(desk), ANN, NOW).new("incident", {"title": "Four"}).record["id"] == "INC-0004"


def test_a_service_is_not_made_with_new(desk: Path) -> None:
    with pytest.raises(BadArgument, match="itsm service new"):
        App(Desk(desk), ANN, NOW).new("service", {"title": "x"})


def test_a_change_to_a_record_that_breaks_its_schema_is_refused(desk: Path) -> None:
    App(Desk(desk), ANN, NOW).new("incident", {"title": "Printer"})
    data = load_ticket(desk, "INC-0001")
    save_ticket(desk, {**data, "title": 42})
    before = head(desk)
    with pytest.raises(InvalidRecord, match="fix the file \\(see 'itsm validate'\\) before changing it"):
        App(Desk(desk), ANN, NOW).comment("INC-0001", "hello", internal=False)
    assert head(desk) == before


def test_an_id_of_dash_changes_every_record_read_in_one_commit(desk: Path) -> None:
    for title in ("a", "b"):
        App(Desk(desk), ANN, NOW).new("incident", {"title": title})
    before = head(desk)
    app = App(Desk(desk), ANN, "2026-03-02T10:00:00Z")
    app.ids_input = lambda: ["INC-0001", "INC-0002", "INC-0001"]
    change = app.assign("-", "me", None)
    assert [r["assignee"] for r in change.records] == [ANN, ANN]
    assert git(desk, "rev-parse", "HEAD~1").strip() == before
    assert sorted(git(desk, "show", "--name-only", "--format=", "HEAD").split()) == [
        ticket_path("INC-0001"), ticket_path("INC-0002")]
    assert "(2 records)" in git(desk, "log", "-1", "--format=%s")


def test_one_refusal_among_many_changes_nothing_and_names_each(desk: Path) -> None:
    App(Desk(desk), ANN, NOW).new("incident", {"title": "a"})
    before = head(desk)
    app = App(Desk(desk), ANN, NOW)
    app.ids_input = lambda: ["INC-0001", "INC-0404", "../x"]
    with pytest.raises(BulkRefused, match="2 of 3 records refused; nothing was changed") as info:
        app.comment("-", "hello", internal=False)
    assert info.value.details[0].startswith("INC-0404: no record INC-0404")
    assert info.value.details[1].startswith("../x: ")
    assert head(desk) == before and status(desk) == ""


def test_dash_without_input_is_a_usage_error(desk: Path) -> None:
    with pytest.raises(BadArgument, match="reads IDs from standard input"):
        App(Desk(desk), ANN, NOW).comment("-", "x", internal=False)
    app = App(Desk(desk), ANN, NOW)
    app.ids_input = lambda: []
    with pytest.raises(BadArgument, match="no IDs on standard input"):
        app.comment("-", "x", internal=False)


def test_a_result_that_would_be_invalid_is_not_written(desk: Path) -> None:
    App(Desk(desk), ANN, NOW).new("incident", {"title": "a"})
    before = head(desk)
    with pytest.raises(InvalidRecord, match="the result would be invalid: unknown group 'nobody'"):
        App(Desk(desk), ANN, NOW).edit("INC-0001", {"group": "nobody"})
    assert head(desk) == before and status(desk) == ""
    with pytest.raises(Refused, match="no record PRB-0404 to link to"):
        App(Desk(desk), ANN, NOW).link("INC-0001", "relates", "PRB-0404")


def test_renumber_moves_the_record_and_its_links_in_one_commit(desk: Path) -> None:
    App(Desk(desk), ANN, NOW).new("incident", {"title": "a"})
    App(Desk(desk), ANN, NOW).new("incident", {"title": "b"})
    App(Desk(desk), ANN, NOW).link("INC-0002", "relates", "INC-0001")
    change = App(Desk(desk), ANN, NOW).renumber("INC-0001")
    assert change.record["id"] == "INC-0003"
    assert not (desk / ticket_path("INC-0001")).exists()
    assert load_ticket(desk, "INC-0002")["links"] == [{"kind": "relates", "id": "INC-0003"}]
    assert "Itsm-Action: renumber" in git(desk, "log", "-1", "--format=%B")
    with pytest.raises(BadArgument, match="one ID at a time"):
        App(Desk(desk), ANN, NOW).renumber("-")


def test_me_means_the_acting_person_only_in_person_fields(desk: Path) -> None:
    app = App(Desk(desk), BOB, NOW)
    assert app.me("ME") == BOB and app.me("meg") == "meg" and app.me(None) is None
    assert app.me_is_the_actor({"assignee": "me", "title": "me", "requester": "Me"}) == {
        "assignee": BOB, "title": "me", "requester": BOB}


def test_an_illegal_move_is_refused_with_nothing_written(desk: Path) -> None:
    App(Desk(desk), ANN, NOW).new("incident", {"title": "a"})
    before = head(desk)
    with pytest.raises(Refused, match="legal next states"):
        App(Desk(desk), ANN, NOW).transition("INC-0001", "closed", None, {})
    assert head(desk) == before
