"""A Spotify library, read from the Web API incrementally: `fetch_library`.

Requests of an ingest when `previous` is the last ingest's library:
  always        GET /me, the /me/playlists pages, the first /me/tracks page, 3 x /me/top/tracks
  when changed  the /items pages of each playlist with a new snapshot_id; the remaining
                /me/tracks pages when the first page shows a new like or the total moved
  when new      /albums, /artists for IDs not known yet (or read more than refresh_after_days
                ago), audio features for tracks that were not in `previous`
With public playlists (`playlist_refs`, Client Credentials) there is no /me, liked or top list:
one GET /playlists/{id} per playlist replaces the /me/playlists pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
import requests

from playlist_assets.runtime.settings import check_source_settings
from playlist_assets.ingest.sources import spotify_fetch as read
from playlist_assets.ingest.sources.feature_providers import collect_features, providers_from_names
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_auth import app_auth, user_auth
from playlist_assets.ingest.sources.spotify_catalog import ALBUMS, ARTISTS, CatalogReader, due_ids
from playlist_assets.ingest.sources.spotify_client import SpotifyApi
from playlist_assets.ingest.sources.spotify_http import HttpRefused, RetryPolicy, SpotifyError, install_log_filter
from playlist_assets.ingest.sources.spotify_merge import merge_catalog, merge_tracks, unchanged_playlists
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload, library_from_payload

SOURCE = "spotify"
DEFAULT_TOKEN_CACHE = Path("~/.cache/playlist-assets/spotify-token.json")


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _words(text: str) -> tuple[str, ...]:
    return tuple(word for word in text.replace(",", " ").split() if word)


@dataclass(frozen=True)
class SpotifyConfig:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str = "http://127.0.0.1:8888/callback"
    api_base: str = "https://api.spotify.com/v1/"
    accounts_base: str = "https://accounts.spotify.com/"
    reccobeats_base: str = "https://api.reccobeats.com/v1/"
    token_cache: Path = DEFAULT_TOKEN_CACHE
    playlist_refs: tuple[str, ...] = ()           # public playlists: Client Credentials, no login
    max_retry_after_s: float = 60.0
    refresh_after_days: int = 30
    feature_providers: tuple[str, ...] = ("spotify", "reccobeats")
    requests_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("api_base", "accounts_base", "reccobeats_base"):
            object.__setattr__(self, name, _base(getattr(self, name)))
        object.__setattr__(self, "token_cache", Path(self.token_cache).expanduser())

    # (field, environment variable): the lead's settings table documents these.
    ENV = (
        ("client_id", "SPOTIFY_CLIENT_ID"), ("client_secret", "SPOTIFY_CLIENT_SECRET"),
        ("redirect_uri", "SPOTIFY_REDIRECT_URI"), ("api_base", "SPOTIFY_API_BASE"),
        ("accounts_base", "SPOTIFY_ACCOUNTS_BASE"), ("reccobeats_base", "RECCOBEATS_API_BASE"),
        ("token_cache", "PLAYLIST_ASSETS_SPOTIFY_TOKEN_CACHE"),
        ("playlist_refs", "PLAYLIST_ASSETS_SPOTIFY_PLAYLISTS"),
        ("max_retry_after_s", "PLAYLIST_ASSETS_MAX_RETRY_AFTER_S"),
        ("refresh_after_days", "PLAYLIST_ASSETS_REFRESH_AFTER_DAYS"),
        ("feature_providers", "PLAYLIST_ASSETS_FEATURE_PROVIDERS"),
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SpotifyConfig:
        """Settings from environment variables; unset or empty ones keep their defaults."""
        check_source_settings(env)  # the same sentences as at start, for callers that skip Settings
        parse: dict[str, Callable[[str], object]] = {
            "token_cache": Path, "playlist_refs": _words, "feature_providers": _words,
            "max_retry_after_s": float, "refresh_after_days": int,
        }
        values: dict[str, object] = {"client_id": "", "client_secret": ""}
        for name, var in cls.ENV:
            raw = (env.get(var) or "").strip()
            if not raw:
                continue
            try:
                values[name] = parse.get(name, str)(raw)
            except ValueError:
                raise ValueError(f"{var} must be a number, not {raw!r}.") from None
        return cls(**values)


@dataclass
class FetchStats:
    """What an ingest cost and did. `requests` counts HTTP requests per endpoint, retries included."""

    requests: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    waited_s: float = 0.0
    playlists_listed: int = 0
    playlists_fetched: int = 0
    playlists_unchanged: int = 0
    playlists_skipped: int = 0
    liked_unchanged: bool = False
    albums_fetched: int = 0
    artists_fetched: int = 0
    features_by_provider: dict[str, int] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@contextmanager
def api_session(
    config: SpotifyConfig, auth: Callable, sleep: Callable[[float], None]
) -> Iterator[tuple[SpotifyApi, requests.Session, RetryPolicy, RetryPolicy]]:
    """The client every Spotify read goes through: one HTTP session, our retry policy (shared
    request counts with ReccoBeats'), and a refused request turned into one sentence."""
    install_log_filter()
    policy = RetryPolicy("Spotify", config.max_retry_after_s, sleep)
    with requests.Session() as session:
        api = SpotifyApi(auth(config, session), session, policy, config.api_base, config.requests_timeout_s)
        recco_policy = RetryPolicy("ReccoBeats", config.max_retry_after_s, sleep, requests=policy.requests)
        try:
            yield api, session, policy, recco_policy
        except HttpRefused as refused:
            raise SpotifyError(
                f"Spotify refused {refused.endpoint} (HTTP {refused.status}): check the app's settings "
                "in the Spotify developer dashboard, or try again later."
            ) from None


def fetch_library(
    config: SpotifyConfig,
    *,
    previous: RawLibrary | None,
    fetched_at: datetime,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> tuple[RawLibrary, FetchStats]:
    """The complete library, reading only what changed since `previous` (pass None to read all).

    Raises SpotifyError (one sentence saying what to do) for anything the user must act on.
    """
    previous = _usable(previous, log)
    auth = app_auth if config.playlist_refs else user_auth
    with api_session(config, auth, sleep) as (api, session, policy, recco_policy):
        library, stats = _Ingest(config, api, previous, fetched_at, log).run(session, recco_policy)
    stats.requests = dict(policy.requests)
    stats.retries, stats.waited_s = policy.retries + recco_policy.retries, policy.waited_s + recco_policy.waited_s
    log(f"Spotify: {stats.playlists_listed} playlists ({stats.playlists_fetched} read, {stats.playlists_unchanged} "
        f"unchanged, {stats.playlists_skipped} skipped); {stats.total_requests} requests, {stats.retries} retried.")
    return library, stats


def _usable(previous: RawLibrary | None, log: Callable[[str], None]) -> RawLibrary | None:
    if previous is None or previous.playlists.is_empty():
        return previous
    sources = set(previous.playlists["source"].drop_nulls().to_list())
    if sources - {SOURCE}:
        log(f"The previous library came from {', '.join(sorted(sources))}; reading all of Spotify's.")
        return None
    return previous


class _Ingest:
    def __init__(self, config: SpotifyConfig, api: SpotifyApi, previous: RawLibrary | None,
                 fetched_at: datetime, log: Callable[[str], None]) -> None:
        self.config, self.api, self.previous, self.fetched_at, self.log = config, api, previous, fetched_at, log
        self.stats = FetchStats()
        self.public = bool(config.playlist_refs)
        self.market = None if self.public else "from_token"   # from_token: is_playable for the user

    def run(self, session: requests.Session, recco_policy: RetryPolicy) -> tuple[RawLibrary, FetchStats]:
        user = {} if self.public else self.api.get("GET /me", lambda c: c.current_user())
        listed = read.public_playlists(self.api, self.config.playlist_refs) if self.public else read.my_playlists(self.api)
        carried = unchanged_playlists(listed, self.previous)
        items, skipped = self._entries(listed, carried)
        liked = None if self.public else read.liked_tracks(self.api, self._previous_liked(), self.market)
        self.stats.liked_unchanged = liked is None and not self.public
        payload = SpotifyPayload(
            user=user, playlists=listed, playlist_items=items, albums={}, artists={}, audio_features={},
            saved_tracks=liked or [], top_tracks={} if self.public else read.top_tracks(self.api),
            skipped_playlists=skipped,
        )
        fresh = library_from_payload(payload, source=SOURCE, fetched_at=self.fetched_at)
        frames = merge_tracks(fresh, self.previous, carried, self.stats.liked_unchanged)
        frames.update(self._catalog(frames, fresh))
        frames["audio_features"] = self._features(frames["tracks"], session, recco_policy)
        return RawLibrary.from_frames(**frames), self.stats

    def _previous_liked(self) -> pl.DataFrame | None:
        """The previous liked list, when it can stand in for this one (its tracks are all kept)."""
        if self.previous is None:
            return None
        liked = self.previous.liked_tracks
        known = liked["track_id"].is_in(self.previous.tracks["track_id"].implode())
        return liked if known.all() else None

    def _entries(self, listed: list[dict], carried: set[str]) -> tuple[dict[str, list[dict]], dict[str, str]]:
        items: dict[str, list[dict]] = {}
        skipped: dict[str, str] = {}
        ids = list(dict.fromkeys(p["id"] for p in listed))
        for playlist_id in ids:
            if playlist_id in carried:
                continue
            try:
                items[playlist_id] = read.playlist_entries(self.api, playlist_id, self.market)
            except HttpRefused as refused:
                if refused.status not in (403, 404):
                    raise
                skipped[playlist_id] = (read.FORBIDDEN_REASON if refused.status == 403
                                        else "Spotify no longer finds this playlist (404)")
                name = next((p.get("name") for p in listed if p["id"] == playlist_id), None)
                self.log(f"Skipped playlist {name!r} ({playlist_id}): {skipped[playlist_id]}.")
        self.stats.playlists_listed = len(ids)
        self.stats.playlists_unchanged = len(carried & set(ids))
        self.stats.playlists_fetched = len(items)
        self.stats.playlists_skipped = len(skipped) + sum(
            1 for r in (self.previous.playlists.iter_rows(named=True) if self.previous else ())
            if r["playlist_id"] in carried and r["skipped_reason"] is not None)
        return items, skipped

    def _catalog(self, frames: dict[str, pl.DataFrame], fresh: RawLibrary) -> dict[str, pl.DataFrame]:
        previous = self.previous
        reader = CatalogReader(self.api, self.log)
        needed_albums = frames["tracks"]["album_id"].drop_nulls().unique(maintain_order=True).to_list()
        needed_artists = frames["track_artists"]["artist_id"].drop_nulls().unique(maintain_order=True).to_list()
        days = self.config.refresh_after_days
        album_ids = due_ids(needed_albums, previous.albums if previous else None, "album_id", self.fetched_at, days)
        artist_ids = due_ids(needed_artists, previous.artists if previous else None, "artist_id", self.fetched_at, days)
        albums = reader.read(ALBUMS, album_ids)
        artists = reader.read(ARTISTS, artist_ids)
        self.stats.albums_fetched, self.stats.artists_fetched = len(albums), len(artists)
        objects = SpotifyPayload(user={}, playlists=[], playlist_items={}, albums=albums, artists=artists,
                                 audio_features={}, saved_tracks=[], top_tracks={})
        read_now = library_from_payload(objects, source=SOURCE, fetched_at=self.fetched_at)
        attempted = {kind: (ids if kind not in reader.unavailable else list(found))
                     for kind, ids, found in (("albums", album_ids, albums), ("artists", artist_ids, artists))}
        return {
            "albums": merge_catalog("album_id", needed_albums, read_now.albums, attempted["albums"],
                                    previous.albums if previous else None, fresh.albums, self.fetched_at),
            "artists": merge_catalog("artist_id", needed_artists, read_now.artists, attempted["artists"],
                                     previous.artists if previous else None, fresh.artists, self.fetched_at),
        }

    def _features(self, tracks: pl.DataFrame, session: requests.Session, recco_policy: RetryPolicy) -> pl.DataFrame:
        track_ids = tracks["track_id"].to_list()
        kept = None
        wanted = track_ids
        if self.previous is not None:
            # Tracks that were in the library last time were asked about then; asking again
            # every ingest for the few nobody knows would cost requests on every run.
            kept = self.previous.audio_features.filter(pl.col("track_id").is_in(track_ids))
            seen = set(self.previous.tracks["track_id"].to_list()) | set(kept["track_id"].to_list())
            wanted = [i for i in track_ids if i not in seen]
        providers = providers_from_names(
            self.config.feature_providers, spotify=self.api, session=session,
            reccobeats_base=self.config.reccobeats_base, reccobeats_policy=recco_policy,
            timeout_s=self.config.requests_timeout_s,
        )
        rows, self.stats.features_by_provider = collect_features(wanted, providers, self.log)
        return pl.concat([kept, rows], how="diagonal_relaxed") if kept is not None else rows
