"""Spotify Web API JSON objects -> the raw tables of a library.

The Score (raw.listening): for each of the user's three top-tracks lists, a track at 1-based
rank r in a list of n tracks earns (n + 1 - r) points, times the list's weight: short_term
(last 4 weeks) x1, medium_term (6 months) x2, long_term (about a year) x3. A track's score is
the sum over the lists it appears in, so the top track of three full 50-track lists scores
50 + 100 + 150 = 300; a track in no top list has no listening row.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from playlist_assets.warehouse import tables
from playlist_assets.ingest.sources.library import RawLibrary

TERM_WEIGHTS: dict[str, int] = {"short_term": 1, "medium_term": 2, "long_term": 3}

_FEATURE_NAMES = tuple(c.name for c in tables.AUDIO_FEATURE_COLUMNS)
# Row tuples are built in these column orders (a tuple per row is the fast path in Python).
_PLAYLIST_COLUMNS = ("playlist_id", "name", "description", "owner_id", "owner_name", "is_collaborative",
                     "snapshot_id", "n_entries", "skipped_reason")
_ENTRY_COLUMNS = tuple(tables.RAW_PLAYLIST_TRACKS.column_names)


@dataclass(frozen=True)
class SpotifyPayload:
    """A library exactly as the Spotify Web API returns it, one field per endpoint."""

    user: dict                              # GET /me
    playlists: list[dict]                   # GET /me/playlists items (simplified playlists)
    playlist_items: dict[str, list[dict]]   # playlist id -> GET /playlists/{id}/items items
    albums: dict[str, dict]                 # album id -> GET /albums/{id}
    artists: dict[str, dict]                # artist id -> GET /artists/{id}
    audio_features: dict[str, dict]         # track id -> GET /audio-features/{id}
    saved_tracks: list[dict]                # GET /me/tracks items
    top_tracks: dict[str, list[dict]]       # term -> GET /me/top/tracks?time_range=term items
    # Playlist id -> why its entries could not be read (the API refuses the items of
    # playlists the user neither owns nor collaborates on); such playlists keep their row.
    skipped_playlists: dict[str, str] = field(default_factory=dict)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk work on JSON-like objects.

    Walking or building hundreds of thousands of small dicts triggers collections that rescan
    the whole (growing) heap, which costs more than the work itself; JSON trees have no cycles
    for the collector to find.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def library_from_payload(payload: SpotifyPayload, *, source: str, fetched_at: datetime) -> RawLibrary:
    """Normalize the API objects of `payload` into the `raw.*` tables."""
    with gc_paused():
        return _library_from_payload(payload, source, fetched_at)


def _library_from_payload(payload: SpotifyPayload, source: str, fetched_at: datetime) -> RawLibrary:
    playlists, entries, entry_tracks = _playlist_frames(payload, source, fetched_at)
    tracks_by_id = _distinct_tracks(
        entry_tracks,
        (saved.get("track") for saved in payload.saved_tracks),
        (track for ranked in payload.top_tracks.values() for track in ranked),
    )
    frames = {
        "playlists": playlists,
        "playlist_tracks": entries,
        **_track_frames(tracks_by_id),
        "albums": _album_frame(payload.albums, tracks_by_id.values()),
        "artists": _artist_frame(payload.artists, tracks_by_id.values()),
        "audio_features": _audio_feature_frame(payload.audio_features.values(), source),
        "liked_tracks": _liked_frame(payload.saved_tracks),
        "listening": _listening_frame(payload.top_tracks),
    }
    by_name = {t.name: t for t in tables.RAW_TABLES}
    # A source may repeat an object (paging that shifts under an edit, a track liked twice);
    # the first occurrence wins so every table keeps its primary key.
    unique = {
        name: frame.unique(subset=list(by_name[name].primary_key), keep="first", maintain_order=True)
        for name, frame in frames.items()
    }
    return RawLibrary.from_frames(**unique)


def entry_item(entry: dict) -> dict | None:
    """The track/episode of a playlist entry: `item` in the 2026 API, `track` before."""
    item = entry.get("item")
    return item if item is not None else entry.get("track")


def entry_kind(entry: dict, item: dict | None) -> str:
    """track, episode, local or removed: what raw.playlist_tracks.item_kind says."""
    if item is None:
        return "removed"
    if entry.get("is_local") or item.get("is_local"):
        return "local"
    if item.get("type") == "episode":
        return "episode"
    # A track object without an id cannot be joined to anything: Spotify blanks removed tracks.
    return "track" if item.get("id") else "removed"


def _frame(table: tables.Table, data: dict[str, list], timestamps: tuple[str, ...] = ()) -> pl.DataFrame:
    """Columns -> frame typed by `table`; `timestamps` arrive as ISO strings and are parsed."""
    dtypes = table.polars_schema
    schema = {name: pl.String if name in timestamps else dtypes[name] for name in data}
    frame = pl.DataFrame(data, schema=schema, strict=False)
    return frame.with_columns(
        pl.col(name).str.to_datetime(time_zone="UTC", time_unit="us", strict=False) for name in timestamps
    )


def _playlist_frames(
    payload: SpotifyPayload, source: str, fetched_at: datetime
) -> tuple[pl.DataFrame, pl.DataFrame, list[dict]]:
    """raw.playlists, raw.playlist_tracks and the track objects of the entries, in order."""
    playlist_rows: list[tuple] = []
    entry_rows: list[tuple] = []
    entry_tracks: list[dict] = []
    seen_playlists: set[str] = set()
    for playlist in payload.playlists:
        playlist_id = playlist["id"]
        if playlist_id in seen_playlists:
            continue
        seen_playlists.add(playlist_id)
        items = payload.playlist_items.get(playlist_id)
        skipped = payload.skipped_playlists.get(playlist_id)
        if items is None and skipped is None:
            skipped = "the source returned no entries for this playlist"
        owner = playlist.get("owner") or {}
        playlist_rows.append((
            playlist_id, playlist.get("name"), playlist.get("description"), owner.get("id"),
            owner.get("display_name"), playlist.get("collaborative"), playlist.get("snapshot_id"),
            len(items) if items is not None else _declared_total(playlist), skipped,
        ))
        _append_entries(entry_rows, entry_tracks, playlist_id, items or [])
    playlists = _frame(tables.RAW_PLAYLISTS, _columns(_PLAYLIST_COLUMNS, playlist_rows)).with_columns(
        pl.lit(source, pl.String).alias("source"),
        pl.lit(fetched_at).cast(tables.UTC_TIME).alias("fetched_at"),
    )
    entries = _frame(tables.RAW_PLAYLIST_TRACKS, _columns(_ENTRY_COLUMNS, entry_rows), timestamps=("added_at",))
    return playlists, entries, entry_tracks


def _columns(names: tuple[str, ...], rows: list[tuple]) -> dict[str, list]:
    return {name: list(values) for name, values in zip(names, zip(*rows))} if rows else {n: [] for n in names}


def _declared_total(playlist: dict) -> int | None:
    for key in ("items", "tracks"):
        total = (playlist.get(key) or {}).get("total")
        if total is not None:
            return total
    return None


def _append_entries(rows: list[tuple], tracks: list[dict], playlist_id: str, items: list[dict]) -> None:
    """Appends one row per entry to `rows` and the entry's track object to `tracks`."""
    seen_tracks: set[str] = set()
    for position, entry in enumerate(items):
        item = entry_item(entry)
        kind = entry_kind(entry, item)
        item = item or {}
        track_id = item["id"] if kind == "track" else None
        is_duplicate = track_id in seen_tracks
        if track_id is not None:
            tracks.append(item)
            seen_tracks.add(track_id)
        added_by = entry.get("added_by")
        row = {
            "playlist_id": playlist_id, "position": position, "item_kind": kind, "track_id": track_id,
            "item_uri": item.get("uri"), "item_name": item.get("name"), "item_artists": _item_artists(kind, item),
            "is_duplicate": is_duplicate, "is_playable": item.get("is_playable"),
            "added_at": entry.get("added_at"), "added_by": added_by.get("id") if added_by else None,
        }
        # In the table's column order: a column added to the contract cannot shift the others.
        rows.append(tuple(row[name] for name in _ENTRY_COLUMNS))


def _item_artists(kind: str, item: dict) -> str | None:
    """Who an entry that is not a track is by: an episode's show, a local file's artists."""
    if kind == "episode":
        return (item.get("show") or {}).get("name")
    if kind == "local":
        return ", ".join(a["name"] for a in item.get("artists") or [] if a.get("name")) or None
    return None


def _distinct_tracks(*streams: Iterable[dict | None]) -> dict[str, dict]:
    """Real tracks (with an id, not local) by id, first occurrence first."""
    tracks: dict[str, dict] = {}
    for stream in streams:
        for track in stream:
            if not track or track.get("is_local") or track.get("type", "track") != "track":
                continue
            track_id = track.get("id")
            if track_id and track_id not in tracks:
                tracks[track_id] = track
    return tracks


def _track_frames(tracks_by_id: dict[str, dict]) -> dict[str, pl.DataFrame]:
    tracks = list(tracks_by_id.values())
    track_columns = {
        "track_id": list(tracks_by_id),
        "name": [t.get("name") for t in tracks],
        "album_id": [(t.get("album") or {}).get("id") for t in tracks],
        "duration_ms": [t.get("duration_ms") for t in tracks],
        "explicit": [t.get("explicit") for t in tracks],
        "popularity": [t.get("popularity") for t in tracks],
        "isrc": [(t.get("external_ids") or {}).get("isrc") for t in tracks],
        "uri": [t.get("uri") for t in tracks],
    }
    credits: dict[str, list] = {"track_id": [], "position": [], "artist_id": []}
    for track_id, track in tracks_by_id.items():
        for position, artist in enumerate(track.get("artists") or []):
            if artist.get("id"):
                credits["track_id"].append(track_id)
                credits["position"].append(position)
                credits["artist_id"].append(artist["id"])
    return {
        "tracks": _frame(tables.RAW_TRACKS, track_columns),
        "track_artists": _frame(tables.RAW_TRACK_ARTISTS, credits),
    }


def _largest_image_url(images: list[dict] | None) -> str | None:
    if not images:
        return None
    # Spotify lists the largest first; the area decides when a source does not.
    return max(images, key=lambda image: (image.get("width") or 0) * (image.get("height") or 0)).get("url")


def _album_frame(full_albums: dict[str, dict], tracks: Iterable[dict]) -> pl.DataFrame:
    albums = [a for a in full_albums.values() if a and a.get("id")]
    known = {a["id"] for a in albums}
    for track in tracks:
        simplified = track.get("album") or {}
        album_id = simplified.get("id")
        if album_id and album_id not in known:
            known.add(album_id)
            albums.append(simplified)
    columns = {
        "album_id": [a["id"] for a in albums],
        "name": [a.get("name") for a in albums],
        "album_type": [a.get("album_type") for a in albums],
        "release_date": [a.get("release_date") for a in albums],
        "release_date_precision": [a.get("release_date_precision") for a in albums],
        # Simplified albums carry no label; an empty label means the label is unknown too.
        "label": [a.get("label") or None for a in albums],
        "image_url": [_largest_image_url(a.get("images")) for a in albums],
    }
    return _frame(tables.RAW_ALBUMS, columns)


def _artist_frame(full_artists: dict[str, dict], tracks: Iterable[dict]) -> pl.DataFrame:
    artists = [a for a in full_artists.values() if a and a.get("id")]
    known = {a["id"] for a in artists}
    for track in tracks:
        for simplified in track.get("artists") or []:
            artist_id = simplified.get("id")
            if artist_id and artist_id not in known:
                known.add(artist_id)
                artists.append(simplified)
    columns = {
        "artist_id": [a["id"] for a in artists],
        "name": [a.get("name") for a in artists],
        "genres": [list(a.get("genres") or []) for a in artists],
        "popularity": [a.get("popularity") for a in artists],
    }
    return _frame(tables.RAW_ARTISTS, columns)


def _audio_feature_frame(features: Iterable[dict | None], provider: str) -> pl.DataFrame:
    # GET /audio-features answers null for tracks it has no analysis of.
    rows = [f for f in features if f and f.get("id")]
    columns = {"track_id": [f["id"] for f in rows]}
    columns.update({name: [f.get(name) for f in rows] for name in _FEATURE_NAMES})
    return _frame(tables.RAW_AUDIO_FEATURES, columns).with_columns(pl.lit(provider, pl.String).alias("provider"))


def _liked_frame(saved_tracks: list[dict]) -> pl.DataFrame:
    liked = [(s.get("track") or {}, s.get("added_at")) for s in saved_tracks]
    liked = [(track["id"], added_at) for track, added_at in liked if track.get("id") and not track.get("is_local")]
    columns = {"track_id": [t for t, _ in liked], "added_at": [a for _, a in liked]}
    return _frame(tables.RAW_LIKED_TRACKS, columns, timestamps=("added_at",))


def _ranked_ids(ranked: list[dict | None]) -> Iterator[tuple[int, str]]:
    """1-based rank and id of each real track; a track listed twice keeps its best rank."""
    seen: set[str] = set()
    for rank, track in enumerate(ranked, start=1):
        track_id = (track or {}).get("id")
        if track_id and track_id not in seen:
            seen.add(track_id)
            yield rank, track_id


def _listening_frame(top_tracks: dict[str, list[dict]]) -> pl.DataFrame:
    scores: dict[str, int] = {}
    ranks: dict[str, dict[str, int]] = {term: {} for term in TERM_WEIGHTS}
    for term, weight in TERM_WEIGHTS.items():
        ranked = top_tracks.get(term) or []
        n = len(ranked)
        for rank, track_id in _ranked_ids(ranked):
            scores[track_id] = scores.get(track_id, 0) + (n + 1 - rank) * weight
            ranks[term][track_id] = rank
    columns = {
        "track_id": list(scores),
        "score": list(scores.values()),
        **{f"{term}_rank": [ranks[term].get(t) for t in scores] for term in TERM_WEIGHTS},
    }
    return _frame(tables.RAW_LISTENING, columns)
