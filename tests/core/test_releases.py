"""What implemented a change: items, their checks and the changes-by-release report (pure, no git)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from itsm_cli.core.releases import (
    UNRELEASED,
    describe,
    done_at,
    existence_problems,
    make_reference,
    releases_of,
    releases_report,
    repository_problems,
    same_work,
)

CONFIG = {
    "types": {"change": {"kind": "ticket", "workflow": "change"}},
    "workflows": {"change": {"initial": "draft", "states": {
        "draft": {"category": "new"}, "implementing": {"category": "open"},
        "review": {"category": "resolved"}, "closed": {"category": "closed"}}}},
}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def change(cid: str, refs: list[dict], moves: list[tuple[str, str]], service: str = "web") -> dict:
    history = [{"at": "2026-10-01T09:00:00Z", "by": "a@x.example", "action": "create", "to": "draft"}]
    state = "draft"
    for at, to in moves:
        if to == "=edit":
            history.append({"at": at, "by": "a@x.example", "action": "edit", "fields": {"implemented_by": refs}})
            continue
        history.append({"at": at, "by": "a@x.example", "action": "transition", "from": state, "to": to})
        state = to
    return {"id": cid, "type": "change", "title": f"change {cid}", "status": state, "service": service,
            "created": "2026-10-01T09:00:00Z", "implemented_by": refs, "history": history}


def test_make_reference_checks_each_kind_and_says_which_option_is_wrong() -> None:
    assert make_reference("commit", "ABCDEF1", "shop", "v2") == {"commit": "abcdef1", "repo": "shop", "release": "v2"}
    assert make_reference("pr", "#42") == {"pr": 42}
    assert make_reference("tag", "v2.3") == {"tag": "v2.3"}
    for kind, value, option in (("commit", "xyz", "--commit"), ("commit", "-abc1234", "--commit"),
                                ("tag", "-v1", "--tag"), ("tag", "a..b", "--tag"), ("pr", "0", "--pr")):
        with pytest.raises(ValueError, match=option):
            make_reference(kind, value)
    with pytest.raises(ValueError, match="--release"):
        make_reference("pr", "1", release="bad release")


def test_describe_and_same_work() -> None:
    assert describe({"commit": "0123456789abcdef", "repo": "shop", "release": "v2"}) == \
        "commit 0123456789 (shop), release v2"
    assert describe({"pr": 7}) == "PR #7"
    assert same_work({"commit": "0123456789abcdef"}, {"commit": "0123456"})  # a prefix is the same commit
    assert not same_work({"commit": "0123456"}, {"commit": "0123456", "repo": "shop"})
    assert not same_work({"tag": "v1"}, {"pr": 1})


def test_existence_problems_report_only_what_was_found_missing() -> None:
    record = {"implemented_by": [
        {"commit": "aaaaaaa"}, {"commit": "bbbbbbb", "repo": "far"}, {"tag": "v9", "repo": "shop"}, {"pr": 5}]}
    asked = []

    def exists(repo, kind, value):
        asked.append((repo, kind, value))
        return {None: False, "far": None, "shop": False}[repo]

    found = existence_problems(record, exists)
    assert found == [(("implemented_by", 0, "commit"), "commit aaaaaaa does not exist in this desk's repository"),
                     (("implemented_by", 2, "tag"), "tag v9 does not exist in repository 'shop'")]
    assert ("far", "commit", "bbbbbbb") in asked and all(k != "pr" for _, k, _ in asked)


def test_repository_problems_name_the_declared_ones() -> None:
    found = repository_problems({"implemented_by": [{"pr": 1, "repo": "nope"}, {"pr": 2, "repo": "shop"}]},
                                {"shop": {"url": "u"}})
    assert found == [(("implemented_by", 0, "repo"), "unknown repository 'nope' (repositories: in itsm.yaml: shop)")]


def test_releases_of_a_change_tags_and_release_fields_each_once() -> None:
    record = {"implemented_by": [{"commit": "aaaaaaa", "release": "v2"}, {"tag": "v2"}, {"tag": "v3"}, {"pr": 1}]}
    assert releases_of(record) == ["v2", "v3"]


def test_done_at_is_the_review_or_else_the_recording_of_the_work() -> None:
    reviewed = change("CHG-1", [{"pr": 1}], [("2026-11-02T10:00:00Z", "implementing"),
                                             ("2026-11-03T10:00:00Z", "=edit"), ("2026-11-04T10:00:00Z", "review"),
                                             ("2026-11-20T10:00:00Z", "closed")])
    assert done_at(reviewed, CONFIG, NOW) == datetime(2026, 11, 20, 10, tzinfo=UTC)  # its last move: closed
    open_one = change("CHG-2", [{"pr": 2}], [("2026-11-02T10:00:00Z", "implementing"),
                                             ("2026-11-05T10:00:00Z", "=edit")])
    assert done_at(open_one, CONFIG, NOW) == datetime(2026, 11, 5, 10, tzinfo=UTC)
    assert done_at(change("CHG-3", [], []), CONFIG, NOW) is None


def test_releases_report_groups_by_release_and_filters_the_period() -> None:
    a = change("CHG-1", [{"commit": "aaaaaaa", "repo": "shop", "release": "v2"}, {"pr": 10, "repo": "shop"}],
               [("2026-10-05T10:00:00Z", "=edit"), ("2026-10-06T10:00:00Z", "review")])
    b = change("CHG-2", [{"tag": "v2", "repo": "shop"}, {"tag": "v3", "repo": "shop"}],
               [("2026-11-05T10:00:00Z", "=edit"), ("2026-11-06T10:00:00Z", "review")], service="erp")
    c = change("CHG-3", [{"pr": 11}], [("2026-11-07T10:00:00Z", "=edit")])
    d = change("CHG-4", [], [("2026-11-07T10:00:00Z", "review")])  # nothing recorded: not in the report
    rows = releases_report([c, b, a, d], CONFIG, now=NOW)
    assert [(r["release"], r["change"]) for r in rows] == [
        ("v2", "CHG-1"), ("v2", "CHG-2"), ("v3", "CHG-2"), (UNRELEASED, "CHG-3")]
    # Work that names no release (PR 10) goes with its change's release.
    assert rows[0]["items"] == ["commit aaaaaaa (shop), release v2", "PR #10 (shop)"]
    assert rows[1]["implemented_by"] == [{"tag": "v2", "repo": "shop"}]
    november = releases_report([a, b, c], CONFIG, now=NOW, since=datetime(2026, 11, 1, tzinfo=UTC),
                               until=datetime(2026, 12, 1, tzinfo=UTC))
    assert [r["change"] for r in november] == ["CHG-2", "CHG-2", "CHG-3"]
    assert [r["change"] for r in releases_report([a, b, c], CONFIG, now=NOW, service="erp")] == ["CHG-2", "CHG-2"]
