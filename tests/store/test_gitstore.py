"""The git boundary (gitstore + gitprocess): streaming, the one cat-file reader, error wording, the environment.

Every git process itsm runs starts in these two modules; these tests hold
their public behaviour on a real repository.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from desk_testing import git

from itsm_cli.errors import EnvironmentProblem
from itsm_cli.store import gitprocess
from itsm_cli.store.gitstore import Git, ObjectReader


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with three commits, each adding one file (a.txt, b.txt, c.txt)."""
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    git(root, "config", "user.name", "Ann Agent")
    git(root, "config", "user.email", "ann@example.com")
    for name in ("a", "b", "c"):
        (root / f"{name}.txt").write_text(f"{name} text\n")
        git(root, "add", f"{name}.txt")
        git(root, "commit", "-q", "-m", f"add {name}")
    return root


def test_stream_yields_every_line_in_order_and_ends_git_when_closed_early(repo: Path) -> None:
    g = Git(repo)
    assert list(g.stream("log", "--reverse", "--format=%s")) == [b"add a\n", b"add b\n", b"add c\n"]
    # stdin: commit IDs fed to --stdin, answered in the order given
    shas = git(repo, "rev-list", "HEAD").split()
    lines = g.stream("log", "--no-walk=unsorted", "--stdin", "--format=%s", stdin=shas[::-1])
    assert [line.rstrip(b"\n") for line in lines] == [b"add a", b"add b", b"add c"]
    # closing early ends git (no error although its pipe is closed under it)
    many = g.stream("log", "--format=%H %s", "--max-count=3")
    assert next(many).startswith(shas[0].encode())
    many.close()


def test_a_stream_starts_git_at_once_and_closing_it_unread_ends_git(repo: Path, tmp_path: Path) -> None:
    """git works while the caller does something else; a stream dropped before its first line leaves no process."""
    g = Git(repo)
    marker = tmp_path / "ran"
    # A command with a visible effect: a hook-free way is git's own `-c` alias running a shell.
    stream = g.stream("-c", f"alias.touchit=!touch {marker} && echo done", "touchit")
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists()  # before a single line was asked for
    assert list(stream) == [b"done\n"]
    slow = g.stream("-c", "alias.wait=!sleep 5", "wait")
    pid = slow._proc.pid
    slow.close()
    assert slow._proc.poll() is not None  # ended and reaped, not left for the end of the process
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_stream_whose_git_writes_much_to_stderr_does_not_stall(repo: Path) -> None:
    """stderr is read while stdout is: 1 MB of complaints does not fill a pipe and stop git."""
    g = Git(repo)
    script = "!python3 -c 'import sys; sys.stderr.write(\"x\" * 1_000_000); print(\"out\")'"
    assert list(g.stream("-c", f"alias.noisy={script}", "noisy")) == [b"out\n"]
    failing = "!python3 -c 'import sys; sys.stderr.write(\"y\" * 200_000 + \"\\nfatal: it broke\\n\"); sys.exit(3)'"
    with pytest.raises(EnvironmentProblem, match=r"^git broke failed: it broke$"):
        list(g.stream("-c", f"alias.broke={failing}", "broke", what="git broke"))


def test_a_failing_command_is_one_line_naming_it(repo: Path) -> None:
    g = Git(repo)
    with pytest.raises(EnvironmentProblem) as caught:
        g.run("rev-parse", "--verify", "no-such-branch^{commit}")
    message = str(caught.value)
    assert message.startswith("git rev-parse failed: ") and "\n" not in message and "fatal:" not in message
    # a stream names the subcommand, past any -c options, unless told what to call it
    with pytest.raises(EnvironmentProblem) as caught:
        list(g.stream("-c", "core.quotePath=false", "log", "no-such-branch", "--"))
    message = str(caught.value)
    assert message.startswith("git log failed: ") and "no-such-branch" in message and "\n" not in message
    with pytest.raises(EnvironmentProblem, match=r"^git log \(signatures\) failed: "):
        list(g.stream("log", "no-such-branch", "--", what="git log (signatures)"))
    # run_status does not raise: the caller reads the exit code and git's own words
    code, out, err = g.run_status("cat-file", "-e", "HEAD:missing.txt")
    assert code != 0 and out == b"" and err
    assert gitprocess.error_detail(b"hint: try this\nfatal: it broke\n", 128) == "it broke"
    assert gitprocess.error_detail(b"", 5) == "exit 5"


def test_the_object_reader_answers_many_names_and_restarts_when_killed(repo: Path) -> None:
    g = Git(repo)
    reader = g.objects
    blob_a = git(repo, "rev-parse", "HEAD:a.txt").strip()
    found = reader.read_many(["HEAD:a.txt", "HEAD:missing.txt", "HEAD:b\nx", blob_a, "HEAD"])
    assert found[0] == (blob_a, "blob", b"a text\n")
    assert found[1] is None and found[2] is None  # missing; a name with a line break cannot be asked
    assert found[3] == found[0]
    assert found[4] is not None and found[4][1] == "commit"
    assert reader.blobs(["HEAD:c.txt", "HEAD^{tree}"]) == [(git(repo, "rev-parse", "HEAD:c.txt").strip(), b"c text\n"),
                                                          None]  # a tree is no blob
    assert reader.read("HEAD:b.txt", contents=False) == (git(repo, "rev-parse", "HEAD:b.txt").strip(), "blob", b"")
    # More names than one round trip takes: answers stay in order.
    specs = [f"HEAD~{i % 3}:a.txt" for i in range(450)]
    assert [f[2] for f in reader.read_many(specs)] == [b"a text\n"] * 450  # type: ignore[index]

    first = reader._proc
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert reader.read("HEAD:c.txt") == (git(repo, "rev-parse", "HEAD:c.txt").strip(), "blob", b"c text\n")
    assert reader._proc is not None and reader._proc.pid != first.pid  # a new session took over
    reader.close()
    assert reader._proc is None and first.poll() is not None
    assert reader.read("HEAD:a.txt") is not None  # and a read after close starts another


def test_the_reader_gives_up_in_one_line_when_git_cannot_answer(tmp_path: Path) -> None:
    reader = ObjectReader(tmp_path)  # not a repository: cat-file exits at once, every time
    with pytest.raises(EnvironmentProblem, match=r"^git cat-file stopped answering$"):
        reader.read("HEAD:a.txt")


def test_started_commands_are_collected_later_or_cancelled(repo: Path) -> None:
    g = Git(repo)
    started = g.start("ls-files", "-z")
    assert started is not None
    assert started.output() == b"a.txt\0b.txt\0c.txt\0" and started.returncode == 0
    failing = g.start("rev-parse", "--verify", "no-such-branch")
    assert failing is not None and failing.output() == b"" and failing.returncode != 0
    slow = g.start("log", "--format=%H")
    assert slow is not None
    slow.cancel()
    assert slow.returncode is not None


def test_the_environment_of_every_git_process(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LC_ALL defaults to C (git's words untranslated), never a credential prompt, the caller's variables kept.

    The caller's repository variables are passed on (a pre-commit hook sets
    GIT_INDEX_FILE and expects itsm's git to read that index); ``cwd`` is the
    work tree, whatever the caller's own folder.
    """
    g = Git(repo)
    env_of = ["-c", "alias.env=!env", "env"]  # git runs the alias in its own environment
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "1")
    monkeypatch.setenv("ITSM_TEST_MARK", "kept")
    seen = dict(line.split("=", 1) for line in g.run(*env_of).splitlines() if "=" in line)
    assert seen["LC_ALL"] == "C" and seen["GIT_TERMINAL_PROMPT"] == "0" and seen["ITSM_TEST_MARK"] == "kept"
    streamed = b"".join(g.stream(*env_of)).decode()
    assert "\nGIT_TERMINAL_PROMPT=0\n" in "\n" + streamed and "\nLC_ALL=C\n" in "\n" + streamed
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # a caller's own choice is kept
    assert "\nLC_ALL=C.UTF-8\n" in "\n" + g.run(*env_of)
    assert "\nLC_ALL=POSIX\n" in "\n" + g.run(*env_of, env={"LC_ALL": "POSIX"})  # and a call's own wins
    monkeypatch.chdir(repo.parent)
    assert Path(g.run("rev-parse", "--show-toplevel").strip()).resolve() == repo.resolve()


def test_merge_file_needs_no_work_tree(tmp_path: Path) -> None:
    files = []
    base = "one\ntwo\nthree\nfour\nfive\n"
    for name, text in (("ours", base.replace("two", "two ours")), ("base", base),
                       ("theirs", base.replace("five", "five theirs"))):
        (tmp_path / name).write_text(text)
        files.append(str(tmp_path / name))
    assert gitprocess.merge_file(*files, marker_size=7) == (0, b"one\ntwo ours\nthree\nfour\nfive theirs\n")
    (tmp_path / "theirs").write_text(base.replace("two", "two theirs"))
    code, merged = gitprocess.merge_file(*files, marker_size=3)  # type: ignore[misc]
    assert code == 1 and b"<<< ours\n" in merged and b">>> theirs\n" in merged


def test_a_failure_names_the_git_command_after_its_config_options(desk: Path) -> None:
    with pytest.raises(EnvironmentProblem, match=r"^git frobnicate failed: "):
        Git(desk).run("-c", "core.splitIndex=true", "frobnicate")


def test_a_session_closed_as_the_process_leaves_is_not_waited_for_and_still_ends(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitprocess, "_LEAVING", [False])  # this test's own flag, not the test process's
    reader = ObjectReader(repo)
    reader.start()
    proc = reader._proc
    assert proc is not None and proc.poll() is None
    waited: list[float | None] = []
    real_wait = proc.wait
    monkeypatch.setattr(proc, "wait", lambda timeout=None: waited.append(timeout) or real_wait(timeout))
    gitprocess.leaving()
    gitprocess.end_session(proc)
    assert waited == []  # input closed, git not waited for
    assert real_wait(timeout=10) == 0  # it ends by itself at the end of its input
    proc.stdout.close()  # type: ignore[union-attr]  # (the process that leaves drops it with everything else)


def _session_args(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads a process's arguments from /proc")
def test_a_reader_for_a_whole_history_gets_a_bigger_delta_cache_unless_the_clone_sets_one(repo: Path) -> None:
    from itsm_cli.store.gitstore import HISTORY_DELTA_CACHE

    plain = Git(repo)
    plain.objects.start()
    assert not any(a.startswith("core.deltaBaseCacheLimit") for a in _session_args(plain.objects._proc.pid))  # type: ignore[union-attr]

    g = Git(repo)
    assert g.objects.for_history(g) is g.objects
    assert g.objects.read("HEAD:a.txt") is not None
    assert f"core.deltaBaseCacheLimit={HISTORY_DELTA_CACHE}" in _session_args(g.objects._proc.pid)  # type: ignore[union-attr]

    git(repo, "config", "core.deltaBaseCacheLimit", "1g")
    own = Git(repo)
    own.objects.for_history(own)
    assert own.objects.read("HEAD:a.txt") is not None
    assert not any(a.startswith("core.deltaBaseCacheLimit") for a in _session_args(own.objects._proc.pid))  # type: ignore[union-attr]
    for reader in (plain.objects, g.objects, own.objects):
        reader.close()
