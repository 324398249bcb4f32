"""Per-playlist work spread over processes gives exactly what one process gives."""

from __future__ import annotations

import os
import sys
import time

from playlist_assets import analysis, features, parallel
from playlist_assets.sources.demo import demo_library


def pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def test_a_large_run_uses_the_asked_processes_and_keeps_the_order():
    items = list(range(2 * parallel.MIN_ITEMS_PER_WORKER + 5))
    out = parallel.map_in_processes(pid_and_square, items, setting=2)
    assert [square for _, square in out] == [n * n for n in items]
    pids = {pid for pid, _ in out}
    assert len(pids) == 2 and os.getpid() not in pids


def test_a_small_run_or_one_worker_stays_in_this_process():
    parallel.stop_workers()  # no workers running yet, as in a fresh process
    small = parallel.map_in_processes(pid_and_square, list(range(10)), setting=2)
    single = parallel.map_in_processes(pid_and_square, list(range(200)), setting=1)
    assert {pid for pid, _ in small + single} == {os.getpid()}


def test_clustering_a_library_on_two_processes_equals_one():
    library = demo_library(2 * parallel.MIN_ITEMS_PER_WORKER, 25)
    table = features.track_features(library.tracks, library.albums, library.audio_features)
    one = analysis.cluster_library(library.playlists, library.playlist_tracks, table, workers=1)
    two = analysis.cluster_library(library.playlists, library.playlist_tracks, table, workers=2)
    assert one.playlist_clusterings["clustered"].sum() > parallel.MIN_ITEMS_PER_WORKER
    for name in ("playlist_clusters", "clusters", "playlist_clusterings", "unclustered_entries"):
        assert getattr(one, name).equals(getattr(two, name)), name


def imported_in_worker(module: str) -> tuple[int, bool]:
    return os.getpid(), module in sys.modules


def test_a_small_run_uses_workers_started_ahead_with_their_modules_imported():
    parallel.stop_workers()
    assert "wave" not in sys.modules  # a standard module nothing here imports
    parallel.start_workers(2, preload=["wave"])
    try:
        out = parallel.map_in_processes(imported_in_worker, ["wave"] * 3, setting=2)
        assert all(imported for _, imported in out)
        assert os.getpid() not in {pid for pid, _ in out}
        # Asking for one process still means this one.
        assert {pid for pid, _ in parallel.map_in_processes(pid_and_square, [1, 2], setting=1)} == {os.getpid()}
    finally:
        parallel.stop_workers()


def test_a_module_that_fails_to_preload_leaves_the_workers_usable():
    parallel.stop_workers()
    parallel.start_workers(2, preload=["playlist_assets_no_such_module"])
    try:
        assert [square for _, square in parallel.map_in_processes(pid_and_square, [2, 3], setting=2)] == [4, 9]
    finally:
        parallel.stop_workers()


def test_one_worker_started_ahead_takes_a_small_run_and_the_rest_start_for_a_large_one():
    parallel.stop_workers()
    parallel.start_workers(2, processes=1)
    try:
        # However long the started worker takes to come up, a few items make one task for it:
        # the pool starts no second worker for them.
        for _ in range(3):
            small = {pid for pid, _ in parallel.map_in_processes(pid_and_square, list(range(6)), setting=2)}
            assert len(small) == 1 and os.getpid() not in small
        parallel.start_workers(2)
        large = parallel.map_in_processes(slow_pid, list(range(2 * parallel.MIN_ITEMS_PER_WORKER)), setting=2)
        assert len(set(large)) == 2 and small < set(large)
    finally:
        parallel.stop_workers()


def slow_pid(_: int) -> int:
    # Long enough that one worker cannot take every chunk before the other asks for one.
    time.sleep(0.01)
    return os.getpid()
