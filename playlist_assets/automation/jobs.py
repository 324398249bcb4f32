"""Keeping the library current from the UI: a refresh schedule and a sensor that follows it.

The schedule (off by default) lands the library again; the sensor then adds a partition for
every new playlist, removes those of deleted playlists, and requests a run for exactly the
playlists whose snapshot, contents (or this code) changed since their report was written.
"""

import hashlib
from pathlib import Path

import dagster as dg

from playlist_assets.automation import planning
from playlist_assets.warehouse import queries
from playlist_assets.partitions import PLAYLISTS, keys_by_id, range_tags
from playlist_assets.reports.report_assets import CODE_VERSION
from playlist_assets.runtime.resources import ReportsResource, WarehouseResource
from playlist_assets.features.snapshot_assets import PLAYLIST_SNAPSHOTS, recorded_versions
from playlist_assets.warehouse.database import WarehouseBusyError

PER_PLAYLIST = (
    dg.AssetSelection.all()
    - dg.AssetSelection.groups("raw", "features")
    - dg.AssetSelection.assets(["reports", "index"], ["reports", "sql_views"])
)
LIBRARY_WIDE = dg.AssetSelection.assets(["reports", "index"], ["reports", "sql_views"])

# The library-wide tables; the refresh records the playlist snapshots itself (features/feature_assets.py).
LANDING = dg.AssetSelection.groups("raw", "features") - dg.AssetSelection.assets(["features", "playlist_snapshots"])

refresh_library = dg.define_asset_job(
    "refresh_library",
    selection=LANDING,
    description="Land the library again from the configured source, and its feature table.",
)
playlist_reports = dg.define_asset_job(
    "playlist_reports",
    # The index and the views come in the same run: a run of their own cost the UI a sensor
    # tick and a run process (~4 s each) after every refresh.
    selection=PER_PLAYLIST | LIBRARY_WIDE,
    description=(
        "Cluster the chosen playlists (a range of partitions) and write their plots, reports and "
        "lineage; then the index of all reports and the SQL views."
    ),
)


reports_index_job = dg.define_asset_job(
    "reports_index", selection=LIBRARY_WIDE, description="The index of all reports, and the SQL views."
)

daily_refresh = dg.ScheduleDefinition(
    name="daily_library_refresh",
    job=refresh_library,
    cron_schedule="0 6 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every morning, read the library again (off until you turn it on).",
)


@dg.sensor(
    name="playlists_follow_the_library",
    jobs=[playlist_reports, reports_index_job],
    # Often enough that a refresh launched from the UI is followed within seconds; a quiet
    # tick is a few queries and a look at the report files.
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Adds a partition for each new playlist and deletes those of removed playlists; requests "
        "report runs for the playlists whose report is missing or older than their contents, "
        "snapshot or report code, or whose report files no longer match their lineage (a run "
        "killed while writing); then rebuilds the index. Each tick says what it found."
    ),
)
def playlists_follow_the_library(
    context: dg.SensorEvaluationContext, warehouse_db: WarehouseResource, reports: ReportsResource
):
    if not Path(warehouse_db.path).exists():
        return dg.SkipReason("No library landed yet: materialize the raw group first.")
    try:
        with warehouse_db.connect(read_only=True) as conn:
            if not queries.raw_tables_exist(conn):
                return dg.SkipReason("No library landed yet: materialize the raw group first.")
            snapshots = queries.playlist_snapshots(conn)
            playlists = queries.all_playlists(conn).rows()
            key_of = keys_by_id(playlists)
            versions = recorded_versions(context.instance, key_of)
            # Missing or outdated reports, and files a killed run left unlike their lineage.
            stale = planning.playlists_to_rebuild(conn, CODE_VERSION, versions, Path(reports.path))
            # Clusters saved to Spotify since their report (stale too: it links to them).
            saved = queries.saves_after_reports(conn)
            orphans = queries.reports_of_removed_playlists(conn)
            latest_report = queries.latest_report_time(conn)
    except WarehouseBusyError:
        return dg.SkipReason("The warehouse is busy (a run is writing); trying again shortly.")

    known = context.instance.get_dynamic_partitions(PLAYLISTS.name)
    id_of = {key: playlist_id for playlist_id, key in key_of.items()}
    new = sorted(set(id_of) - set(known))
    gone = sorted(set(known) - set(id_of))
    # One run per stretch of stale partitions (a single-run backfill), not one run per
    # playlist: a fresh library of a thousand playlists is one run, not a thousand.
    ordered = [k for k in known if k in id_of] + new
    requests = []
    latest = next(iter(context.instance.fetch_materializations(PLAYLIST_SNAPSHOTS.key, limit=1).records), None)
    recorded_at = latest.storage_id if latest else 0
    runs = planning.report_runs(ordered, {key_of[p] for p in stale})
    if stale:
        name_of = dict(playlists)
        names = sorted(name_of.get(p) or p for p in stale)
        context.log.info(
            f"{len(stale)} report(s) to rebuild ({', '.join(names[:10])}{', ...' if len(names) > 10 else ''}) "
            f"in {len(runs)} run(s)."
        )
    per_playlist = list(PER_PLAYLIST.resolve(context.repository_def.asset_graph)) if len(runs) > 1 else None
    for i, (first, last) in enumerate(runs):
        chosen = [id_of[k] for k in ordered[ordered.index(first) : ordered.index(last) + 1]]
        # The run key ties the request to the snapshots and contents it builds, to the landing
        # that recorded them (a playlist edited back to a state built before is built again),
        # and a repair to the run whose files it replaces: a change is never built twice, a
        # failed repair not retried for ever.
        version = hashlib.sha256(
            "".join(f"{k}@{snapshots[k]}/{versions.get(k)}/{stale.get(k, '')}{saved.get(k, '')};" for k in chosen).encode()
            + f"{CODE_VERSION}@{recorded_at}".encode()
        ).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                job_name=playlist_reports.name,
                run_key=f"{first}..{last}@{version}",
                tags=range_tags(first, last),
                # The index and views once, in the last run: they cover every playlist.
                asset_selection=None if i == len(runs) - 1 else per_playlist,
            )
        )
    index = context.instance.get_latest_materialization_event(dg.AssetKey(["reports", "index"]))
    index_time = index.timestamp if index else 0.0
    newer_reports = latest_report is not None and latest_report.timestamp() > index_time
    if not stale and (orphans or newer_reports):
        # Once every report is current: rebuild the index, which also drops the rows and
        # files of playlists that left the library.
        key = f"index@{latest_report.isoformat() if latest_report else ''}@{','.join(orphans)}"
        requests.append(dg.RunRequest(job_name=reports_index_job.name, run_key=key))
    partition_requests = []
    if new:
        partition_requests.append(PLAYLISTS.build_add_request(new))
    if gone:
        partition_requests.append(PLAYLISTS.build_delete_request(gone))
    skip = None
    if not requests:
        # Said in the sensor's tick history, so "nothing happened" reads as a finding.
        skip = f"All {len(snapshots)} reports are current; the index too."
    return dg.SensorResult(
        run_requests=requests, dynamic_partitions_requests=partition_requests, skip_reason=skip
    )
