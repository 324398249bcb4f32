"""One step writes a playlist's files and their lineage: its Track Features page, its scatter
plot, its report, and its row in analytics.cluster_reports.

They are four assets in the UI (each with its own code version, metadata and history) but one
step in a run: the four read the same playlists, clusters and tracks, and a run over a few
playlists was mostly Dagster's cost of starting, recording and ending four steps (the command
line's refresh of five scattered playlists is five runs, since a run covers one range of
partitions). Choosing some of the four in the UI writes only those.
"""

import time
from pathlib import Path

import dagster as dg

from playlist_assets.partitions import PER_PLAYLIST, WAREHOUSE_POOL, playlists_of_run
from playlist_assets.features.snapshot_assets import recorded_versions_by_key
from playlist_assets.reports import feature_page_assets, lineage_assets, report_assets, report_data
from playlist_assets.reports.slugs import assign_slugs
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.runtime.resources import ReportsResource, WarehouseResource
from playlist_assets.warehouse import queries
from playlist_assets.warehouse.table_metadata import add_partition_metadata

PAGE, SCATTER, OVERVIEW, LINEAGE = (
    feature_page_assets.TRACK_FEATURES_KEY,
    report_assets.SCATTER_KEY,
    report_assets.OVERVIEW_KEY,
    lineage_assets.LINEAGE_KEY,
)


@dg.multi_asset(
    # In the order they are written: the report links its plot and page, the lineage hashes all three.
    specs=[
        feature_page_assets.TRACK_FEATURES_SPEC,
        report_assets.SCATTER_SPEC,
        report_assets.OVERVIEW_SPEC,
        lineage_assets.LINEAGE_SPEC,
    ],
    check_specs=[report_assets.LINKS_RESOLVE],
    can_subset=True,
    pool=WAREHOUSE_POOL,
    name="report_files",
    description="Each playlist's Track Features page, scatter plot and report, then their lineage.",
    **PER_PLAYLIST,
)
def report_files(
    context: dg.AssetExecutionContext,
    warehouse_db: WarehouseResource,
    reports: ReportsResource,
    workers: dg.ResourceParam[WorkerPool],
):
    # A large run leaves the warehouse free while it draws; it opens it again for the lineage.
    with warehouse_db.held_for_small_run(len(context.partition_keys)):
        yield from _write_report_files(context, warehouse_db, reports, workers)


def _write_report_files(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, reports: ReportsResource, workers: WorkerPool
):
    root = Path(reports.path)
    wanted = context.selected_asset_keys
    with warehouse_db.connect() as conn:
        playlists = queries.all_playlists(conn)
        rows = playlists.rows()
        run = playlists_of_run(context.partition_keys, rows)
        ids = list(run.values())
        # Slugs depend on every playlist's name (to keep colliding names apart), not only this run's.
        slugs = assign_slugs(rows)
        pages = (
            feature_page_assets.read_pages(context.instance, warehouse_db.path, conn, playlists, ids, slugs)
            if PAGE in wanted
            else []
        )
        inputs = queries.report_inputs(conn, ids) if {SCATTER, OVERVIEW} & wanted else None
    key_of = {playlist_id: key for key, playlist_id in run.items()}
    built = report_data.build_reports(inputs, slugs, report_assets.CODE_VERSION, SCATTER in wanted) if inputs is not None else []
    # Each playlist's own recorded version: Dagster's input data version of a ranged run
    # combines every partition of the range.
    versions = recorded_versions_by_key(context.instance)

    # In a large run every page, plot and report goes to the workers now, and the files are
    # written in order as they come back: writing overlaps with drawing, and no worker waits
    # for the next kind (a small run's batches go to a worker one by one, as they are read).
    page_files = feature_page_assets.render_pages(pages, workers) if PAGE in wanted else None
    plots = report_assets.draw_scatters(built, workers) if SCATTER in wanted else None
    texts = report_assets.render_overviews(built, workers) if OVERVIEW in wanted else None

    # Each asset is recorded as soon as its files are written, so a part that fails leaves the
    # ones before it recorded (the ones after it are not written: one step, one failure). The
    # step's log says what each part took (one line: the run's timeline shows one step).
    took = _Stopwatch()
    if PAGE in wanted:
        add_partition_metadata(context, feature_page_assets.write_pages(root, pages, page_files, key_of))
        took.lap(f"{len(pages)} Track Features pages")
        yield dg.MaterializeResult(asset_key=PAGE)
    if SCATTER in wanted:
        add_partition_metadata(context, report_assets.write_scatters(root, built, plots, key_of))
        took.lap(f"{sum(1 for _, s in built if s is not None)} plots")
        yield dg.MaterializeResult(asset_key=SCATTER)
    links_hold = True
    if OVERVIEW in wanted:
        written, links = report_assets.write_overviews(root, built, texts, key_of, versions)
        add_partition_metadata(context, written)
        checked = report_assets.LINKS_RESOLVE.key in context.selected_asset_check_keys
        # The check is blocking: reports with a broken link get no lineage row, as when the
        # lineage was a step of its own that Dagster skipped after the failed check.
        links_hold = links.passed or not checked
        took.lap(f"{len(built)} reports")
        yield dg.MaterializeResult(asset_key=OVERVIEW, check_results=[links] if checked else None)
    if LINEAGE in wanted and links_hold:
        with warehouse_db.connect() as conn:
            lineage = lineage_assets.write_lineage(
                conn, root, context.run.run_id, run, slugs,
                {pid: versions[key] for key, pid in run.items() if key in versions}, context.log.info,
            )
        add_partition_metadata(context, lineage)
        took.lap(f"{len(lineage)} lineage rows")
        yield dg.MaterializeResult(asset_key=LINEAGE)
    context.log.info(f"Written: {took}.")


class _Stopwatch:
    """Seconds between laps, read as "5 plots in 0.31 s, 5 reports in 0.12 s"."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._laps: list[str] = []

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        self._laps.append(f"{what} in {now - self._last:.2f} s")
        self._last = now

    def __str__(self) -> str:
        return ", ".join(self._laps) or "nothing"
