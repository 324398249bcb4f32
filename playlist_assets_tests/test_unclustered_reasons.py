"""Why an entry or a playlist is not clustered must be true of it (issue #16 item 5.3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from playlist_assets.clustering import analysis, kmeans
from playlist_assets.features import feature_table
from playlist_assets.ingest.sources.account_export import read_account_export
from playlist_assets.ingest.sources.exportify import read_exportify
from playlist_assets.ingest.sources.library import RawLibrary

FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def tid(n: int) -> str:
    return f"T{n:021d}"


def _item(n: int) -> dict:
    track = {"trackName": f"Song {n}", "artistName": f"Artist {n % 7}", "albumName": f"Album {n % 11}",
             "trackUri": f"spotify:track:{tid(n)}"}
    return {"track": track, "episode": None, "localTrack": None, "addedDate": "2024-05-01"}


def _clustered(library: RawLibrary) -> analysis.ClusteredLibrary:
    table = feature_table.track_features(library.tracks, library.albums, library.audio_features)
    return analysis.cluster_library(library.playlists, library.playlist_tracks, table)


def _by_name(library: RawLibrary, result: analysis.ClusteredLibrary) -> dict[str, dict]:
    names = dict(zip(library.playlists["playlist_id"], library.playlists["name"], strict=True))
    out = {}
    for row in result.playlist_clusterings.iter_rows(named=True):
        entries = result.unclustered_entries.filter(pl.col("playlist_id") == row["playlist_id"])
        out[names[row["playlist_id"]]] = {**row, "entry_reasons": sorted(set(entries["reason"]))}
    return out


def test_an_account_export_without_audio_features_says_so_not_too_few_tracks(tmp_path):
    folder = tmp_path / "Spotify Account Data"
    folder.mkdir()
    playlists = [
        {"name": "Big", "lastModifiedDate": "2024-05-02", "items": [_item(n) for n in range(95)]},
        {"name": "Six", "lastModifiedDate": "2024-05-02", "items": [_item(n) for n in range(100, 106)]},
        {"name": "Small", "lastModifiedDate": "2024-05-02", "items": [_item(n) for n in range(200, 203)]},
    ]
    (folder / "Playlist1.json").write_text(json.dumps({"playlists": playlists}), encoding="utf-8")
    library = read_account_export(folder, fetched_at=FETCHED_AT)
    result = _by_name(library, _clustered(library))

    for name in ("Big", "Six"):
        playlist = result[name]
        assert not playlist["clustered"]
        assert playlist["n_tracks"] >= kmeans.MIN_TRACKS
        assert playlist["entry_reasons"] == [analysis.REASON_NO_FEATURES], name
        # The sentence says how to get features for an account export.
        reason = playlist["reason"]
        assert "audio features" in reason and "too few" not in reason.casefold()
        assert "SPOTIFY_CLIENT_ID" in reason and "SPOTIFY_CLIENT_SECRET" in reason
        assert "PLAYLIST_ASSETS_FEATURE_PROVIDERS" in reason and "csv:PATH" in reason
    # Three tracks really are too few, whatever their features.
    assert result["Small"]["entry_reasons"] == [analysis.REASON_TOO_FEW]
    assert "at least 6" in result["Small"]["reason"]


def test_a_playlist_without_audio_features_is_still_clustered_on_metadata_when_it_has_some(tmp_path):
    header = "Track ID,Track Name,Album Name,Artist Name(s),Release Date,Duration (ms),Popularity,Explicit\n"
    rows = "".join(
        f"{tid(n)},Song {n},Album {n},Artist {n},{1960 + 9 * (n % 4)},{120_000 + 40_000 * (n % 3)},{10 * (n % 9)},"
        f"{'true' if n % 2 else 'false'}\n"
        for n in range(24)
    )
    path = Path(tmp_path / "no features.csv")
    path.write_text(header + rows, encoding="utf-8")
    library = read_exportify(path, fetched_at=FETCHED_AT)
    assert library.audio_features.height == 0
    clustered = _clustered(library)
    (summary,) = clustered.playlist_clusterings.iter_rows(named=True)
    assert summary["clustered"] and summary["feature_set"] == "metadata"
    assert summary["n_clustered"] == 24 and clustered.unclustered_entries.height == 0


def test_entries_of_an_unclusterable_playlist_with_features_are_not_blamed_on_features():
    tracks = pl.DataFrame({
        "track_id": [tid(n) for n in range(8)],
        "has_audio_features": [True] * 8,
    })
    entries = pl.DataFrame({
        "playlist_id": ["p"] * 8, "position": list(range(8)), "item_kind": ["track"] * 8,
        "track_id": tracks["track_id"], "item_name": [None] * 8, "is_playable": [True] * 8,
    }, schema_overrides={"item_name": pl.String})
    clusterings = pl.DataFrame({"playlist_id": ["p"], "clustered": [False], "n_tracks": [8]})
    memberships = pl.DataFrame(schema={"playlist_id": pl.String, "track_id": pl.String})
    reasons = analysis.not_clustered(entries, memberships, clusterings, tracks)["reason"].unique().to_list()
    assert reasons == [analysis.REASON_PLAYLIST_NOT_CLUSTERED]
