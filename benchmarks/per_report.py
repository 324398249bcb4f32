"""The cost of one playlist's report, part by part, measured in-process on a built warehouse.

Calls the same pure functions the Dagster assets call (queries -> analysis / report_data ->
reporting), over a sample of playlists at once as the pipeline does, and divides by the number
of playlists: an amortized cost per report, without Dagster, process start or file writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from playlist_assets.clustering import analysis
from playlist_assets.reports import report_data
from playlist_assets.runtime import parallel
from playlist_assets.warehouse import queries
from playlist_assets.reports.markdown import render_report
from playlist_assets.reports.model import PlaylistReport, ScatterInput
from playlist_assets.reports.paths import report_path
from playlist_assets.reports.scatter import render_scatter
from playlist_assets.reports.slugs import assign_slugs

CLUSTERING, PNG, MARKDOWN = "clustering", "png", "markdown"
# Enough playlists that the one-off costs of a first call (font loading, BLAS start-up) are
# paid before timing, and that at least one of them is clustered and so has a plot.
WARM_UP_PLAYLISTS = 3

Built = list[tuple[PlaylistReport, ScatterInput | None]]


@dataclass
class Stopwatch:
    seconds: dict[str, float] = field(default_factory=dict)
    # CPU time of this process, next to wall time: on a busy machine wall time also counts the
    # time other processes held the CPU, CPU time does not.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + time.process_time() - cpu_started


@dataclass(frozen=True)
class Measured:
    playlists: int  # how many playlists the seconds were spent on
    seconds: dict[str, float]  # part -> total wall seconds over all `playlists`
    cpu_seconds: dict[str, float]  # part -> total CPU seconds of this process

    def ms_per_playlist(self) -> dict[str, float]:
        return {part: 1000 * s / self.playlists for part, s in self.seconds.items()}

    def cpu_ms_per_playlist(self) -> dict[str, float]:
        return {part: 1000 * s / self.playlists for part, s in self.cpu_seconds.items()}

    def total_ms_per_playlist(self) -> float:
        return sum(self.ms_per_playlist().values())


@dataclass(frozen=True)
class NewWayOutput:
    measured: Measured
    built: Built  # the report data, handed to the old way so both render the same input
    markdown: list[str]


def sample_playlists(conn: duckdb.DuckDBPyConnection, wanted: int) -> list[str]:
    """Up to `wanted` playlist ids spread evenly over the library (not only its first ones)."""
    ids = queries.playlist_ids(conn)
    if wanted >= len(ids):
        return ids
    step = len(ids) / wanted
    return [ids[int(i * step)] for i in range(wanted)]


def slugs_of_library(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    # As the report assets do: a slug depends on every playlist's name, not only the sampled ones.
    return assign_slugs(queries.all_playlists(conn).rows())


def _new_way(conn: duckdb.DuckDBPyConnection, ids: list[str], code_version: str) -> NewWayOutput:
    watch = Stopwatch()
    with watch.part(CLUSTERING):
        inputs = queries.clustering_inputs(conn, ids)
        analysis.cluster_library(inputs.playlists, inputs.entries, inputs.features)
    with watch.part(MARKDOWN):
        report_inputs = queries.report_inputs(conn, ids)
        built = report_data.build_reports(report_inputs, slugs_of_library(conn), code_version)
        markdown = [render_report(report) for report, _ in built]
    with watch.part(PNG):
        for _, scatter in built:
            if scatter is not None:
                render_scatter(scatter)
    return NewWayOutput(Measured(len(ids), watch.seconds, watch.cpu_seconds), built, markdown)


def _on_all_cores(
    conn: duckdb.DuckDBPyConnection, ids: list[str], code_version: str, pool: parallel.WorkerPool
) -> Measured:
    # As the pipeline runs a large library: clustering and plots in one worker process per core.
    watch = Stopwatch()
    with watch.part(CLUSTERING):
        inputs = queries.clustering_inputs(conn, ids)
        analysis.cluster_library(inputs.playlists, inputs.entries, inputs.features, pool)
    with watch.part(MARKDOWN):
        built = report_data.build_reports(queries.report_inputs(conn, ids), slugs_of_library(conn), code_version)
        for report, _ in built:
            render_report(report)
    with watch.part(PNG):
        pool.map(render_scatter, [scatter for _, scatter in built if scatter is not None])
    return Measured(len(ids), watch.seconds, watch.cpu_seconds)


def measure_on_all_cores(conn: duckdb.DuckDBPyConnection, ids: list[str], code_version: str) -> Measured | None:
    """The same work on every core, wall time per playlist; None when `ids` are too few for workers.

    Timed after an untimed first pass that starts the workers: a run pays that start once.
    """
    if parallel.worker_count(0, len(ids)) < 2:
        return None
    with parallel.WorkerPool(0) as pool:
        _on_all_cores(conn, ids, code_version, pool)
        return _on_all_cores(conn, ids, code_version, pool)


def measure_new_way(conn: duckdb.DuckDBPyConnection, ids: list[str], code_version: str) -> NewWayOutput:
    """Clustering, PNG and Markdown of `ids`, timed after an untimed warm-up."""
    _new_way(conn, ids[:WARM_UP_PLAYLISTS], code_version)
    return _new_way(conn, ids, code_version)


def same_as_pipeline(reports_root: Path, output: NewWayOutput) -> int:
    """How many rendered reports equal, byte for byte, the file the pipeline wrote.

    A check that the benchmark measured the pipeline's own work, not something near it.
    """
    same = 0
    for (report, _), text in zip(output.built, output.markdown):
        path = reports_root / report_path(report.slug)
        same += path.is_file() and path.read_text(encoding="utf-8") == text
    return same
