"""The Spotify source against fake Spotify and ReccoBeats servers speaking real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from playlist_assets.warehouse import tables
from playlist_assets.ingest.sources.demo import edit_playlists
from playlist_assets.ingest.sources.feature_providers import read_feature_csv
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig, fetch_library
from playlist_assets.ingest.sources.spotify_auth import PrivateTokenCache, login
from playlist_assets.ingest.sources.spotify_fetch import FORBIDDEN_REASON
from playlist_assets.ingest.sources.spotify_http import LOGIN_SENTENCE, SpotifyError
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload, library_from_payload
from playlist_assets_tests.fakes import (
    CLIENT_ID, CLIENT_SECRET, FakeReccoBeats, FakeSpotify, Fault, FaultPlan, api_only,
)
from playlist_assets_tests.demo_defaults import default_demo_payload

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SOURCE_COLUMNS = ("source", "fetched_at", "provider")


def no_sleep(seconds: float) -> None:
    pass


@pytest.fixture(scope="module")
def payload() -> SpotifyPayload:
    return default_demo_payload()


@pytest.fixture(scope="module")
def expected(payload) -> RawLibrary:
    return library_from_payload(payload, source="demo", fetched_at=T0)


def logged_in(fake: FakeSpotify, folder: Path, expires_in: int = 3600) -> Path:
    """A token cache as `playlist-assets login` leaves it."""
    token = fake.user_token(expires_in)
    token["expires_at"] = int(time.time()) + expires_in
    PrivateTokenCache(folder / "token.json").save_token_to_cache(token)
    return folder / "token.json"


def config_for(fake: FakeSpotify, cache: Path, **changes) -> SpotifyConfig:
    return SpotifyConfig(CLIENT_ID, CLIENT_SECRET, api_base=fake.api_base, accounts_base=fake.accounts_base,
                         token_cache=cache, **{"feature_providers": ("spotify",), **changes})


def fetch(config: SpotifyConfig, previous: RawLibrary | None = None, log: list[str] | None = None,
          fetched_at: datetime = T0, **kwargs):
    return fetch_library(config, previous=previous, fetched_at=fetched_at, sleep=kwargs.pop("sleep", no_sleep),
                         log=(log if log is not None else []).append, **kwargs)


def comparable(library: RawLibrary, ignore=SOURCE_COLUMNS) -> dict[str, pl.DataFrame]:
    return {
        table.name: frame.drop([c for c in ignore if c in frame.columns]).sort(list(table.primary_key))
        for table, frame in library.by_table().items()
    }


def assert_same_library(actual: RawLibrary, expected: RawLibrary, ignore=SOURCE_COLUMNS) -> None:
    mine, theirs = comparable(actual, ignore), comparable(expected, ignore)
    for name in mine:
        assert mine[name].equals(theirs[name]), f"{name} differs:\n{mine[name]}\n{theirs[name]}"


def api_counts(fake: FakeSpotify) -> dict[str, int]:
    return {k: v for k, v in fake.requests.items() if k != "POST /api/token"}


def test_fetch_equals_the_demo_library(payload, expected, tmp_path):
    with FakeSpotify(payload) as fake:
        library, stats = fetch(config_for(fake, logged_in(fake, tmp_path)))
    assert_same_library(library, expected)
    assert set(library.playlists["source"]) == {"spotify"}
    assert set(library.audio_features["provider"]) == {"spotify"}
    assert stats.playlists_fetched == len(payload.playlists) and stats.total_requests == sum(api_counts(fake).values())


def test_entries_in_the_older_track_shape_give_the_same_library(payload, expected, tmp_path):
    with FakeSpotify(payload, legacy_entries=True) as fake:
        library, _ = fetch(config_for(fake, logged_in(fake, tmp_path)))
    assert_same_library(library, expected)


def test_a_fifth_of_requests_failing_changes_nothing(payload, expected, tmp_path):
    faults = FaultPlan(rate=0.2, seed=11, applies_to=api_only)
    faults.script("GET /v1/me/playlists", Fault(delay_s=0.8))   # slower than the client waits
    with FakeSpotify(payload, faults=faults) as fake:
        library, stats = fetch(config_for(fake, logged_in(fake, tmp_path), requests_timeout_s=0.4))
    assert_same_library(library, expected)
    failed = sum(fake.requests.values()) - sum(fake.answered.values())
    assert failed >= 10 and stats.retries == failed + 1   # + the slow answer, given up on


def test_an_hour_of_retry_after_ends_at_once_with_one_sentence(payload, tmp_path):
    faults = FaultPlan().script("GET /v1/me", Fault(429, retry_after=3600))
    with FakeSpotify(payload, faults=faults) as fake:
        started = time.monotonic()
        with pytest.raises(SpotifyError) as error:
            fetch(config_for(fake, logged_in(fake, tmp_path)), sleep=time.sleep)
    assert time.monotonic() - started < 1.5
    assert str(error.value) == (
        "Spotify asked us to wait 3600 s (rate limit); the cap is 60 s (PLAYLIST_ASSETS_MAX_RETRY_AFTER_S): "
        "try again later."
    )


def test_endless_server_errors_end_in_one_sentence(payload, tmp_path):
    faults = FaultPlan().script("GET /v1/me/playlists", *[Fault(503)] * 10)
    with FakeSpotify(payload, faults=faults) as fake:
        with pytest.raises(SpotifyError, match=r"^Spotify kept failing on GET /me/playlists \(HTTP 503, 6 attempts\)"):
            fetch(config_for(fake, logged_in(fake, tmp_path)))


def test_an_unchanged_library_costs_only_the_list_requests(payload, tmp_path):
    with FakeSpotify(payload) as fake:
        config = config_for(fake, logged_in(fake, tmp_path))
        first, _ = fetch(config)
        fake.reset_counts()
        second, stats = fetch(config, previous=first, fetched_at=T0 + timedelta(days=1))
        assert api_counts(fake) == {"GET /v1/me": 1, "GET /v1/me/playlists": 1, "GET /v1/me/tracks": 1,
                                    "GET /v1/me/top/tracks": 3}
        assert (stats.playlists_unchanged, stats.playlists_fetched, stats.liked_unchanged) == (12, 0, True)
        assert_same_library(second, first, ignore=())   # carried rows keep when they were read

        edited_id = payload.playlists[1]["id"]
        fake.payload = edited = edit_playlists(payload, [edited_id], seed=3)
        fake.reset_counts()
        third, stats = fetch(config, previous=second, fetched_at=T0 + timedelta(days=2))
    entry_pages = -(-len(edited.playlist_items[edited_id]) // 100)
    assert api_counts(fake) == {"GET /v1/me": 1, "GET /v1/me/playlists": 1, "GET /v1/me/tracks": 1,
                                "GET /v1/me/top/tracks": 3, "GET /v1/playlists/{id}/items": entry_pages}
    assert stats.playlists_fetched == 1
    want = library_from_payload(edited, source="demo", fetched_at=T0)
    # The demo normalizer keeps every album/artist/feature of the payload; the fetch keeps
    # only those the library still references.
    tracks = want.tracks["track_id"].implode()
    want = dataclasses.replace(
        want,
        albums=want.albums.filter(pl.col("album_id").is_in(want.tracks["album_id"].implode())),
        artists=want.artists.filter(pl.col("artist_id").is_in(want.track_artists["artist_id"].implode())),
        audio_features=want.audio_features.filter(pl.col("track_id").is_in(tracks)),
    )
    assert_same_library(third, want)
    moments = dict(third.playlists.select("playlist_id", "fetched_at").iter_rows())
    assert moments[edited_id] == T0 + timedelta(days=2) and moments[payload.playlists[0]["id"]] == T0


def test_refused_batch_endpoints_fall_back_to_one_id_at_a_time(payload, expected, tmp_path):
    log: list[str] = []
    with FakeSpotify(payload, batch_endpoints_missing=True) as fake:
        library, _ = fetch(config_for(fake, logged_in(fake, tmp_path)), log=log)
    assert_same_library(library, expected)
    assert fake.requests["GET /v1/albums?ids="] == 1 and fake.requests["GET /v1/artists?ids="] == 1
    assert fake.requests["GET /v1/albums/{id}"] == len(payload.albums)
    assert fake.requests["GET /v1/artists/{id}"] == len(payload.artists)
    assert sum("one at a time" in line for line in log) == 2


def test_albums_are_read_again_only_when_older_than_the_refresh_interval(payload, tmp_path):
    with FakeSpotify(payload) as fake:
        config = config_for(fake, logged_in(fake, tmp_path), refresh_after_days=30)
        first, _ = fetch(config)
        old = first.albums["album_id"].head(5).to_list()
        dated = first.albums.with_columns(
            pl.when(pl.col("album_id").is_in(old)).then(pl.lit(T0 - timedelta(days=45)))
            .otherwise(pl.lit(T0 - timedelta(days=5))).cast(tables.UTC_TIME).alias("fetched_at"))
        fake.reset_counts()
        _, stats = fetch(config, previous=dataclasses.replace(first, albums=dated))
    assert stats.albums_fetched == 5 and fake.requests["GET /v1/albums?ids="] == 1


def test_refused_audio_features_come_from_reccobeats(payload, expected, tmp_path):
    unknown = set(list(payload.audio_features)[:40])
    known = {k: v for k, v in payload.audio_features.items() if k not in unknown}
    log: list[str] = []
    with FakeSpotify(payload, audio_features_forbidden=True) as fake, FakeReccoBeats(known) as recco:
        config = config_for(fake, logged_in(fake, tmp_path), feature_providers=("spotify", "reccobeats"),
                            reccobeats_base=recco.api_base)
        library, stats = fetch(config, log=log)
        spotify_asked = fake.requests["GET /v1/audio-features?ids="]
        # A second ingest asks no provider about the tracks it already has features for.
        half = library.audio_features.head(300).with_columns(pl.lit("earlier").alias("provider"))
        recco.reset_counts()
        again, _ = fetch(config, previous=RawLibrary.from_frames(audio_features=half))
    assert spotify_asked == 1
    assert sum("audio-features" in line and "403" in line for line in log) == 1
    features = library.audio_features
    assert set(features["provider"]) == {"reccobeats"} and stats.features_by_provider == {"reccobeats": len(known)}
    assert set(features["track_id"]) == set(known) and not unknown & set(features["track_id"])
    columns = [c.name for c in tables.AUDIO_FEATURE_COLUMNS if c.name != "time_signature"]
    want = expected.audio_features.filter(pl.col("track_id").is_in(list(known))).select("track_id", *columns)
    assert features.select("track_id", *columns).sort("track_id").equals(want.sort("track_id"))
    assert features["time_signature"].null_count() == features.height   # ReccoBeats has none
    asked = recco.requests["GET /v1/audio-features?ids="]
    assert asked == -(-(len(expected.tracks) - 300) // 40)
    assert again.audio_features.filter(pl.col("provider") == "earlier").height == 300


def test_others_playlists_are_skipped_with_the_reason(payload, expected, tmp_path):
    log: list[str] = []
    with FakeSpotify(payload, forbid_unowned_playlists=True) as fake:
        config = config_for(fake, logged_in(fake, tmp_path))
        library, stats = fetch(config, log=log)
        fake.reset_counts()
        _, again = fetch(config, previous=library)
    friends = {p["id"] for p in payload.playlists if p["owner"]["id"] != payload.user["id"]}
    assert len(friends) == 1 and stats.playlists_skipped == 1 == again.playlists_skipped
    skipped = library.playlists.filter(pl.col("skipped_reason").is_not_null())
    assert skipped["playlist_id"].to_list() == list(friends) and skipped["skipped_reason"][0] == FORBIDDEN_REASON
    assert library.playlist_tracks.filter(pl.col("playlist_id").is_in(list(friends))).is_empty()
    mine = expected.playlist_tracks.filter(~pl.col("playlist_id").is_in(list(friends)))
    assert library.playlist_tracks.sort("playlist_id", "position").equals(mine.sort("playlist_id", "position"))
    assert "GET /v1/playlists/{id}/items" not in fake.requests   # still refused: not asked again


def test_public_playlists_use_client_credentials(payload, expected, tmp_path):
    first, second = payload.playlists[0]["id"], payload.playlists[1]["id"]
    refs = (f"https://open.spotify.com/playlist/{first}?si=abc", f"spotify:playlist:{second}")
    with FakeSpotify(payload) as fake:
        library, _ = fetch(config_for(fake, tmp_path / "unused.json", playlist_refs=refs))
    assert library.playlists["playlist_id"].to_list() == [first, second]
    assert "GET /v1/me" not in fake.requests and not (tmp_path / "unused.json").exists()
    want = expected.playlist_tracks.filter(pl.col("playlist_id").is_in([first, second]))
    assert library.playlist_tracks.sort("playlist_id", "position").equals(want.sort("playlist_id", "position"))


def test_a_rejected_login_says_to_log_in_again(payload, tmp_path):
    with FakeSpotify(payload) as fake:
        cache = logged_in(fake, tmp_path)
        fake.revoke_all_tokens()
        with pytest.raises(SpotifyError) as revoked:
            fetch(config_for(fake, cache))
        expired = logged_in(fake, tmp_path, expires_in=-10)   # refresh needed, and refused
        fake.revoke_all_tokens()
        with pytest.raises(SpotifyError) as refused:
            fetch(config_for(fake, expired))
        with pytest.raises(SpotifyError, match="No usable Spotify login .*playlist-assets login"):
            fetch(config_for(fake, tmp_path / "never-logged-in.json"))
    assert str(revoked.value) == LOGIN_SENTENCE == str(refused.value)


def test_secrets_stay_out_of_logs_errors_and_data(payload, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    log: list[str] = []
    with FakeSpotify(payload) as fake:
        config = config_for(fake, logged_in(fake, tmp_path, expires_in=-10))   # forces a refresh
        library, stats = fetch(config, log=log)
        public, _ = fetch(config_for(fake, tmp_path / "x.json", playlist_refs=(payload.playlists[0]["id"],)), log=log)
        secrets = [CLIENT_SECRET, base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
                   *fake.access_tokens, *fake.refresh_tokens]
    assert len(secrets) >= 5
    text = "\n".join([caplog.text, *log, repr(stats), repr(config)])
    assert "Bearer [redacted]" in caplog.text   # spotipy did log its headers, redacted
    cells = [
        str(value)
        for lib in (library, public) for frame in lib.by_table().values()
        for column in frame.select(pl.col(pl.String, pl.List(pl.String))).iter_columns()
        for value in column.to_list()
    ]
    for secret in secrets:
        assert secret not in text and not any(secret in cell for cell in cells)


def test_login_without_a_browser_stores_the_token_readable_only_by_the_owner(payload, tmp_path):
    shown: list[str] = []
    cache = tmp_path / "private" / "token.json"
    with FakeSpotify(payload) as fake:
        config = config_for(fake, cache)

        def paste_redirect(prompt: str) -> str:
            state = shown[-1].split("state=")[1].split("&")[0]
            return f"{config.redirect_uri}?code={fake.authorization_code()}&state={state}"

        assert login(config, ask=paste_redirect, say=shown.append) == cache
        assert fake.accounts_base + "authorize?" in shown[0]
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
        assert json.loads(cache.read_text())["refresh_token"] in fake.refresh_tokens
        library, _ = fetch(config)   # the stored login is usable as it is
    assert library.playlists.height == len(payload.playlists)


def test_a_users_feature_csv_is_read_by_column_names(tmp_path):
    csv = tmp_path / "my features.csv"
    csv.write_text("Track URI,Danceability,Energy,Time Signature,Other\n"
                   "spotify:track:0123456789abcdefghijAB,0.5,0.7,4,x\n"
                   "https://open.spotify.com/track/ZYXWVUTSRQPONMLKJIHGFE?si=1,0.1,,3,y\n")
    rows = read_feature_csv(csv)
    assert rows["track_id"].to_list() == ["0123456789abcdefghijAB", "ZYXWVUTSRQPONMLKJIHGFE"]
    assert rows["energy"].to_list() == [0.7, None] and rows["time_signature"].to_list() == [4, 3]
    assert set(rows["provider"]) == {"my features.csv"}


def test_config_from_environment():
    config = SpotifyConfig.from_env({
        "SPOTIFY_CLIENT_ID": "id", "SPOTIFY_CLIENT_SECRET": "secret", "SPOTIFY_API_BASE": "http://127.0.0.1:9/v1",
        "PLAYLIST_ASSETS_SPOTIFY_PLAYLISTS": "a, b c", "PLAYLIST_ASSETS_MAX_RETRY_AFTER_S": "5",
        "PLAYLIST_ASSETS_FEATURE_PROVIDERS": "reccobeats,csv:/tmp/f.csv",
    })
    assert (config.api_base, config.playlist_refs, config.max_retry_after_s) == ("http://127.0.0.1:9/v1/", ("a", "b", "c"), 5.0)
    assert config.feature_providers == ("reccobeats", "csv:/tmp/f.csv") and "secret" not in repr(config)
    assert config.token_cache == Path("~/.cache/playlist-assets/spotify-token.json").expanduser()
    with pytest.raises(ValueError, match="PLAYLIST_ASSETS_MAX_RETRY_AFTER_S must be a number"):
        SpotifyConfig.from_env({"PLAYLIST_ASSETS_MAX_RETRY_AFTER_S": "soon"})
