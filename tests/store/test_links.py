"""Unit tests of store/links.py: what links to a record, found with one ``git grep`` (real git)."""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import git, record_calls, run, save_ticket

from itsm_cli.store import links
from itsm_cli.store.desk import Desk


def _ticket(record_id: str, *targets: tuple[str, str]) -> dict:
    data = {"id": record_id, "type": "incident", "title": f"about {record_id}", "status": "new"}
    if targets:
        data["links"] = [{"kind": kind, "id": other} for kind, other in targets]
    return data


@pytest.fixture()
def linked(desk: Path) -> Desk:
    save_ticket(desk, _ticket("INC-0001"))
    save_ticket(desk, _ticket("INC-0002", ("relates", "INC-0001"), ("caused-by", "PRB-0001")))
    save_ticket(desk, _ticket("INC-1003", ("parent", "INC-0001")))
    save_ticket(desk, {**_ticket("INC-0004"), "title": "mentions INC-0001 but links nothing"})
    save_ticket(desk, _ticket("INC-0005", ("relates", "INC-00011")))  # a longer ID is not this one
    (desk / "kb/KB-0001.md").write_text("---\nid: KB-0001\nlinks: [{kind: relates, id: INC-0001}]\n---\nbody\n")
    git(desk, "add", "-A")
    git(desk, "commit", "-qm", "records")
    return Desk(desk)


def test_linked_from_names_each_record_linking_here_in_id_order(linked: Desk) -> None:
    assert links.linked_from(linked, linked.get("INC-0001")) == [
        ("INC-0002", "relates"), ("INC-1003", "parent"), ("KB-0001", "relates")]
    assert links.linked_from(linked, linked.get("INC-0004")) == []


def test_only_files_that_mention_the_id_are_parsed(linked: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = record_calls(monkeypatch, Desk, "load")
    rec = linked.get("INC-0001")
    loaded.clear()
    links.linked_from(linked, rec)
    # INC-0004 mentions the ID in its title, so it is read; INC-0005's INC-00011 is another word; the record itself is skipped.
    assert sorted(loaded) == ["kb/KB-0001.md", "tickets/INC/000/INC-0002.yaml", "tickets/INC/000/INC-0004.yaml",
                              "tickets/INC/001/INC-1003.yaml"]


def test_a_broken_file_that_mentions_the_id_is_skipped(linked: Desk) -> None:
    (linked.root / "tickets/INC/000/INC-0006.yaml").write_text("links: [{id: INC-0001}\n")
    git(linked.root, "add", "-A")
    assert links.linked_from(linked, linked.get("INC-0001")) == [
        ("INC-0002", "relates"), ("INC-1003", "parent"), ("KB-0001", "relates")]


def test_without_git_every_record_is_read_instead(linked: Desk) -> None:
    import shutil

    shutil.rmtree(linked.root / ".git")
    assert links.linked_from(Desk(linked.root), linked.get("INC-0001")) == [
        ("INC-0002", "relates"), ("INC-1003", "parent"), ("KB-0001", "relates")]


def test_a_big_desk_is_searched_only_when_asked(linked: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "SEARCH_UP_TO", 3)
    rec = linked.get("INC-0001")
    assert links.linked_from(linked, rec) is None
    assert links.linked_from(linked, rec, everywhere=True) == [
        ("INC-0002", "relates"), ("INC-1003", "parent"), ("KB-0001", "relates")]


def test_records_at_most_counts_a_bucket_as_a_thousand_and_stops_early(linked: Desk) -> None:
    # tickets/INC/ holds buckets 000 and 001: 2,000 at most; kb/ holds one file and .gitkeep is hidden.
    assert links.records_at_most(linked, ["tickets", "kb"]) == 2001
    assert links.records_at_most(linked, ["tickets", "kb"], stop_above=10) == 2000
    assert links.records_at_most(linked, ["missing"]) == 0


def test_show_prints_what_links_here(linked: Desk) -> None:
    r = run("show", "INC-0001")
    assert r.exit_code == 0, r.stderr
    assert "INC-0002" in r.stdout and "INC-1003" in r.stdout
