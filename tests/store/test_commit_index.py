"""The commit index answers "which commits touched this file" exactly as ``git log -- PATH`` would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from desk_testing import git, head
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_cli.store import commit_index
from itsm_cli.store.commit_index import CommitIndex
from itsm_cli.store.gitstore import Git

FILES = ("tickets/INC/000/INC-0001.yaml", "tickets/INC/000/INC-0002.yaml", "kb/KB-0001.md", "itsm.yaml")


def walked(repo: Path, path: str, rev: str = "HEAD") -> list[str]:
    """What git's own walk says (the reference): newest first, every parent of a merge followed."""
    return git(repo, "log", "--format=%H", "--date-order", "--full-history", rev, "--", path).split()


def index_of(repo: Path) -> CommitIndex:
    return CommitIndex(Git(repo), repo / ".git" / "itsm-cache" / "commits")


def shas(index: CommitIndex, path: str, rev: str = "HEAD") -> list[str]:
    return [t.sha for t in index.commits(path, rev)]


def blob(repo: Path, rev: str, path: str) -> str:
    found = subprocess.run(["git", "rev-parse", "-q", "--verify", f"{rev}:{path}"], cwd=repo, capture_output=True,
                           text=True).stdout.strip()
    return found or "0" * 40


class Repo:
    """A git repository driven step by step, with commit dates that may run backwards."""

    def __init__(self, root: Path):
        self.root = root
        self.clock = 1_700_000_000
        self.count = 0
        git(root, "init", "-q", "-b", "main")

    def commit(self, touched: list[str], skew: int = 60, *extra: str) -> str:
        self.clock += skew
        self.count += 1
        for path in touched:
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"version {self.count}\n")
        env = {**os.environ, "GIT_AUTHOR_DATE": f"@{self.clock} +0000", "GIT_COMMITTER_DATE": f"@{self.clock} +0000"}
        subprocess.run(["git", "add", "-A"], cwd=self.root, check=True, env=env)
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", f"c{self.count}", *extra], cwd=self.root,
                       check=True, env=env)
        return head(self.root)

    def merge(self, branch: str, take: list[str], touched: list[str]) -> str:
        """Merge ``branch`` keeping ours, then take some files from it and change others."""
        subprocess.run(["git", "merge", "-q", "--no-ff", "--no-commit", "-s", "ours", branch], cwd=self.root,
                       check=True, capture_output=True)
        for path in take:
            subprocess.run(["git", "checkout", branch, "--", path], cwd=self.root, capture_output=True)
        return self.commit(touched, 60)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple]:
    steps = [("commit", list(FILES), 60)]
    for _ in range(draw(st.integers(2, 14))):
        kind = draw(st.sampled_from(["commit", "commit", "branch", "switch", "merge"]))
        if kind == "commit":
            files = draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True))
            steps.append(("commit", files, draw(st.sampled_from([60, 3600, -7200]))))  # clocks run backwards too
        elif kind == "branch":
            steps.append(("branch", f"b{len(steps)}"))
        elif kind == "switch":
            steps.append(("switch", draw(st.integers(0, 10))))
        else:
            steps.append(("merge", draw(st.integers(0, 10)),
                          draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True)),
                          draw(st.lists(st.sampled_from(FILES), max_size=1, unique=True))))
    return steps


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=histories())
def test_the_index_names_the_commits_the_walk_names_in_its_order(tmp_path_factory: pytest.TempPathFactory,
                                                                 steps: list[tuple]) -> None:
    repo = Repo(tmp_path_factory.mktemp("repo"))
    branches = ["main"]
    index = index_of(repo.root)
    for n, step in enumerate(steps):
        if step[0] == "commit":
            repo.commit(step[1], step[2])
        elif step[0] == "branch":
            git(repo.root, "checkout", "-q", "-b", step[1])
            branches.append(step[1])
        elif step[0] == "switch":
            git(repo.root, "checkout", "-q", branches[step[1] % len(branches)])
        else:
            current = git(repo.root, "rev-parse", "--abbrev-ref", "HEAD").strip()
            other = [b for b in branches if b != current]
            if other:
                repo.merge(other[step[1] % len(other)], step[2], step[3])
        if n % 3 == 0:  # asked now and then: the index grows with the history
            assert shas(index, FILES[0]) == walked(repo.root, FILES[0])
    for rev in branches:
        for path in FILES:
            assert shas(index, path, rev) == walked(repo.root, path, rev), (rev, path)
    for path in FILES:
        for touch in index.commits(path):
            parents = git(repo.root, "rev-parse", f"{touch.sha}^@").split()
            if len(parents) < 2:  # a plain commit's blobs are kept; a merge's are read from its trees
                before = blob(repo.root, parents[0], path) if parents else "0" * 40
                assert (touch.old, touch.new) == (before, blob(repo.root, touch.sha, path))
    assert index_of(repo.root).commits("tickets/INC/000/INC-0042.yaml") == []
    order, changes = index.changes()
    assert order == git(repo.root, "rev-list", "--date-order", "HEAD").split()
    for sha in order:  # each commit's files in the order git's own diff lists them (a merge: parent by parent)
        raw = git(repo.root, "-c", "log.showRoot=true", "log", "-1", "--format=", "--raw", "--no-abbrev",
                  "--no-renames", "--diff-merges=separate", sha)
        listed = list(dict.fromkeys(line.split("\t", 1)[1] for line in raw.splitlines() if line.startswith(":")))
        assert [c[3] for c in changes.get(sha, [])] == listed


def test_only_new_commits_are_diffed_and_a_rewritten_history_is_not_shown(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    first = repo.commit(list(FILES))
    second = repo.commit([FILES[0]])
    index = index_of(tmp_path)
    assert shas(index, FILES[0]) == [second, first] and index.indexed == 2
    third = repo.commit([FILES[0]])
    assert shas(index, FILES[0]) == [third, second, first] and index.indexed == 1
    assert shas(index, FILES[1]) == [first] and index.indexed == 0  # this tip's order is kept
    git(tmp_path, "reset", "-q", "--hard", first)
    amended = repo.commit([FILES[0]])
    assert shas(index, FILES[0]) == [amended, first] and index.indexed == 1  # second and third are gone
    assert shas(index, FILES[0], third) == [third, second, first] and index.indexed == 0  # still known


def test_a_damaged_index_is_rebuilt_and_a_torn_append_done_again(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    made = [repo.commit(list(FILES)), repo.commit([FILES[0]])]
    index = index_of(tmp_path)
    assert shas(index, FILES[0]) == made[::-1]
    directory = index.directory
    shard = directory / f"p{commit_index._shard_of(FILES[0]):02x}"
    shard.write_bytes(b"ITSMCIX1 not marshal")
    assert shas(index_of(tmp_path), FILES[0]) == made[::-1]
    shard.unlink()
    assert shas(index_of(tmp_path), FILES[0]) == made[::-1]
    for order in directory.glob("order-*"):
        order.write_bytes(order.read_bytes()[:-3])  # truncated: computed again
    with open(directory / "seen", "ab") as f:
        f.write(b"\x01\x02\x03")  # a torn append
    made.append(repo.commit([FILES[0]]))
    again = index_of(tmp_path)
    assert shas(again, FILES[0]) == made[::-1] and again.indexed == 1


def test_an_index_of_another_format_is_dropped_before_any_diffing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path)
    made = [repo.commit(list(FILES)), repo.commit([FILES[0]])]
    index = index_of(tmp_path)
    assert shas(index, FILES[0]) == made[::-1]
    for order in index.directory.glob("order-*"):
        order.unlink()
    seen = index.directory / "seen"
    seen.write_bytes(b"ITSMCIX0" + seen.read_bytes()[8:])
    calls = []
    real = commit_index._diff
    monkeypatch.setattr(commit_index, "_diff", lambda *a: calls.append(len(a[1])) or real(*a))
    assert shas(index, FILES[0]) == made[::-1]
    assert calls == [2] and index.indexed == 2  # every commit, diffed once
    assert (index.directory / "lock").exists() and seen.read_bytes().startswith(commit_index.MAGIC)


def test_no_commits_yet_is_no_history_and_an_unknown_revision_an_environment_problem(tmp_path: Path) -> None:
    from itsm_cli.errors import EnvironmentProblem

    repo = Repo(tmp_path)
    assert index_of(tmp_path).commits(FILES[0]) == [] and index_of(tmp_path).changes() == ([], {})  # no commits
    repo.commit(list(FILES))
    with pytest.raises(EnvironmentProblem, match="unknown revision 'nope'"):
        index_of(tmp_path).commits(FILES[0], "nope")


def test_a_big_history_is_diffed_by_several_git_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path)
    for i in range(12):
        repo.commit([FILES[i % 3]])
    calls: list[int] = []
    real = commit_index._diff

    def counting(git_: Git, commits: list[str], prefix: str, done: list[int]):
        calls.append(len(commits))
        return real(git_, commits, prefix, done)

    monkeypatch.setattr(commit_index, "_diff", counting)
    monkeypatch.setattr(commit_index, "PER_WORKER", 4)
    monkeypatch.setattr(commit_index, "PER_PROCESS", 5)
    monkeypatch.setattr("itsm_cli.parallel.cpu_count", lambda: 2)
    index = index_of(tmp_path)
    for path in FILES:
        assert shas(index, path) == walked(tmp_path, path)
    assert sorted(calls) == [2, 5, 5]  # stretches of at most PER_PROCESS, two at a time


def test_progress_counts_commits_at_most_twice_a_second(capsys: pytest.CaptureFixture[str]) -> None:
    ticks = iter([10.0, 10.1, 10.7])
    progress = commit_index._Progress(100_001, clock=lambda: next(ticks))
    progress.show(41_000)
    progress.show(42_000)  # within half a second: not shown again
    progress.show(50_000)
    progress.end()
    err = capsys.readouterr().err
    assert "40% (41,000 of 100,001 commits)" in err and "42,000" not in err and "49% (50,000" in err
    assert err.endswith("\r\x1b[K")


def test_no_index_without_a_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path)
    repo.commit(list(FILES))
    monkeypatch.setenv("ITSM_NO_CACHE", "1")
    assert CommitIndex.open(SimpleNamespace(root=tmp_path), Git(tmp_path)) is None
