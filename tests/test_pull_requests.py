"""Two people, two clones, one remote: parallel work merges through the itsm merge driver."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, git, make_desk, run

ITSM_BIN = Path(sys.executable).parent / "itsm"


@pytest.fixture
def clones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A bare remote holding a desk with one incident, and two clones with the merge driver configured."""
    if not ITSM_BIN.exists() and shutil.which("itsm") is None:
        pytest.skip("the itsm console script is not installed")
    monkeypatch.setenv("PATH", f"{ITSM_BIN.parent}{os.pathsep}{os.environ['PATH']}")
    origin = make_desk(tmp_path / "origin")
    assert run("new", "incident", "--title", "Shared drive slow", cwd=origin).exit_code == 0
    assert run("assign", "INC-0001", BOB, cwd=origin).exit_code == 0
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(bare))
    pair = []
    for name in ("ann", "bob"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(bare), str(clone))
        git(clone, "config", "merge.itsm.driver", "itsm merge-driver %O %A %B %L %P")
        git(clone, "config", "user.email", f"{name}@example.com")
        git(clone, "config", "user.name", name.title())
        pair.append(clone)
    return pair[0], pair[1]


def test_two_comments_on_the_same_ticket_merge_cleanly(clones: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = clones
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T10:00:00Z")
    assert run("--as", ANN, "comment", "INC-0001", "Ann: checked the NAS", cwd=ann).exit_code == 0
    git(ann, "push", "-q", "origin", "main")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:30:00Z")
    assert run("--as", BOB, "comment", "INC-0001", "Bob: users in Lisbon only", cwd=bob).exit_code == 0
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    data = yaml.safe_load((bob / "tickets/INC/000/INC-0001.yaml").read_text())
    notes = [e.get("note") for e in data["history"] if e["action"] == "comment"]
    assert notes == ["Bob: users in Lisbon only", "Ann: checked the NAS"]  # united in time order
    assert data["updated"] == "2026-03-02T10:00:00Z"
    assert "<<<<<<<" not in (bob / "tickets/INC/000/INC-0001.yaml").read_text()
    assert run("validate", cwd=bob).exit_code == 0
    git(bob, "push", "-q", "origin", "HEAD:main")


def test_different_transitions_on_both_sides_conflict(clones: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = clones
    assert run("--as", ANN, "transition", "INC-0001", "in_progress", cwd=ann).exit_code == 0
    git(ann, "push", "-q", "origin", "main")
    assert run("--as", BOB, "transition", "INC-0001", "cancelled", cwd=bob).exit_code == 0
    git(bob, "fetch", "-q", "origin")
    merge = os.system(f"cd {bob} && git merge -q origin/main >/dev/null 2>&1")
    assert merge != 0
    text = (bob / "tickets/INC/000/INC-0001.yaml").read_text()
    assert text.startswith("# itsm merge conflict: status")
    assert "UU tickets/INC/000/INC-0001.yaml" in git(bob, "status", "--porcelain")
    git(bob, "add", "tickets/INC/000/INC-0001.yaml")  # a careless add keeps the conflict note...
    r = run("validate", cwd=bob)
    assert r.exit_code == 1  # ...which validate (and so the PR check) refuses
    assert "tickets/INC/000/INC-0001.yaml:1:1: unresolved merge conflict" in r.stdout


def test_new_tickets_on_both_sides_collide_and_renumber_fixes_it(clones: tuple[Path, Path]) -> None:
    ann, bob = clones
    assert run("--as", ANN, "new", "incident", "--title", "Ann's new one", cwd=ann).stdout == "INC-0002\n"
    git(ann, "push", "-q", "origin", "main")
    git(bob, "checkout", "-q", "-b", "bob-work")
    assert run("--as", BOB, "new", "incident", "--title", "Bob's new one", cwd=bob).stdout == "INC-0002\n"
    git(bob, "fetch", "-q", "origin")
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 1
    assert "run: itsm renumber INC-0002" in r.stdout
    fixed = run("--as", BOB, "renumber", "INC-0002", cwd=bob)
    assert fixed.stdout == "INC-0003\n"
    assert run("validate", "--base", "origin/main", cwd=bob).exit_code == 0
    git(bob, "merge", "-q", "origin/main")
    assert sorted(p.name for p in (bob / "tickets").glob("*/*/*.yaml")) == ["INC-0001.yaml", "INC-0002.yaml", "INC-0003.yaml"]
    assert run("validate", cwd=bob).exit_code == 0


def test_rebase_keeps_both_histories(clones: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = clones
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:10:00Z")
    run("--as", ANN, "comment", "INC-0001", "first", cwd=ann)
    git(ann, "push", "-q", "origin", "main")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:20:00Z")
    run("--as", BOB, "comment", "INC-0001", "second", cwd=bob)
    git(bob, "pull", "-q", "--rebase", "origin", "main")
    data = yaml.safe_load((bob / "tickets/INC/000/INC-0001.yaml").read_text())
    assert [e.get("note") for e in data["history"] if e["action"] == "comment"] == ["first", "second"]
    assert run("validate", "--base", "origin/main", cwd=bob).exit_code == 0
