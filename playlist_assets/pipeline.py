"""Materialize the whole graph, every playlist, in one process, on the persistent instance.

Three runs, because playlist partitions only exist once the raw library has landed:
1. the library (raw.*) and the feature table; 2. every playlist partition as one ranged run
(clusters, plot, report, lineage); 3. the index of all reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from playlist_assets.assets.partitions import PLAYLISTS
from playlist_assets.definitions import ASSETS, resources_for
from playlist_assets.settings import Settings
from playlist_assets.warehouse import connect, scalar

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
STAGES = {
    "raw_library": "land the library in raw.*",
    "track_features": "features.track_features",
    "playlist_clustering": "cluster every playlist",
    "reports__clusters_scatter": "scatter plots (PNG)",
    "reports__overview": "reports (Markdown)",
    "cluster_reports": "lineage (analytics.cluster_reports)",
    "reports__index": "index (reports/README.md)",
    "analytics__views": "SQL views (analytics.*)",
}


class PipelineError(RuntimeError):
    pass


USER_ERRORS = {"SourceError", "SpotifyError", "WarehouseBusyError"}


@dataclass
class Summary:
    settings: Settings
    playlists: int = 0
    clustered: int = 0
    run_ids: list[str] = field(default_factory=list)

    def render(self, seconds: float) -> str:
        s = self.settings
        return "\n".join(
            [
                "",
                f"Done in {seconds:.1f} s: {self.playlists} playlists, {self.clustered} with clusters.",
                f"  Reports:   {s.reports / 'README.md'} (one overview.md and clusters_scatter.png per playlist)",
                f"  Warehouse: {s.warehouse}",
                f"  Runs:      {', '.join(self.run_ids)} in {s.dagster_home}",
                "  Open the UI on the same run history:  make dev   (then http://127.0.0.1:3000)",
                f"  Ask the warehouse in SQL:  duckdb -readonly {s.warehouse} \\",
                "    \"SELECT playlist_id, k, silhouette, report_path FROM analytics.cluster_reports\"",
            ]
        )


def _run(instance, settings, selection, echo, verbose, tags=None) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        ASSETS,
        selection=selection,
        instance=instance,
        resources=resources_for(settings),
        run_config=None if verbose else QUIET,
        raise_on_error=False,
        tags=tags,
    )
    for event in result.get_step_success_events():
        seconds = event.event_specific_data.duration_ms / 1000
        echo(f"  ok  {STAGES.get(event.step_key, event.step_key):<42} {seconds:6.2f} s")
    if not result.success:
        failure = next(iter(result.get_step_failure_events()), None)
        if failure is None:
            raise PipelineError(f"run {result.run_id} failed; see its logs in the Dagster UI.")
        raise PipelineError(
            f"{STAGES.get(failure.step_key, failure.step_key)} failed: "
            f"{_root_cause(failure.event_specific_data.error)} (run {result.run_id})"
        )
    return result


def _root_cause(error) -> str:
    """The innermost error's message: the sentence our own code wrote, not Dagster's wrapper."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    # Errors a user can cause already read as a sentence; the class name adds nothing for them.
    if error.cls_name in USER_ERRORS and message.startswith(f"{error.cls_name}: "):
        message = message.removeprefix(f"{error.cls_name}: ")
    return message


def materialize_everything(
    settings: Settings,
    echo: Callable[[str], None] = print,
    verbose: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> Summary:
    """Run the whole graph; `instance` defaults to the one DAGSTER_HOME points at."""
    instance = instance or dg.DagsterInstance.get()
    summary = Summary(settings)
    echo(f"Building playlist reports from the {settings.source} library")

    first = _run(instance, settings, dg.AssetSelection.groups("raw", "features"), echo, verbose)
    summary.run_ids.append(first.run_id)

    with connect(settings.warehouse, wait_s=settings.lock_wait_s) as conn:
        ids = [r[0] for r in conn.execute("SELECT playlist_id FROM raw.playlists").fetchall()]
    keys = [k for k in instance.get_dynamic_partitions(PLAYLISTS.name) if k in set(ids)]
    summary.playlists = len(keys)
    if keys:
        # One ranged run over every playlist partition (BackfillPolicy.single_run in spirit).
        partitioned = dg.AssetSelection.all() - dg.AssetSelection.assets(
            ["reports", "index"], ["analytics", "views"]
        ) - dg.AssetSelection.groups("raw", "features")
        ranged = _run(
            instance,
            settings,
            partitioned,
            echo,
            verbose,
            tags={
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            },
        )
        summary.run_ids.append(ranged.run_id)

    last = _run(
        instance, settings, dg.AssetSelection.assets(["reports", "index"], ["analytics", "views"]), echo, verbose
    )
    summary.run_ids.append(last.run_id)
    with connect(settings.warehouse, wait_s=settings.lock_wait_s) as conn:
        summary.clustered = scalar(conn, "SELECT count(*) FROM analytics.playlist_clusterings WHERE clustered")
    return summary
