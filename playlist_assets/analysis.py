"""One playlist's entries -> what is clustered, on which features, and what is not and why.

Sits between the feature table and the pure clustering algorithm: it picks the feature set a
playlist can support, runs `clustering.cluster_playlist` per playlist, and accounts for every
entry that could not be placed in a cluster.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import polars as pl

from playlist_assets import clustering, parallel, tables
from playlist_assets.features import AUDIO_SET, METADATA_SET

REASON_BY_KIND = {
    "removed": "removed from Spotify",
    "local": "local file (not on Spotify)",
    "episode": "podcast episode",
}
REASON_UNAVAILABLE = "unavailable on Spotify"
REASON_NO_FEATURES = "no audio features"
REASON_TOO_FEW = "too few tracks to form clusters"
NOTHING_TO_COMPARE = (
    "No provider had audio features for these tracks, and the library holds nothing else to "
    "compare them by (release year, duration, popularity): import an Exportify file with audio "
    "features, or connect Spotify, to cluster this playlist."
)


@dataclass(frozen=True)
class ClusteredLibrary:
    playlist_clusters: pl.DataFrame  # analytics.playlist_clusters
    clusters: pl.DataFrame  # analytics.clusters
    playlist_clusterings: pl.DataFrame  # analytics.playlist_clusterings
    unclustered_entries: pl.DataFrame  # analytics.unclustered_entries


def clusterable_tracks(entries: pl.DataFrame) -> pl.DataFrame:
    """Distinct (playlist_id, track_id) of the entries that are playable Spotify tracks."""
    return (
        entries.filter((pl.col("item_kind") == "track") & pl.col("is_playable").fill_null(True))
        .select("playlist_id", "track_id")
        .unique()
    )


def cluster_one(
    playlist_id: str, snapshot_id: str | None, n_entries: int, tracks: pl.DataFrame
) -> tuple[clustering.ClusteringResult, dict]:
    """Cluster one playlist's distinct playable tracks (`tracks`: rows of features.track_features)."""
    with_audio = tracks.filter(pl.col("has_audio_features"))
    if with_audio.height >= clustering.MIN_TRACKS:
        feature_set, columns, chosen = "audio", list(AUDIO_SET), with_audio
    elif tracks.height >= clustering.MIN_TRACKS:
        feature_set, columns, chosen = "metadata", list(METADATA_SET), tracks
    else:
        feature_set, columns, chosen = "audio", list(AUDIO_SET), with_audio
    result = clustering.cluster_playlist(chosen.select("track_id", *columns).sort("track_id"), columns)
    if tracks.height < clustering.MIN_TRACKS:
        # Too few tracks at all: say so, rather than blaming audio features.
        result = dataclasses.replace(result, reason=_too_small(n_entries, tracks.height))
    elif feature_set == "metadata" and not result.clustered:
        result = dataclasses.replace(result, reason=NOTHING_TO_COMPARE)
    providers = sorted(p for p in chosen["feature_provider"].unique().to_list() if p is not None)
    summary = {
        "playlist_id": playlist_id,
        "snapshot_id": snapshot_id,
        "clustered": result.clustered,
        "reason": result.reason,
        "feature_set": feature_set if result.clustered else None,
        "feature_columns": list(result.feature_columns),
        "feature_providers": ", ".join(providers) if feature_set == "audio" else None,
        "k": result.k,
        "silhouette": result.silhouette,
        "stability": result.stability,
        "x_label": result.x_label,
        "y_label": result.y_label,
        "n_entries": n_entries,
        "n_tracks": tracks.height,
        "n_clustered": result.assignments.height,
    }
    return result, summary


def _too_small(n_entries: int, n_tracks: int) -> str:
    if n_entries == 0:
        return "The playlist is empty."
    tracks = {0: "no playable Spotify tracks", 1: "only 1 playable Spotify track"}.get(
        n_tracks, f"only {n_tracks} playable Spotify tracks"
    )
    return f"The playlist has {tracks}; at least {clustering.MIN_TRACKS} are needed to form clusters."


def _cluster_one_of(job: tuple[str, str | None, int, pl.DataFrame]) -> tuple[clustering.ClusteringResult, dict]:
    return cluster_one(*job)


def _map(pool, fn, items) -> list:
    return pool.map(fn, items) if pool is not None else [fn(item) for item in items]


def cluster_library(
    playlists: pl.DataFrame,
    entries: pl.DataFrame,
    features: pl.DataFrame,
    pool: parallel.WorkerPool | None = None,
) -> ClusteredLibrary:
    """Cluster every playlist in `playlists` (rows of raw.playlists) independently.

    On `pool`'s workers when it has them and the run is worth it; else in this process.
    """
    tracks = clusterable_tracks(entries).join(features, on="track_id", how="inner")
    tracks_by_playlist = tracks.partition_by("playlist_id", as_dict=True)
    jobs = [
        (playlist_id, snapshot_id, n_entries or 0, tracks_by_playlist.get((playlist_id,), tracks.clear()))
        for playlist_id, snapshot_id, n_entries in playlists.select("playlist_id", "snapshot_id", "n_entries")
        .sort("playlist_id")
        .iter_rows()
    ]
    memberships, cluster_rows, summaries = [], [], []
    for (playlist_id, *_), (result, summary) in zip(jobs, _map(pool, _cluster_one_of, jobs)):
        summaries.append(summary)
        if not result.clustered:
            continue
        memberships.append(result.assignments.with_columns(pl.lit(playlist_id).alias("playlist_id")))
        cluster_rows.extend(
            {
                "playlist_id": playlist_id,
                "cluster": c.cluster,
                "size": c.size,
                "description": c.description,
                "centroid": json.dumps(c.centroid, sort_keys=True),
            }
            for c in result.clusters
        )
    playlist_clusters = tables.ANALYTICS_PLAYLIST_CLUSTERS.conform(
        pl.concat(memberships) if memberships else tables.ANALYTICS_PLAYLIST_CLUSTERS.empty_frame()
    )
    playlist_clusterings = tables.ANALYTICS_PLAYLIST_CLUSTERINGS.conform(
        pl.DataFrame(summaries, schema=tables.ANALYTICS_PLAYLIST_CLUSTERINGS.polars_schema)
    )
    return ClusteredLibrary(
        playlist_clusters=playlist_clusters,
        clusters=tables.ANALYTICS_CLUSTERS.conform(
            pl.DataFrame(cluster_rows) if cluster_rows else tables.ANALYTICS_CLUSTERS.empty_frame()
        ),
        playlist_clusterings=playlist_clusterings,
        unclustered_entries=tables.ANALYTICS_UNCLUSTERED_ENTRIES.conform(
            not_clustered(entries, playlist_clusters, playlist_clusterings)
        ),
    )


def not_clustered(
    entries: pl.DataFrame, memberships: pl.DataFrame, clusterings: pl.DataFrame
) -> pl.DataFrame:
    """Every entry whose track is in no cluster, with the reason a reader of the report needs.

    Returns playlist_id, position, item_kind, track_id, item_name, reason; one row per entry
    (duplicates included), so entries + memberships account for the whole playlist.
    """
    placed = memberships.select("playlist_id", "track_id", pl.lit(True).alias("_placed"))
    status = clusterings.select("playlist_id", pl.col("clustered").alias("_playlist_clustered"))
    reason = (
        pl.when(pl.col("item_kind") != "track")
        .then(pl.col("item_kind").replace_strict(REASON_BY_KIND, default="not a track"))
        .when(~pl.col("is_playable").fill_null(True))
        .then(pl.lit(REASON_UNAVAILABLE))
        .when(~pl.col("_playlist_clustered").fill_null(False))
        .then(pl.lit(REASON_TOO_FEW))
        .otherwise(pl.lit(REASON_NO_FEATURES))
    )
    return (
        entries.join(placed, on=["playlist_id", "track_id"], how="left", nulls_equal=False)
        .join(status, on="playlist_id", how="left")
        .filter(pl.col("_placed").is_null())
        .with_columns(reason.alias("reason"))
        .select("playlist_id", "position", "item_kind", "track_id", "item_name", "reason")
        .sort("playlist_id", "position")
    )
