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
    monkeypatch.setattr(audit_cache, "PART", 1)  # remembered: a commit of several rows in parts of one row
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


def test_a_fresh_clone_diffs_while_the_workers_go_and_keeps_what_git_said_as_the_commit_index(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli.store import commit_index
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.desk import Desk
    from itsm_cli.store.gitstore import Git

    monkeypatch.setattr(audit_cache, "INDEX_AFTER", 0)
    monkeypatch.setattr(audit_cache, "PER_TASK", 2)
    monkeypatch.setattr(audit_cache, "PER_TASK_FILES", 1)
    monkeypatch.setattr(commit_index, "PER_PROCESS", 3)  # git diffs three commits at a time, one after the other
    history_with_a_merge(desk, monkeypatch)
    at("2026-03-05T09:00:00Z", monkeypatch)
    assert run("renumber", "INC-0001").exit_code == 0  # a commit that deletes a file: never split
    diffed: list[int] = []
    real_diffs = CommitIndex.diffs
    monkeypatch.setattr(CommitIndex, "diffs", lambda self, commits: diffed.append(len(commits)) or real_diffs(self, commits))
    streamed = same_as_without_cache(monkeypatch)
    assert diffed == [int(git(desk, "rev-list", "--count", "HEAD"))]  # one git diff for every commit, as it went
    index = CommitIndex.open(Desk(desk), Git(desk))
    assert index is not None and index.started()
    kept = index.changes()
    assert index.indexed == 0  # nothing left to diff: the audit kept it all
    shutil.rmtree(desk / ".git" / "itsm-cache")
    assert CommitIndex.open(Desk(desk), Git(desk)).changes() == kept  # what diffing the index's own way gives
    assert audit(monkeypatch) == streamed  # with the index there first, the rows come from it
    assert diffed == [diffed[0]]
    for args in (("--format", "json"), ("--format", "table"), ("--since", "2026-03-02T10:30:00Z")):
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
    monkeypatch.setattr(audit_cache, "PART", 1)  # the init commit's rows in parts: merged part by part
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


# --- remembered rows are read chunk by chunk ------------------------------------------------------------------

def remembered(tmp_path: Path, commits: int, monkeypatch: pytest.MonkeyPatch) -> tuple[audit_cache.AuditCache, dict]:
    """A cache holding ``commits`` commits' rows, in chunks of 3, written oldest first."""
    monkeypatch.setattr(audit_cache, "CHUNK", 3)
    cache = audit_cache.AuditCache(tmp_path / "audit", "env")
    rows = {f"{n:040x}": tuple((f"row {n}.{k}", n) for k in range(n % 3)) for n in range(commits)}
    with cache.adding() as add:
        for sha, r in rows.items():
            add(sha, r)
    return cache, rows


@pytest.mark.parametrize("direction", [1, -1], ids=["printing order", "reversed"])
def test_a_warm_listing_holds_a_few_chunks_and_reads_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direction: int
) -> None:
    monkeypatch.setattr(audit_cache, "CHUNKS_KEPT", 2)
    cache, rows = remembered(tmp_path, 20, monkeypatch)
    known = cache.load()
    held = 0
    try:
        for sha in list(rows)[::direction]:
            assert sha in known and tuple(known.rows(sha)) == rows[sha]
            held = max(held, len(known._kept))
        assert "f" * 40 not in known and tuple(known.rows("f" * 40)) == ()
        assert known._reads == 7 and held <= 2  # 20 commits in chunks of 3: 7 chunks, each unmarshalled once
    finally:
        known.close()


def test_hopping_between_chunks_reads_everything_once_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_cache, "CHUNKS_KEPT", 1)
    cache, rows = remembered(tmp_path, 30, monkeypatch)
    shas = list(rows)
    hops = [shas[i] for _ in range(5) for i in range(0, 30, 3)]  # one commit of each chunk in turn, five times
    known = cache.load()
    try:
        assert [tuple(known.rows(sha)) for sha in hops] == [rows[sha] for sha in hops]
        assert known._reads <= 2 * 10 + 1 + 1 and len(known._kept) == 10  # then all 10 chunks held, read once more
    finally:
        known.close()


def test_a_segment_damaged_inside_a_chunk_is_refused_before_any_row_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, rows = remembered(tmp_path, 12, monkeypatch)
    (segment,) = sorted((tmp_path / "audit").glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[len(data) * 2 // 3] ^= 0x01  # one bit, in the rows of a chunk the listing would reach last
    segment.write_bytes(bytes(data))
    known = cache.load()
    try:
        assert not any(sha in known for sha in rows)
    finally:
        known.close()
    assert not segment.exists()  # removed: its commits are computed again


def test_a_big_commit_is_kept_in_parts_and_read_a_part_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_cache, "CHUNK", 3)
    monkeypatch.setattr(audit_cache, "PART", 2)
    monkeypatch.setattr(audit_cache, "CHUNKS_KEPT", 1)
    cache = audit_cache.AuditCache(tmp_path / "audit", "env")
    sizes = [1, 5, 0, 7, 2, 3, 1]  # 5 and 7 rows: parts of 2; two big commits in a row; 3 rows: also parts
    rows = {f"{n:040x}": tuple((f"row {n}.{k}",) for k in range(size)) for n, size in enumerate(sizes)}
    with cache.adding() as add:
        for sha, r in rows.items():
            add(sha, r)
    known = cache.load()
    try:
        for sha, expected in rows.items():
            got = []
            for row in known.rows(sha):
                got.append(row)
                assert len(known._kept) <= 1  # never more than one part held
            assert tuple(got) == expected
        # Chunks: [1 row], 3 parts, [no rows], 4 parts, [2 rows], 2 parts, [1 row]: each read once.
        assert len(known._chunks) == known._reads == 1 + 3 + 1 + 4 + 1 + 2 + 1
    finally:
        known.close()


def test_a_commit_given_in_parts_is_remembered_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows worked out file part by file part are written as they come; a commit whose parts hold no rows is known."""
    monkeypatch.setattr(audit_cache, "CHUNK", 3)
    cache = audit_cache.AuditCache(tmp_path / "audit", "env")
    a, big, empty, b = (f"{n:040x}" for n in range(4))
    with cache.adding() as add:
        add(a, (("a",),))
        add(big, (("1",), ("2",)), True)
        add(big, (), True)
        add(big, (("3",),), False)
        add(empty, (), True)
        add(empty, (), False)
        add(b, (("b",),))
    known = cache.load()
    try:
        assert all(sha in known for sha in (a, big, empty, b))  # the segment's count agrees: it was not refused
        assert [tuple(known.rows(sha)) for sha in (a, big, empty, b)] == [(("a",),), (("1",), ("2",), ("3",)), (), (("b",),)]
    finally:
        known.close()
