"""The demo library: its size, every awkward case a real library has, and its normalization."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import polars as pl
import pytest

from playlist_assets.warehouse import tables
from playlist_assets.ingest.sources.demo import demo_library, edit_playlists
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload, library_from_payload
from playlist_assets_tests.demo_defaults import default_demo_args, default_demo_payload

FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)

# What a report renderer must survive, by the pattern that finds it in a name.
AWKWARD_NAME_PATTERNS = {
    "Hebrew": "[\u0590-\u05ff]",
    "Japanese kana": "[\u3040-\u30ff]",
    "Chinese characters": "[\u4e00-\u9fff]",
    "Korean": "[\uac00-\ud7af]",
    "emoji": "[\U0001f300-\U0001faff]",
    "pipe": re.escape("|"),
    "opening bracket": re.escape("["),
    "closing bracket": re.escape("]"),
    "html tag": re.escape("<b>"),
    "backtick": "`",
    "newline": "\n",
}


@pytest.fixture(scope="module")
def payload() -> SpotifyPayload:
    return default_demo_payload()


@pytest.fixture(scope="module")
def library(payload: SpotifyPayload) -> RawLibrary:
    return library_from_payload(payload, source="demo", fetched_at=FETCHED_AT)


@pytest.fixture(scope="module")
def scaled_library() -> RawLibrary:
    return demo_library(1000, 10, 7)


def _entries_of(library: RawLibrary, kind: str) -> pl.DataFrame:
    return library.playlist_tracks.filter(pl.col("item_kind") == kind)


def _missing_name_kinds(library: RawLibrary) -> dict[str, list[str]]:
    names = {
        "track": library.tracks["name"].to_list(),
        "album": library.albums["name"].to_list(),
        "artist": library.artists["name"].to_list(),
        "playlist": library.playlists["name"].to_list(),
    }
    return {
        entity: missing
        for entity, values in names.items()
        if (missing := [k for k, p in AWKWARD_NAME_PATTERNS.items() if not any(re.search(p, v) for v in values)])
    }


def test_default_library_has_a_dozen_playlists_and_one_to_two_thousand_entries(library: RawLibrary) -> None:
    assert library.playlists.height == 12
    assert 1_000 <= library.playlist_tracks.height <= 2_000
    assert library.playlists["n_entries"].sum() == library.playlist_tracks.height
    assert 500 <= library.tracks.height <= library.playlist_tracks.height
    assert library.liked_tracks.height > 50
    assert library.listening.height > 50


def test_tracks_are_shared_and_artists_and_albums_have_several_tracks(library: RawLibrary) -> None:
    playlists_per_track = (
        library.playlist_tracks.drop_nulls("track_id").group_by("track_id").agg(pl.col("playlist_id").n_unique())
    )
    assert playlists_per_track.filter(pl.col("playlist_id") >= 2).height > 50
    assert library.tracks.group_by("album_id").len()["len"].median() >= 3
    assert library.track_artists.group_by("artist_id").len()["len"].median() >= 5


def test_playlists_mix_genres_whose_audio_features_differ(library: RawLibrary) -> None:
    main_genre = (
        library.track_artists.filter(pl.col("position") == 0)
        .join(library.artists, on="artist_id")
        .select("track_id", genre=pl.col("genres").list.first())
    )
    features = [c.name for c in tables.AUDIO_FEATURE_COLUMNS]
    by_genre = library.audio_features.join(main_genre, on="track_id").group_by("genre").agg(pl.col(features).mean())
    means = {row["genre"]: row for row in by_genre.iter_rows(named=True)}
    assert len(means) >= 7
    assert means["classical"]["acousticness"] > 0.8 and means["classical"]["energy"] < 0.3
    assert means["metal"]["energy"] > 0.85 and means["metal"]["loudness"] > -6
    assert means["hip hop"]["speechiness"] == max(row["speechiness"] for row in means.values())
    genres_per_playlist = (
        library.playlist_tracks.join(main_genre, on="track_id").group_by("playlist_id").agg(pl.col("genre").n_unique())
    )
    assert genres_per_playlist["genre"].max() >= 3


def test_an_empty_playlist_and_a_two_track_playlist_are_present(library: RawLibrary) -> None:
    counts = dict(zip(library.playlists["playlist_id"], library.playlists["n_entries"]))
    empty = [pid for pid, n in counts.items() if n == 0]
    assert empty
    assert library.playlist_tracks.filter(pl.col("playlist_id").is_in(empty)).height == 0
    two = [pid for pid, n in counts.items() if n == 2]
    assert library.playlist_tracks.filter(pl.col("playlist_id").is_in(two), pl.col("item_kind") == "track").height == 2


def test_a_repeated_track_is_kept_and_flagged_from_its_second_occurrence(library: RawLibrary) -> None:
    duplicates = library.playlist_tracks.filter(pl.col("is_duplicate"))
    assert duplicates.height >= 1
    for playlist_id, track_id, position in duplicates.select("playlist_id", "track_id", "position").iter_rows():
        earlier = library.playlist_tracks.filter(
            pl.col("playlist_id") == playlist_id, pl.col("track_id") == track_id, pl.col("position") < position
        )
        assert earlier.height >= 1 and not earlier["is_duplicate"][0]


def test_local_files_episodes_and_removed_entries_are_kept_without_a_track_id(library: RawLibrary) -> None:
    local, episode, removed = (_entries_of(library, kind) for kind in ("local", "episode", "removed"))
    assert local.height >= 1 and local["item_uri"].str.starts_with("spotify:local:").all()
    assert episode.height >= 1 and episode["item_uri"].str.starts_with("spotify:episode:").all()
    assert episode["item_name"].is_not_null().all()
    assert episode["item_artists"].is_not_null().all()  # the show, shown in Not clustered
    assert removed.height >= 1 and removed["item_uri"].is_null().all()
    for entries in (local, episode, removed):
        assert entries["track_id"].is_null().all()


def test_some_tracks_have_no_audio_features_and_some_are_unplayable(library: RawLibrary) -> None:
    without = library.tracks.join(library.audio_features, on="track_id", how="anti")
    assert 0 < without.height < library.tracks.height // 10
    assert library.playlist_tracks.filter(pl.col("is_playable") == False).height >= 1  # noqa: E712


def test_names_in_every_script_and_with_markup_exist_for_tracks_albums_artists_and_playlists(
    library: RawLibrary,
) -> None:
    assert _missing_name_kinds(library) == {}


def test_two_playlists_share_a_name_and_albums_and_artists_have_their_gaps(library: RawLibrary) -> None:
    ids_per_name = library.playlists.group_by("name").agg(pl.col("playlist_id").n_unique())
    assert ids_per_name.filter(pl.col("playlist_id") > 1).height >= 1
    assert library.albums["label"].str.contains("|", literal=True).any()
    assert library.albums["label"].is_null().any()
    assert (library.artists["genres"].list.len() == 0).any()


def test_every_table_keeps_its_primary_key_and_references_resolve(library: RawLibrary) -> None:
    for table, frame in library.by_table().items():
        keys = list(table.primary_key)
        assert frame.select(keys).null_count().sum_horizontal().item() == 0, table.qualified_name
        assert not frame.select(keys).is_duplicated().any(), table.qualified_name
        assert frame.schema == table.polars_schema, table.qualified_name
    track_ids = set(library.tracks["track_id"])
    for frame in (library.playlist_tracks, library.audio_features, library.liked_tracks, library.listening):
        assert set(frame["track_id"].drop_nulls()) <= track_ids
    assert set(library.tracks["album_id"]) <= set(library.albums["album_id"])
    assert set(library.track_artists["artist_id"]) <= set(library.artists["artist_id"])


def test_same_arguments_give_the_same_library_and_another_seed_another(library: RawLibrary) -> None:
    again = demo_library(*default_demo_args())
    for name in tables.RAW_TABLES:
        assert getattr(again, name.name).equals(getattr(library, name.name)), name.qualified_name
    playlists, tracks, seed = default_demo_args()
    other = demo_library(playlists, tracks, seed + 1)
    assert not other.tracks.equals(library.tracks)


def test_payload_is_plain_json(payload: SpotifyPayload) -> None:
    text = json.dumps({f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}, ensure_ascii=False)
    assert json.loads(text)["playlists"][0]["items"]["total"] == payload.playlists[0]["items"]["total"]


def test_edit_playlists_changes_exactly_the_named_playlists(payload: SpotifyPayload, library: RawLibrary) -> None:
    snapshots = dict(zip(library.playlists["playlist_id"], library.playlists["snapshot_id"]))
    named = [payload.playlists[1]["id"], payload.playlists[8]["id"]]   # a full one and the empty one
    edited_payload = edit_playlists(payload, named, seed=1)
    edited = library_from_payload(edited_payload, source="demo", fetched_at=FETCHED_AT)
    changed = {pid for pid, snap in zip(edited.playlists["playlist_id"], edited.playlists["snapshot_id"])
               if snapshots[pid] != snap}
    assert changed == set(named)
    untouched = pl.col("playlist_id").is_in(named).not_()
    assert edited.playlist_tracks.filter(untouched).equals(library.playlist_tracks.filter(untouched))
    assert edited.playlists.filter(pl.col("playlist_id") == named[1])["n_entries"].item() > 0
    # The input payload is left as it was, and the same edit gives the same result.
    assert [p["snapshot_id"] for p in payload.playlists] == list(library.playlists["snapshot_id"])
    assert edit_playlists(payload, named, seed=1) == edited_payload


def test_item_and_track_entry_shapes_normalize_identically(payload: SpotifyPayload, library: RawLibrary) -> None:
    def older_shape(entry: dict) -> dict:
        return {**{k: v for k, v in entry.items() if k != "item"}, "track": entry["item"]}

    older = dataclasses.replace(
        payload, playlist_items={pid: [older_shape(e) for e in items] for pid, items in payload.playlist_items.items()}
    )
    normalized = library_from_payload(older, source="demo", fetched_at=FETCHED_AT)
    for table in tables.RAW_TABLES:
        assert getattr(normalized, table.name).equals(getattr(library, table.name)), table.qualified_name


def test_listening_score_weights_each_top_list_by_its_term() -> None:
    def track(track_id: str) -> dict:
        return {"id": track_id, "type": "track", "name": track_id, "album": {"id": "al"}, "artists": []}

    payload = SpotifyPayload(
        user={}, playlists=[], playlist_items={}, albums={}, artists={}, audio_features={}, saved_tracks=[],
        top_tracks={"short_term": [track("a"), track("b")], "medium_term": [track("b")],
                    "long_term": [track("a"), track("c")]},
    )
    listening = library_from_payload(payload, source="spotify", fetched_at=FETCHED_AT).listening
    scores = {row["track_id"]: row for row in listening.iter_rows(named=True)}
    # a: rank 1 of 2 short (2 x 1) + rank 1 of 2 long (2 x 3); b: 1 x 1 + 1 x 2; c: rank 2 of 2 long (1 x 3)
    assert {t: r["score"] for t, r in scores.items()} == {"a": 8, "b": 3, "c": 3}
    ranks = scores["a"]["short_term_rank"], scores["a"]["medium_term_rank"], scores["a"]["long_term_rank"]
    assert ranks == (1, None, 1)


def test_a_playlist_whose_entries_were_refused_keeps_its_row_and_reason() -> None:
    playlist = {"id": "p1", "name": "Not mine", "owner": {"id": "someone"}, "items": {"total": 40}}
    payload = SpotifyPayload(
        user={}, playlists=[playlist], playlist_items={}, albums={}, artists={}, audio_features={},
        saved_tracks=[], top_tracks={}, skipped_playlists={"p1": "Spotify refused the entries (403)"},
    )
    library = library_from_payload(payload, source="spotify", fetched_at=FETCHED_AT)
    row = library.playlists.row(0, named=True)
    assert (row["n_entries"], row["skipped_reason"]) == (40, "Spotify refused the entries (403)")
    assert library.playlist_tracks.height == 0


def test_scaled_library_has_a_thousand_playlists_and_keeps_the_awkward_cases(scaled_library: RawLibrary) -> None:
    assert scaled_library.playlists.height == 1_000
    assert scaled_library.playlists["playlist_id"].n_unique() == 1_000
    assert scaled_library.tracks.height > 4_000
    assert _missing_name_kinds(scaled_library) == {}
    kinds = set(scaled_library.playlist_tracks["item_kind"])
    assert kinds == {"track", "local", "episode", "removed"}
    assert scaled_library.playlist_tracks["is_duplicate"].any()
