"""Materialize the whole graph, every playlist, in one process, on the persistent instance.

It runs the jobs the UI offers, in the order the sensor would: `refresh_library` (raw.* and the
feature table: playlist partitions exist only once the library has landed); `playlist_reports`
over as few ranged runs as possible (one for the whole library, or with `changed_only` the runs
planning.report_runs plans for the playlists whose snapshot, contents or code changed, as the
sensor does), each ending with the index and the SQL views; `reports_index` alone
when no playlist needs a new report (it still drops the reports of removed playlists).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from playlist_assets.automation import planning
from playlist_assets.runtime import owned_runs, parallel
from playlist_assets.warehouse import queries, tables
from playlist_assets.automation.jobs import PER_PLAYLIST, playlist_reports, refresh_library, reports_index_job
from playlist_assets.partitions import PLAYLISTS, WAREHOUSE_POOL, keys_by_id, range_tags
from playlist_assets.reports.report_assets import CODE_VERSION
from playlist_assets.features.snapshot_assets import recorded_versions
from playlist_assets.runtime.resources import WORKER_MODULES, WORKERS_WITHOUT
from playlist_assets.definitions import build_definitions
from playlist_assets.runtime.settings import Settings
from playlist_assets.warehouse.database import connect, existing_columns, scalar

# The terminal shows our own lines and, for a failure, one sentence (PipelineError); Dagster's
# log lines and tracebacks stay in the run's event log (the UI shows them) or show with -v.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
STAGES = {
    "raw_library": "land the library in raw.*",
    "track_features": "features.track_features",
    "playlist_clustering": "cluster every playlist",
    "report_files": "pages, plots, reports and their lineage",
    "reports__index": "index (reports/README.md)",
    "reports__sql_views": "SQL views (analytics.*)",
}


class PipelineError(RuntimeError):
    pass


USER_ERRORS = {"SourceError", "SpotifyError", "WarehouseBusyError", "WarehouseUnusableError"}


@dataclass
class Summary:
    settings: Settings
    playlists: int = 0
    clustered: int = 0
    rebuilt: int = 0
    run_ids: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # (file, reason) of each input file the landing left out (raw.refused_files).
    refused: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self, seconds: float) -> dict:
        return {
            "seconds": round(seconds, 3),
            "playlists": self.playlists,
            "rebuilt": self.rebuilt,
            "clustered": self.clustered,
            "runs": len(self.run_ids),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "refused_files": [{"file": f, "reason": r} for f, r in self.refused],
        }

    def render(self, seconds: float) -> str:
        s = self.settings
        refused = []
        if self.refused:
            refused.append(
                f"  Refused:   {len(self.refused)} input file(s) left out, the others imported; "
                "fix or remove them and run again:"
            )
            refused += [f"    - {reason}" for _, reason in self.refused]
        return "\n".join(
            [
                "",
                f"Done in {seconds:.1f} s: {self.playlists} playlists ({self.rebuilt} rebuilt), "
                f"{self.clustered} with clusters.",
                *refused,
                f"  Reports:   {s.reports / 'README.md'} (per playlist: overview.md, clusters_scatter.png, track_features.md and its PNG)",
                f"  Warehouse: {s.warehouse}",
                f"  Runs:      {', '.join(self.run_ids)} in {s.dagster_home}",
                "  Open the UI on the same run history:  make dev   (then http://127.0.0.1:3000)",
                "  Ask the warehouse in SQL (or open it with `duckdb -readonly`):",
                f"    playlist-assets sql --warehouse {s.warehouse} \\",
                "      \"SELECT name, k, silhouette, report_path FROM analytics.playlist_summary ORDER BY name\"",
            ]
        )


def _run(instance, settings, job: dg.JobDefinition, echo, verbose, summary, tags=None, assets=None) -> dg.ExecuteInProcessResult:
    # A run waiting inside Dagster for the writer slot says nothing, and a slot left claimed by
    # a killed process would never come back: both are settled here, before the run starts.
    try:
        owned_runs.wait_for_slot(instance, WAREHOUSE_POOL, settings.lock_wait_s, echo)
    except owned_runs.SlotBusyError as error:
        raise PipelineError(str(error)) from None
    # The UI's own jobs, so the run history shows which job built what, whoever launched it.
    result = job.execute_in_process(
        instance=instance,
        run_config=None if verbose else QUIET,
        raise_on_error=False,
        tags={**(tags or {}), **owned_runs.owner_tags()},
        asset_selection=assets,
    )
    for event in result.get_step_success_events():
        seconds = event.event_specific_data.duration_ms / 1000
        stage = STAGES.get(event.step_key, event.step_key)
        summary.stage_seconds[event.step_key] = summary.stage_seconds.get(event.step_key, 0.0) + seconds
        echo(f"  ok  {stage:<42} {seconds:6.2f} s")
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
    """The sentence our own code wrote, not Dagster's wrapper: the outermost error a user can
    cause (its own cause is detail), else the innermost error's message."""
    while error.cls_name not in USER_ERRORS and error.cause is not None:
        error = error.cause
    message = error.message.strip()
    # Errors a user can cause already read as a sentence; the class name adds nothing for them.
    if error.cls_name in USER_ERRORS:
        message = re.sub(rf"^[\w.]*{error.cls_name}: ", "", message)
    return message


def materialize_everything(
    settings: Settings,
    echo: Callable[[str], None] = print,
    verbose: bool = False,
    instance: dg.DagsterInstance | None = None,
    changed_only: bool = False,
) -> Summary:
    """Run the whole graph; `instance` defaults to the one DAGSTER_HOME points at.

    With `changed_only`, playlists whose report already describes their current snapshot with
    the current code are left alone.
    """
    if instance is None:
        # The instance this opens is closed with the command: its event log's files are left
        # complete (each file's WAL moved into it), not for the next reader to recover.
        with dg.DagsterInstance.get() as owned:
            return materialize_everything(settings, echo, verbose, owned, changed_only)
    with parallel.WorkerPool(settings.workers, preload=WORKER_MODULES, absent=WORKERS_WITHOUT) as pool:
        return _materialize(settings, echo, verbose, instance, changed_only, pool)


def _materialize(settings, echo, verbose, instance, changed_only, pool: parallel.WorkerPool) -> Summary:
    summary = Summary(settings)
    echo(f"Building playlist reports from the {settings.source} library")
    # This process's pool serves every run, so workers started ahead are used by them all.
    jobs = build_definitions(settings, workers=pool)
    run = lambda job, tags=None, assets=None: _run(  # noqa: E731
        instance, settings, jobs.resolve_job_def(job.name), echo, verbose, summary, tags, assets
    )
    # Every refresh clusters and draws something, if only the changed playlists: importing
    # scikit-learn and matplotlib here would add 2-3 s to even the smallest one. One worker
    # imports them while the library lands; the others start once there is work for them.
    pool.start(processes=1)

    summary.run_ids.append(run(refresh_library).run_id)
    with connect(settings.warehouse, wait_s=settings.lock_wait_s) as conn:
        summary.refused = _refused_files(conn)
        key_of = keys_by_id(queries.all_playlists(conn).iter_rows())
        current = set(key_of)
        wanted = current
        if changed_only:
            wanted = set(planning.playlists_to_rebuild(conn, CODE_VERSION, recorded_versions(instance, key_of), settings.reports))
    current_keys = set(key_of.values())
    keys = [k for k in instance.get_dynamic_partitions(PLAYLISTS.name) if k in current_keys]
    summary.playlists = len(keys)
    summary.rebuilt = len(wanted & current)
    if parallel.worker_count(settings.workers, summary.rebuilt) > 1:
        pool.start()
    stretches = planning.report_runs(keys, {key_of[p] for p in wanted & current}) if changed_only else [(keys[0], keys[-1])] if keys else []
    # Only the last run ends with the index and the views: they cover every playlist.
    per_playlist = list(PER_PLAYLIST.resolve(jobs.resolve_asset_graph()))
    for i, (first, last) in enumerate(stretches):
        assets = None if i == len(stretches) - 1 else per_playlist
        summary.run_ids.append(run(playlist_reports, range_tags(first, last), assets).run_id)
    if not stretches:  # nothing to rebuild: the index still drops removed playlists
        summary.run_ids.append(run(reports_index_job).run_id)
    with connect(settings.warehouse, wait_s=settings.lock_wait_s) as conn:
        summary.clustered = scalar(conn, "SELECT count(*) FROM analytics.playlist_clusterings WHERE clustered")
    return summary


def _refused_files(conn) -> list[tuple[str, str]]:
    """The input files the landing just left out, with their reasons (none for most sources)."""
    table = tables.RAW_REFUSED_FILES
    if existing_columns(conn, table) is None:
        return []
    return conn.execute(f"SELECT file, reason FROM {table.qualified_name} ORDER BY file").fetchall()
