"""features/playlist_snapshots: each playlist's contents as a data version, one partition each.

Depending on the library-wide tables would tie every playlist partition to every landing;
depending on this asset's partition of the same key ties each one to its own playlist. And as
this asset depends on the landing, every launch from the UI (Materialize all, a backfill, a
job) runs the landing first and the per-playlist assets after it.

Dagster gives every partition of a ranged run the same data version, so the partitions are
recorded here one by one, each with its playlist's own version (and the input versions Dagster
writes on its own materializations, so staleness reads them as usual). An unchanged playlist
keeps its version: its reports stay in sync. A run of this asset itself (a backfill, "Materialize
all") records each partition twice: Dagster's materialization of the range, which the steps after
it wait for, then the playlist's own version, which is the latest and the one staleness reads.
"""

from collections.abc import Mapping

import dagster as dg

from playlist_assets.warehouse import queries, tables
from playlist_assets.partitions import PLAYLISTS, WAREHOUSE_POOL, keys_by_id, playlists_of_run
from playlist_assets.runtime.resources import WarehouseResource
from playlist_assets.runtime.event_log import (
    DATA_VERSION_TAG,
    log_materializations_as_one_batch,
    provenance_tags,
    user_data_version_tags,
)

# What a playlist snapshot covers (queries.playlist_versions); bumping it makes every playlist unsynced.
# v2: partitions keyed by the name as it reads: every report rebuilt once under its new key.
# v3: entries and tracks digested by DuckDB's hash (faster): every playlist rebuilt once.
SNAPSHOT_CODE_VERSION = "playlist-snapshots-v3"

# Everything the per-playlist assets read; see queries.playlist_versions.
SNAPSHOT_SOURCES = [
    dg.AssetKey([t.schema, t.name])
    for t in (
        tables.RAW_PLAYLISTS,
        tables.RAW_PLAYLIST_TRACKS,
        tables.RAW_TRACKS,
        tables.RAW_TRACK_ARTISTS,
        tables.RAW_ALBUMS,
        tables.RAW_ARTISTS,
        tables.RAW_LIKED_TRACKS,
        tables.RAW_LISTENING,
        tables.FEATURES_TRACK_FEATURES,
    )
]

PLAYLIST_SNAPSHOTS = dg.AssetSpec(
    key=["features", "playlist_snapshots"],
    deps=SNAPSHOT_SOURCES,
    partitions_def=PLAYLISTS,
    group_name="features",
    kinds={"duckdb"},
    code_version=SNAPSHOT_CODE_VERSION,
    description=(
        "Each playlist as its clusters and report read it: its entries, their tracks' names, "
        "album, artists, score, liked flag and features. Not a table: one data version per "
        "playlist. The library refresh records the playlists that changed, so after a refresh "
        "exactly their reports are unsynced."
    ),
)


@dg.multi_asset(
    specs=[PLAYLIST_SNAPSHOTS],
    partitions_def=PLAYLISTS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    name="playlist_snapshots",
)
def playlist_snapshots(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource):
    """Record the version of each playlist of the run (changed or not): what a backfill or
    "Materialize all" asks of it. The library refresh records changed playlists by itself."""
    with warehouse_db.connect() as conn:
        playlists = queries.all_playlists(conn).rows()
        run = playlists_of_run(context.partition_keys, playlists)
        versions = queries.playlist_versions(conn, SNAPSHOT_CODE_VERSION)
    names = dict(playlists)
    yield dg.MaterializeResult(metadata={"playlists": len(run)})
    # After Dagster's own materialization, so that each playlist's version is the latest record.
    record(context, {key: (versions[pid], names[pid]) for key, pid in run.items()}, only_changed=False)


def recorded_versions_by_key(instance: dg.DagsterInstance) -> dict[str, str]:
    """The latest recorded version of each playlist partition, by partition key."""
    # One query for the latest version of every partition, instead of one per playlist.
    tags = instance.event_log_storage.get_latest_tags_by_partition(
        PLAYLIST_SNAPSHOTS.key, dg.DagsterEventType.ASSET_MATERIALIZATION, [DATA_VERSION_TAG]
    )
    return {key: t[DATA_VERSION_TAG] for key, t in tags.items() if DATA_VERSION_TAG in t}


def recorded_versions(instance: dg.DagsterInstance, keys: Mapping[str, str]) -> dict[str, str]:
    """The latest recorded version of each playlist (none before its first refresh), by
    playlist_id; `keys` maps each playlist_id to its partition key (partitions.keys_by_id)."""
    by_key = recorded_versions_by_key(instance)
    return {playlist_id: by_key[key] for playlist_id, key in keys.items() if key in by_key}


def _last_inputs(instance: dg.DagsterInstance, tag_keys) -> dict[str, str] | None:
    """The input-version tags (`tag_keys`) of the latest snapshot recorded, if any."""
    record = next(iter(instance.fetch_materializations(PLAYLIST_SNAPSHOTS.key, limit=1).records), None)
    if record is None:
        return None
    tags = record.asset_materialization.tags or {}
    return {k: v for k, v in tags.items() if k in tag_keys}


def record_changed_versions(context: dg.AssetExecutionContext, conn) -> int:
    """Record the playlists whose version (or whose inputs' versions) differ from the last ones
    recorded; return how many. Called by the library refresh once the feature table is stored."""
    versions = queries.playlist_versions(conn, SNAPSHOT_CODE_VERSION)
    playlists = queries.all_playlists(conn).rows()
    keys = keys_by_id(playlists)
    partitions = set(context.instance.get_dynamic_partitions(PLAYLISTS.name))
    names = dict(playlists)
    wanted = {keys[pid]: (version, names[pid]) for pid, version in versions.items() if keys[pid] in partitions}
    return record(context, wanted, only_changed=True)


def record(context: dg.AssetExecutionContext, versions: Mapping[str, tuple[str, str | None]], only_changed: bool) -> int:
    """Materialize the snapshot of each partition key in `versions` (key -> (version, name)),
    with the tags Dagster would write; with `only_changed`, only where what staleness compares
    (the version, the code version, the inputs' versions) differs from the last record."""
    inputs, pointers = provenance_tags(context.instance, SNAPSHOT_CODE_VERSION, SNAPSHOT_SOURCES)
    recorded = {}
    # The inputs' versions are the library's, the same for every partition: when the last
    # record was made from other ones (new code), every playlist is recorded again.
    if only_changed and _last_inputs(context.instance, inputs.keys()) == inputs:
        recorded = recorded_versions_by_key(context.instance)
    changed = [key for key, (version, _) in versions.items() if recorded.get(key) != version]
    log_materializations_as_one_batch(
        context,
        [
            dg.AssetMaterialization(
                asset_key=PLAYLIST_SNAPSHOTS.key,
                partition=key,
                metadata={"playlist": versions[key][1] or "", "data_version": versions[key][0][:12]},
                tags={**inputs, **pointers, **user_data_version_tags(versions[key][0])},
            )
            for key in changed
        ],
    )
    return len(changed)
