"""Filling an account export's tracks from the Spotify Web API: `enrich_from_api`.

The export names tracks and gives their URI, nothing more: albums and artists get derived ids
(`export-album-...`, `export-artist-...`) and there are no labels, genres, durations,
popularity, images or audio features. With app credentials (Client Credentials, no user login)
the full track objects give the real album and artist ids, durations, explicit flags,
popularity and ISRCs; the albums (labels, release dates, cover art) and artists (genres) are
then read like the Spotify source reads them, and the audio features come from the configured
providers. Tracks the API does not know keep what the export says.

Requests: GET /tracks?ids= (50 a request; GET /tracks/{id} one by one for the rest of the run
once the batch endpoint is refused), then /albums and /artists for the IDs not already known
and fresh, then audio features for the tracks that have none.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import requests

from playlist_assets.ingest.sources.feature_providers import collect_features, providers_from_names
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig, api_session
from playlist_assets.ingest.sources.spotify_auth import app_auth
from playlist_assets.ingest.sources.spotify_catalog import ALBUMS, ARTISTS, CatalogKind, CatalogReader, due_ids
from playlist_assets.ingest.sources.spotify_client import SpotifyApi
from playlist_assets.ingest.sources.spotify_http import RetryPolicy
from playlist_assets.ingest.sources.spotify_merge import merge_catalog
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload, library_from_payload

DERIVED_ALBUM_PREFIX = "export-album-"
DERIVED_ARTIST_PREFIX = "export-artist-"
_DERIVED_PREFIX = "export-"
# spotipy refuses anything else as an ID before sending a request.
_API_ID = re.compile(r"[0-9A-Za-z]+")


@dataclass(frozen=True)
class _TrackKind(CatalogKind):
    """GET /tracks?ids= (up to 50) and GET /tracks/{id}, read through the catalog reader."""

    def batch(self, client, ids: list[str]) -> dict:
        return client.tracks(ids)

    def single(self, client, object_id: str) -> dict:
        return client.track(object_id)


TRACKS = _TrackKind("tracks", "track_id", 50)


def _derived(column: str) -> pl.Expr:
    return pl.col(column).is_null() | pl.col(column).str.starts_with(_DERIVED_PREFIX)


def tracks_to_fill(library: RawLibrary) -> list[str]:
    """Tracks whose album or artists are derived from names (or missing): what the export gave."""
    derived_credits = library.track_artists.filter(_derived("artist_id"))["track_id"]
    credited = library.track_artists["track_id"]
    wanted = library.tracks.filter(
        _derived("album_id")
        | pl.col("track_id").is_in(derived_credits.implode())
        | ~pl.col("track_id").is_in(credited.implode())
    )["track_id"]
    return [i for i in wanted.drop_nulls().unique(maintain_order=True).to_list() if _API_ID.fullmatch(i)]


def enrich_from_api(
    library: RawLibrary,
    config: SpotifyConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
    fetched_at: datetime | None = None,
) -> RawLibrary:
    """`library` with its tracks, albums, artists and audio features filled from the Web API.

    Uses Client Credentials (SPOTIFY_CLIENT_ID/SECRET; no login). Playlists, entries, liked
    tracks and listening are returned as they are. `fetched_at` (default: now) stamps the
    albums and artists read. Raises SpotifyError (one sentence saying what to do).
    """
    fetched_at = fetched_at or datetime.now(UTC)
    with api_session(config, app_auth, sleep) as (api, session, policy, recco_policy):
        enriched, summary = _Enrichment(config, api, library, fetched_at, log).run(session, recco_policy)
    total = sum(policy.requests.values())
    log(f"Spotify: {summary}; {total} requests, {policy.retries + recco_policy.retries} retried.")
    return enriched


class _Enrichment:
    def __init__(self, config: SpotifyConfig, api: SpotifyApi, library: RawLibrary, fetched_at: datetime,
                 log: Callable[[str], None]) -> None:
        self.config, self.api, self.library, self.fetched_at, self.log = config, api, library, fetched_at, log
        self.reader = CatalogReader(api, log)

    def run(self, session: requests.Session, recco_policy: RetryPolicy) -> tuple[RawLibrary, str]:
        library = self.library
        wanted = tracks_to_fill(library)
        read = self.reader.read(TRACKS, wanted)
        asked = set(wanted)
        found = {i: t for i, t in read.items() if i in asked}   # an answer for another ID fills nothing
        objects = SpotifyPayload(user={}, playlists=[], playlist_items={}, albums={}, artists={},
                                 audio_features={}, saved_tracks=[{"track": t} for t in found.values()],
                                 top_tracks={})
        fresh = library_from_payload(objects, source="spotify", fetched_at=self.fetched_at)
        tracks, credits = self._tracks(fresh)
        albums, artists = self._catalog(tracks, credits, fresh)
        features = self._features(tracks, session, recco_policy)
        enriched = RawLibrary.from_frames(
            playlists=library.playlists, playlist_tracks=library.playlist_tracks, liked_tracks=library.liked_tracks,
            listening=library.listening, tracks=tracks, track_artists=credits, albums=albums, artists=artists,
            audio_features=features,
        )
        summary = (f"filled {len(found)} of {len(wanted)} export track(s) from the API"
                   f" ({len(wanted) - len(found)} kept as the export has them)")
        return enriched, summary

    def _tracks(self, fresh: RawLibrary) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Tracks and credits: the API's rows for the tracks it knew, the export's for the rest,
        in the library's order."""
        library = self.library
        filled = fresh.tracks["track_id"].implode()
        order = library.tracks.select("track_id").with_row_index("track_order")
        tracks = (
            pl.concat([library.tracks.filter(~pl.col("track_id").is_in(filled)), fresh.tracks])
            .join(order, on="track_id", how="left", maintain_order="left")
            .sort("track_order", maintain_order=True, nulls_last=True)
            .drop("track_order")
        )
        credits = (
            pl.concat([library.track_artists.filter(~pl.col("track_id").is_in(filled)), fresh.track_artists])
            .join(order, on="track_id", how="left", maintain_order="left")
            .sort("track_order", "position", maintain_order=True, nulls_last=True)
            .drop("track_order")
        )
        return tracks, credits

    def _catalog(self, tracks: pl.DataFrame, credits: pl.DataFrame,
                 fresh: RawLibrary) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Albums and artists the tracks need: read from the API unless known and fresh; the
        derived ones of the tracks the API did not know are kept from the export."""
        library, days = self.library, self.config.refresh_after_days
        needed_albums = tracks["album_id"].drop_nulls().unique(maintain_order=True).to_list()
        needed_artists = credits["artist_id"].drop_nulls().unique(maintain_order=True).to_list()
        real_albums = [i for i in needed_albums if not i.startswith(_DERIVED_PREFIX) and _API_ID.fullmatch(i)]
        real_artists = [i for i in needed_artists if not i.startswith(_DERIVED_PREFIX) and _API_ID.fullmatch(i)]
        album_ids = due_ids(real_albums, library.albums, "album_id", self.fetched_at, days)
        artist_ids = due_ids(real_artists, library.artists, "artist_id", self.fetched_at, days)
        albums = self.reader.read(ALBUMS, album_ids)
        artists = self.reader.read(ARTISTS, artist_ids)
        objects = SpotifyPayload(user={}, playlists=[], playlist_items={}, albums=albums, artists=artists,
                                 audio_features={}, saved_tracks=[], top_tracks={})
        read_now = library_from_payload(objects, source="spotify", fetched_at=self.fetched_at)
        attempted = {kind: (ids if kind not in self.reader.unavailable else list(got))
                     for kind, ids, got in (("albums", album_ids, albums), ("artists", artist_ids, artists))}
        return (
            merge_catalog("album_id", needed_albums, read_now.albums, attempted["albums"],
                          library.albums, fresh.albums, self.fetched_at),
            merge_catalog("artist_id", needed_artists, read_now.artists, attempted["artists"],
                          library.artists, fresh.artists, self.fetched_at),
        )

    def _features(self, tracks: pl.DataFrame, session: requests.Session, recco_policy: RetryPolicy) -> pl.DataFrame:
        """The library's audio features, plus the providers' for the tracks that had none."""
        kept = self.library.audio_features
        have = set(kept["track_id"].to_list())
        wanted = [i for i in tracks["track_id"].to_list() if i not in have and _API_ID.fullmatch(i)]
        providers = providers_from_names(
            self.config.feature_providers, spotify=self.api, session=session,
            reccobeats_base=self.config.reccobeats_base, reccobeats_policy=recco_policy,
            timeout_s=self.config.requests_timeout_s,
        )
        rows, _ = collect_features(wanted, providers, self.log)
        return pl.concat([kept, rows], how="diagonal_relaxed")
