"""features/playlist_snapshots: a data version per playlist partition, for Dagster's "unsynced".

Depending on the library-wide tables would tie every playlist partition to every landing;
depending on this asset's partition of the same key ties each one to its own playlist.
"""

from collections.abc import Mapping

import dagster as dg

from playlist_assets import queries, tables
from playlist_assets.event_log import DATA_VERSION_TAG, log_observations_as_one_batch
from playlist_assets.assets.partitions import PLAYLISTS, SNAPSHOT_CODE_VERSION, keys_by_id

# Everything the per-playlist assets read; see queries.playlist_versions.
SNAPSHOT_SOURCES = [
    [t.schema, t.name]
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

# An external asset: nothing to compute or store, so Dagster never runs it; the library refresh
# records each playlist's version as an observation (for a partitioned external dependency,
# Dagster's staleness reads observations, not materializations), and only when it changed,
# so an unchanged playlist costs no event.
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
        "playlist, recorded by the library refresh when it changes; a report partition is "
        "unsynced when its playlist's version moved on."
    ),
)


def recorded_versions(instance: dg.DagsterInstance, keys: Mapping[str, str]) -> dict[str, str]:
    """The latest recorded version of each playlist (none before its first refresh), by
    playlist_id; `keys` maps each playlist_id to its partition key (partitions.keys_by_id)."""
    # One query for the latest version of every partition, instead of one per playlist.
    tags = instance.event_log_storage.get_latest_tags_by_partition(
        PLAYLIST_SNAPSHOTS.key, dg.DagsterEventType.ASSET_OBSERVATION, [DATA_VERSION_TAG]
    )
    return {
        playlist_id: tags[key][DATA_VERSION_TAG]
        for playlist_id, key in keys.items()
        if DATA_VERSION_TAG in tags.get(key, {})
    }


def record_changed_versions(context: dg.AssetExecutionContext, conn) -> int:
    """Observe the playlists whose version differs from the last one recorded; return how many."""
    versions = queries.playlist_versions(conn, SNAPSHOT_CODE_VERSION)
    keys = keys_by_id(queries.all_playlists(conn).iter_rows())
    recorded = recorded_versions(context.instance, keys)
    partitions = set(context.instance.get_dynamic_partitions(PLAYLISTS.name))
    changed = [
        playlist_id
        for playlist_id, version in versions.items()
        if keys.get(playlist_id) in partitions and recorded.get(playlist_id) != version
    ]
    move_to_end(context.instance, [keys[p] for p in changed if p in recorded])
    _log_as_one_batch(
        context,
        [
            dg.AssetObservation(
                asset_key=PLAYLIST_SNAPSHOTS.key,
                partition=keys[playlist_id],
                tags={DATA_VERSION_TAG: versions[playlist_id]},
            )
            for playlist_id in changed
        ],
    )
    return len(changed)


def move_to_end(instance: dg.DagsterInstance, partition_keys: list[str]) -> None:
    """Move the partitions of changed playlists after all others, keeping their order.

    Dagster runs a set of partitions in one run only if they are a contiguous range, so five
    edited playlists scattered over a thousand took five runs of about a second each to set up
    and record. Moved to the end, next to any new playlists (added there when the library
    landed), they are one range: one run. A partition's history is kept by its key, so
    deleting and adding the key again loses nothing. Already one stretch at the end: no change.
    """
    order = instance.get_dynamic_partitions(PLAYLISTS.name)
    moving = set(partition_keys)
    tail = order[len(order) - len(moving):] if moving else []
    if set(tail) == moving:
        return
    moved = [key for key in order if key in moving]
    for key in moved:
        instance.delete_dynamic_partition(PLAYLISTS.name, key)
    instance.add_dynamic_partitions(PLAYLISTS.name, moved)


def _log_as_one_batch(context: dg.AssetExecutionContext, observations: list[dg.AssetObservation]) -> None:
    log_observations_as_one_batch(context, observations)
