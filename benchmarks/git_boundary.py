"""The git boundary three ways: itsm's (the git command, plumbing), GitPython's and pygit2's (libgit2).

    python benchmarks/git_boundary.py DESK [--repeat 7]

DESK is a work tree of an itsm desk with its history (the benchmark's
``benchmarks/work/desk-100000`` or a clone of it). The script works on a
clone of DESK of its own in a temporary folder (``git clone --local``: hard
links, nothing of DESK changes) and times, as medians of ``--repeat`` runs:

- *import*: bringing the library in, in a fresh interpreter (what every
  ``itsm`` command would pay before doing anything);
- *commit one record*: change one ticket and commit it, leaving index and
  work tree clean (itsm: :meth:`itsm_cli.store.gitstore.Git.commit`; GitPython:
  ``index.add`` + ``index.commit``; pygit2: ``index.add`` + ``write_tree`` +
  ``create_commit``);
- *read a blob*: one ticket's bytes at HEAD by path, 200 times in one
  process (itsm: the :class:`~itsm_cli.store.gitstore.ObjectReader` session;
  GitPython: ``tree / path``, ``data_stream``; pygit2: ``tree[path].data``);
- *history of one record*: the commits that changed one ticket, newest first
  (itsm: ``git log -- PATH`` streamed; GitPython: ``iter_commits(paths=)``;
  pygit2: a walk diffing each commit's tree entry for the path).

GitPython and pygit2 are not dependencies of itsm; install them to run this
(``pip install gitpython pygit2``). libgit2 cannot read a split index
(``core.splitIndex``, which itsm uses on big desks), so the clone's index is
joined first; every library is timed on the same joined index.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

AUTHOR = ("Bench", "bench@example.com")


def median_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def git(desk: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=desk, check=True, capture_output=True, text=True).stdout


def import_time(module: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
            for _ in range(repeat)]
    return statistics.median(runs)


def touch(desk: Path, rel: str, n: list[int]) -> None:
    n[0] += 1
    with open(desk / rel, "a", encoding="utf-8") as f:
        f.write(f"# benchmark edit {n[0]}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("desk", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    try:
        import git as gitpython
        import pygit2
    except ImportError:
        sys.exit("git_boundary: pip install gitpython pygit2 first (they are not itsm's dependencies)")

    from itsm_cli.store.gitstore import Git

    with tempfile.TemporaryDirectory(prefix="itsm-git-boundary-") as tmp:
        desk = Path(tmp) / "desk"
        subprocess.run(["git", "clone", "-q", "--local", str(args.desk), str(desk)], check=True)
        git(desk, "config", "user.name", AUTHOR[0])
        git(desk, "config", "user.email", AUTHOR[1])
        git(desk, "config", "gc.auto", "0")
        git(desk, "config", "core.splitIndex", "false")  # libgit2 cannot read a split index
        git(desk, "update-index", "--no-split-index")
        rel = next(line for line in git(desk, "ls-files", "tickets/INC").splitlines() if line.endswith(".yaml"))
        entries = len(git(desk, "ls-files").splitlines())
        print(f"{desk.name}: {entries:,} files, {len(git(desk, 'rev-list', 'HEAD').split()):,} commits; record {rel}")
        rows: list[tuple[str, float, float, float]] = []

        rows.append(("import", import_time("itsm_cli.store.gitstore", args.repeat),
                     import_time("git", args.repeat), import_time("pygit2", args.repeat)))

        n = [0]
        ours = Git(desk)

        def commit_ours() -> None:
            touch(desk, rel, n)
            ours.commit([rel], "bench: itsm\n", *AUTHOR)

        repo = gitpython.Repo(desk)

        def commit_gitpython() -> None:
            touch(desk, rel, n)
            repo.index.add([rel])
            repo.index.commit("bench: gitpython", author=gitpython.Actor(*AUTHOR),
                              committer=gitpython.Actor(*AUTHOR))

        lg2 = pygit2.Repository(str(desk))
        sig = pygit2.Signature(*AUTHOR)

        def commit_pygit2() -> None:
            touch(desk, rel, n)
            index = lg2.index
            index.read()
            index.add(rel)
            index.write()
            tree = index.write_tree()
            lg2.create_commit("HEAD", sig, sig, "bench: pygit2\n", tree, [lg2.head.target])

        rows.append(("commit one record", median_of(commit_ours, args.repeat),
                     median_of(commit_gitpython, args.repeat), median_of(commit_pygit2, args.repeat)))
        if git(desk, "status", "--porcelain").strip():
            sys.exit("git_boundary: a commit left the work tree or index unclean: " + git(desk, "status", "--short"))

        reads = 200

        def read_ours() -> None:
            for _ in range(reads):
                ours.show("HEAD", rel)

        def read_gitpython() -> None:
            for _ in range(reads):
                (repo.head.commit.tree / rel).data_stream.read()

        def read_pygit2() -> None:
            for _ in range(reads):
                lg2.revparse_single("HEAD").peel(pygit2.Tree)[rel].data  # noqa: B018

        rows.append((f"read a blob x{reads}", median_of(read_ours, args.repeat),
                     median_of(read_gitpython, args.repeat), median_of(read_pygit2, args.repeat)))

        def history_ours() -> None:
            git(desk, "log", "--format=%H", "--", rel)

        def history_gitpython() -> None:
            list(repo.iter_commits("HEAD", paths=rel))

        def history_pygit2() -> None:
            found = []
            walker = lg2.walk(lg2.head.target, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
            for commit in walker:
                mine = _entry(commit.tree, rel)
                if not commit.parents:
                    if mine is not None:
                        found.append(commit.id)
                    continue
                if any(_entry(parent.tree, rel) != mine for parent in commit.parents):
                    found.append(commit.id)

        rows.append(("history of one record", median_of(history_ours, max(3, args.repeat // 2)),
                     median_of(history_gitpython, 1), median_of(history_pygit2, 1)))

        print(f"{'operation':<24}{'itsm (git command)':>20}{'GitPython':>12}{'pygit2':>10}")
        for name, a, b, c in rows:
            print(f"{name:<24}{a:>19.3f}s{b:>11.3f}s{c:>9.3f}s")


def _entry(tree: object, rel: str) -> object:
    try:
        return tree[rel].id  # type: ignore[index]
    except KeyError:
        return None


if __name__ == "__main__":
    main()
