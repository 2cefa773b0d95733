"""The git log reader: every line exactly once and in order, within its byte budget, and it can stop early."""

from __future__ import annotations

import os
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_cli.store.gitprocess import read_ahead as _read_ahead


class _Writer(threading.Thread):
    """Writes ``pieces`` into a pipe (as git would, in writes of any size) and counts what got through."""

    def __init__(self, pieces: list[bytes]):
        super().__init__(daemon=True)
        self.read_fd, self.write_fd = os.pipe()
        self.pieces = pieces
        self.written = 0

    def run(self) -> None:
        try:
            for piece in self.pieces:
                os.write(self.write_fd, piece)
                self.written += len(piece)
        except BrokenPipeError:
            pass
        finally:
            os.close(self.write_fd)


LINES = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60)


@settings(max_examples=60, deadline=None)
@given(LINES, st.lists(st.integers(1, 50), min_size=1, max_size=10), st.integers(1, 64), st.integers(1, 256))
def test_every_line_once_in_order(lines: list[bytes], cuts: list[int], chunk: int, ahead: int) -> None:
    data = b"".join(line + b"\n" for line in lines)
    pieces, at, i = [], 0, 0
    while at < len(data):
        size = cuts[i % len(cuts)]
        pieces.append(data[at: at + size])
        at, i = at + size, i + 1
    writer = _Writer(pieces)
    writer.start()
    with os.fdopen(writer.read_fd, "rb", buffering=0) as stream:
        got = list(_read_ahead(stream, chunk=chunk, ahead=ahead))
    writer.join(5)
    assert got == [line + b"\n" for line in lines]


def test_it_reads_no_more_than_its_budget_ahead() -> None:
    total, ahead, chunk = 4 << 20, 256 << 10, 64 << 10
    writer = _Writer([b"x" * 1023 + b"\n"] * (total // 1024))
    writer.start()
    with os.fdopen(writer.read_fd, "rb", buffering=0) as stream:
        lines = _read_ahead(stream, chunk=chunk, ahead=ahead)
        first = next(lines)
        time.sleep(0.5)  # the reader runs ahead while the caller is busy
        ran_ahead = writer.written
        rest = sum(1 for _ in lines)
    writer.join(5)
    assert first == b"x" * 1023 + b"\n" and rest == total // 1024 - 1
    pipe_and_reads = (1 << 20) + 2 * chunk  # the pipe's own buffer (at most 1 MB on Linux) and reads in flight
    assert ahead <= ran_ahead <= ahead + pipe_and_reads + chunk


def test_stopping_early_frees_the_reader() -> None:
    writer = _Writer([b"line\n"] * 200_000)
    writer.start()
    stream = os.fdopen(writer.read_fd, "rb", buffering=0)
    lines = _read_ahead(stream, chunk=4096, ahead=8192)
    assert next(lines) == b"line\n"
    lines.close()  # the caller stops: the reader must not stay blocked on a full budget
    stream.close()  # as the caller ends git: the writer sees a broken pipe
    writer.join(5)
    assert not writer.is_alive()
    assert not any(t.name == "itsm-git-log-reader" and t.is_alive() for t in _wait_for_reader_threads())


def _wait_for_reader_threads() -> list[threading.Thread]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [t for t in threading.enumerate() if t.name == "itsm-git-log-reader" and t.is_alive()]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def test_a_failing_git_is_one_line_naming_the_command_and_git_s_fatal_line(tmp_path) -> None:
    import subprocess

    import pytest

    from itsm_cli.errors import EnvironmentProblem
    from itsm_cli.store.gitstore import Git

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(EnvironmentProblem) as caught:
        list(Git(tmp_path).stream("log", "no-such-revision", "--", what="git log"))
    message = str(caught.value)
    assert message.startswith("git log failed: ") and "no-such-revision" in message
    assert "fatal:" not in message and "\n" not in message
