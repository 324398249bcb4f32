"""Combining what this ingest read with what the previous one kept, into one complete library."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import polars as pl

from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_fetch import FORBIDDEN_REASON


def unchanged_playlists(listed: list[dict], previous: RawLibrary | None) -> set[str]:
    """Playlists whose entries need not be read again: same snapshot as last time, and either
    read then or refused then for a reason that still holds (same owner, same collaboration)."""
    if previous is None or previous.playlists.is_empty():
        return set()
    before = {row["playlist_id"]: row for row in previous.playlists.iter_rows(named=True)}
    # A playlist whose kept entries name tracks the previous library lacks cannot be carried.
    incomplete = set(previous.playlist_tracks.filter(
        pl.col("track_id").is_not_null() & ~pl.col("track_id").is_in(previous.tracks["track_id"].implode())
    )["playlist_id"].to_list())
    unchanged = set()
    for playlist in listed:
        row = before.get(playlist.get("id"))
        if row is None or row["playlist_id"] in incomplete or not playlist.get("snapshot_id") or row["snapshot_id"] != playlist["snapshot_id"]:
            continue
        if row["skipped_reason"] is None:
            unchanged.add(playlist["id"])
        elif (row["skipped_reason"] == FORBIDDEN_REASON
              and row["owner_id"] == (playlist.get("owner") or {}).get("id")
              and bool(row["is_collaborative"]) == bool(playlist.get("collaborative"))):
            unchanged.add(playlist["id"])
    return unchanged


def _ids(column: pl.Series) -> list[str]:
    return column.drop_nulls().unique(maintain_order=True).to_list()


def _with_previous_playlist_state(fresh: pl.DataFrame, previous: pl.DataFrame, carried: set[str]) -> pl.DataFrame:
    """A carried playlist keeps the entry count, skip reason and read time of the ingest that
    read its entries; its name and owner come from this ingest's list."""
    kept = ("n_entries", "skipped_reason", "fetched_at")
    before = previous.filter(pl.col("playlist_id").is_in(list(carried))).select(
        "playlist_id", *(pl.col(c).alias(f"previous_{c}") for c in kept)
    )
    is_carried = pl.col("playlist_id").is_in(list(carried))
    return fresh.join(before, on="playlist_id", how="left", maintain_order="left").with_columns(
        pl.when(is_carried).then(pl.col(f"previous_{c}")).otherwise(pl.col(c)).alias(c) for c in kept
    ).select(fresh.columns)


def merge_tracks(fresh: RawLibrary, previous: RawLibrary | None, carried: set[str],
                 liked_unchanged: bool) -> dict[str, pl.DataFrame]:
    """Playlists, entries, liked, listening, tracks and credits of the complete library."""
    if previous is None:
        return {name: getattr(fresh, name) for name in
                ("playlists", "playlist_tracks", "tracks", "track_artists", "liked_tracks", "listening")}
    playlists = _with_previous_playlist_state(fresh.playlists, previous.playlists, carried)
    order = playlists.select("playlist_id").with_row_index("playlist_order")
    entries = (
        pl.concat([fresh.playlist_tracks,
                   previous.playlist_tracks.filter(pl.col("playlist_id").is_in(list(carried)))])
        .join(order, on="playlist_id", how="left")
        .sort("playlist_order", "position", maintain_order=True)
        .drop("playlist_order")
    )
    liked = previous.liked_tracks if liked_unchanged else fresh.liked_tracks
    needed = set(_ids(entries["track_id"])) | set(_ids(liked["track_id"])) | set(_ids(fresh.listening["track_id"]))
    from_before = list(needed - set(fresh.tracks["track_id"].to_list()))
    return {
        "playlists": playlists,
        "playlist_tracks": entries,
        "tracks": pl.concat([fresh.tracks, previous.tracks.filter(pl.col("track_id").is_in(from_before))]),
        "track_artists": pl.concat([
            fresh.track_artists, previous.track_artists.filter(pl.col("track_id").is_in(from_before)),
        ]),
        "liked_tracks": liked,
        "listening": fresh.listening,
    }


def merge_catalog(key: str, needed: Iterable[str], read_now: pl.DataFrame, attempted: Iterable[str],
                  previous: pl.DataFrame | None, from_tracks: pl.DataFrame, fetched_at: datetime) -> pl.DataFrame:
    """Album or artist rows for `needed`: read now, else kept from before, else what the tracks
    themselves say (a simplified object: no label, no genres).

    Every row attempted now carries `fetched_at`, so an ID the API did not know is asked again
    only after the refresh interval; rows kept from before keep their own `fetched_at`.
    """
    needed_ids = list(dict.fromkeys(i for i in needed if i))
    attempted_ids = set(attempted)
    read_ids = set(read_now[key].to_list())
    stamp = pl.lit(fetched_at).cast(pl.Datetime("us", "UTC")).alias("fetched_at")
    parts = [read_now.filter(pl.col(key).is_in(needed_ids)).with_columns(stamp)]
    kept_ids: set[str] = set()
    if previous is not None:
        kept = previous.filter(pl.col(key).is_in(needed_ids) & ~pl.col(key).is_in(list(attempted_ids | read_ids)))
        kept_ids = set(kept[key].to_list())
        parts.append(kept)
    fallback = from_tracks.filter(pl.col(key).is_in(needed_ids)
                                  & ~pl.col(key).is_in(list(read_ids | kept_ids)))
    fallback = fallback.with_columns(
        pl.when(pl.col(key).is_in(list(attempted_ids))).then(stamp).otherwise(None).alias("fetched_at")
    )
    parts.append(fallback)
    return pl.concat(parts, how="diagonal_relaxed").unique(subset=[key], keep="first", maintain_order=True)
