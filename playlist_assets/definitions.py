"""The one place that wires assets and resources into Dagster definitions."""

from __future__ import annotations

import dagster as dg

from playlist_assets.automation.jobs import (
    daily_refresh,
    playlist_reports,
    playlists_follow_the_library,
    refresh_library,
    reports_index_job,
)
from playlist_assets.clustering.clustering_assets import playlist_clustering
from playlist_assets.features.feature_assets import track_features
from playlist_assets.ingest.landing_assets import raw_library
from playlist_assets.reports.lineage_assets import reports_index
from playlist_assets.reports.report_files_assets import report_files
from playlist_assets.reports.saving_assets import save_clusters_to_spotify
from playlist_assets.features.snapshot_assets import playlist_snapshots
from playlist_assets.warehouse.view_assets import warehouse_views
from playlist_assets.runtime.resources import LibrarySource, ReportsResource, WarehouseResource, WorkersResource
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.runtime.settings import Settings

ASSETS = [raw_library, track_features, playlist_snapshots, playlist_clustering, report_files, reports_index, warehouse_views]


def resources_for(settings: Settings, workers: WorkerPool | None = None) -> dict:
    """The resources of `settings`; `workers`, a pool its caller owns, instead of one per step."""
    return {
        "warehouse_db": WarehouseResource(path=str(settings.warehouse), lock_wait_s=settings.lock_wait_s),
        "reports": ReportsResource(path=str(settings.reports)),
        "workers": workers if workers is not None else WorkersResource(processes=settings.workers),
        # The same library the CLI reads ahead (sources.offline), field for field.
        "source": LibrarySource.of(settings.offline_library()),
    }


def build_definitions(settings: Settings, workers: WorkerPool | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        jobs=[refresh_library, playlist_reports, reports_index_job, save_clusters_to_spotify],
        schedules=[daily_refresh],
        sensors=[playlists_follow_the_library],
        resources=resources_for(settings, workers),
        # Every job runs its steps in the run's own process: a process per step re-imported
        # Dagster and the project for each (seconds a step), and per-playlist work already
        # spreads over the cores through the worker pool.
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
