"""Concurrency and faults with real processes: parallel writers, SIGKILL and Ctrl-C mid-change.

Issue 7: two itsm commands at the same moment both succeed or one waits or
fails cleanly, never a lost update; a kill at any point leaves no partial file
and no temp-file litter; Ctrl-C during the commit puts the work tree back and
exits 130 without a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from desk_testing import git, head, run, status, ticket_path

from itsm_cli.errors import EnvironmentProblem
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk

N = 8


def spawn(desk: Path, *args: str, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    """Start the real entry point in its own session (so its whole process tree can be signalled).

    ``sigint_ignored`` starts it as a shell without job control starts a
    background command (``itsm ... &`` in a script, a CI runner): with SIGINT ignored.
    """
    command = [sys.executable, "-m", "itsm_cli", *args]
    if sigint_ignored:
        command = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                   "os.execv(sys.argv[1], sys.argv[1:])", *command]
    return subprocess.Popen(
        command, cwd=desk, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ.copy(), start_new_session=True,
    )


def wait_for(predicate, timeout: float = 60, what: str = "condition") -> None:
    """Poll until ``predicate()`` is true, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def group_gone(pgid: int) -> bool:
    """True when no process of the group is left (orphaned git children included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def reap(proc: subprocess.Popen[str]) -> None:
    """Kill whatever is left of a spawned command's process group (only processes this test started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()  # waits, and closes the pipes


def litter(desk: Path) -> list[str]:
    """Temp files left in the record folders."""
    return sorted(p.name for folder in ("tickets", "kb", "catalog") for p in (desk / folder).glob("*.tmp"))


def slow_hook(desk: Path, seconds: int) -> Path:
    """A pre-commit hook that says it started (a marker file) and then sleeps."""
    marker = desk.parent / "hook-started"
    hook = desk / ".git/hooks/pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep {seconds}\n")
    hook.chmod(0o755)
    return marker


@pytest.fixture
def incident(desk: Path) -> bytes:
    """INC-0001, committed; returns its bytes."""
    r = run("new", "incident", "--title", "Shared drive slow", "--impact", "medium", "--urgency", "medium")
    assert r.exit_code == 0, r.stderr
    return (desk / "tickets/INC/000/INC-0001.yaml").read_bytes()


def history(desk: Path) -> list[dict]:
    """INC-0001's history as the one loader reads it (so the file must also be valid, safe YAML)."""
    data = yaml_io.load_mapping((desk / "tickets/INC/000/INC-0001.yaml").read_bytes(), "tickets/INC/000/INC-0001.yaml")
    return data["history"]


# --- parallel writers -------------------------------------------------------------------


def test_parallel_comments_lose_no_update(desk: Path, incident: bytes) -> None:
    base = int(git(desk, "rev-list", "--count", "HEAD"))
    procs = [spawn(desk, "comment", "INC-0001", f"comment number {i}") for i in range(N)]
    outcomes = []
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=180)
        outcomes.append((i, p.returncode, out, err))
    succeeded = [i for i, code, out, _ in outcomes if code == 0 and out == "INC-0001\n"]
    for _i, code, _out, err in outcomes:
        assert "Traceback" not in err
        if code != 0:  # waiting too long for the lock is allowed, as a clean one-line failure
            assert code == 3 and err.startswith("itsm: error: ") and "desk lock" in err and err.count("\n") == 1
    assert succeeded, outcomes
    notes = [e.get("note") for e in history(desk)]
    for i in succeeded:
        assert notes.count(f"comment number {i}") == 1, f"the comment of writer {i} was lost"
    assert len(notes) == 1 + len(succeeded)
    assert int(git(desk, "rev-list", "--count", "HEAD")) == base + len(succeeded)
    assert status(desk) == ""
    assert litter(desk) == []
    assert run("validate").exit_code == 0


def test_parallel_new_gives_distinct_ids_and_one_commit_each(desk: Path) -> None:
    base = int(git(desk, "rev-list", "--count", "HEAD"))
    procs = [spawn(desk, "new", "incident", "--title", f"Parallel {i}", "--impact", "low", "--urgency", "low")
             for i in range(N)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        ids.append(out.strip())
    assert len(set(ids)) == N
    assert sorted(ids) == [f"INC-{i:04d}" for i in range(1, N + 1)]
    assert int(git(desk, "rev-list", "--count", "HEAD")) == base + N
    subjects = git(desk, "log", f"-{N}", "--format=%s").splitlines()
    assert sorted(s.split(":")[0] for s in subjects) == sorted(ids)  # one commit per record, each its own
    titles = {yaml_io.load_mapping((desk / ticket_path(i)).read_bytes(), i)["title"] for i in ids}
    assert titles == {f"Parallel {i}" for i in range(N)}
    assert status(desk) == ""


def test_a_held_lock_makes_a_writer_wait_then_fail_cleanly(desk: Path, incident: bytes) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(desk / ".git/itsm.lock")],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        start = time.monotonic()
        with pytest.raises(EnvironmentProblem, match="another itsm command holds the desk lock"), Desk(desk).lock(timeout=0.3):
            pass
        assert 0.3 <= time.monotonic() - start < 10
    finally:
        holder.kill()
        holder.communicate()
    # The kernel dropped the dead holder's lock: no stale lock file to clean up by hand.
    with Desk(desk).lock(timeout=5):
        fd = os.open(desk / ".git/itsm.lock", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


# --- kills and interrupts -------------------------------------------------------------------


def test_sigkill_during_the_commit_leaves_old_or_new_and_the_next_command_works(desk: Path, incident: bytes) -> None:
    marker = slow_hook(desk, 2)
    p = spawn(desk, "comment", "INC-0001", "killed mid-commit")
    try:
        wait_for(marker.exists, what="the commit hook")
        os.kill(p.pid, signal.SIGKILL)  # only itsm: git, running the hook, carries on as an orphan
        p.wait()
        assert p.returncode == -signal.SIGKILL
        wait_for(lambda: group_gone(p.pid), what="the orphaned git to finish")
    finally:
        reap(p)
    raw = (desk / "tickets/INC/000/INC-0001.yaml").read_bytes()
    notes = [e.get("note") for e in history(desk)]  # parses: never a partial file
    assert raw == incident or notes[-1] == "killed mid-commit"
    assert litter(desk) == []
    assert not (desk / ".git/index.lock").exists()
    (desk / ".git/hooks/pre-commit").unlink()
    r = run("comment", "INC-0001", "after the kill")  # the flock died with its holder
    assert r.exit_code == 0, r.stderr
    assert history(desk)[-1]["note"] == "after the kill"
    assert status(desk) == ""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.5, 0.8])
def test_sigkill_at_any_moment_never_leaves_a_partial_file(desk: Path, incident: bytes, delay: float) -> None:
    p = spawn(desk, "comment", "INC-0001", "maybe")
    try:
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)  # itsm and any git it runs: as abrupt as a power cut
        p.wait()
        wait_for(lambda: group_gone(p.pid), what="the process group to die")
    finally:
        reap(p)
    notes = [e.get("note") for e in history(desk)]  # old or new, always whole
    assert notes in ([None], [None, "maybe"]), notes
    # git's own locks (the index's, a ref's) can survive a SIGKILL of git itself; that is git's to report
    # (the next command says which file), and a person's to remove.
    for lock in [desk / ".git/index.lock", desk / ".git/HEAD.lock", *(desk / ".git/refs").rglob("*.lock")]:
        lock.unlink(missing_ok=True)
    r = run("comment", "INC-0001", "next")
    assert r.exit_code == 0, r.stderr
    assert litter(desk) == []  # whatever a killed writer left, the next writer swept
    assert history(desk)[-1]["note"] == "next"
    assert status(desk) == ""


def test_the_next_writer_removes_temp_files_a_killed_writer_left(desk: Path, incident: bytes) -> None:
    # What a writer killed mid-write leaves: its temp file, named in the lock file's journal.
    stale = desk / "tickets/.INC-0001.yaml.k1ll3d_x.tmp"
    stale.write_text("id: INC-0001\ntitle: half wri")
    kept = [desk / "tickets/.gitkeep", desk / "tickets/.notes.tmp", desk / "tickets/.itsm-merge-x.tmp",
            desk.parent / ".outside.yaml.k1ll3d_y.tmp"]
    for path in kept[1:]:
        path.write_text("not ours\n")
    journal = "".join(f"{path}\n" for path in [stale, *kept])  # a tampered journal names more than ours
    (desk / ".git/itsm.lock").write_text(journal)
    assert run("list").exit_code == 0 and run("validate").exit_code == 0  # hidden: never read as a record
    assert run("comment", "INC-0001", "sweep").exit_code == 0
    assert not stale.exists()
    assert all(path.exists() for path in kept)  # only names our own writer makes, inside the desk, are swept
    assert (desk / ".git/itsm.lock").read_text() == ""  # the journal is emptied once swept


def test_the_lock_of_a_linked_worktree_stays_out_of_its_work_tree(desk: Path, incident: bytes) -> None:
    wt = desk.parent / "wt"
    git(desk, "worktree", "add", "-q", "-b", "side", str(wt))
    r = run("comment", "INC-0001", "from the worktree", cwd=wt)
    assert r.exit_code == 0, r.stderr
    assert status(wt) == ""  # no itsm.lock in the work tree: it lives in the worktree's git dir
    assert status(desk) == ""


@pytest.mark.parametrize("started", ["in the foreground", "with SIGINT ignored"])
@pytest.mark.parametrize("target", ["process group", "itsm only"])
def test_ctrl_c_during_the_commit_hook_restores_and_exits_130(desk: Path, incident: bytes, target: str, started: str) -> None:
    # Started with SIGINT ignored (how the full suite ran in the background), itsm once committed anyway (exit 0)
    # or, with git killed under it, reported a failed commit (exit 3).
    (desk / "notes.txt").write_text("someone's unrelated work\n")
    git(desk, "add", "notes.txt")
    before_head, before_status = head(desk), status(desk)
    index_before = git(desk, "ls-files", "-s")
    marker = slow_hook(desk, 20)
    p = spawn(desk, "comment", "INC-0001", "interrupted", sigint_ignored=started != "in the foreground")
    try:
        wait_for(marker.exists, what="the commit hook")
        if target == "process group":  # what a terminal does on Ctrl-C
            os.killpg(p.pid, signal.SIGINT)
        else:
            os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        reap(p)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "itsm: error: interrupted"
    assert out == ""
    assert (desk / "tickets/INC/000/INC-0001.yaml").read_bytes() == incident
    assert head(desk) == before_head
    assert status(desk) == before_status
    assert git(desk, "ls-files", "-s") == index_before
    assert not (desk / ".git/index.lock").exists()
    assert litter(desk) == []
    (desk / ".git/hooks/pre-commit").unlink()
    assert run("comment", "INC-0001", "after ctrl-c").exit_code == 0


def test_an_interrupt_after_git_committed_undoes_the_commit(desk: Path, incident: bytes, monkeypatch) -> None:
    # Ctrl-C can land after git has made the commit but before itsm knows: HEAD is moved back too.
    from itsm_cli.store import gitstore

    real = gitstore.Git.commit

    def commit_then_interrupt(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(gitstore.Git, "commit", commit_then_interrupt)
    before = head(desk)
    r = run("comment", "INC-0001", "half done")
    assert r.exit_code == 130
    assert head(desk) == before
    assert status(desk) == ""
    assert (desk / "tickets/INC/000/INC-0001.yaml").read_bytes() == incident


def test_an_interrupt_as_the_index_learns_the_commit_puts_everything_back(desk: Path, incident: bytes, monkeypatch) -> None:
    # A commit by plumbing updates the index last, after the branch has moved; Ctrl-C right after
    # git wrote the index must leave HEAD, the file and the index as they were, and nothing staged.
    from itsm_cli.store import gitprocess, gitstore

    real, real_finish = gitstore.Git.run, gitprocess.Fed.finish
    finished: list[int] = []

    def interrupted_after_update_index(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        if "update-index" in args and "--cacheinfo" not in args:
            raise KeyboardInterrupt
        return out

    def interrupted_after_the_early_update_index(self, data):  # the update started under the lock, given the paths
        out = real_finish(self, data)
        finished.append(out[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(gitstore.Git, "run", interrupted_after_update_index)
    monkeypatch.setattr(gitprocess.Fed, "finish", interrupted_after_the_early_update_index)
    before, index_before = head(desk), git(desk, "ls-files", "-s")
    r = run("comment", "INC-0001", "half done")
    assert r.exit_code == 130
    assert head(desk) == before
    assert (desk / "tickets/INC/000/INC-0001.yaml").read_bytes() == incident
    assert git(desk, "ls-files", "-s") == index_before
    assert status(desk) == ""
    assert finished == [0]  # git had written the index when the interrupt came


def test_a_failure_before_the_index_is_touched_leaves_a_staged_edit_staged(desk: Path, incident: bytes, monkeypatch) -> None:
    from itsm_cli.store import gitstore

    record = desk / "tickets/INC/000/INC-0001.yaml"
    record.write_bytes(incident + b"# staged by hand\n")
    git(desk, "add", "tickets/INC/000/INC-0001.yaml")
    index_before, work_tree = git(desk, "ls-files", "-s"), record.read_bytes()

    def refusing(self, *args, **kwargs):
        raise gitstore.EnvironmentProblem("git update-ref failed: cannot lock ref 'HEAD'")

    monkeypatch.setattr(gitstore.Git, "_write_trees", refusing)
    r = run("comment", "INC-0001", "x")
    assert r.exit_code == 3 and "cannot lock ref" in r.stderr
    assert git(desk, "ls-files", "-s") == index_before  # still staged, exactly
    assert record.read_bytes() == work_tree


# --- what an atomic write keeps ----------------------------------------------------------------


def test_writes_keep_a_normal_file_mode(desk: Path, incident: bytes) -> None:
    old = os.umask(0o022)
    try:
        assert run("new", "incident", "--title", "mode", "--impact", "low", "--urgency", "low").exit_code == 0
        assert stat.S_IMODE((desk / "tickets/INC/000/INC-0002.yaml").stat().st_mode) == 0o644  # not mkstemp's 0600
        (desk / "tickets/INC/000/INC-0001.yaml").chmod(0o664)
        assert run("comment", "INC-0001", "mode kept").exit_code == 0
        assert stat.S_IMODE((desk / "tickets/INC/000/INC-0001.yaml").stat().st_mode) == 0o664
    finally:
        os.umask(old)
