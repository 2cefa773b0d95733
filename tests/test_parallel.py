"""Work spread over cores: results in order, in forked workers only when forking is safe."""

from __future__ import annotations

import os
import threading

import pytest

from itsm_cli import parallel


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def _fail_on_three(n: int) -> int:
    if n == 3:
        raise ValueError("three")
    return n


needs_two_cores = pytest.mark.skipif(parallel.cpu_count() < 2 or not parallel.can_fork(), reason="one core or no fork")


@needs_two_cores
def test_fork_map_runs_in_workers_and_keeps_order() -> None:
    out = parallel.fork_map(_pid_and_square, list(range(40)), chunk=3)
    assert [square for _, square in out] == [n * n for n in range(40)]
    pids = {pid for pid, _ in out}
    assert os.getpid() not in pids and len(pids) >= 1


@needs_two_cores
def test_fork_map_passes_a_workers_error_back() -> None:
    with pytest.raises(ValueError, match="three"):
        parallel.fork_map(_fail_on_three, list(range(10)), chunk=1)


def test_fork_map_stays_here_when_a_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not parallel.can_fork()
        out = parallel.fork_map(_pid_and_square, list(range(40)), chunk=3)
    finally:
        stop.set()
        thread.join()
    assert {pid for pid, _ in out} == {os.getpid()}
    assert [square for _, square in out] == [n * n for n in range(40)]


def test_fork_map_stays_here_for_less_than_two_chunks() -> None:
    out = parallel.fork_map(_pid_and_square, list(range(5)), chunk=3)
    assert {pid for pid, _ in out} == {os.getpid()}


@needs_two_cores
def test_fork_imap_yields_in_order_from_workers_with_few_waiting() -> None:
    made = parallel.fork_imap(_pid_and_square, list(range(30)), ahead=3)
    out = []
    for pid, square in made:
        out.append(square)
        assert pid != os.getpid()
    assert out == [n * n for n in range(30)]


@needs_two_cores
def test_fork_imap_passes_a_workers_error_back_in_its_place() -> None:
    got = []
    with pytest.raises(ValueError, match="three"):
        for n in parallel.fork_imap(_fail_on_three, list(range(10)), ahead=2):
            got.append(n)
    assert got == [0, 1, 2]


def test_fork_imap_stays_here_when_a_thread_runs_or_for_one_item() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        out = list(parallel.fork_imap(_pid_and_square, list(range(6))))
    finally:
        stop.set()
        thread.join()
    assert out == [(os.getpid(), n * n) for n in range(6)]
    assert list(parallel.fork_imap(_pid_and_square, [7])) == [(os.getpid(), 49)]
