"""Per-playlist work (clustering, plots) spread over the machine's cores.

Each playlist is independent and the work is pure CPU in numpy, scikit-learn and matplotlib,
so separate processes use every core. Workers are started fresh ("spawn"): forking a process
that already ran scikit-learn's OpenMP code can hang the child, and a fresh worker imports
only the pure modules it runs (no Dagster). That start costs a few seconds, so the workers are
kept for the life of the process (a run clusters, then draws, with the same workers), and small
runs stay in the calling process, where they are faster anyway, unless workers are already
running: a caller that knows work is coming (the CLI) starts them ahead with `start_workers`.
Results come back in input order, so output does not depend on how the work was split.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this many items per worker, starting the workers costs more than it saves.
MIN_ITEMS_PER_WORKER = 40
# Items handed to a worker at a time: large enough that sending them is cheap, small enough
# that both workers finish at about the same time.
CHUNKS_PER_WORKER = 8
# Workers run below normal priority. The process that starts them is the run's critical path:
# started ahead, they import while it lands the library, and that must not slow the landing.
# Any pool's workers do (also those a run launched from the UI starts), so they also give way
# to the rest of the machine's work.
WORKER_NICENESS = 10


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(setting: int, items: int) -> int:
    """How many processes to start for `items`: `setting` (0 = one per usable core), fewer for small runs."""
    return max(1, min(_wanted(setting), items // MIN_ITEMS_PER_WORKER))


def map_in_processes(fn: Callable[[Item], Result], items: Sequence[Item], setting: int = 0) -> list[Result]:
    """`[fn(item) for item in items]`, on several processes when that is worth it.

    `fn` must be a module-level function of a pure module, and items and results picklable.
    Processes are worth it for many items, or for any number once they are running.
    """
    running = _wanted(setting) in _pools
    worth_splitting = worker_count(setting, len(items)) > 1
    workers = _wanted(setting) if running else worker_count(setting, len(items))
    if workers == 1 or not items:
        return [fn(item) for item in items]
    # A few items go to a running pool as one chunk: one idle worker takes them all, and the
    # pool starts no other worker (and its imports) for them.
    chunksize = max(1, len(items) // (workers * CHUNKS_PER_WORKER)) if worth_splitting else len(items)
    try:
        return list(_pool(workers).map(fn, items, chunksize=chunksize))
    except BrokenProcessPool:
        # A worker died (killed, out of memory): the next call starts fresh ones.
        _pools.pop(workers, None)
        raise


def start_workers(setting: int = 0, preload: Sequence[str] = (), processes: int | None = None) -> None:
    """Start workers now, each importing the `preload` modules, for the calls that follow.

    Starting a worker means importing what it runs (scikit-learn, SciPy, matplotlib: 2-3 s).
    Started ahead, that happens on another core while this process does serial work (landing
    the library), and later calls, even small ones, find a worker ready instead of importing
    those modules here. `processes` starts only that many of the pool's workers (the rest start
    when a call has work for them, or when called again without it): a worker importing beside
    this process slows it, so a refresh of a few playlists starts one, and a large one all.
    Does nothing when `setting` asks for no more than one process.
    """
    workers = _wanted(setting)
    if workers < 2:
        return
    pool = _pool(workers, tuple(preload))
    # The pool starts a process for each task that finds no idle worker, up to its size: a
    # task each starts them (tasks that find an idle worker start none).
    for _ in range(min(workers, processes or workers)):
        pool.submit(_nothing)


def stop_workers() -> None:
    for pool in _pools.values():
        pool.shutdown(cancel_futures=True)
    _pools.clear()


atexit.register(stop_workers)

_pools: dict[int, ProcessPoolExecutor] = {}


def _wanted(setting: int) -> int:
    return setting if setting > 0 else usable_cores()


def _pool(workers: int, preload: tuple[str, ...] = ()) -> ProcessPoolExecutor:
    pool = _pools.get(workers)
    if pool is None:
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_import_all, initargs=(preload,),
        )
        _pools[workers] = pool
    return pool


def _import_all(modules: tuple[str, ...]) -> None:
    if hasattr(os, "nice"):  # not on Windows
        os.nice(WORKER_NICENESS)
    exit_without_cleanup()
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001
            # Importing ahead only saves time. A failure here would break the whole pool (its
            # initializer failed) and with it the first run step; the work that needs the
            # module imports it again and reports the real error, with its traceback.
            pass


def exit_without_cleanup() -> None:
    """Make this process (a worker: a pool initializer calls this) end without tearing down its modules."""
    atexit.register(_exit_now)


def _exit_now() -> None:
    """A worker's last step: leave without the interpreter's clean-up of every loaded module.

    A worker holds nothing to save once the pool has stopped it, and tearing down scikit-learn,
    SciPy and matplotlib took 0.7-0.9 s, which the process that stops the pool waits for (at the
    end of every CLI run). Whatever the worker wrote is flushed first.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)


def _nothing() -> None:
    return None
