"""The git merge driver, called directly and by real ``git merge`` runs."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

import itsm_cli
from itsm_cli.store import yaml_io
from itsm_cli.store.merge_driver import main, run_merge_driver

ROOT = Path(itsm_cli.__file__).resolve().parent.parent
ALICE = "alice@example.com"
BOB = "bob@example.com"
TICKET = "tickets/INC/000/INC-0001.yaml"
ARTICLE = "kb/KB-0001.md"


def ticket() -> dict:
    return {
        "id": "INC-0001",
        "type": "incident",
        "title": "Printer on floor 3 jams",
        "status": "in_progress",
        "created": "2026-03-01T08:00:00Z",
        "updated": "2026-03-01T09:00:00Z",
        "requester": "carol@example.com",
        "assignee": ALICE,
        "tags": ["printer"],
        "history": [
            {"at": "2026-03-01T08:00:00Z", "by": "carol@example.com", "action": "create", "to": "new"},
            {"at": "2026-03-01T09:00:00Z", "by": ALICE, "action": "transition", "from": "new", "to": "in_progress"},
        ],
    }


def article_text(meta_changes: dict | None = None, body: str | None = None) -> str:
    meta = {
        "id": "KB-0001",
        "title": "Clearing a paper jam",
        "status": "published",
        "services": ["printing"],
        "owner": ALICE,
        "review_by": "2026-09-01",
        "updated": "2026-03-01T09:00:00Z",
    }
    meta.update(meta_changes or {})
    if body is None:
        body = "# Clearing a paper jam\n\nOpen tray 2.\n\nPull the paper out slowly.\n\nClose the tray.\n"
    return yaml_io.dumps_front_matter(meta, body)


def comment(record: dict, at: str, by: str, note: str) -> dict:
    new = copy.deepcopy(record)
    new["history"].append({"at": at, "by": by, "action": "comment", "note": note})
    new["updated"] = at
    return new


def transition(record: dict, at: str, by: str, to: str) -> dict:
    new = copy.deepcopy(record)
    new["history"].append({"at": at, "by": by, "action": "transition", "from": record["status"], "to": to})
    new["status"] = to
    new["updated"] = at
    return new


# --- calling the driver directly ---------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_clean_merge_written_to_ours(tmp_path: Path) -> None:
    base = ticket()
    o = write(tmp_path / "o", yaml_io.dumps(comment(base, "2026-03-02T10:00:00Z", ALICE, "ours")))
    b = write(tmp_path / "b", yaml_io.dumps(base))
    t = write(tmp_path / "t", yaml_io.dumps(comment(base, "2026-03-02T09:00:00Z", BOB, "theirs")))
    assert run_merge_driver(str(b), str(o), str(t), 7, TICKET) == 0
    merged = yaml_io.load_mapping(o.read_bytes(), "o")
    assert [e.get("note") for e in merged["history"][2:]] == ["theirs", "ours"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "o", "t"]  # no temp file left


def test_conflict_writes_comment_lines_and_ours_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ticket()
    schema_line = "# yaml-language-server: $schema=../schemas/incident.schema.json"
    ours = transition(base, "2026-03-02T10:00:00Z", ALICE, "resolved")
    o = write(tmp_path / "o", schema_line + "\n" + yaml_io.dumps(ours))
    b = write(tmp_path / "b", yaml_io.dumps(base))
    t = write(tmp_path / "t", yaml_io.dumps(transition(base, "2026-03-02T09:00:00Z", BOB, "on_hold")))
    assert run_merge_driver(str(b), str(o), str(t), 7, TICKET) == 1
    lines = o.read_text(encoding="utf-8").splitlines()
    assert lines[0] == schema_line
    assert lines[1].startswith("# itsm merge conflict: status: ours 'resolved', theirs 'on_hold' (base 'in_progress')")
    merged = yaml_io.load_mapping(o.read_bytes(), "o")
    assert merged["status"] == "resolved"
    assert len(merged["history"]) == 4
    assert "itsm: merge conflict in tickets/INC/000/INC-0001.yaml: status:" in capsys.readouterr().err


def test_unparsable_side_leaves_ours_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ticket()
    o = write(tmp_path / "o", "id: INC-0001\nid: INC-0002\n")
    b = write(tmp_path / "b", yaml_io.dumps(base))
    t = write(tmp_path / "t", yaml_io.dumps(base))
    assert run_merge_driver(str(b), str(o), str(t), 7, TICKET) == 1
    assert o.read_text(encoding="utf-8") == "id: INC-0001\nid: INC-0002\n"
    err = capsys.readouterr().err
    assert err.startswith("itsm: error: tickets/INC/000/INC-0001.yaml:2:1: duplicate key 'id'")
    assert "Traceback" not in err


def test_missing_file_returns_conflict(tmp_path: Path) -> None:
    o = write(tmp_path / "o", yaml_io.dumps(ticket()))
    assert run_merge_driver(str(tmp_path / "nope"), str(o), str(o), 7, TICKET) == 1


def test_empty_base_means_both_added(tmp_path: Path) -> None:
    b = write(tmp_path / "b", "")
    o = write(tmp_path / "o", yaml_io.dumps(ticket()))
    t = write(tmp_path / "t", yaml_io.dumps({**ticket(), "title": "Something else"}))
    assert run_merge_driver(str(b), str(o), str(t), 7, TICKET) == 1
    assert "# itsm merge conflict: title: ours 'Printer on floor 3 jams'" in o.read_text(encoding="utf-8")


def test_article_front_matter_and_body_merge(tmp_path: Path) -> None:
    base = article_text()
    ours = article_text({"owner": BOB}, base.split("---\n", 2)[2].replace("Open tray 2.", "Open tray 2 (left side)."))
    theirs = article_text({"services": ["printing", "floor-3"]}, base.split("---\n", 2)[2] + "\nCall x1234.\n")
    b, o, t = (write(tmp_path / n, s) for n, s in (("b", base), ("o", ours), ("t", theirs)))
    assert run_merge_driver(str(b), str(o), str(t), 7, ARTICLE) == 0
    front, body, _ = yaml_io.split_front_matter(o.read_text(encoding="utf-8"), "o")
    meta = yaml_io.load_mapping(front.encode(), "o")
    assert (meta["owner"], meta["services"]) == (BOB, ["printing", "floor-3"])
    assert "Open tray 2 (left side)." in body and "Call x1234." in body


def test_article_body_conflict_uses_marker_size(tmp_path: Path) -> None:
    body = "Intro.\n\nStep one.\n"
    base = article_text(body=body)
    ours = article_text(body=body.replace("Step one.", "Step one, carefully."))
    theirs = article_text(body=body.replace("Step one.", "Step 1."))
    b, o, t = (write(tmp_path / n, s) for n, s in (("b", base), ("o", ours), ("t", theirs)))
    assert run_merge_driver(str(b), str(o), str(t), 10, ARTICLE) == 1
    text = o.read_text(encoding="utf-8")
    assert text.startswith("---\n# itsm merge conflict: body: both sides changed the same text")
    assert "\n" + "<" * 10 + " ours\nStep one, carefully.\n" + "=" * 10 + "\nStep 1.\n" + ">" * 10 + " theirs\n" in text
    yaml_io.load_mapping(yaml_io.split_front_matter(text, "o")[0].encode(), "o")  # front matter still parses


def test_main_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["only-one"]) == 2
    assert main(["a", "b", "c", "seven"]) == 2
    assert "itsm: error: marker size must be a number" in capsys.readouterr().err


# --- real git ----------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment where git works without any global configuration."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    result = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    result.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Alice",
        GIT_AUTHOR_EMAIL=ALICE,
        GIT_COMMITTER_NAME="Alice",
        GIT_COMMITTER_EMAIL=ALICE,
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    )
    return result


def git(env: dict[str, str], repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def enable_driver(env: dict[str, str], repo: Path) -> None:
    # Driver config is local to each clone, as it is for users.
    driver = f'"{sys.executable}" -m itsm_cli.store.merge_driver %O %A %B %L %P'
    git(env, repo, "config", "merge.itsm.name", "itsm record merge")
    git(env, repo, "config", "merge.itsm.driver", driver)


def commit_file(env: dict[str, str], repo: Path, rel: str, text: str, message: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(env, repo, "add", rel)
    git(env, repo, "commit", "-q", "-m", message)


@pytest.fixture
def desk(tmp_path: Path, env: dict[str, str]) -> Path:
    """A git repository with the driver enabled and one ticket and one article committed."""
    repo = tmp_path / "desk"
    git(env, tmp_path, "init", "-q", "-b", "main", str(repo))
    enable_driver(env, repo)
    attributes = "tickets/**/*.yaml merge=itsm\nkb/*.md merge=itsm conflict-marker-size=9\n"
    commit_file(env, repo, ".gitattributes", attributes, "attributes")
    commit_file(env, repo, TICKET, yaml_io.dumps(ticket()), "INC-0001: create")
    commit_file(env, repo, ARTICLE, article_text(), "KB-0001: create")
    return repo


def load_ticket(repo: Path) -> dict:
    return yaml_io.load_mapping((repo / TICKET).read_bytes(), TICKET)


def branch_edits(env: dict[str, str], repo: Path, ours: str, theirs: str, rel: str = TICKET) -> None:
    """Commit ``theirs`` on branch ``other`` and ``ours`` on main."""
    git(env, repo, "checkout", "-q", "-b", "other")
    commit_file(env, repo, rel, theirs, "theirs")
    git(env, repo, "checkout", "-q", "main")
    commit_file(env, repo, rel, ours, "ours")


def test_git_merge_two_comments(desk: Path, env: dict[str, str]) -> None:
    base = ticket()
    ours = comment(base, "2026-03-02T10:00:00Z", ALICE, "Replaced the roller")
    theirs = comment(base, "2026-03-02T09:30:00Z", BOB, "Jammed again at 9:30")
    branch_edits(env, desk, yaml_io.dumps(ours), yaml_io.dumps(theirs))
    git(env, desk, "merge", "--no-edit", "other")
    merged = load_ticket(desk)
    assert [e.get("note") for e in merged["history"][2:]] == ["Jammed again at 9:30", "Replaced the roller"]
    assert merged["updated"] == "2026-03-02T10:00:00Z"
    assert git(env, desk, "status", "--porcelain").stdout == ""


def test_git_merge_different_transitions_conflict(desk: Path, env: dict[str, str]) -> None:
    base = ticket()
    ours = transition(base, "2026-03-02T10:00:00Z", ALICE, "resolved")
    theirs = transition(base, "2026-03-02T09:00:00Z", BOB, "on_hold")
    branch_edits(env, desk, yaml_io.dumps(ours), yaml_io.dumps(theirs))
    proc = git(env, desk, "merge", "--no-edit", "other", check=False)
    assert proc.returncode != 0
    assert "itsm: merge conflict in tickets/INC/000/INC-0001.yaml: status" in proc.stderr
    assert git(env, desk, "diff", "--name-only", "--diff-filter=U").stdout.split() == [TICKET]
    text = (desk / TICKET).read_text(encoding="utf-8")
    assert text.startswith("# itsm merge conflict: status: ours 'resolved', theirs 'on_hold' (base 'in_progress')")
    assert "<<<<<<<" not in text
    assert load_ticket(desk)["status"] == "resolved"


def test_git_merge_add_add_with_different_titles_conflicts(desk: Path, env: dict[str, str]) -> None:
    rel = "tickets/INC/000/INC-0002.yaml"
    record = {**ticket(), "id": "INC-0002"}
    branch_edits(env, desk, yaml_io.dumps(record), yaml_io.dumps({**record, "title": "Other"}), rel)
    proc = git(env, desk, "merge", "--no-edit", "other", check=False)
    assert proc.returncode != 0
    assert (desk / rel).read_text(encoding="utf-8").startswith("# itsm merge conflict: title: ours ")


def test_git_merge_article(desk: Path, env: dict[str, str]) -> None:
    base_body = article_text().split("---\n", 2)[2]
    ours = article_text({"owner": BOB}, base_body.replace("Open tray 2.", "Open tray 2 fully."))
    theirs = article_text({"review_by": "2026-12-01"}, base_body.replace("Close the tray.", "Close the tray firmly."))
    branch_edits(env, desk, ours, theirs, ARTICLE)
    git(env, desk, "merge", "--no-edit", "other")
    text = (desk / ARTICLE).read_text(encoding="utf-8")
    assert "owner: bob@example.com" in text and "review_by: '2026-12-01'" in text
    assert "Open tray 2 fully." in text and "Close the tray firmly." in text

    git(env, desk, "checkout", "-q", "-b", "other2")
    commit_file(env, desk, ARTICLE, text.replace("Pull the paper out slowly.", "Pull gently."), "theirs")
    git(env, desk, "checkout", "-q", "main")
    commit_file(env, desk, ARTICLE, text.replace("Pull the paper out slowly.", "Pull with both hands."), "ours")
    proc = git(env, desk, "merge", "--no-edit", "other2", check=False)
    assert proc.returncode != 0
    text = (desk / ARTICLE).read_text(encoding="utf-8")
    assert "<" * 9 + " ours\nPull with both hands.\n" + "=" * 9 + "\nPull gently.\n" + ">" * 9 + " theirs" in text


def test_git_merge_across_clones(tmp_path: Path, desk: Path, env: dict[str, str]) -> None:
    remote = tmp_path / "remote.git"
    git(env, tmp_path, "clone", "-q", "--bare", str(desk), str(remote))
    first, second = tmp_path / "first", tmp_path / "second"
    for clone in (first, second):
        git(env, tmp_path, "clone", "-q", str(remote), str(clone))
        enable_driver(env, clone)
    base = ticket()
    commit_file(env, first, TICKET, yaml_io.dumps(comment(base, "2026-03-02T09:00:00Z", ALICE, "from first")), "first")
    git(env, first, "push", "-q", "origin", "main")
    commit_file(env, second, TICKET, yaml_io.dumps(comment(base, "2026-03-02T08:45:00Z", BOB, "from second")), "second")
    git(env, second, "fetch", "-q", "origin")
    git(env, second, "merge", "--no-edit", "origin/main")
    git(env, second, "push", "-q", "origin", "main")
    git(env, first, "pull", "-q", "--ff-only", "origin", "main")
    for clone in (first, second):
        notes = [e.get("note") for e in load_ticket(clone)["history"][2:]]
        assert notes == ["from second", "from first"]
