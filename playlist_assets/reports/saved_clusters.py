"""Saving clusters to Spotify, warehouse side: which clusters to save, in the report's order,
and the record of where each one went (analytics.saved_clusters).

Shared by `playlist-assets save-clusters` and the `save_clusters_to_spotify` job; the requests
themselves are in `sources.spotify_save`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import duckdb
import polars as pl

from playlist_assets.warehouse import tables
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig
from playlist_assets.ingest.sources.spotify_save import (
    ClusterTracks, SavedPlaylist, SavePlan, SaveResult, plan_saves, save_clusters,
)
from playlist_assets.warehouse.database import ensure_table, existing_columns, transaction

SAVED = tables.ANALYTICS_SAVED_CLUSTERS
LIST_PLAYLISTS = '`playlist-assets sql "SELECT playlist_id, name FROM raw.playlists ORDER BY name"`'


class SaveRequestError(ValueError):
    """What was asked to be saved does not exist as asked; the message is one sentence with the fix."""


def find_playlist(conn: duckdb.DuckDBPyConnection, ref: str) -> tuple[str, str]:
    """(playlist_id, name) of the playlist `ref` names: its ID, its exact name, or a name that
    matches one playlist's ignoring case."""
    if existing_columns(conn, tables.RAW_PLAYLISTS) is None:
        raise SaveRequestError("The warehouse holds no library yet: run `playlist-assets materialize` first.")
    rows = conn.execute("SELECT playlist_id, coalesce(name, '') FROM raw.playlists ORDER BY playlist_id").fetchall()
    for matches in (
        [r for r in rows if r[0] == ref],
        [r for r in rows if r[1] == ref],
        [r for r in rows if r[1].casefold() == ref.strip().casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(r[0] for r in matches)
            raise SaveRequestError(f"{len(matches)} playlists are named '{ref}' (ids {ids}): pass one of these ids instead.")
    raise SaveRequestError(f"No playlist has the id or name '{ref}': list them with {LIST_PLAYLISTS}.")


def clusters_of(
    conn: duckdb.DuckDBPyConnection, playlist_id: str, name: str, numbers: Sequence[int] = ()
) -> list[ClusterTracks]:
    """The playlist's clusters (all, or `numbers`), each with its tracks in the report's order."""
    clustering = (
        conn.execute(
            "SELECT clustered, reason, snapshot_id FROM analytics.playlist_clusterings WHERE playlist_id = ?",
            [playlist_id],
        ).fetchone()
        if existing_columns(conn, tables.ANALYTICS_PLAYLIST_CLUSTERINGS)
        else None
    )
    if clustering is None:
        raise SaveRequestError(
            f"'{name}' has not been clustered yet: run `playlist-assets materialize` first."
        )
    clustered, reason, snapshot_id = clustering
    if not clustered:
        raise SaveRequestError(f"'{name}' has no clusters ({reason or 'not clustered'}): there is nothing to save.")
    described = dict(
        conn.execute(
            "SELECT cluster, coalesce(description, '') FROM analytics.clusters WHERE playlist_id = ? ORDER BY cluster",
            [playlist_id],
        ).fetchall()
    )
    unknown = sorted(set(numbers) - set(described))
    if unknown:
        have = ", ".join(f"#{n}" for n in described)
        raise SaveRequestError(
            f"'{name}' has no cluster #{unknown[0]}: pass --cluster one of {have} (or none, for all)."
        )
    members: dict[int, list[str]] = {}
    # The report's order: nearest the centre first, ties by track_id (report_data.build_reports).
    for cluster, track_id in conn.execute(
        "SELECT cluster, track_id FROM analytics.playlist_clusters WHERE playlist_id = ? "
        "ORDER BY cluster, distance_to_centre, track_id",
        [playlist_id],
    ).fetchall():
        members.setdefault(cluster, []).append(track_id)
    wanted = sorted(set(numbers)) if numbers else list(described)
    return [
        ClusterTracks(playlist_id, name, snapshot_id, n, described[n], tuple(members.get(n, ())))
        for n in wanted
    ]


def previous_saves(conn: duckdb.DuckDBPyConnection, playlist_ids: Sequence[str]) -> dict[tuple[str, int], SavedPlaylist]:
    if existing_columns(conn, SAVED) is None:
        return {}
    rows = conn.execute(
        f"SELECT playlist_id, cluster, spotify_playlist_id, name, public FROM {SAVED.qualified_name} "
        "WHERE playlist_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(set(playlist_ids))],
    ).fetchall()
    return {(pid, n): SavedPlaylist(spotify_id, name or "", bool(public)) for pid, n, spotify_id, name, public in rows}


def plan(
    conn: duckdb.DuckDBPyConnection, refs: Sequence[str], numbers: Sequence[int] = (), public: bool = False
) -> list[SavePlan]:
    """What saving the clusters `numbers` (all when empty) of the playlists `refs` would send."""
    clusters: list[ClusterTracks] = []
    seen = set()
    for ref in refs:
        playlist_id, name = find_playlist(conn, ref)
        if playlist_id not in seen:
            seen.add(playlist_id)
            clusters += clusters_of(conn, playlist_id, name, numbers)
    return plan_saves(clusters, previous_saves(conn, sorted(seen)), public)


def record(conn: duckdb.DuckDBPyConnection, result: SaveResult, saved_at: datetime) -> None:
    """Remember where the cluster went, replacing an earlier record of the same cluster."""
    cluster = result.plan.cluster
    row = {
        "playlist_id": cluster.playlist_id,
        "cluster": cluster.cluster,
        "snapshot_id": cluster.snapshot_id,
        "spotify_playlist_id": result.spotify_playlist_id,
        "spotify_url": result.spotify_url,
        "name": result.plan.name,
        "public": result.plan.public,
        "n_tracks": len(result.plan.uris),
        "saved_at": saved_at,
    }
    rows = SAVED.conform(pl.DataFrame([row], schema=SAVED.polars_schema))  # noqa: F841 - read by DuckDB by name
    with transaction(conn):
        ensure_table(conn, SAVED, log=lambda line: None)
        conn.execute(
            f"DELETE FROM {SAVED.qualified_name} WHERE playlist_id = ? AND cluster = ?",
            [cluster.playlist_id, cluster.cluster],
        )
        conn.execute(f"INSERT INTO {SAVED.qualified_name} BY NAME SELECT * FROM rows")


def save(
    conn: duckdb.DuckDBPyConnection,
    plans: Sequence[SavePlan],
    config: SpotifyConfig,
    *,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> list[SaveResult]:
    """Save every plan to Spotify; each cluster is recorded in `conn` and its line logged as soon
    as it is saved, so a failure later in the run loses neither."""

    def saved(result: SaveResult) -> None:
        record(conn, result, now())
        log(result.line())

    return save_clusters(config, plans, on_saved=saved, sleep=sleep, log=log)
