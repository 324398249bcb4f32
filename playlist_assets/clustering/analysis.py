"""One playlist's entries -> what is clustered, on which features, and what is not and why.

Sits between the feature table and the pure clustering algorithm: it picks the feature set a
playlist can support, runs `kmeans.cluster_playlist` per playlist, and accounts for every
entry that could not be placed in a cluster.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import polars as pl

from playlist_assets.clustering import kmeans
from playlist_assets.runtime import parallel
from playlist_assets.warehouse import tables
from playlist_assets.features.feature_table import AUDIO_SET, METADATA_SET

REASON_BY_KIND = {
    "removed": "removed from Spotify",
    "local": "local file (not on Spotify)",
    "episode": "podcast episode",
}
REASON_UNAVAILABLE = "unavailable on Spotify"
REASON_NO_FEATURES = "no audio features"
REASON_TOO_FEW = "too few tracks to form clusters"
# A track with audio features in a playlist that could not be clustered all the same (its
# tracks too alike, or too few of them with features and nothing else to compare).
REASON_PLAYLIST_NOT_CLUSTERED = "the playlist could not be clustered"
# How each source gets audio features, for a playlist of enough tracks with nothing to compare
# them by: an account export reaches the providers only once the Web API completes it, an
# Exportify file is read as it is, and the API sources ask the provider chain.
_NOTHING_ELSE = {
    "account-export": (
        "the account export holds nothing else to compare them by (release year, duration, explicit): "
        "set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET so the export is completed from the Web API and "
        "the providers in PLAYLIST_ASSETS_FEATURE_PROVIDERS (reccobeats, or csv:PATH for a file of your "
        "own) are asked for audio features, then run again."
    ),
    "exportify": (
        "the file holds nothing else to compare them by (release year, duration, explicit, popularity): "
        "export the playlist again with Exportify's audio-feature columns (Danceability, Energy, ...), "
        "then run again."
    ),
}
_NOTHING_ELSE_ANYWHERE = (
    "the library holds nothing else to compare them by (release year, duration, explicit, popularity): "
    "list a provider that has them in PLAYLIST_ASSETS_FEATURE_PROVIDERS (reccobeats, or csv:PATH for a "
    "file of your own), then run again."
)


def nothing_to_compare(source: str | None, n_with_audio: int, n_tracks: int) -> str:
    """The playlist's reason when too few of its tracks have audio features and nothing else varies."""
    if n_with_audio == 0:
        have = "None of these tracks came with audio features"
    else:
        have = (f"Only {n_with_audio} of these {n_tracks} tracks came with audio features "
                f"({kmeans.MIN_TRACKS} are needed)")
    return f"{have}, and {_NOTHING_ELSE.get(source or '', _NOTHING_ELSE_ANYWHERE)}"


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
    playlist_id: str, snapshot_id: str | None, n_entries: int, tracks: pl.DataFrame, source: str | None = None
) -> tuple[kmeans.ClusteringResult, dict]:
    """Cluster one playlist's distinct playable tracks (`tracks`: rows of features.track_features);
    `source` (raw.playlists.source) decides how the reason says to get audio features."""
    with_audio = tracks.filter(pl.col("has_audio_features"))
    if with_audio.height >= kmeans.MIN_TRACKS:
        feature_set, columns, chosen = "audio", list(AUDIO_SET), with_audio
    elif tracks.height >= kmeans.MIN_TRACKS:
        feature_set, columns, chosen = "metadata", list(METADATA_SET), tracks
    else:
        feature_set, columns, chosen = "audio", list(AUDIO_SET), with_audio
    result = kmeans.cluster_playlist(chosen.select("track_id", *columns).sort("track_id"), columns)
    if tracks.height < kmeans.MIN_TRACKS:
        # Too few tracks at all: say so, rather than blaming audio features.
        result = dataclasses.replace(result, reason=_too_small(n_entries, tracks.height))
    elif feature_set == "metadata" and not result.clustered:
        result = dataclasses.replace(result, reason=nothing_to_compare(source, with_audio.height, tracks.height))
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
    return f"The playlist has {tracks}; at least {kmeans.MIN_TRACKS} are needed to form clusters."


def _cluster_one_of(
    job: tuple[str, str | None, int, pl.DataFrame, str | None],
) -> tuple[kmeans.ClusteringResult, dict]:
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
    source = pl.col("source") if "source" in playlists.columns else pl.lit(None, pl.String)
    jobs = [
        (playlist_id, snapshot_id, n_entries or 0, tracks_by_playlist.get((playlist_id,), tracks.clear()), source)
        for playlist_id, snapshot_id, n_entries, source in playlists.select(
            "playlist_id", "snapshot_id", "n_entries", source.alias("source")
        )
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
            not_clustered(entries, playlist_clusters, playlist_clusterings, features)
        ),
    )


def not_clustered(
    entries: pl.DataFrame, memberships: pl.DataFrame, clusterings: pl.DataFrame, features: pl.DataFrame
) -> pl.DataFrame:
    """Every entry whose track is in no cluster, with the reason a reader of the report needs.

    `features` (track_id, has_audio_features) says which tracks had audio features: a playlist
    of enough tracks that was not clustered blames features only on the tracks that lack them.
    Returns playlist_id, position, item_kind, track_id, item_name, item_artists, reason; one row per entry
    (duplicates included), so entries + memberships account for the whole playlist.
    """
    placed = memberships.select("playlist_id", "track_id", pl.lit(True).alias("_placed"))
    status = clusterings.select(
        "playlist_id", pl.col("clustered").alias("_playlist_clustered"), pl.col("n_tracks").alias("_n_tracks")
    )
    with_audio = features.select("track_id", pl.col("has_audio_features").alias("_has_audio"))
    playlist_clustered = pl.col("_playlist_clustered").fill_null(False)
    reason = (
        pl.when(pl.col("item_kind") != "track")
        .then(pl.col("item_kind").replace_strict(REASON_BY_KIND, default="not a track"))
        .when(~pl.col("is_playable").fill_null(True))
        .then(pl.lit(REASON_UNAVAILABLE))
        .when(~playlist_clustered & (pl.col("_n_tracks").fill_null(0) < kmeans.MIN_TRACKS))
        .then(pl.lit(REASON_TOO_FEW))
        .when(~pl.col("_has_audio").fill_null(False))
        .then(pl.lit(REASON_NO_FEATURES))
        .when(~playlist_clustered)
        .then(pl.lit(REASON_PLAYLIST_NOT_CLUSTERED))
        # Every track of a clustered playlist's feature set is placed: one left out had no features.
        .otherwise(pl.lit(REASON_NO_FEATURES))
    )
    if "item_artists" not in entries.columns:  # entries made before sources said who an item is by
        entries = entries.with_columns(pl.lit(None, pl.String).alias("item_artists"))
    return (
        entries.join(placed, on=["playlist_id", "track_id"], how="left", nulls_equal=False)
        .join(status, on="playlist_id", how="left")
        .join(with_audio, on="track_id", how="left", nulls_equal=False)
        .filter(pl.col("_placed").is_null())
        .with_columns(reason.alias("reason"))
        .select("playlist_id", "position", "item_kind", "track_id", "item_name", "item_artists", "reason")
        .sort("playlist_id", "position")
    )
