"""Work spread over the machine's cores: validation and listing chunks, site pages.

Two ways, for two kinds of work. :func:`parallel_map` sets each worker up from
arguments (so it also works where processes are started fresh); :func:`fork_map`
lets forked workers share what this process already holds (a site builder with
every record loaded) and runs here instead whenever forking is not safe.

Either way a worker finds what it works from with :func:`worker_state`: what
``parallel_map``'s set-up returned (:func:`open_desk` for work that only needs
the desk), or what :func:`shared` made available to forked workers.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from itsm_cli.store.desk import Desk

__all__ = ["CHUNK", "PARALLEL_MIN", "cpu_count", "fork_imap", "fork_imap_fed", "fork_map", "open_desk", "parallel_map", "shared",
           "worker_state"]

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN = 2000
CHUNK = 400


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# What this process's work reads (worker_state): set once per worker by parallel_map's set-up, or for the
# length of a `shared` block (forked workers inherit it). One slot: the work of one call at a time.
_STATE: list[Any] = []


def worker_state() -> Any:
    """What this worker works from: what ``parallel_map``'s set-up returned, or the value :func:`shared` holds.

    Raises LookupError outside such work (a programming error, not a user's).
    """
    if not _STATE:
        raise LookupError("no worker state: call from work run by parallel_map, fork_map or inside shared()")
    return _STATE[0]


@contextmanager
def shared(value: Any) -> Iterator[None]:
    """Make ``value`` what :func:`worker_state` returns here and in workers forked inside the block.

    The value before the block is restored after it, so nothing outlives the work.
    """
    before = list(_STATE)
    _STATE[:] = [value]
    try:
        yield
    finally:
        _STATE[:] = before


def _set_up(setup: Callable[..., Any], args: tuple) -> None:
    """A worker's initializer: run the caller's set-up once and keep what it returns (:func:`worker_state`)."""
    _STATE[:] = [setup(*args)]


def open_desk(root: str) -> Desk:
    """The set-up of work that reads records: the desk at ``root``, opened once per worker.

    Pass it with ``(str(desk.root),)`` to :func:`parallel_map`; ``func`` then
    gets the desk from :func:`worker_state`.
    """
    from pathlib import Path

    from itsm_cli.store.desk import Desk

    return Desk(Path(root))


def parallel_map(func: Any, items: list, initializer: Callable[..., Any], initargs: tuple,
                 chunk: int | None = None) -> list:
    """``func`` over chunks of ``items`` in worker processes (one per core), results in order.

    ``initializer(*initargs)`` sets up each worker once, and what it returns is
    what ``func`` gets from :func:`worker_state` (e.g. :func:`open_desk`);
    ``func`` takes a list of items and returns a list of results. Runs in this
    process when there is little to do (the set-up's value lasts for the call).
    ``chunk`` defaults to :data:`CHUNK` as it is when called.
    """
    chunk = chunk or CHUNK
    workers = min(cpu_count(), max(1, len(items) // chunk))
    if len(items) < PARALLEL_MIN or workers < 2:
        with shared(initializer(*initargs)):
            return func(items)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork shares what is already imported; from 3.12 forking a process that has threads warns.
    method = "fork" if sys.version_info < (3, 12) and sys.platform == "linux" else "forkserver"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    out: list = []
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                             initializer=_set_up, initargs=(initializer, initargs)) as pool:
        for part in pool.map(func, [items[i : i + chunk] for i in range(0, len(items), chunk)]):
            out.extend(part)
    return out


def can_fork() -> bool:
    """True when forked workers are safe here: Linux, and no other thread that a fork would leave half-done."""
    return sys.platform == "linux" and threading.active_count() == 1


def fork_map(func: Callable[[T], R], items: Sequence[T], chunk: int) -> list[R]:
    """``func`` over ``items`` in forked workers (one per core, ``chunk`` items at a time), results in order.

    The workers see this process's memory as it was when they started, so
    ``func`` may read what :func:`shared` holds around the call
    (:func:`worker_state`); what it returns is pickled back. Runs in this process when there are fewer than two chunks,
    one core, or forking is not safe (:func:`can_fork`), e.g. under MkDocs'
    development server, whose watcher runs in a thread.
    """
    workers = min(cpu_count(), len(items) // max(1, chunk))
    if workers < 2 or not can_fork():
        return [func(item) for item in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(func, items, chunksize=chunk))


def fork_imap(func: Callable[[T], R], items: Sequence[T], ahead: int = 4) -> Iterator[R]:
    """``func`` over ``items`` in forked workers (one per core), yielded in order as they are done.

    Like :func:`fork_map`, but the caller works on one result while the
    workers make the next ones, and at most ``ahead`` results wait for it
    (memory stays bounded). Runs in this process when there are fewer than two
    items, one core, or forking is not safe (:func:`can_fork`).
    """
    workers = min(cpu_count(), len(items))
    if workers < 2 or not can_fork():
        for item in items:
            yield func(item)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque = deque()
        queued = iter(items)
        try:
            for item in queued:
                pending.append(pool.submit(func, item))
                if len(pending) >= max(ahead, workers):
                    break
            while pending:
                result = pending.popleft().result()
                for item in queued:
                    pending.append(pool.submit(func, item))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()


def fork_imap_fed(func: Callable[[T], R], items: Iterable[T], ahead: int = 4) -> Iterator[tuple[T, R]]:
    """``(item, func(item))`` for ``items`` in order, worked out in forked workers while ``items`` is still read.

    For items that come slowly (each made from a git process's output as it
    runs): a thread of this process reads them and hands each to a worker at
    once, so the workers start on the first while the rest are still being
    made. At most ``ahead`` results wait for the caller. The workers are forked
    before the thread starts (a fork beside a running thread is not safe), so
    ``func`` gets all it needs in its item, or from what this process held
    before the call. Runs in this process when :func:`fork_imap` would.
    """
    workers = cpu_count()
    if workers < 2 or not can_fork():
        for item in items:
            yield item, func(item)
        return
    import multiprocessing
    import queue
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    done: queue.Queue[Any] = queue.Queue()
    slots = threading.Semaphore(max(ahead, workers))
    stop = threading.Event()
    end = object()

    def feed() -> None:
        try:
            for item in items:
                slots.acquire()
                if stop.is_set():
                    break
                done.put((item, pool.submit(func, item)))
            done.put(end)
        except BaseException as e:  # raised in the caller
            done.put(_Failed(e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator reading git: git is ended here, in the thread that ran it

    feeder = threading.Thread(target=feed, name="itsm-fork-imap-feed", daemon=True)
    try:
        pool.submit(os.getpid).result()  # every worker is forked at the first task: before the thread starts
        feeder.start()
        while True:
            got = done.get()
            if got is end:
                return
            if isinstance(got, _Failed):
                raise got.error
            item, future = got
            result = future.result()
            slots.release()
            yield item, result
    finally:
        stop.set()
        slots.release()  # a feeder waiting for a slot sees the stop
        if feeder.is_alive():
            feeder.join()
        pool.shutdown(wait=True, cancel_futures=True)


class _Failed:
    """An exception the feeding thread of :func:`fork_imap_fed` met, to be raised by the caller."""

    def __init__(self, error: BaseException):
        self.error = error
