"""Work spread over cores: results in order, in forked workers only when forking is safe."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

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


@contextlib.contextmanager
def _another_thread_running() -> Iterator[None]:
    """A second thread for the length of the block: forking beside it would not be safe."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_fork_imap_stays_here_when_a_thread_runs_or_for_one_item() -> None:
    with _another_thread_running():
        out = list(parallel.fork_imap(_pid_and_square, list(range(6))))
    assert out == [(os.getpid(), n * n) for n in range(6)]
    assert list(parallel.fork_imap(_pid_and_square, [7])) == [(os.getpid(), 49)]


def _slowly(n: int, made: list[int], closed: list[bool]) -> Iterator[int]:
    try:
        for i in range(n):
            made.append(i)
            yield i
    finally:
        closed.append(True)


@needs_two_cores
def test_fork_imap_fed_hands_out_items_as_they_are_made_and_keeps_order() -> None:
    made: list[int] = []
    closed: list[bool] = []
    out = []
    for item, (pid, square) in parallel.fork_imap_fed(_pid_and_square, _slowly(30, made, closed), ahead=3):
        out.append((item, square))
        assert pid != os.getpid()
        assert len(made) <= item + 1 + 3 + 1  # the feeder stays at most `ahead` (and the one in hand) in front
    assert out == [(n, n * n) for n in range(30)]
    assert closed == [True] and threading.active_count() == 1


@needs_two_cores
def test_fork_imap_fed_stops_feeding_when_the_caller_stops_or_a_worker_fails() -> None:
    made: list[int] = []
    closed: list[bool] = []
    results = parallel.fork_imap_fed(_pid_and_square, _slowly(1000, made, closed), ahead=2)
    assert next(results)[0] == 0
    results.close()
    assert closed == [True] and len(made) < 10 and threading.active_count() == 1
    got = []
    with pytest.raises(ValueError, match="three"):
        for item, n in parallel.fork_imap_fed(_fail_on_three, iter(range(10)), ahead=2):
            got.append((item, n))
    assert got == [(0, 0), (1, 1), (2, 2)] and threading.active_count() == 1


def test_fork_imap_fed_stays_here_when_a_thread_runs() -> None:
    with _another_thread_running():
        out = list(parallel.fork_imap_fed(_pid_and_square, iter(range(6))))
    assert out == [(n, (os.getpid(), n * n)) for n in range(6)]


def _state_plus(offset: int) -> dict[str, int]:
    return {"offset": offset, "pid": os.getpid()}


def _add_offset(items: list[int]) -> list[tuple[int, int, int]]:
    state = parallel.worker_state()
    return [(n + state["offset"], state["pid"], os.getpid()) for n in items]


def _record_ids(paths: list[str]) -> list[str]:
    desk = parallel.worker_state()
    return [desk.load(rel).id for rel in paths]


def test_parallel_map_hands_each_worker_what_its_set_up_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    out = parallel.parallel_map(_add_offset, list(range(30)), _state_plus, (100,), chunk=4)
    assert [n for n, _, _ in out] == list(range(100, 130))
    # The set-up ran in the process that did the work (a worker, or here with one core).
    assert all(setup_pid == worker_pid for _, setup_pid, worker_pid in out)
    if parallel.cpu_count() >= 2:
        assert os.getpid() not in {pid for _, _, pid in out}
    assert not parallel._STATE  # nothing is left behind here


def test_parallel_map_in_process_sets_up_once_and_clears_after() -> None:
    out = parallel.parallel_map(_add_offset, [1, 2], _state_plus, (10,))
    assert out == [(11, os.getpid(), os.getpid()), (12, os.getpid(), os.getpid())]
    with pytest.raises(LookupError, match="no worker state"):
        parallel.worker_state()


def test_shared_restores_what_was_there_before() -> None:
    with parallel.shared("outer"):
        with parallel.shared("inner"):
            assert parallel.worker_state() == "inner"
        assert parallel.worker_state() == "outer"
    assert not parallel._STATE


def test_open_desk_gives_workers_the_desk(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from itsm_cli.store.desk import Desk

    demo = Path(__file__).resolve().parent.parent
    paths = Desk(demo).record_paths(("catalog",))
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    ids = parallel.parallel_map(_record_ids, paths, parallel.open_desk, (str(demo),), chunk=2)
    assert ids == [Path(p).stem for p in paths] and len(ids) > 4
