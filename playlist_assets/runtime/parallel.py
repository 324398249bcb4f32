"""Per-playlist work (clustering, plots) spread over the machine's cores, by a pool with an owner.

Each playlist is independent and the work is pure CPU in numpy, scikit-learn and matplotlib,
so separate processes use every core. Workers are started fresh ("spawn"): forking a process
that already ran scikit-learn's OpenMP code can hang the child, and a fresh worker imports
only the pure modules it runs (no Dagster). That start costs a few seconds, so small runs stay
in the calling process, where they are faster anyway, unless the pool's workers are already
running: an owner that knows work is coming (the CLI) starts them ahead with `start`.

A `WorkerPool` is a context manager: whoever opens it closes it, and closing waits for every
worker to exit. Nothing is kept for the life of the process, so a Dagster step process (or a
test) that used a pool ends like any other process. Results come back in input order, so
output does not depend on how the work was split.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
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
WORKER_NICENESS = 10
# How often a worker looks whether its owner is still there.
OWNER_CHECK_S = 1.0


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def wanted_processes(setting: int) -> int:
    """The pool size a PLAYLIST_ASSETS_WORKERS setting asks for (0 = one per usable core)."""
    return setting if setting > 0 else usable_cores()


def worker_count(setting: int, items: int) -> int:
    """How many processes `items` are worth: `setting`'s size, fewer for small runs."""
    return max(1, min(wanted_processes(setting), items // MIN_ITEMS_PER_WORKER))


class WorkerPool:
    """Up to `wanted_processes(setting)` worker processes, started only when worth it.

    `preload` names modules each worker imports as it starts (what the work will need).
    `absent` maps an installed module to preloads that are imported first, as if it were not
    installed: a library they import whenever it is there, though the work never needs it.
    """

    def __init__(
        self, setting: int = 0, preload: Sequence[str] = (), absent: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.size = wanted_processes(setting)
        self._preload = tuple(preload)
        self._absent = tuple((module, tuple(importers)) for module, importers in (absent or {}).items())
        self._executor: ProcessPoolExecutor | None = None
        self._starting: list[futures.Future] = []  # a task per worker `start` asked for: done once a worker is up
        self._closed = False

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._executor is not None

    def start(self, processes: int | None = None) -> None:
        """Start workers now (at most `processes` of them), for the calls that follow.

        Starting a worker means importing what it runs (scikit-learn, SciPy, matplotlib: 2-3 s).
        Started ahead, that happens on another core while the owner does serial work (landing
        the library). A worker importing beside the owner slows it, so a refresh of a few
        playlists starts one and a large one all. Does nothing for a pool of one process.
        """
        if self.size < 2:
            return
        executor = self._ensure_executor()
        # The executor starts a process for each task that finds no idle worker, up to its
        # size: a task each starts them (tasks that find an idle worker start none).
        for _ in range(min(self.size, processes or self.size)):
            self._starting.append(executor.submit(_nothing))

    def map(self, fn: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """`[fn(item) for item in items]`, on the workers when that is worth it.

        `fn` must be a module-level function of a pure module, and items and results picklable.
        Workers are worth it for many items, or for any number once they are running.
        """
        return list(self.map_ahead(fn, items))

    def map_ahead(self, fn: Callable[[Item], Result], items: Sequence[Item]) -> Iterator[Result]:
        """As `map`, but the items go to the workers at once and the results come in input order
        as they are read: the caller's own work on each result (writing a file) and the work of
        maps started after this one overlap with the workers' (without workers, each result is
        computed when it is read)."""
        worth_splitting = worker_count(self.size, len(items)) > 1
        if not items or self.size < 2 or not (worth_splitting or self.running):
            return (fn(item) for item in items)
        if not worth_splitting:
            # A few items go to a running pool as one chunk, handed over when first read: one
            # idle worker takes them, and the pool starts no other worker (and its imports)
            # for them, as it would for a second chunk sent while the first is running.
            return self._handed_over_when_read(fn, items)
        results = self._results(fn, items, max(1, len(items) // (self.size * CHUNKS_PER_WORKER)))
        next(results)  # runs up to the hand-over: the items are with the workers from now on
        return results

    def _handed_over_when_read(self, fn: Callable[[Item], Result], items: Sequence[Item]) -> Iterator[Result]:
        # Sent while the workers started ahead are still importing, the chunk would find no idle
        # worker, and the executor would start another one for it: seconds of imports, for a
        # chunk that a started worker takes first anyway. So it waits until one of them is up.
        # (The executor marks a worker idle just after the task that tells us so ends: a chunk
        # sent in that instant can still start one, rarely, as before.)
        futures.wait(self._starting, return_when=futures.FIRST_COMPLETED)
        results = self._results(fn, items, len(items))
        next(results)
        yield from results

    def _results(self, fn: Callable[[Item], Result], items: Sequence[Item], chunksize: int) -> Iterator[Result]:
        try:
            results = self._ensure_executor().map(fn, items, chunksize=chunksize)
            yield  # the hand-over is done (map_ahead reads up to here)
            yield from results
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the next call starts fresh ones.
            self._shutdown(wait=False)
            raise

    def close(self) -> None:
        """Stop the workers and wait until they have exited; the pool cannot be used again."""
        self._closed = True
        self._shutdown(wait=True)

    def _shutdown(self, wait: bool) -> None:
        executor, self._executor = self._executor, None
        self._starting = []
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def _ensure_executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("this worker pool was closed")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.size,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_prepare_worker,
                initargs=(self._preload, self._absent),
            )
        return self._executor


def _prepare_worker(modules: tuple[str, ...], absent: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    if hasattr(os, "nice"):  # not on Windows
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_end_with_owner, args=(os.getppid(),), name="owner-watch", daemon=True).start()
    for module, importers in absent:
        if module in sys.modules:
            continue  # imported already: nothing to spare
        # Python's own marker for a module that is not there: while it is set, `import module`
        # raises ImportError, as a library probing for it at import time expects. Only these
        # importers see it: a library that keeps what it found (polars keeps the marker itself)
        # must not be imported meanwhile, and a later check of sys.modules must find nothing.
        sys.modules[module] = None
        try:
            for name in importers:
                _import_ahead(name)
        finally:
            if module in sys.modules and sys.modules[module] is None:
                del sys.modules[module]
    for name in modules:
        _import_ahead(name)
    # What was imported lives as long as the worker: kept out of the garbage collector's
    # scans, and out of the final one when the worker exits (0.7 s to 0.06 s, measured).
    gc.freeze()


def _import_ahead(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001
        # Importing ahead only saves time. A failure here would break the whole pool (its
        # initializer failed) and with it the first run step; the work that needs the
        # module imports it again and reports the real error, with its traceback.
        pass


def _end_with_owner(owner: int) -> None:
    """End this worker once the process that owns its pool is gone (killed: it closed nothing).

    Idle workers wait on a queue that their siblings also hold open, so they would otherwise
    never notice, and stay for ever. SIGKILL, because the owner may have left SIGTERM ignored.
    """
    while os.getppid() == owner:
        time.sleep(OWNER_CHECK_S)
    os.kill(os.getpid(), signal.SIGKILL)


def _nothing() -> None:
    return None
