"""Release and deployment through the CLI: itsm implement, validate's checks, audit change, report releases.

Real git repositories: the desk itself, a declared repository cloned beside it
(``shop-web``), and one declared but not at hand (``far``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_testing import git, head, load_ticket, run, save_ticket, ticket_path

REPOS = """repositories:
  shop-web: {url: "https://git.example/shop-web", path: ../shop-web}
  far: {url: "https://git.example/far", path: ../not-cloned-here}
"""


def ok(*args: str, **kw) -> str:
    r = run(*args, **kw)
    assert r.exit_code == 0, r.stderr
    return r.stdout


@pytest.fixture
def shop(desk: Path) -> Path:
    """A repository beside the desk with two commits and the tag v2.3, declared in itsm.yaml."""
    repo = desk.parent / "shop-web"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.txt").write_text("one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Checkout: retry card payments once")
    git(repo, "tag", "v2.3")
    config = (desk / "itsm.yaml").read_text()
    assert "\nrepositories: {}\n" in config
    (desk / "itsm.yaml").write_text(config.replace("\nrepositories: {}\n", "\n" + REPOS))
    git(desk, "commit", "-q", "-am", "declare repositories")
    return repo


def new_change(title: str = "Upgrade the payment plugin") -> str:
    return ok("new", "change", "--title", title, "--service", "email").strip()


def test_implement_a_commit_of_this_desk_keeps_its_full_id_in_one_commit(desk: Path) -> None:
    cid = new_change()
    sha = head(desk)
    assert ok("implement", cid, "--commit", sha[:8], "--release", "v1.0").strip() == cid
    data = load_ticket(desk, cid)
    assert data["implemented_by"] == [{"commit": sha, "release": "v1.0"}]
    entry = data["history"][-1]
    assert entry["action"] == "edit" and entry["fields"] == {"implemented_by": data["implemented_by"]}
    assert entry["note"] == f"implemented by commit {sha[:10]}, release v1.0"
    message = git(desk, "log", "-1", "--format=%B")
    assert f"Itsm-Id: {cid}" in message and "Itsm-Action: implement" in message
    assert git(desk, "status", "--porcelain") == ""
    again = run("implement", cid, "--commit", sha)
    assert again.exit_code == 1 and "already records" in again.stderr
    assert ok("validate") == ""


def test_a_commit_or_tag_that_does_not_exist_is_refused_and_a_validate_error(desk: Path, shop: Path) -> None:
    cid = new_change()
    before = head(desk)
    r = run("implement", cid, "--commit", "deadbeefdeadbeef")
    assert r.exit_code == 1 and "commit deadbeefdeadbeef does not exist in this desk's repository" in r.stderr
    r = run("implement", cid, "--tag", "v9.9", "--repo", "shop-web")
    assert r.exit_code == 1 and "tag v9.9 does not exist in repository 'shop-web'" in r.stderr
    assert head(desk) == before
    # Written by hand (or the tag deleted since): validate says where.
    data = load_ticket(desk, cid)
    data["implemented_by"] = [{"tag": "v2.3", "repo": "shop-web"}, {"commit": "deadbeefdeadbeef"},
                              {"tag": "v9.9", "repo": "shop-web"}]
    save_ticket(desk, data)
    r = run("validate")
    assert r.exit_code == 1
    lines = (desk / ticket_path(cid)).read_text().splitlines()
    commit_line = next(i for i, line in enumerate(lines, 1) if "commit: deadbeefdeadbeef" in line)
    tag_line = next(i for i, line in enumerate(lines, 1) if "tag: v9.9" in line)
    assert f"{ticket_path(cid)}:{commit_line}:" in r.stdout
    assert "commit deadbeefdeadbeef does not exist in this desk's repository" in r.stdout
    assert f"{ticket_path(cid)}:{tag_line}:" in r.stdout and "tag v9.9 does not exist in repository 'shop-web'" in r.stdout
    assert "v2.3" not in r.stdout  # the tag that exists is fine
    assert "2 problem(s)" in r.stderr


def test_a_repository_not_at_hand_is_recorded_unchecked_and_never_an_error(desk: Path, shop: Path) -> None:
    cid = new_change()
    ok("implement", cid, "--commit", "abc1234", "--repo", "far", "--release", "r7")
    ok("implement", cid, "--pr", "42", "--repo", "shop-web")
    assert load_ticket(desk, cid)["implemented_by"] == [
        {"commit": "abc1234", "repo": "far", "release": "r7"}, {"pr": 42, "repo": "shop-web"}]
    r = run("validate")
    assert r.exit_code == 0, r.stdout


def test_unknown_repository_and_wrong_options(desk: Path, shop: Path) -> None:
    cid = new_change()
    r = run("implement", cid, "--pr", "1", "--repo", "nope")
    assert r.exit_code == 2 and "unknown repository 'nope'" in r.stderr and "far, shop-web" in r.stderr
    r = run("implement", cid, "--pr", "1", "--tag", "v2.3")
    assert r.exit_code == 2 and "one of --commit" in r.stderr
    r = run("implement", cid, "--commit", "not-a-sha")
    assert r.exit_code == 2 and "--commit: 'not-a-sha' is not a commit ID" in r.stderr
    inc = ok("new", "incident", "--title", "x", "--service", "email").strip()
    r = run("implement", inc, "--pr", "1")
    assert r.exit_code == 1 and "only changes record what implemented them" in r.stderr
    data = load_ticket(desk, cid)
    data["implemented_by"] = [{"pr": 1, "repo": "nope"}]
    save_ticket(desk, data)
    r = run("validate")
    assert r.exit_code == 1 and "unknown repository 'nope' (repositories: in itsm.yaml: far, shop-web)" in r.stdout


def test_audit_change_shows_the_commits_with_subject_author_and_date(desk: Path, shop: Path) -> None:
    cid = new_change()
    shop_sha = git(shop, "rev-parse", "HEAD").strip()
    ok("implement", cid, "--commit", shop_sha[:7], "--repo", "shop-web", "--release", "v2.3")
    ok("implement", cid, "--tag", "v2.3", "--repo", "shop-web")
    ok("implement", cid, "--pr", "42", "--repo", "shop-web")
    ok("implement", cid, "--tag", "r1", "--repo", "far")
    ev = json.loads(ok("audit", "change", cid, "--format", "json"))
    items = ev["implemented_by"]
    assert [i["kind"] for i in items] == ["commit", "tag", "pr", "tag"]
    assert items[0]["commit"] == shop_sha and items[0]["subject"] == "Checkout: retry card payments once"
    assert items[0]["author_email"] == "author@example.com" and items[0]["date"].startswith("20")
    assert items[0]["exists"] is True and items[0]["url"] == "https://git.example/shop-web"
    assert items[1]["exists"] is True and items[2]["exists"] is None and items[3]["checked"] is False
    text = ok("audit", "change", cid)
    section = text.split("Implemented by", 1)[1].split("Commits", 1)[0]
    assert f"commit {shop_sha[:10]} (shop-web), release v2.3" in section
    assert "Checkout: retry card payments once" in section and "Test Author <author@example.com>" in section
    assert "tag r1 (far)  (repository not at hand: not checked)" in section


def test_report_releases_groups_changes_by_release(desk: Path, shop: Path) -> None:
    first = new_change("Retry card payments")
    ok("implement", first, "--commit", git(shop, "rev-parse", "HEAD").strip(), "--repo", "shop-web",
       "--release", "v2.3", env={"ITSM_NOW": "2026-03-03T10:00:00Z"})
    second = new_change("Faster search")
    ok("implement", second, "--pr", "50", "--repo", "shop-web", "--release", "v2.4",
       env={"ITSM_NOW": "2026-03-20T10:00:00Z"})
    ok("implement", second, "--tag", "v2.3", "--repo", "shop-web", env={"ITSM_NOW": "2026-03-20T11:00:00Z"})
    rows = json.loads(ok("report", "releases", "--format", "json"))
    assert [(r["release"], r["change"]) for r in rows] == [("v2.3", first), ("v2.3", second), ("v2.4", second)]
    assert rows[0]["service"] == "email" and rows[0]["status"] == "draft"
    assert rows[0]["done_at"] == "2026-03-03T10:00:00Z"
    march = json.loads(ok("report", "releases", "--since", "2026-03-10", "--until", "2026-04-01", "--format", "json"))
    assert {r["change"] for r in march} == {second}
    csv_text = ok("report", "releases", "--format", "csv")
    assert csv_text.splitlines()[0] == "release,change,service,status,done_at,items,title"
    table = ok("report", "releases")
    assert table.splitlines()[0].split()[:3] == ["RELEASE", "CHANGE", "SERVICE"] and "v2.4" in table
    r = run("report", "releases", "--by", "month")
    assert r.exit_code == 2 and "--group and --by do not apply" in r.stderr


def test_validate_asks_again_when_a_repository_changes_though_the_change_did_not(desk: Path, shop: Path) -> None:
    cid = new_change()
    ok("implement", cid, "--tag", "v2.3", "--repo", "shop-web")
    assert run("validate").exit_code == 0
    assert run("validate").exit_code == 0  # the second run takes the change's references from the cache
    git(shop, "tag", "-d", "v2.3")
    r = run("validate")
    assert r.exit_code == 1 and "tag v2.3 does not exist in repository 'shop-web'" in r.stdout
    git(shop, "tag", "v2.3")
    assert run("validate").exit_code == 0
