"""Filling an account export's tracks from the (fake) Spotify Web API with app credentials."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import requests

from playlist_assets.ingest.sources.account_enrich import enrich_from_api
from playlist_assets.ingest.sources.account_export import read_account_export
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig
from playlist_assets.ingest.sources.spotify_http import SpotifyError
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload, entry_item
from playlist_assets_tests.test_spotify_source import T0, expected, no_sleep, payload  # noqa: F401 (fixtures)
from playlist_assets_tests.fakes import CLIENT_ID, CLIENT_SECRET, FakeSpotify, Fault, FaultPlan

UNKNOWN_ID = "0unknownTrack000000000"   # 22 base-62 characters no payload has
UNKNOWN = {"trackName": "Not On Spotify", "artistName": "Nobody Known", "albumName": "Nowhere",
           "trackUri": f"spotify:track:{UNKNOWN_ID}"}


def _export_item(track: dict | None) -> dict:
    return {"track": track, "episode": None, "audiobook": None, "localTrack": None, "addedDate": "2025-06-10"}


def write_export(payload: SpotifyPayload, folder: Path, n_playlists: int = 3, per_playlist: int = 25) -> Path:
    """A 2025-schema Playlist1.json naming tracks of the demo payload, plus one unknown track
    and one local file."""
    playlists = []
    for playlist in payload.playlists[:n_playlists]:
        items = []
        for entry in payload.playlist_items.get(playlist["id"], []):
            track = entry_item(entry)
            if not track or track.get("type") != "track" or track.get("is_local") or not track.get("id"):
                continue
            items.append(_export_item({
                "trackName": track["name"], "artistName": track["artists"][0]["name"],
                "albumName": track["album"]["name"], "trackUri": track["uri"],
            }))
            if len(items) == per_playlist:
                break
        playlists.append({"name": playlist["name"], "lastModifiedDate": "2025-08-30", "collaborators": [],
                          "items": items})
    playlists[0]["items"] += [
        _export_item(UNKNOWN),
        {"track": None, "episode": None, "audiobook": None, "addedDate": "2025-06-11",
         "localTrack": {"uri": "spotify:local:Some+Artist:Some+Album:Home+Demo:215"}},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Playlist1.json").write_text(json.dumps({"playlists": playlists}, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture
def export(payload, tmp_path) -> RawLibrary:
    return read_account_export(write_export(payload, tmp_path / "export"), fetched_at=T0)


def config_for(fake: FakeSpotify, **changes) -> SpotifyConfig:
    settings = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_base": fake.api_base,
                "accounts_base": fake.accounts_base, "feature_providers": ("spotify",)}
    return SpotifyConfig(**{**settings, **changes})


def enrich(library: RawLibrary, config: SpotifyConfig, log: list[str] | None = None) -> RawLibrary:
    return enrich_from_api(library, config, sleep=no_sleep, log=(log if log is not None else []).append,
                           fetched_at=T0)


def known_ids(export: RawLibrary) -> list[str]:
    return [i for i in export.tracks["track_id"].to_list() if i != UNKNOWN_ID]


def assert_filled(enriched: RawLibrary, export: RawLibrary, expected: RawLibrary) -> None:
    ids = known_ids(export)
    assert len(ids) >= 50   # more than one batch of /tracks?ids=
    # Entries, playlists, liked and listening are the export's, untouched.
    for name in ("playlists", "playlist_tracks", "liked_tracks", "listening"):
        assert getattr(enriched, name).equals(getattr(export, name)), name
    # Every known track is the API's row: real album id, duration, explicit, popularity, ISRC.
    assert enriched.tracks["track_id"].to_list() == export.tracks["track_id"].to_list()
    got = enriched.tracks.filter(pl.col("track_id").is_in(ids)).sort("track_id")
    want = expected.tracks.filter(pl.col("track_id").is_in(ids)).sort("track_id")
    assert got.equals(want)
    assert got["duration_ms"].null_count() == 0 and not got["album_id"].str.starts_with("export-").any()
    credits = enriched.track_artists.filter(pl.col("track_id").is_in(ids)).sort("track_id", "position")
    assert credits.equals(expected.track_artists.filter(pl.col("track_id").is_in(ids)).sort("track_id", "position"))
    # Full albums (labels, release dates, images) and artists (genres) of those tracks.
    album_ids = got["album_id"].unique().to_list()
    def catalog(frame: pl.DataFrame, key: str, ids: list[str]) -> pl.DataFrame:
        return frame.filter(pl.col(key).is_in(ids)).drop("fetched_at").sort(key)

    albums = catalog(enriched.albums, "album_id", album_ids)
    assert albums.equals(catalog(expected.albums, "album_id", album_ids))
    assert albums["label"].null_count() == 0
    artist_ids = credits["artist_id"].unique().to_list()
    artists = catalog(enriched.artists, "artist_id", artist_ids)
    assert artists.equals(catalog(expected.artists, "artist_id", artist_ids))
    assert artists["genres"].list.len().sum() > 0
    # Audio features from Spotify, as the payload has them.
    features = enriched.audio_features.sort("track_id")
    want_features = expected.audio_features.filter(pl.col("track_id").is_in(ids)).sort("track_id")
    assert features.drop("provider").equals(want_features.drop("provider")) and len(features) > 0
    assert set(features["provider"]) == {"spotify"}
    # Only the unknown track's derived album and artist remain.
    assert enriched.albums.filter(pl.col("album_id").str.starts_with("export-")).height == 1
    assert enriched.artists.filter(pl.col("artist_id").str.starts_with("export-")).height == 1
    for table, frame in enriched.by_table().items():
        assert frame.schema == table.polars_schema, table.name
        assert frame.select(table.primary_key).is_duplicated().sum() == 0, table.name


def assert_unknown_kept(enriched: RawLibrary, export: RawLibrary) -> None:
    def rows(library: RawLibrary) -> tuple:
        track = library.tracks.filter(pl.col("track_id") == UNKNOWN_ID)
        credits = library.track_artists.filter(pl.col("track_id") == UNKNOWN_ID)
        album = library.albums.filter(pl.col("album_id").is_in(track["album_id"].implode()))
        artist = library.artists.filter(pl.col("artist_id").is_in(credits["artist_id"].implode()))
        return track.to_dicts(), credits.to_dicts(), album.to_dicts(), artist.to_dicts()

    kept = rows(enriched)
    assert kept == rows(export)
    assert kept[0][0]["name"] == "Not On Spotify" and kept[0][0]["album_id"].startswith("export-album-")
    assert UNKNOWN_ID not in enriched.audio_features["track_id"].to_list()


def test_export_tracks_are_filled_from_the_api(export, expected, payload):
    log: list[str] = []
    with FakeSpotify(payload) as fake:
        enriched = enrich(export, config_for(fake), log)
    assert_filled(enriched, export, expected)
    assert_unknown_kept(enriched, export)
    assert fake.requests["GET /v1/tracks?ids="] == 2 and fake.requests["GET /v1/tracks/{id}"] == 0
    assert not any("/me" in endpoint for endpoint in fake.requests)   # app credentials only
    assert not any(CLIENT_SECRET in line or "fake-app-token" in line for line in log)
    assert any("kept as the export has them" in line for line in log)


def test_without_batch_endpoints_the_result_is_the_same(export, expected, payload):
    log: list[str] = []
    with FakeSpotify(payload) as fake:
        batched = enrich(export, config_for(fake))
    with FakeSpotify(payload, batch_endpoints_missing=True) as fake:
        single = enrich(export, config_for(fake), log)
    assert_filled(single, export, expected)
    assert_unknown_kept(single, export)
    for table, frame in single.by_table().items():
        assert frame.equals(getattr(batched, table.name)), table.name
    assert fake.requests["GET /v1/tracks?ids="] == 1   # refused once, then one by one
    assert fake.requests["GET /v1/tracks/{id}"] == export.tracks.height
    assert any("GET /tracks?ids=" in line and "one at a time" in line for line in log)


def test_enriching_again_reads_only_the_missing_features(export, payload):
    with FakeSpotify(payload) as fake:
        once = enrich(export, config_for(fake))
        fake.reset_counts()
        twice = enrich(once, config_for(fake))
    for table, frame in twice.by_table().items():
        assert frame.equals(getattr(once, table.name)), table.name
    # Only the unknown track is asked about again; albums and artists are fresh.
    assert fake.requests["GET /v1/tracks?ids="] == 1
    assert fake.requests["GET /v1/albums?ids="] == 0 and fake.requests["GET /v1/artists?ids="] == 0


def test_the_fake_batch_endpoint_answers_null_for_unknown_ids(payload):
    with FakeSpotify(payload) as fake:
        token = requests.post(fake.accounts_base + "api/token", data={"grant_type": "client_credentials"},
                              auth=(CLIENT_ID, CLIENT_SECRET), timeout=5).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        known = next(iter(fake.full_tracks()))
        batch = requests.get(fake.api_base + "tracks", params={"ids": f"{known},{UNKNOWN_ID}"}, headers=headers,
                             timeout=5).json()
        single = requests.get(fake.api_base + f"tracks/{UNKNOWN_ID}", headers=headers, timeout=5)
    assert batch["tracks"][0]["id"] == known and batch["tracks"][1] is None
    assert single.status_code == 404


def test_spotify_errors_propagate_as_one_sentence(export, payload):
    faults = FaultPlan().script("GET /v1/tracks?ids=", Fault(429, retry_after=3600))
    with FakeSpotify(payload, faults=faults) as fake, pytest.raises(SpotifyError) as error:
        enrich(export, config_for(fake))
    assert "rate limit" in str(error.value) and str(error.value).count(". ") == 0
    with FakeSpotify(payload) as fake, pytest.raises(SpotifyError) as error:
        enrich(export, config_for(fake, client_secret="wrong"))
    assert "invalid_client" in str(error.value) and "wrong" not in str(error.value)
    with pytest.raises(SpotifyError):
        enrich(export, SpotifyConfig("", ""))


def test_when_single_tracks_are_refused_too_the_export_is_kept(export, payload):
    faults = FaultPlan().script("GET /v1/tracks?ids=", Fault(404)).script("GET /v1/tracks/{id}", Fault(403))
    log: list[str] = []
    with FakeSpotify(payload, faults=faults) as fake:
        enriched = enrich(export, config_for(fake), log)
    for name in ("playlists", "playlist_tracks", "tracks", "track_artists", "albums", "artists"):
        assert getattr(enriched, name).equals(getattr(export, name)), name
    assert fake.requests["GET /v1/tracks/{id}"] == 1 and set(enriched.audio_features["provider"]) == {"spotify"}
    assert any("GET /tracks/{id} (HTTP 403)" in line for line in log)
