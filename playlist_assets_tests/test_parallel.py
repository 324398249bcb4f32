"""Per-playlist work spread over processes gives exactly what one process gives, and a pool
closed by its owner leaves no process behind."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playlist_assets.clustering import analysis
from playlist_assets.features import feature_table
from playlist_assets.runtime import parallel
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.runtime.resources import WORKER_MODULES, WORKERS_WITHOUT
from playlist_assets.ingest.sources.demo import demo_library


def pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def test_a_large_run_uses_the_asked_processes_and_keeps_the_order():
    items = list(range(2 * parallel.MIN_ITEMS_PER_WORKER + 5))
    with WorkerPool(2) as pool:
        out = pool.map(pid_and_square, items)
    assert [square for _, square in out] == [n * n for n in items]
    pids = {pid for pid, _ in out}
    assert len(pids) == 2 and os.getpid() not in pids


def test_maps_started_ahead_give_their_own_results_in_order_whichever_is_read_first():
    # Three maps handed to the workers before any result is read (as the report step does for
    # pages, plots and reports): each gives its own items' results, in their order.
    n = 2 * parallel.MIN_ITEMS_PER_WORKER + 5
    with WorkerPool(2) as pool:
        firsts = pool.map_ahead(pid_and_square, list(range(n)))
        seconds = pool.map_ahead(pid_and_square, list(range(n, 2 * n)))
        thirds = pool.map_ahead(pid_and_square, [])
        assert [sq for _, sq in seconds] == [m * m for m in range(n, 2 * n)]
        assert [sq for _, sq in firsts] == [m * m for m in range(n)]
        assert list(thirds) == []


def square_unless_seven(n: int) -> int:
    if n == 7:
        raise ValueError("seven")
    return n * n


def test_an_item_that_fails_raises_when_its_results_are_read_and_the_pool_goes_on():
    # Items travel in chunks: the error comes when the failing item's chunk is read, after the
    # results of every chunk before it, and the pool serves the next map.
    n = 2 * parallel.MIN_ITEMS_PER_WORKER
    with WorkerPool(2) as pool:
        results, read = pool.map_ahead(square_unless_seven, list(range(n))), []
        with pytest.raises(ValueError, match="seven"):
            for square in results:
                read.append(square)
        assert read == [m * m for m in range(len(read))] and len(read) <= 7
        assert [sq for _, sq in pool.map(pid_and_square, list(range(n)))] == [m * m for m in range(n)]


def test_a_small_run_or_one_worker_stays_in_this_process():
    with WorkerPool(2) as pool, WorkerPool(1) as single:
        small = pool.map(pid_and_square, list(range(10)))
        one = single.map(pid_and_square, list(range(200)))
        assert not pool.running and not single.running
    assert {pid for pid, _ in small + one} == {os.getpid()}


def test_clustering_a_library_on_two_processes_equals_one():
    library = demo_library(2 * parallel.MIN_ITEMS_PER_WORKER, 25, 7)
    table = feature_table.track_features(library.tracks, library.albums, library.audio_features)
    one = analysis.cluster_library(library.playlists, library.playlist_tracks, table)
    # Workers as the product starts them: scikit-learn and matplotlib preloaded, pandas absent.
    with WorkerPool(2, preload=WORKER_MODULES, absent=WORKERS_WITHOUT) as pool:
        two = analysis.cluster_library(library.playlists, library.playlist_tracks, table, pool)
    assert one.playlist_clusterings["clustered"].sum() > parallel.MIN_ITEMS_PER_WORKER
    for name in ("playlist_clusters", "clusters", "playlist_clusterings", "unclustered_entries"):
        assert getattr(one, name).equals(getattr(two, name)), name


def imported_in_worker(module: str) -> tuple[int, bool]:
    return os.getpid(), module in sys.modules


def test_a_small_run_uses_workers_started_ahead_with_their_modules_imported():
    assert "wave" not in sys.modules  # a standard module nothing here imports
    with WorkerPool(2, preload=["wave"]) as pool:
        pool.start()
        out = pool.map(imported_in_worker, ["wave"] * 3)
    assert all(imported for _, imported in out)
    assert os.getpid() not in {pid for pid, _ in out}


def what_the_preloaded_modules_found(_: int) -> tuple[int, bool, object, bool]:
    from playlist_assets_tests.fakes import keeps_what_it_found, optional_import

    return os.getpid(), optional_import.wave is not None, keeps_what_it_found.FOUND, "wave" in sys.modules


def test_preloads_named_for_an_absent_module_find_it_missing_and_no_other_module_does():
    # As scikit-learn finds pandas missing in the workers (they never pass it pandas data) and
    # goes on without importing it, while polars, imported after, keeps no trace of that.
    assert importlib.util.find_spec("wave") is not None and "wave" not in sys.modules
    fakes = "playlist_assets_tests.fakes"
    preload = [f"{fakes}.keeps_what_it_found", f"{fakes}.optional_import"]
    with WorkerPool(2, preload=preload, absent={"wave": [f"{fakes}.optional_import"]}) as pool:
        pool.start(processes=1)
        [(pid, found, kept, imported)] = pool.map(what_the_preloaded_modules_found, [0])
    assert pid != os.getpid()
    assert not found and kept == "not imported" and not imported


def test_a_module_that_fails_to_preload_leaves_the_workers_usable():
    with WorkerPool(2, preload=["playlist_assets_no_such_module"]) as pool:
        pool.start()
        assert [square for _, square in pool.map(pid_and_square, [2, 3])] == [4, 9]


def test_one_worker_started_ahead_takes_a_small_run_and_the_rest_start_for_a_large_one():
    with WorkerPool(2) as pool:
        pool.start(processes=1)
        # However long the started worker takes to come up, a few items make one task for it:
        # the pool starts no second worker for them.
        for _ in range(3):
            small = {pid for pid, _ in pool.map(pid_and_square, list(range(6)))}
            assert len(small) == 1 and os.getpid() not in small
        pool.start()
        large = pool.map(slow_pid, list(range(2 * parallel.MIN_ITEMS_PER_WORKER)))
        assert len(set(large)) == 2 and small < set(large)


def worker_processes() -> list[int]:
    """This process's pool workers (its children started by multiprocessing's spawn)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"--multiprocessing-fork" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes in /proc (Linux)")
def test_a_small_run_sent_while_the_started_worker_still_imports_starts_no_second_worker():
    # As in `make demo`: its first clustering step comes before the one worker started ahead
    # has imported scikit-learn. A second worker started for it would import everything again
    # (seconds of CPU, on a machine whose other core is busy) for a task the first one takes.
    with WorkerPool(2, preload=["playlist_assets_tests.fakes.slow_import"]) as pool:
        pool.start(processes=1)
        assert [square for _, square in pool.map(pid_and_square, [1, 2, 3])] == [1, 4, 9]
        pool.map(pid_and_square, [4, 5])
        assert len(worker_processes()) == 1


def slow_pid(_: int) -> int:
    # Long enough that one worker cannot take every chunk before the other asks for one.
    time.sleep(0.01)
    return os.getpid()


def test_closing_the_pool_ends_its_workers_and_it_cannot_be_used_again():
    pool = WorkerPool(2)
    pids = {pid for pid, _ in pool.map(pid_and_square, list(range(2 * parallel.MIN_ITEMS_PER_WORKER)))}
    pool.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="closed"):
        pool.map(pid_and_square, list(range(200)))


PROGRAM = """
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets_tests.test_parallel import pid_and_square
with WorkerPool(2) as pool:
    print(len({pid for pid, _ in pool.map(pid_and_square, list(range(200)))}), flush=True)
"""


def test_a_process_that_used_a_pool_exits_on_its_own():
    # What a Dagster step process does: use a pool, close it, and end through the interpreter's
    # normal exit (no shortcut). It used to wait for ever on workers kept for its whole life.
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
