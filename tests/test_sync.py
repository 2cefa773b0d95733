"""Keeping a pull request up to date: ``itsm sync``, ``itsm settle`` and ``validate --base`` after a merge.

A bare origin and clones with their own git identities; the clones never
configure the merge driver (``itsm sync`` enables it for its own merge), and
every merge is a real ``git merge``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, DAN, git, make_desk, run, ticket_path

TICKET = "INC-0001"


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A bare origin with one incident in progress, and clones for Ann, Bob and Dan (no merge driver set up)."""
    origin = make_desk(tmp_path / "origin")
    # From here on commits are authored by each clone's own identity, as on a person's machine.
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "ITSM_USER"):
        monkeypatch.delenv(var, raising=False)
    git(origin, "config", "user.email", ANN)
    git(origin, "config", "user.name", "Ann")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:00:00Z")
    assert run("--as", ANN, "new", "incident", "--title", "Shared drive slow", cwd=origin).exit_code == 0
    assert run("--as", ANN, "assign", TICKET, BOB, cwd=origin).exit_code == 0
    assert run("--as", BOB, "transition", TICKET, "in_progress", cwd=origin).exit_code == 0
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(bare))
    clones = {"bare": bare}
    for email in (ANN, BOB, DAN):
        name = email.split("@")[0]
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(bare), str(clone))
        git(clone, "config", "user.email", email)
        git(clone, "config", "user.name", name.title())
        assert "merge.itsm" not in git(clone, "config", "--list")
        clones[name] = clone
    return clones


def _history(clone: Path, record_id: str = TICKET) -> list[dict]:
    return yaml.safe_load((clone / ticket_path(record_id)).read_text())["history"]


def _at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("ITSM_NOW", when)


def _later_comment_lands_first(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Bob comments at 10:00 on a branch; Ann's comment of 10:30 lands on main first."""
    ann, bob = team["ann"], team["bob"]
    git(bob, "switch", "-q", "-c", "bob-note")
    _at(monkeypatch, "2026-03-02T10:00:00Z")
    assert run("--as", BOB, "comment", TICKET, "Bob: only Lisbon users", cwd=bob).exit_code == 0
    git(bob, "push", "-q", "origin", "bob-note")
    git(ann, "switch", "-q", "-c", "ann-note")
    _at(monkeypatch, "2026-03-02T10:30:00Z")
    assert run("--as", ANN, "comment", TICKET, "Ann: checked the NAS", cwd=ann).exit_code == 0
    git(ann, "switch", "-q", "main")
    git(ann, "merge", "-q", "--no-ff", "--no-edit", "ann-note")  # the host's merge commit
    git(ann, "push", "-q", "origin", "main")
    git(bob, "fetch", "-q", "origin")
    return ann, bob


def _driver_config() -> list[str]:
    return ["-c", f"merge.itsm.driver={sys.executable} -m itsm_cli merge-driver %O %A %B %L %P"]


def test_validate_base_accepts_the_drivers_interleaving(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, bob = _later_comment_lands_first(team, monkeypatch)
    git(bob, *_driver_config(), "merge", "-q", "--no-edit", "origin/main")
    notes = [e.get("note") for e in _history(bob) if e["action"] == "comment"]
    assert notes == ["Bob: only Lisbon users", "Ann: checked the NAS"]  # interleaved in time order
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "rewritten" not in r.stdout
    verify = run("audit", "verify", cwd=bob)
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def test_a_plain_merge_without_the_driver_conflicts(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Why sync exists: the clone never set the driver up, as on a host's merge button.
    _, bob = _later_comment_lands_first(team, monkeypatch)
    merge = subprocess.run(["git", "merge", "--no-edit", "origin/main"], cwd=bob, capture_output=True, text=True)
    assert merge.returncode == 1
    assert "CONFLICT" in merge.stdout
    git(bob, "merge", "--abort")


def test_sync_merges_with_the_driver_validates_and_pushes(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = _later_comment_lands_first(team, monkeypatch)
    r = run("sync", "--push", cwd=bob)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "bob-note: merged origin/main" in r.stderr
    assert "all valid" in r.stderr
    assert "pushed to origin/bob-note" in r.stderr
    assert "merge.itsm" not in git(bob, "config", "--list")  # enabled for that one command only
    notes = [e.get("note") for e in _history(bob) if e["action"] == "comment"]
    assert notes == ["Bob: only Lisbon users", "Ann: checked the NAS"]
    bare = team["bare"]
    assert git(bare, "rev-parse", "bob-note").strip() == git(bob, "rev-parse", "HEAD").strip()
    git(bare, "merge-base", "--is-ancestor", "main", "bob-note")  # the PR branch now contains main
    # The host's merge button now has nothing to merge in the record: main lands the PR cleanly.
    git(ann, "fetch", "-q", "origin")
    git(ann, "merge", "-q", "--no-ff", "--no-edit", "origin/bob-note")
    assert run("validate", cwd=ann).exit_code == 0
    verify = run("audit", "verify", cwd=ann)
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    again = run("sync", cwd=bob)
    assert again.exit_code == 0 and "already up to date with origin/main" in again.stderr


def test_sync_refuses_a_dirty_tree(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, bob = _later_comment_lands_first(team, monkeypatch)
    before = git(bob, "rev-parse", "HEAD")
    path = bob / ticket_path(TICKET)
    path.write_text(path.read_text() + "# a note in progress\n")
    r = run("sync", "--push", cwd=bob)
    assert r.exit_code == 1
    assert "uncommitted changes" in r.stderr and ticket_path(TICKET) in r.stderr
    assert git(bob, "rev-parse", "HEAD") == before
    assert not (bob / ".git" / "MERGE_HEAD").exists()


def _fork(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bob resolves INC-0001 on a branch at 10:00; Ann puts it on hold on main at 10:30."""
    ann, bob = team["ann"], team["bob"]
    git(bob, "switch", "-q", "-c", "bob-fix")
    _at(monkeypatch, "2026-03-02T10:00:00Z")
    r = run("--as", BOB, "transition", TICKET, "resolved", "--set", "resolution=Replaced the NAS disk", cwd=bob)
    assert r.exit_code == 0, r.stderr
    git(bob, "push", "-q", "origin", "bob-fix")
    _at(monkeypatch, "2026-03-02T10:30:00Z")
    assert run("--as", ANN, "transition", TICKET, "on_hold", "--note", "waiting for the vendor", cwd=ann).exit_code == 0
    git(ann, "push", "-q", "origin", "main")
    _at(monkeypatch, "2026-03-02T11:00:00Z")
    return bob


def test_a_workflow_fork_stops_sync_and_settle_keeps_both_sides(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    bob = _fork(team, monkeypatch)
    r = run("sync", "--push", cwd=bob)
    assert r.exit_code == 1
    assert f"{TICKET} (workflow fork: resolved vs on_hold)" in r.stderr
    assert f"itsm settle {TICKET} resolved|on_hold" in r.stderr
    assert "git merge --abort" in r.stderr
    assert (bob / ".git" / "MERGE_HEAD").exists()  # left in progress, as git leaves it
    assert git(team["bare"], "rev-parse", "bob-fix") != git(bob, "rev-parse", "MERGE_HEAD")  # nothing pushed
    assert run("--as", BOB, "settle", TICKET, "closed", cwd=bob).exit_code == 1  # no side reached it
    refused = run("--as", "carol@example.com", "settle", TICKET, "resolved", cwd=bob)
    assert refused.exit_code == 1 and "not a listed agent" in refused.stderr
    settled = run("--as", BOB, "settle", TICKET, "resolved", "--note", "the disk swap fixed it", cwd=bob)
    assert settled.exit_code == 0, settled.stderr
    data = yaml.safe_load((bob / ticket_path(TICKET)).read_text())
    assert data["status"] == "resolved"
    moves = [(e["action"], e.get("from"), e.get("to"), e.get("settles")) for e in data["history"][-3:]]
    assert moves == [
        ("transition", "in_progress", "resolved", None),  # Bob's side, 10:00
        ("transition", "in_progress", "on_hold", None),  # Ann's side, 10:30
        ("transition", "on_hold", "resolved", True),  # the settling entry, 11:00
    ]
    assert git(bob, "ls-files", "-u") == ""
    git(bob, "commit", "-q", "--no-edit")
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 0, r.stdout + r.stderr
    verify = run("audit", "verify", cwd=bob)
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    # The pull request lands with a merge commit: main's trail stays clean too.
    ann = team["ann"]
    git(bob, "push", "-q", "origin", "bob-fix")
    git(ann, "fetch", "-q", "origin")
    git(ann, "merge", "-q", "--no-ff", "--no-edit", "origin/bob-fix")
    assert run("validate", cwd=ann).exit_code == 0
    verify = run("audit", "verify", cwd=ann)
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    # Later work on the settled record is ordinary again.
    _at(monkeypatch, "2026-03-02T12:00:00Z")
    assert run("--as", BOB, "transition", TICKET, "closed", cwd=bob).exit_code == 0
    assert run("validate", cwd=bob).exit_code == 0


def test_settle_waits_for_the_desk_lock_like_every_writer(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    bob = _fork(team, monkeypatch)
    assert run("sync", cwd=bob).exit_code == 1
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('held', flush=True); time.sleep(60)", str(bob / ".git/itsm.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        results = []
        worker = threading.Thread(target=lambda: results.append(
            run("--as", BOB, "settle", TICKET, "resolved", cwd=bob)))
        worker.start()
        worker.join(1.5)
        assert worker.is_alive()  # waiting for the lock ...
        assert ticket_path(TICKET) in git(bob, "ls-files", "-u")  # ... with nothing written yet
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    worker.join(30)
    assert results and results[0].exit_code == 0, results and results[0].stderr
    assert git(bob, "ls-files", "-u") == ""


def test_a_fork_without_a_settling_entry_is_refused(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    bob = _fork(team, monkeypatch)
    run("sync", cwd=bob)
    # Taking both sides' entries by hand without settling: the replay sees the second move from a state left behind.
    git(bob, "checkout", "--theirs", "--", ticket_path(TICKET))
    text = (bob / ticket_path(TICKET)).read_text()
    data = yaml.safe_load(text)
    ours = yaml.safe_load(git(bob, "show", f":2:{ticket_path(TICKET)}"))
    data["history"] = sorted(data["history"] + ours["history"][len(data["history"]) - 1 :], key=lambda e: e["at"])
    (bob / ticket_path(TICKET)).write_text(yaml.safe_dump(data, sort_keys=False))
    r = run("validate", cwd=bob)
    assert r.exit_code == 1
    assert "moved from 'in_progress' but the record was 'resolved'" in r.stdout


def test_a_real_rewrite_still_fails_validate_base(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, bob = _later_comment_lands_first(team, monkeypatch)
    assert run("sync", cwd=bob).exit_code == 0
    path = bob / ticket_path(TICKET)
    clean = path.read_text()
    data = yaml.safe_load(clean)
    data["history"][1]["by"] = DAN  # someone else did the assignment, says the edit
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(bob, "commit", "-q", "-am", "forge")
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 1
    assert "history[1] was rewritten; history is append-only" in r.stdout
    # Reordering two of main's entries is a rewrite too, though every entry is still there.
    data = yaml.safe_load(clean)
    data["history"][1], data["history"][2] = data["history"][2], data["history"][1]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 1 and "history[1] was rewritten" in r.stdout
    # A backdated entry slipped in among main's entries is not the driver's interleaving.
    data = yaml.safe_load(clean)
    data["history"].insert(2, {"at": "2026-03-01T00:00:00Z", "by": BOB, "action": "comment", "note": "backdated"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 1
    assert "history[2] was inserted among the base's entries out of time order" in r.stdout


# --- the sync workflow ----------------------------------------------------------

WORKFLOW = Path(__file__).resolve().parents[1] / "itsm_cli" / "data" / "skeleton" / ".github" / "workflows" / "sync.yml"

FAKE_GH = """#!{python}
# Stands in for `gh pr list`: checks the arguments, applies the --jq filter to the open pull requests.
import subprocess, sys
args = sys.argv[1:]
assert args[:2] == ["pr", "list"], args
assert args[args.index("--json") + 1] == "headRefName,isCrossRepository", args
assert args[args.index("--base") + 1] == "main", args
sys.exit(subprocess.run(["jq", "-r", args[args.index("--jq") + 1], {prs!r}]).returncode)
"""


def _workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    data["on"] = data.pop(True)
    return data


def test_sync_workflow_is_least_privilege_and_same_repository_only() -> None:
    workflow = _workflow()
    assert workflow["on"] == {"push": {"branches": ["main"]}}  # never pull_request_target
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["sync"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "read"}
    script = job["steps"][-1]["run"]
    assert "select(.isCrossRepository | not)" in script
    assert 'itsm sync --push --target "$GITHUB_REF_NAME"' in script
    assert job["steps"][-1]["env"] == {"GH_TOKEN": "${{ github.token }}"}


def test_sync_workflow_runs_locally(team: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The workflow's shell steps, as a runner runs them, with a stand-in for gh: the same-repository branch is
    brought up to date and pushed; a fork's pull request is never touched."""
    if shutil.which("jq") is None:
        pytest.skip("jq not installed")
    _, bob = _later_comment_lands_first(team, monkeypatch)
    bob_before = git(team["bare"], "rev-parse", "bob-note").strip()
    prs = tmp_path / "prs.json"
    prs.write_text(json.dumps([
        {"headRefName": "bob-note", "isCrossRepository": False},
        {"headRefName": "fork-main", "isCrossRepository": True},  # no such branch here: touching it would fail
    ]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH.format(python=sys.executable, prs=str(prs)))
    (bin_dir / "gh").chmod(0o755)
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "-q", str(team["bare"]), str(runner))  # actions/checkout with fetch-depth: 0
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]),
           "GITHUB_REF_NAME": "main", "RUNNER_TEMP": str(tmp_path), "GH_TOKEN": "unused"}
    job = _workflow()["jobs"]["sync"]
    for step in job["steps"]:
        if "run" in step and "pip install" not in step["run"]:
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=runner, env=env, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"{step['name']}\n{proc.stdout}\n{proc.stderr}"
    after = git(team["bare"], "rev-parse", "bob-note").strip()
    assert after != bob_before
    git(team["bare"], "merge-base", "--is-ancestor", "main", "bob-note")
    assert git(team["bare"], "log", "-1", "--format=%ae", "bob-note").strip().endswith("github-actions[bot]@users.noreply.github.com")
    assert "fork-main" not in git(team["bare"], "branch", "--list")
    git(bob, "pull", "-q", "--ff-only", "origin", "bob-note")
    assert run("validate", "--base", "origin/main", cwd=bob).exit_code == 0
