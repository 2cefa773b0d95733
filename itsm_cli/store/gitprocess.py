"""How itsm starts git processes: the one place that does (with :mod:`itsm_cli.store.gitstore`).

Every git process gets the same environment (:func:`clean_env`), failures are
worded the same way (:func:`error_detail`: git's own ``fatal:`` line, one line,
after the command's name), and Ctrl-C is handled the same way (:func:`stop`).
Four shapes of process:

- :func:`run`: run, wait, (exit code, stdout, stderr);
- :func:`stream`: the lines of a long command (``git log``, ``git diff-tree``)
  while it runs, read ahead by a thread;
- :func:`start`: a command started now whose output is collected later
  (:class:`Started`), so git works while this process does something else;
- :func:`fed_later`: a command started now whose input comes later
  (:class:`Fed`): ``git update-index --stdin`` reads the index meanwhile;
- :func:`run_shown` / :func:`run_detached`: a command whose progress is shown on
  the terminal, or one left to run on after itsm exits.

The :class:`itsm_cli.store.gitstore.Git` methods of the same names are what the
rest of the package calls; :func:`merge_file` serves the merge driver, which
runs with no work tree of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import IO

from itsm_cli.errors import EnvironmentProblem

__all__ = [
    "Fed", "LineStream", "Started", "clean_env", "end_session", "error_detail", "fed_later", "leaving", "merge_file",
    "read_ahead", "run", "run_detached", "run_shown", "spawn", "start", "stop", "stream",
]

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
_NOT_INSTALLED = "git is not installed or not on PATH"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a git process: the caller's, git's messages untranslated, never a password prompt.

    ``LC_ALL=C`` (unless the caller set one) keeps git's messages and output in
    the form the parsers here expect; ``GIT_TERMINAL_PROMPT=0`` makes a fetch that
    needs credentials fail instead of waiting on a prompt nobody sees.
    Repository variables (``GIT_DIR``, ``GIT_INDEX_FILE``...) are passed on as
    they are: a git hook that runs itsm relies on them.
    """
    env = dict(os.environ)
    env.setdefault("LC_ALL", "C")
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def error_detail(stderr: bytes, code: int) -> str:
    """The line of git's stderr that says what went wrong (its ``fatal:``/``error:`` line, else the last)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line[len(prefix):]
    return lines[-1] if lines else f"exit {code}"


def command_name(args: Sequence[str]) -> str:
    """``git SUBCOMMAND`` for error messages: the first argument that is not a ``-c KEY=VALUE`` option."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-c", "-C") else 1
    return f"git {args[i]}" if i < len(args) else "git"


def spawn(
    args: Sequence[str], cwd: Path | str | None, *, env: dict[str, str] | None = None, stdin: int | IO[bytes] = DEVNULL,
    stdout: int | IO[bytes] = PIPE, stderr: int | IO[bytes] = PIPE, own_group: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``git ARGS`` in ``cwd`` with :func:`clean_env` plus ``env``; EnvironmentProblem when git is missing.

    ``own_group`` puts it in a process group of its own, so Ctrl-C at the terminal
    does not reach it (a reader itsm still needs, or an undo that must finish).
    """
    try:
        return subprocess.Popen(
            ["git", *args], cwd=cwd, env=clean_env(env), stdin=stdin, stdout=stdout, stderr=stderr,
            process_group=0 if own_group else None,
        )
    except FileNotFoundError:
        raise EnvironmentProblem(_NOT_INSTALLED) from None


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Interrupt a running git politely (it then removes its lock files), kill it if it will not stop."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def leaving() -> None:
    """Say that this process is about to end: sessions closed from now on are not waited for (see :func:`end_session`)."""
    _LEAVING[0] = True


_LEAVING = [False]


def end_session(proc: subprocess.Popen[bytes]) -> None:
    """Close a ``cat-file`` session: end its input and wait (it exits at end of input).

    When this process is ending (:func:`leaving`), the input is closed and git
    left to exit by itself (2-3 ms a command, git freeing its pack indexes):
    it holds no lock and writes nothing, and the session's pipes end with
    this process.
    """
    with contextlib.suppress(OSError, ValueError):
        proc.stdin.close()  # type: ignore[union-attr]
    if _LEAVING[0]:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(OSError, ValueError):
        proc.stdout.close()  # type: ignore[union-attr]


def run(
    args: Sequence[str], cwd: Path | str | None, *, input: bytes | None = None, env: dict[str, str] | None = None,
    shielded: bool = False,
) -> tuple[int, bytes, bytes]:
    """Run git to the end: (exit code, stdout, stderr).

    On Ctrl-C git is sent SIGINT and waited for, so it removes its own lock
    files (``index.lock``) instead of being killed holding them. A ``shielded``
    run (used to undo a failed change) gets its own process group, so a second
    Ctrl-C at the terminal cannot interrupt it.
    """
    proc = spawn(args, cwd, env=env, stdin=PIPE if input is not None else DEVNULL, own_group=shielded)
    with proc:
        try:
            out, err = proc.communicate(input)
        except BaseException:
            stop(proc)
            raise
    return proc.returncode, out, err


def stream(args: Sequence[str], cwd: Path | str, what: str | None = None, stdin: Sequence[str] | None = None) -> LineStream:
    """The lines a git command prints, read ahead by a thread; ``stdin`` written to it line by line if given.

    git starts at once, so what the caller does before reading overlaps with
    it. EnvironmentProblem naming ``what`` (default ``git SUBCOMMAND``) and git's
    complaint when it exits with an error. Read it to the end or close it:
    closing ends git, whether or not reading began.
    """
    return LineStream(args, cwd, what or command_name(args), stdin)


class LineStream:
    """A running git command's output lines (an iterator); :meth:`close` ends it early."""

    def __init__(self, args: Sequence[str], cwd: Path | str, what: str, stdin: Sequence[str] | None) -> None:
        import threading

        self.what = what
        self._proc = spawn(args, cwd, stdin=PIPE if stdin is not None else DEVNULL, stderr=PIPE)
        self._errors: list[bytes] = []
        # git's complaints are read by a thread of their own: a pipe left full would stop git mid-output.
        self._error_reader = threading.Thread(target=self._read_errors, name="itsm-git-stderr", daemon=True)
        self._error_reader.start()
        if stdin is not None:
            _feed(self._proc, stdin)
        self._lines = self._read()

    def __iter__(self) -> Iterator[bytes]:
        # The generator itself, so that a loop over millions of lines (an audit's git log) pays no call per line here.
        return self._lines

    def __next__(self) -> bytes:
        return next(self._lines)

    def close(self) -> None:
        """End git if it still runs (nothing is read any more)."""
        self._lines.close()
        self._end()

    def _read_errors(self) -> None:
        pipe = self._proc.stderr
        assert pipe is not None
        with contextlib.suppress(OSError), pipe:
            self._errors.append(pipe.read())

    def _read(self) -> Generator[bytes, None, None]:
        proc = self._proc
        assert proc.stdout is not None
        try:
            yield from read_ahead(proc.stdout)
            proc.stdout.close()
            if proc.wait() != 0:
                self._error_reader.join(timeout=10)
                raise EnvironmentProblem(f"{self.what} failed: {error_detail(b''.join(self._errors), proc.returncode)}")
        finally:
            self._end()

    def _end(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _feed(proc: subprocess.Popen[bytes], names: Sequence[str]) -> None:
    """Write ``names`` to ``proc``'s stdin from a thread (git answers while it reads) and close it."""
    import threading

    def write() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(OSError), proc.stdin:  # OSError: git ended early, its exit status says why
            proc.stdin.write("".join(f"{n}\n" for n in names).encode("ascii"))

    threading.Thread(target=write, name="itsm-git-log-feeder", daemon=True).start()


def read_ahead(stream: IO[bytes], chunk: int = 1 << 20, ahead: int = 64 << 20) -> Iterator[bytes]:
    """The lines of ``stream``, read by a thread up to ``ahead`` bytes ahead of the caller.

    ``git log --raw`` spends its time diffing trees; without a reader that keeps
    its pipe empty it stops whenever the pipe's 64 KB are full, and the diffing
    and the parsing here take turns instead of running on two cores at once.
    The budget is in bytes, not reads: a pipe gives a few kilobytes per read,
    so a budget of 64 reads let git run only a few hundred kilobytes ahead and
    it sat blocked while a stretch of commits that is slow to parse (a bulk
    import: thousands of files) was parsed; 64 MB let it go on diffing. Memory
    stays bounded by ``ahead``.
    """
    import threading
    from collections import deque

    pending: deque[bytes | BaseException | None] = deque()
    held = [0]  # bytes read but not yet taken
    ready = threading.Condition()
    stop = threading.Event()

    def hand_over(item: bytes | BaseException | None) -> None:
        with ready:
            while isinstance(item, bytes) and held[0] >= ahead and not stop.is_set():
                ready.wait()
            pending.append(item)
            if isinstance(item, bytes):
                held[0] += len(item)
            ready.notify_all()

    def pump() -> None:
        try:
            fd = stream.fileno()
            while not stop.is_set():
                data = os.read(fd, chunk)
                if not data:
                    break
                hand_over(data)
        except BaseException as e:  # handed to the reader, which raises it
            hand_over(e)
            return
        hand_over(None)

    thread = threading.Thread(target=pump, name="itsm-git-log-reader", daemon=True)
    thread.start()
    rest = b""
    try:
        while True:
            with ready:
                while not pending:
                    ready.wait()
                taken: list[bytes] = []
                size = 0
                end: bytes | BaseException | None = b""
                while pending and isinstance(pending[0], bytes) and size < chunk:
                    taken.append(pending.popleft())  # type: ignore[arg-type]
                    size += len(taken[-1])
                if not taken:
                    end = pending.popleft()
                held[0] -= size
                ready.notify_all()
            if end is None:
                break
            if isinstance(end, BaseException):
                raise end
            lines = (rest + b"".join(taken)).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield line + b"\n"
        if rest:
            yield rest
    finally:
        # Stopped early: free the pump if it waits for room; one waiting on git ends when
        # the caller ends git (it is a daemon thread either way).
        stop.set()
        with ready:
            pending.clear()
            held[0] = 0
            ready.notify_all()


class Started:
    """A git command started by :func:`start`: its stdout is collected later (stderr is discarded)."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        self._proc = proc

    def output(self) -> bytes:
        """Wait for git to finish; what it printed (its exit code is then :attr:`returncode`)."""
        return self._proc.communicate()[0]

    @property
    def returncode(self) -> int | None:
        """git's exit code once :meth:`output` returned, else None."""
        return self._proc.returncode

    def cancel(self) -> None:
        """End git now, its output unread."""
        self._proc.kill()
        self._proc.communicate()


class Fed:
    """A git command started now that reads its input later: given by :meth:`finish`, or none (:meth:`abandon`)."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        self._proc = proc

    def finish(self, data: bytes) -> tuple[int, bytes, bytes]:
        """Give git ``data`` as its whole input and wait: (exit code, stdout, stderr)."""
        try:
            out, err = self._proc.communicate(data)
        except BaseException:
            stop(self._proc)
            raise
        return self._proc.returncode, out, err

    def abandon(self) -> None:
        """Give git no input at all (a command that changes what its input names then changes nothing), and wait."""
        if self._proc.returncode is None:
            with contextlib.suppress(OSError, ValueError):
                self._proc.communicate(b"")


def fed_later(args: Sequence[str], cwd: Path | str) -> Fed | None:
    """Start ``git ARGS`` now, its input to come later (:class:`Fed`); None when it cannot be started at all."""
    try:
        return Fed(spawn(args, cwd, stdin=PIPE))
    except (OSError, EnvironmentProblem):
        return None


def start(args: Sequence[str], cwd: Path | str, env: dict[str, str] | None = None) -> Started | None:
    """Start ``git ARGS`` now and collect its output later; None when it cannot be started at all."""
    try:
        return Started(spawn(args, cwd, env=env, stderr=DEVNULL))
    except (OSError, EnvironmentProblem):
        return None


def run_shown(args: Sequence[str], cwd: Path | str, shown: bool) -> int:
    """Run git, its stderr (progress) on this terminal when ``shown`` else discarded; its exit code."""
    proc = spawn(args, cwd, stdout=DEVNULL, stderr=None if shown else DEVNULL)  # type: ignore[arg-type]
    with proc:
        try:
            proc.wait()
        except BaseException:
            stop(proc)
            raise
    return proc.returncode


def run_detached(args: Sequence[str], cwd: Path | str, done: tuple[Path, str] | None = None) -> None:
    """Start git to run on alone, after itsm exits if need be; when it succeeds, ``done``'s text goes into its file.

    ``sh`` starts git in the background and returns at once, holding none of
    this process's pipes (as ``git maintenance --auto`` does). Failures are
    ignored: such work (a commit-graph) only makes later commands faster.
    """
    script = 'git "$@"' + (' && printf "%s\\n" "$DONE_TEXT" > "$DONE_FILE"' if done else "")
    env = clean_env({"DONE_TEXT": done[1], "DONE_FILE": str(done[0])} if done else None)
    with contextlib.suppress(OSError):
        subprocess.run(["sh", "-c", f"({script}) </dev/null >/dev/null 2>&1 &", "sh", *args], cwd=cwd,
                       stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, env=env, check=False)


def merge_file(ours: str, base: str, theirs: str, marker_size: int, timeout: float = 60) -> tuple[int, bytes] | None:
    """``git merge-file -p`` of three files (labelled ours, base, theirs): (exit code, merged bytes).

    None when git could not be run; the exit code is the number of conflicts
    (capped at 127), above 127 on an error.
    """
    args = ["merge-file", "-p", f"--marker-size={max(marker_size, 1)}", "-L", "ours", "-L", "base", "-L", "theirs",
            ours, base, theirs]
    try:
        proc = spawn(args, None)
    except (OSError, EnvironmentProblem):
        return None
    with proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        except BaseException:
            stop(proc)
            raise
    return proc.returncode, out
