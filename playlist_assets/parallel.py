"""Per-playlist work (clustering, plots) spread over the machine's cores.

Each playlist is independent and the work is pure CPU in numpy, scikit-learn and matplotlib,
so separate processes use every core. Workers are started fresh ("spawn"): forking a process
that already ran scikit-learn's OpenMP code can hang the child, and a fresh worker imports
only the pure modules it runs (no Dagster). That start costs a few seconds, so the workers are
kept for the life of the process (a run clusters, then draws, with the same workers), and small
runs stay in the calling process, where they are faster anyway. Results come back in input
order, so output does not depend on how the work was split.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
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


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(setting: int, items: int) -> int:
    """How many processes to use: `setting` (0 = one per usable core), fewer for small runs."""
    wanted = setting if setting > 0 else usable_cores()
    return max(1, min(wanted, items // MIN_ITEMS_PER_WORKER))


def map_in_processes(fn: Callable[[Item], Result], items: Sequence[Item], setting: int = 0) -> list[Result]:
    """`[fn(item) for item in items]`, on several processes when that is worth it.

    `fn` must be a module-level function of a pure module, and items and results picklable.
    """
    workers = worker_count(setting, len(items))
    if workers == 1:
        return [fn(item) for item in items]
    chunksize = max(1, len(items) // (workers * CHUNKS_PER_WORKER))
    try:
        return list(_pool(workers).map(fn, items, chunksize=chunksize))
    except BrokenProcessPool:
        # A worker died (killed, out of memory): the next call starts fresh ones.
        _pools.pop(workers, None)
        raise


_pools: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    pool = _pools.get(workers)
    if pool is None:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        _pools[workers] = pool
    return pool


@atexit.register
def _stop_workers() -> None:
    for pool in _pools.values():
        pool.shutdown(cancel_futures=True)
    _pools.clear()
