"""``itsm audit`` remembers each commit's rows: a warm run prints exactly what a run without the cache prints.

Real repositories with branches, merges, rebases and branch switches; the
reference is always ``ITSM_NO_CACHE=1``, which walks every commit again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, EVE, git, head, make_desk, run

from itsm_cli import parallel
from itsm_cli.store import audit_cache


def at(clock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", clock)


def audit(monkeypatch: pytest.MonkeyPatch, *args: str, cache: bool = True) -> str:
    with monkeypatch.context() as m:
        if not cache:
            m.setenv("ITSM_NO_CACHE", "1")
        r = run("audit", "--format", "csv", *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def same_as_without_cache(monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    warm = audit(monkeypatch, *args)
    assert warm == audit(monkeypatch, *args, cache=False)
    return warm


def segments(desk: Path) -> list[Path]:
    return sorted((desk / ".git" / "itsm-cache" / "audit").glob("*.seg"))


def history_with_a_merge(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """INC-0001 and INC-0002 worked on main and on a branch merged back with a merge commit."""
    at("2026-03-02T09:00:00Z", monkeypatch)
    assert run("--as", EVE, "new", "incident", "--title", "VPN drops", "--service", "email").exit_code == 0
    at("2026-03-02T09:10:00Z", monkeypatch)
    assert run("--as", EVE, "new", "incident", "--title", "Printer jams", "--service", "email").exit_code == 0
    git(desk, "checkout", "-q", "-b", "pr-7")
    at("2026-03-02T10:00:00Z", monkeypatch)
    assert run("assign", "INC-0002", ANN).exit_code == 0
    git(desk, "checkout", "-q", "main")
    at("2026-03-02T11:00:00Z", monkeypatch)
    assert run("--as", BOB, "comment", "INC-0001", "On main").exit_code == 0
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-03-02T12:00:00Z", "GIT_COMMITTER_DATE": "2026-03-02T12:00:00Z"}
    subprocess.run(["git", "merge", "-q", "--no-ff", "-m", "Merge pull request #7", "pr-7"], cwd=desk, env=env,
                   check=True, capture_output=True)


@pytest.mark.parametrize("index_after", [audit_cache.INDEX_AFTER, 0], ids=["walk", "commit-index"])
def test_cold_warm_and_uncached_runs_print_the_same(desk: Path, monkeypatch: pytest.MonkeyPatch, index_after: int) -> None:
    monkeypatch.setattr(audit_cache, "INDEX_AFTER", index_after)
    monkeypatch.setattr(audit_cache, "PER_TASK", 2)  # with the index: stretches of 2 commits, in forked workers,
    monkeypatch.setattr(audit_cache, "PER_TASK_FILES", 1)  # and a commit of several files in parts of one file
    forks: list[bool] = []
    real_can_fork = parallel.can_fork
    monkeypatch.setattr(parallel, "can_fork", lambda: forks.append(real_can_fork()) or forks[-1])
    history_with_a_merge(desk, monkeypatch)
    cold = same_as_without_cache(monkeypatch)
    assert len(segments(desk)) == 1
    assert "Merge pull request #7" not in cold  # the merge claims nothing; the branch's own commit does
    assert cold.count("\n") > 6
    assert (desk / ".git" / "itsm-cache" / "commits" / "seen").exists() == (index_after == 0)
    if index_after == 0 and parallel.cpu_count() > 1:
        assert forks == [True]  # the rows were worked out in forked workers
    again = same_as_without_cache(monkeypatch)
    assert again == cold and len(segments(desk)) == 1  # nothing new: nothing written
    for args in (("--type", "incident"), ("--since", "2026-03-02T10:30:00Z"), ("--until", "2026-03-02T10:30:00Z"),
                 ("--format", "json"), ("--format", "table")):
        same_as_without_cache(monkeypatch, *args)


@pytest.mark.parametrize("index_after", [audit_cache.INDEX_AFTER, 0], ids=["walk", "commit-index"])
def test_new_commits_are_added_as_a_segment(desk: Path, monkeypatch: pytest.MonkeyPatch, index_after: int) -> None:
    monkeypatch.setattr(audit_cache, "INDEX_AFTER", index_after)
    monkeypatch.setattr(audit_cache, "PER_TASK", 2)  # with the index: stretches of 2 commits, in forked workers,
    monkeypatch.setattr(audit_cache, "PER_TASK_FILES", 1)  # and a commit of several files in parts of one file
    history_with_a_merge(desk, monkeypatch)
    same_as_without_cache(monkeypatch)
    at("2026-03-03T09:00:00Z", monkeypatch)
    assert run("assign", "INC-0001", ANN).exit_code == 0
    out = same_as_without_cache(monkeypatch)
    assert len(segments(desk)) == 2
    assert out.splitlines()[-1].split(",")[5:8] == ["INC-0001", "incident", "assign"]


def test_many_segments_are_merged_into_one(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_cache, "MAX_SEGMENTS", 2)
    history_with_a_merge(desk, monkeypatch)
    same_as_without_cache(monkeypatch)
    for n in range(3):
        at(f"2026-03-03T0{n}:00:00Z", monkeypatch)
        assert run("comment", "INC-0002", f"note {n}").exit_code == 0
        same_as_without_cache(monkeypatch)
        assert 1 <= len(segments(desk)) <= 3
    assert len(segments(desk)) < 4  # without merging, four runs with new commits leave four


@pytest.mark.parametrize("index_after", [audit_cache.INDEX_AFTER, 0], ids=["walk", "commit-index"])
def test_rebased_and_switched_histories_are_not_confused(desk: Path, monkeypatch: pytest.MonkeyPatch, index_after: int) -> None:
    monkeypatch.setattr(audit_cache, "INDEX_AFTER", index_after)
    monkeypatch.setattr(audit_cache, "PER_TASK", 2)  # with the index: stretches of 2 commits, in forked workers,
    monkeypatch.setattr(audit_cache, "PER_TASK_FILES", 1)  # and a commit of several files in parts of one file
    history_with_a_merge(desk, monkeypatch)
    git(desk, "checkout", "-q", "-b", "side", "HEAD~1")
    at("2026-03-04T09:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "On a side branch").exit_code == 0
    side = same_as_without_cache(monkeypatch)
    git(desk, "checkout", "-q", "main")
    main = same_as_without_cache(monkeypatch)
    assert "On a side branch" not in main and side != main
    git(desk, "checkout", "-q", "side")
    env = {**os.environ, "GIT_COMMITTER_DATE": "2026-03-05T09:00:00Z"}
    subprocess.run(["git", "rebase", "-q", "main"], cwd=desk, env=env, check=True, capture_output=True)
    rebased = same_as_without_cache(monkeypatch)
    assert rebased != side and head(desk) not in side


def test_a_damaged_or_foreign_segment_is_ignored_and_recomputed(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history_with_a_merge(desk, monkeypatch)
    reference = audit(monkeypatch, cache=False)
    audit(monkeypatch)
    (segment,) = segments(desk)
    data = segment.read_bytes()
    segment.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    assert same_as_without_cache(monkeypatch) == reference
    (segment,) = segments(desk)
    segment.write_bytes(segment.read_bytes()[:-12] + b"\0" * 12)  # damaged end
    assert same_as_without_cache(monkeypatch) == reference
    assert len(segments(desk)) == 1


def test_renamed_record_types_are_not_served_from_the_cache(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history_with_a_merge(desk, monkeypatch)
    before = same_as_without_cache(monkeypatch)
    config = desk / "itsm.yaml"
    config.write_text(config.read_text().replace("\n  incident:\n", "\n  disruption:\n", 1))
    renamed = same_as_without_cache(monkeypatch)  # rows name the type from itsm.yaml as it is now
    assert ",disruption," in renamed and ",disruption," not in before


def test_no_cache_for_a_desk_in_a_folder_of_a_larger_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outer = tmp_path / "monorepo"
    desk = make_desk(outer / "it" / "desk")
    shutil.rmtree(desk / ".git")
    git(outer, "init", "-q", "-b", "main")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "monorepo")
    monkeypatch.chdir(desk)
    at("2026-03-02T09:00:00Z", monkeypatch)
    assert run("--as", EVE, "new", "incident", "--title", "VPN drops", "--service", "email").exit_code == 0
    out = same_as_without_cache(monkeypatch)
    assert "INC-0001" in out
    assert not list((outer / ".git").rglob("*.seg"))  # its walk is path-limited: not what the cache remembers


def test_a_period_asked_of_a_cold_cache_fills_it(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history_with_a_merge(desk, monkeypatch)
    part = same_as_without_cache(monkeypatch, "--since", "2026-03-02T10:30:00Z").splitlines()
    assert len(segments(desk)) == 1 and len(part) > 1
    whole = same_as_without_cache(monkeypatch).splitlines()
    assert len(segments(desk)) == 1  # every commit was remembered the first time
    assert part[0] == whole[0] and len(whole) > len(part)
    assert [row for row in whole if row in part[1:]] == part[1:]  # the period's rows, in the same order
