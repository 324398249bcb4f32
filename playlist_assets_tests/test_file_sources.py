"""The file sources: every Exportify CSV layout and the Spotify account export, real and synthetic."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from playlist_assets.ingest.sources.account_export import derived_artist_id, read_account_export
from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.exportify import read_exportify
from playlist_assets.ingest.sources.library import RawLibrary

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
WATSONBOX_2020 = SAMPLES / "exportify_watsonbox_2020_instrumental.csv"
ACCOUNT_2025 = SAMPLES / "account_export_2025_Playlist1.json"
# The real exports live in shared/ beside the repository (CI lays it there).
needs_samples = pytest.mark.skipif(
    not (WATSONBOX_2020.is_file() and ACCOUNT_2025.is_file()),
    reason=f"the real sample exports are not in {SAMPLES} (shared/ must sit beside the repo)",
)
FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)
FEATURE_VALUES = ["0.5", "0.6", "5", "-7.5", "1", "0.04", "0.1", "0.0", "0.12", "0.7", "120.0", "4"]


def tid(n: int) -> str:
    """A well-formed 22-character Spotify id."""
    return f"T{n:021d}"


def aid(n: int) -> str:
    return f"A{n:021d}"


def assert_contract(library: RawLibrary) -> None:
    """Every frame has its table's columns and types and a unique, non-null primary key."""
    for table, frame in library.by_table().items():
        assert frame.schema == table.polars_schema, table.name
        key = list(table.primary_key)
        assert frame.select(key).null_count().sum_horizontal().item() == 0, table.name
        assert not frame.select(key).is_duplicated().any(), f"duplicate key in {table.name}"


def assert_same(left: RawLibrary, right: RawLibrary) -> None:
    for (table, a), b in zip(left.by_table().items(), right.by_table().values(), strict=True):
        assert a.equals(b), table.name


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, bom: bool = False) -> Path:
    lines = [",".join(f'"{cell}"' for cell in row) for row in [header, *rows]]
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- Exportify -------------------------------------------------------------------------------

@needs_samples
def test_watsonbox_2020_sample_keeps_every_row_features_and_genres():
    library = read_exportify(WATSONBOX_2020, fetched_at=FETCHED_AT)
    assert_contract(library)
    with WATSONBOX_2020.open(encoding="utf-8", newline="") as handle:
        data_rows = len(list(csv.reader(handle))) - 1
    playlist = library.playlists.row(0, named=True)
    assert playlist["name"] == WATSONBOX_2020.stem
    assert re.fullmatch(r"exportify-[0-9a-f]{16}", playlist["playlist_id"])
    assert playlist["snapshot_id"] == hashlib.sha256(WATSONBOX_2020.read_bytes()).hexdigest()[:16]
    assert playlist["source"] == "exportify" and playlist["n_entries"] == data_rows
    assert library.playlist_tracks.height == data_rows
    assert library.playlist_tracks["item_kind"].unique().to_list() == ["track"]
    assert library.audio_features.height == library.tracks.height
    assert library.audio_features["provider"].unique().to_list() == [f"exportify:{WATSONBOX_2020.name}"]
    artists = {r["name"]: r for r in library.artists.iter_rows(named=True)}
    # The genre cell is the union of all credited artists' genres: it goes to the first one.
    assert "late romantic era" in artists["Franz Liszt"]["genres"]
    assert artists["Vladimir Horowitz"]["genres"] is None
    # An escaped comma inside a name ("\,") does not split the credit.
    assert "Choir of King's College, Cambridge" in artists
    assert library.artists["name"].null_count() == 0
    assert library.playlist_tracks["added_by"][0] == "sebastianelisapfeifer"


WATSONBOX_2024_HEADER = [
    "Track URI", "Track Name", "Artist URI(s)", "Artist Name(s)", "Album URI", "Album Name", "Album Artist URI(s)",
    "Album Artist Name(s)", "Album Release Date", "Album Image URL", "Disc Number", "Track Number",
    "Track Duration (ms)", "Track Preview URL", "Explicit", "Popularity", "ISRC", "Added By", "Added At",
    "Artist Genres", "Danceability", "Energy", "Key", "Loudness", "Mode", "Speechiness", "Acousticness",
    "Instrumentalness", "Liveness", "Valence", "Tempo", "Time Signature", "Album Genres", "Label", "Copyrights",
]


def watsonbox_2024_row(n: int, artists: list[tuple[str, str]], genres: str = "") -> list[str]:
    return [
        f"spotify:track:{tid(n)}", f"Song {n}", ", ".join(f"spotify:artist:{a}" for a, _ in artists),
        ", ".join(name.replace(",", "\\,") for _, name in artists), f"spotify:album:{aid(900 + n)}",
        f"Album {n}", "", "", "2019-05", "https://i.scdn.co/image/x", "1", "1", "201000", "", "true", "55",
        f"USRC1{n:07d}", "spotify:user:alice", "2024-03-01T10:00:00Z", genres, *FEATURE_VALUES, "", "Some Label",
        "C 2019",
    ]


def test_watsonbox_2024_layout_with_artist_uris_and_label(tmp_path):
    rows = [
        watsonbox_2024_row(1, [(aid(1), "Tyler, The Creator")], "hip hop,rap"),
        watsonbox_2024_row(2, [(aid(1), "Tyler, The Creator"), (aid(2), "Kali Uchis")], "hip hop,rap,colombian pop"),
    ]
    library = read_exportify(write_csv(tmp_path / "Road Trip.csv", WATSONBOX_2024_HEADER, rows), fetched_at=FETCHED_AT)
    assert_contract(library)
    track = library.tracks.row(0, named=True)
    assert (track["explicit"], track["popularity"], track["isrc"]) == (True, 55, "USRC10000001")
    assert track["duration_ms"] == 201000
    album = library.albums.row(0, named=True)
    assert (album["label"], album["release_date_precision"], album["image_url"]) == (
        "Some Label", "month", "https://i.scdn.co/image/x")
    assert library.track_artists.filter(pl.col("track_id") == tid(2))["artist_id"].to_list() == [aid(1), aid(2)]
    artists = dict(zip(library.artists["artist_id"], library.artists.iter_rows(named=True), strict=True))
    assert artists[aid(1)]["name"] == "Tyler, The Creator"
    assert artists[aid(1)]["genres"] == ["hip hop", "rap"]  # from the row where it is the only artist
    assert artists[aid(2)]["name"] == "Kali Uchis"
    assert library.audio_features["key"].to_list() == [5, 5]


def test_pavelkomarov_bom_track_id_first_record_label_and_semicolon_artists(tmp_path):
    header = ["Track ID", "Track Name", "Album Name", "Artist Name(s)", "Release Date", "Duration (ms)",
              "Popularity", "Explicit", "Added By", "Added At", "Genres", "Record Label", "Danceability", "Energy",
              "Key", "Loudness", "Mode", "Speechiness", "Acousticness", "Instrumentalness", "Liveness", "Valence",
              "Tempo", "Time Signature"]
    rows = [
        [tid(1), "One", "First Album", "Earth, Wind & Fire;Ann", "1975", "180000", "40", "false", "bob",
         "2021-01-01T00:00:00Z", "funk,soul", "Columbia", *FEATURE_VALUES],
        [tid(2), "Two", "Second", "Ann", "2001-02-03", "200000", "41", "false", "bob",
         "2021-01-02T00:00:00Z", "pop", "Indie", *FEATURE_VALUES],
    ]
    path = write_csv(tmp_path / "liked.csv", header, rows, bom=True)
    library = read_exportify(path, fetched_at=FETCHED_AT)
    assert_contract(library)
    assert library.tracks["track_id"].to_list() == [tid(1), tid(2)]
    assert library.tracks["uri"][0] == f"spotify:track:{tid(1)}"
    credits = library.track_artists.filter(pl.col("track_id") == tid(1))["artist_id"].to_list()
    assert credits == [derived_artist_id("Earth, Wind & Fire"), derived_artist_id("Ann")]
    assert library.artists.filter(pl.col("artist_id") == derived_artist_id("Ann"))["genres"].to_list() == [["pop"]]
    assert sorted(library.albums["label"].to_list()) == ["Columbia", "Indie"]
    assert library.albums["album_id"].str.starts_with("export-album-").all()
    assert library.audio_features.height == 2


def test_pavelkomarov_2019_spotify_id_and_comma_joined_artist_ids(tmp_path):
    header = ["Spotify ID", "Artist IDs", "Track Name", "Album Name", "Artist Name(s)", "Release Date",
              "Duration (ms)", "Popularity", "Added By", "Added At", "Genres"]
    rows = [[tid(3), f"{aid(3)},{aid(4)}", "Three", "Alb", "Ann,Bo", "2010", "1000", "1",
             "spotify:user:bob", "2019-06-01T00:00:00Z", "indie"]]
    library = read_exportify(write_csv(tmp_path / "old.csv", header, rows), fetched_at=FETCHED_AT)
    assert library.artists["name"].to_list() == ["Ann", "Bo"]
    assert library.audio_features.height == 0


def test_german_headers_with_stray_whitespace_and_tabs(tmp_path):
    header = ["Track-URI", " Titelname\t", "Künstler-URI(s)", "Künstlername(n)", "Albumname", "\tALBUM-URI ",
              "Hinzugefügt am", "Explizit", "Tanzbarkeit", "Energie", "Tonart", "Lautstärke", "Modus",
              "Sprachanteil", "Akustik", "Instrumentalität", "Lebendigkeit", "Valenz", "Tempo", "Taktart", "Label"]
    rows = [[f"spotify:track:{tid(5)}", "Lied", f"spotify:artist:{aid(5)}", "Künstlerin", "Platte",
             f"spotify:album:{aid(6)}", "2025-02-01T08:00:00Z", "false", *FEATURE_VALUES, "Plattenfirma"]]
    library = read_exportify(write_csv(tmp_path / "Lieblingslieder.csv", header, rows), fetched_at=FETCHED_AT)
    assert library.tracks.row(0, named=True)["name"] == "Lied"
    assert library.albums["album_id"].to_list() == [aid(6)]
    assert library.albums["label"].to_list() == ["Plattenfirma"]
    assert library.artists["name"].to_list() == ["Künstlerin"]
    assert library.audio_features["tempo"].to_list() == [120.0]
    assert library.playlist_tracks["added_at"][0] == datetime(2025, 2, 1, 8, tzinfo=UTC)


def test_removed_local_and_episode_rows_are_entries(tmp_path):
    header = ["Track URI", "Track Name", "Artist URI(s)", "Artist Name(s)", "Added At"]
    rows = [
        [f"spotify:track:{tid(1)}", "Real", f"spotify:artist:{aid(1)}", "Ann", "2024-01-01T00:00:00Z"],
        ["undefined", "undefined", "undefined", "undefined", "2024-01-02T00:00:00Z"],
        ["", "Gone", "", "", ""],
        ["spotify:local:My+Band:Demo+Tape:Garage+Song:215", "", "", "", ""],
        ["spotify:episode:E00000000000000000001", "Ep. 1", "", "", ""],
        [f"spotify:track:{tid(1)}", "Real", f"spotify:artist:{aid(1)}", "Ann", "2024-01-03T00:00:00Z"],
    ]
    library = read_exportify(write_csv(tmp_path / "mixed.csv", header, rows), fetched_at=FETCHED_AT)
    assert_contract(library)
    entries = library.playlist_tracks
    assert entries["item_kind"].to_list() == ["track", "removed", "removed", "local", "episode", "track"]
    assert entries["item_name"].to_list() == ["Real", None, "Gone", "Garage Song", "Ep. 1", "Real"]
    assert entries["is_duplicate"].to_list() == [False, False, False, False, False, True]
    assert library.playlists["n_entries"].to_list() == [6]
    assert library.tracks["track_id"].to_list() == [tid(1)]


def test_unknown_layout_names_the_file_and_both_column_lists(tmp_path):
    path = write_csv(tmp_path / "playlist.csv", ["Song", "Singer"], [["a", "b"]])
    with pytest.raises(SourceError) as raised:
        read_exportify(path, fetched_at=FETCHED_AT)
    message = str(raised.value)
    assert message.startswith("playlist.csv is not an Exportify export")
    assert "['Song', 'Singer']" in message
    assert "'Track URI'" in message and "'Track ID'" in message and "'Spotify ID'" in message


@needs_samples
def test_broken_files_raise_a_source_error_naming_the_file(tmp_path):
    latin1 = tmp_path / "latin.csv"
    latin1.write_bytes('"Track URI","Track Name"\n"spotify:track:x","Caf\u00e9"\n'.encode("latin-1"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match=r"^latin\.csv is not UTF-8 text"):
        read_exportify(latin1, fetched_at=FETCHED_AT)
    with pytest.raises(SourceError, match=r"^empty\.csv is empty"):
        read_exportify(empty, fetched_at=FETCHED_AT)
    # A folder of nothing but broken files has nothing to land: one error naming each file.
    with pytest.raises(SourceError, match=r"^No file in \S+ could be imported") as raised:
        read_exportify(tmp_path, fetched_at=FETCHED_AT)
    assert "empty.csv is empty" in str(raised.value) and "latin.csv is not UTF-8 text" in str(raised.value)
    # With a good file beside them, the good one is read and the broken ones are listed.
    shutil.copy(WATSONBOX_2020, tmp_path / "good.csv")
    library = read_exportify(tmp_path, fetched_at=FETCHED_AT)
    assert library.playlists["name"].to_list() == ["good"]
    assert library.refused_files["file"].to_list() == ["empty.csv", "latin.csv"]
    (tmp_path / "nothing").mkdir()
    with pytest.raises(SourceError, match=r"^nothing contains no \.csv files"):
        read_exportify(tmp_path / "nothing", fetched_at=FETCHED_AT)


@needs_samples
def test_folder_ids_are_stable_snapshots_follow_edits_and_reads_are_deterministic(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(WATSONBOX_2020, folder / "Instrumental.csv")
    write_csv(folder / "road trip.csv", WATSONBOX_2024_HEADER, [watsonbox_2024_row(1, [(aid(1), "Ann")])])
    first = read_exportify(folder, fetched_at=FETCHED_AT)
    assert_contract(first)
    assert_same(first, read_exportify(folder, fetched_at=FETCHED_AT))
    assert first.playlists["name"].to_list() == ["Instrumental", "road trip"]
    assert first.playlists["playlist_id"][1] == "exportify-" + hashlib.sha256(b"road trip").hexdigest()[:16]
    before = dict(zip(first.playlists["name"], first.playlists.iter_rows(named=True), strict=True))
    write_csv(folder / "road trip.csv", WATSONBOX_2024_HEADER,
              [watsonbox_2024_row(1, [(aid(1), "Ann")]), watsonbox_2024_row(2, [(aid(1), "Ann")])])
    edited = read_exportify(folder, fetched_at=FETCHED_AT).playlists
    after = dict(zip(edited["name"], edited["snapshot_id"], strict=True))
    assert after["road trip"] != before["road trip"]["snapshot_id"]
    assert after["Instrumental"] == before["Instrumental"]["snapshot_id"]
    single = read_exportify(folder / "road trip.csv", fetched_at=FETCHED_AT)
    assert single.playlists["playlist_id"][0] == before["road trip"]["playlist_id"]


# --- Spotify account export ------------------------------------------------------------------

def account_folder(tmp_path: Path, documents: dict[str, object]) -> Path:
    folder = tmp_path / "Spotify Account Data"
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document), encoding="utf-8")
    return folder


def track_item(n: int, name: str, artist: str = "Ann", album: str = "Alb", added: str = "2024-05-01") -> dict:
    track = {"trackName": name, "artistName": artist, "albumName": album, "trackUri": f"spotify:track:{tid(n)}"}
    return {"track": track, "episode": None, "localTrack": None, "addedDate": added}


def playlist_2024(name: str, items: list[dict]) -> dict:
    return {"name": name, "lastModifiedDate": "2024-05-02", "items": items, "description": None,
            "numberOfFollowers": 0}


@needs_samples
def test_real_2025_sample_accounts_for_every_item_and_flags_duplicates(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(ACCOUNT_2025, folder / "Playlist1.json")
    library = read_account_export(folder, fetched_at=FETCHED_AT)
    assert_contract(library)
    document = json.loads(ACCOUNT_2025.read_text(encoding="utf-8"))
    n_items = sum(len(p["items"]) for p in document["playlists"])
    assert library.playlist_tracks.height == n_items
    assert library.playlists["n_entries"].to_list() == [len(p["items"]) for p in document["playlists"]]
    assert library.playlists["is_collaborative"].to_list() == [False] * len(document["playlists"])
    assert library.playlists["playlist_id"].str.contains(r"^export-[0-9a-f]{16}$").all()
    assert library.playlists["source"].unique().to_list() == ["account-export"]
    uris = [i["track"]["trackUri"] for p in document["playlists"] for i in p["items"] if i["track"]]
    per_playlist = [[i["track"]["trackUri"] for i in p["items"] if i["track"]] for p in document["playlists"]]
    n_repeats = sum(len(u) - len(set(u)) for u in per_playlist)
    assert n_repeats > 0 and library.playlist_tracks["is_duplicate"].sum() == n_repeats
    assert library.tracks.height == len(set(uris))
    kinds = library.playlist_tracks.group_by("item_kind").len().sort("item_kind")
    assert dict(kinds.iter_rows()) == {"episode": n_items - len(uris), "track": len(uris)}
    assert library.tracks["album_id"].str.starts_with("export-album-").all()
    assert library.artists["artist_id"].str.starts_with("export-artist-").all()
    assert library.playlist_tracks["added_at"].null_count() == 0


def test_2024_schema_kinds_same_names_and_snapshots(tmp_path):
    items = [
        track_item(1, "One"),
        {"track": None, "episode": {"episodeName": "Pod 1", "showName": "Show",
                                    "episodeUri": "spotify:episode:E00000000000000000001"},
         "localTrack": None, "addedDate": "2024-05-01"},
        {"track": None, "episode": None, "localTrack": {"uri": "spotify:local:Me:Home:My+Song:200"},
         "addedDate": "2024-05-01"},
        {"track": None, "episode": None, "localTrack": None, "addedDate": "2024-05-01"},
        {"track": None, "episode": None, "localTrack": None,
         "audiobook": {"audiobookName": "A Book", "audiobookUri": "spotify:audiobook:B00000000000000000001"},
         "addedDate": "2024-05-01"},
    ]
    document = {"playlists": [playlist_2024("Mix", items), playlist_2024("Mix", [track_item(2, "Two")])]}
    library = read_account_export(account_folder(tmp_path, {"Playlist1.json": document}), fetched_at=FETCHED_AT)
    assert_contract(library)
    assert library.playlists["is_collaborative"].to_list() == [None, None]
    assert library.playlists["playlist_id"].n_unique() == 2
    first = library.playlist_tracks.filter(pl.col("playlist_id") == library.playlists["playlist_id"][0])
    assert first["item_kind"].to_list() == ["track", "episode", "local", "removed", "episode"]
    assert first["item_name"].to_list() == ["One", "Pod 1", "My Song", None, "A Book"]
    assert first["added_at"][0] == datetime(2024, 5, 1, tzinfo=UTC)
    ids, snapshots = library.playlists["playlist_id"].to_list(), library.playlists["snapshot_id"].to_list()
    document["playlists"][0]["items"].append(track_item(3, "Three"))
    document["playlists"][0]["lastModifiedDate"] = "2024-06-01"
    edited = read_account_export(account_folder(tmp_path, {"Playlist1.json": document}), fetched_at=FETCHED_AT)
    assert edited.playlists["playlist_id"].to_list() == ids
    assert edited.playlists["snapshot_id"].to_list()[0] != snapshots[0]
    assert edited.playlists["snapshot_id"].to_list()[1] == snapshots[1]


def full_export() -> dict[str, object]:
    return {
        "Playlist1.json": {"playlists": [playlist_2024("Road", [track_item(1, "One"), track_item(2, "Two", "Bo")])]},
        "Playlist2.json": {"playlists": [playlist_2024("Chill", [track_item(2, "Two", "Bo")])]},
        "YourLibrary.json": {"tracks": [
            {"artist": "Ann", "album": "Alb", "track": "One", "uri": f"spotify:track:{tid(1)}"},
            {"artist": "Cy", "album": "Solo", "track": "Liked only", "uri": f"spotify:track:{tid(9)}"},
        ], "albums": [], "artists": []},
        "StreamingHistory_music_0.json": [
            {"endTime": "2024-01-01 10:00", "artistName": "Ann", "trackName": "One", "msPlayed": 200_000},
            {"endTime": "2024-01-01 10:04", "artistName": "ann", "trackName": "ONE", "msPlayed": 10_000},
            {"endTime": "2024-01-01 10:05", "artistName": "Bo", "trackName": "Two", "msPlayed": 30_000},
            {"endTime": "2024-01-01 10:06", "artistName": "Nobody", "trackName": "Unknown", "msPlayed": 99_000},
        ],
    }


def test_liked_tracks_and_basic_streaming_history_score(tmp_path):
    library = read_account_export(account_folder(tmp_path, full_export()), fetched_at=FETCHED_AT)
    assert_contract(library)
    assert library.liked_tracks["track_id"].to_list() == [tid(1), tid(9)]
    assert tid(9) in library.tracks["track_id"].to_list()
    listening = {r["track_id"]: r for r in library.listening.iter_rows(named=True)}
    # score = play_count (plays >= 30 s) + ms_played // 60000
    measures = {t: (r["play_count"], r["ms_played"], r["score"]) for t, r in listening.items()}
    assert measures[tid(1)] == (1, 210_000, 1 + 210_000 // 60_000)
    assert measures[tid(2)] == (1, 30_000, 1 + 0)
    assert set(listening) == {tid(1), tid(2)}  # the unmatched play is dropped


def test_extended_history_wins_over_the_basic_one(tmp_path):
    documents = full_export() | {"Streaming_History_Audio_2023-2024_0.json": [
        {"ts": "2024-01-01T10:00:00Z", "ms_played": 125_000, "master_metadata_track_name": "Two",
         "master_metadata_album_artist_name": "Bo", "master_metadata_album_album_name": "Alb",
         "spotify_track_uri": f"spotify:track:{tid(2)}"},
        {"ts": "2024-01-02T10:00:00Z", "ms_played": 5_000, "master_metadata_track_name": "Two",
         "master_metadata_album_artist_name": "Bo", "spotify_track_uri": f"spotify:track:{tid(2)}"},
        {"ts": "2024-01-03T10:00:00Z", "ms_played": 61_000, "master_metadata_track_name": "New",
         "master_metadata_album_artist_name": "Dee", "spotify_track_uri": f"spotify:track:{tid(7)}"},
        {"ts": "2024-01-03T11:00:00Z", "ms_played": 900_000, "episode_name": "Pod", "spotify_track_uri": None},
    ]}
    library = read_account_export(account_folder(tmp_path, documents), fetched_at=FETCHED_AT)
    assert_contract(library)
    scores = dict(library.listening.select("track_id", "score").iter_rows())
    assert scores == {tid(2): 1 + 130_000 // 60_000, tid(7): 1 + 1}
    assert tid(7) in library.tracks["track_id"].to_list()


@needs_samples
def test_zip_equals_folder_and_reads_are_deterministic(tmp_path):
    folder = account_folder(tmp_path, full_export())
    shutil.copy(ACCOUNT_2025, folder / "Playlist3.json")
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(folder.iterdir()):
            zipped.write(file, f"Spotify Account Data/{file.name}")
    from_folder = read_account_export(folder, fetched_at=FETCHED_AT)
    assert_same(from_folder, read_account_export(archive, fetched_at=FETCHED_AT))
    assert_same(from_folder, read_account_export(folder, fetched_at=FETCHED_AT))
    assert from_folder.playlists["name"].to_list()[:2] == ["Road", "Chill"]


def test_account_export_errors_name_the_file_and_the_fix(tmp_path):
    broken = account_folder(tmp_path / "a", {})
    (broken / "Playlist1.json").write_text('{"playlists": [', encoding="utf-8")
    with pytest.raises(SourceError, match=r"^Playlist1\.json is not valid JSON"):
        read_account_export(broken, fetched_at=FETCHED_AT)
    wrong = account_folder(tmp_path / "b", {"Playlist1.json": {"playlists": [{"name": "x", "items": "nope"}]}})
    with pytest.raises(SourceError, match=r"^Playlist1\.json does not have the structure"):
        read_account_export(wrong, fetched_at=FETCHED_AT)
    empty = account_folder(tmp_path / "c", {"YourLibrary.json": {"tracks": []}})
    with pytest.raises(SourceError, match="has no Playlist1.json"):
        read_account_export(empty, fetched_at=FETCHED_AT)
    not_zip = tmp_path / "data.zip"
    not_zip.write_text("not a zip")
    with pytest.raises(SourceError, match=r"^data\.zip is neither a folder nor a readable zip"):
        read_account_export(not_zip, fetched_at=FETCHED_AT)


def test_unquoted_padded_headers_and_a_semicolon_spreadsheet_resave(tmp_path):
    padded = tmp_path / "padded.csv"
    padded.write_text(f"  Track URI\t, Track Name ,\tEnergy \n spotify:track:{tid(1)} , Song ,0.5\n", encoding="utf-8")
    library = read_exportify(padded, fetched_at=FETCHED_AT)
    assert library.tracks.select("track_id", "name").row(0) == (tid(1), "Song")
    assert library.audio_features["energy"].to_list() == [0.5]
    resaved = tmp_path / "resaved.csv"
    resaved.write_text(f"Track URI;Track Name;Energy;Mode\nspotify:track:{tid(2)};Lied;0,75;Minor\n", encoding="utf-8")
    library = read_exportify(resaved, fetched_at=FETCHED_AT)
    assert library.audio_features.select("energy", "mode").row(0) == (0.75, 0)


# --- clean names and albums in the warehouse (issue #16 item 5) ----------------------------------

BARE_COMMA_JOIN = re.compile(r"[^\s\d\\],(?!\s)|,[^\s\d]")


def pavelkomarov_file(tmp_path: Path, rows: list[list[str]], name: str = "no ids.csv") -> Path:
    """The 2024+ layout: track ids, names only for artists and albums, labels and dates."""
    header = ["Track ID", "Track Name", "Album Name", "Artist Name(s)", "Release Date", "Duration (ms)",
              "Popularity", "Record Label"]
    return write_csv(tmp_path / name, header, rows)


def test_bare_comma_joins_are_separate_artists_and_comma_space_names_stay_whole(tmp_path):
    path = pavelkomarov_file(tmp_path, [
        [tid(1), "One", "Alb", "Artist One,Artist Two", "2020", "1000", "1", "L"],
        [tid(2), "Two", "Alb", "Tyler, The Creator", "2020", "1000", "1", "L"],
        [tid(3), "Three", "Alb", "Tyler, The Creator,Kali Uchis;Artist Two", "2020", "1000", "1", "L"],
        [tid(4), "Four", "Alb", "10,000 Maniacs", "2020", "1000", "1", "L"],
    ])
    library = read_exportify(path, fetched_at=FETCHED_AT)
    assert_contract(library)
    names = dict(zip(library.artists["artist_id"], library.artists["name"], strict=True))
    credits = {
        track: [names[a] for a in group.sort("position")["artist_id"]]
        for (track,), group in library.track_artists.group_by("track_id")
    }
    assert credits == {
        tid(1): ["Artist One", "Artist Two"],
        tid(2): ["Tyler, The Creator"],
        tid(3): ["Tyler, The Creator", "Kali Uchis", "Artist Two"],
        tid(4): ["10,000 Maniacs"],
    }
    assert library.track_artists.filter(pl.col("track_id") == tid(1))["position"].to_list() == [0, 1]
    assert sorted(names.values()) == ["10,000 Maniacs", "Artist One", "Artist Two", "Kali Uchis", "Tyler, The Creator"]


def test_artist_ids_decide_how_many_artists_and_names_are_split_to_match(tmp_path):
    header = ["Spotify ID", "Artist IDs", "Track Name", "Album Name", "Artist Name(s)", "Release Date"]
    rows = [
        [tid(1), f"{aid(1)},{aid(2)}", "One", "Alb", "Tyler, The Creator,Kali Uchis", "2010"],
        [tid(2), f"{aid(3)},{aid(4)}", "Two", "Alb", "Ann,Bo,Cy", "2010"],
        [tid(3), aid(5), "Three", "Alb", "Tyler, The Creator", "2010"],
    ]
    library = read_exportify(write_csv(tmp_path / "ids.csv", header, rows), fetched_at=FETCHED_AT)
    assert_contract(library)
    names = dict(zip(library.artists["artist_id"], library.artists["name"], strict=True))
    assert (names[aid(1)], names[aid(2)]) == ("Tyler, The Creator", "Kali Uchis")
    # Three names for two ids: placed by position, and never as one joined name.
    assert (names[aid(3)], names[aid(4)]) == ("Ann", "Bo")
    assert names[aid(5)] == "Tyler, The Creator"
    assert library.track_artists.group_by("track_id").len().sort("track_id")["len"].to_list() == [2, 2, 1]


@needs_samples
def test_no_artist_name_in_a_landed_library_is_a_bare_comma_join(tmp_path):
    path = pavelkomarov_file(tmp_path, [[tid(1), "One", "Alb", "Ann,Bo", "2020", "1000", "1", "L"]])
    for library in (read_exportify(path, fetched_at=FETCHED_AT), read_exportify(WATSONBOX_2020, fetched_at=FETCHED_AT)):
        joined = [n for n in library.artists["name"].drop_nulls() if BARE_COMMA_JOIN.search(n.replace("\\,", ""))]
        assert joined == []


def test_releases_of_one_album_name_stay_apart_and_keep_their_own_label_date_and_spelling(tmp_path):
    path = pavelkomarov_file(tmp_path, [
        [tid(1), "Bohemian Rhapsody", "Greatest Hits", "Queen", "1981-10-26", "1000", "1", "EMI"],
        [tid(2), "Bohemian Rhapsody - Remastered 2011", "Greatest Hits", "Queen", "2011", "1000", "1", "Hollywood"],
        [tid(3), "Another One Bites the Dust", "Greatest Hits", "Queen", "1981-10-26", "1000", "1", "EMI"],
        [tid(4), "Only Girl", "LOUD!", "Rihanna", "2010-11-12", "1000", "1", "Def Jam"],
        [tid(5), "S&M", "Loud!", "Rihanna", "2010-11-12", "1000", "1", "Def Jam"],
        [tid(6), "Only Girl", "Loud!", "Rihanna", "2010-11-12", "1000", "1", "Def Jam"],
    ])
    library = read_exportify(path, fetched_at=FETCHED_AT)
    assert_contract(library)
    albums = {r["album_id"]: r for r in library.albums.iter_rows(named=True)}
    shown = {
        track_id: (albums[album_id]["name"], albums[album_id]["release_date"], albums[album_id]["label"])
        for track_id, album_id in library.tracks.select("track_id", "album_id").iter_rows()
    }
    assert shown == {
        tid(1): ("Greatest Hits", "1981-10-26", "EMI"),
        tid(2): ("Greatest Hits", "2011", "Hollywood"),
        tid(3): ("Greatest Hits", "1981-10-26", "EMI"),
        tid(4): ("LOUD!", "2010-11-12", "Def Jam"),
        tid(5): ("Loud!", "2010-11-12", "Def Jam"),
        tid(6): ("Loud!", "2010-11-12", "Def Jam"),
    }
    assert library.albums.height == 4
    assert albums[library.tracks["album_id"][1]]["release_date_precision"] == "year"


def test_album_ids_in_the_file_decide_the_albums_and_each_keeps_its_rows_spelling(tmp_path):
    def row(n: int, album: int, name: str, label: str) -> list[str]:
        cells = watsonbox_2024_row(n, [(aid(1), "Rihanna")])
        cells[4], cells[5], cells[-2] = f"spotify:album:{aid(album)}", name, label
        return cells

    # The first row of album 50 has no label: the album takes the one its other row gives.
    rows = [row(1, 50, "LOUD!", ""), row(2, 51, "Loud!", "SRP"), row(3, 50, "LOUD!", "Def Jam")]
    library = read_exportify(write_csv(tmp_path / "ids.csv", WATSONBOX_2024_HEADER, rows), fetched_at=FETCHED_AT)
    assert_contract(library)
    albums = {r["album_id"]: (r["name"], r["label"]) for r in library.albums.iter_rows(named=True)}
    assert albums == {aid(50): ("LOUD!", "Def Jam"), aid(51): ("Loud!", "SRP")}


def test_account_export_albums_spelled_differently_are_not_renamed(tmp_path):
    items = [track_item(1, "Only Girl", "Rihanna", "LOUD!"), track_item(2, "S&M", "Rihanna", "Loud!")]
    folder = account_folder(tmp_path, {"Playlist1.json": {"playlists": [playlist_2024("Femme", items)]}})
    library = read_account_export(folder, fetched_at=FETCHED_AT)
    names = dict(zip(library.albums["album_id"], library.albums["name"], strict=True))
    assert [names[a] for a in library.tracks["album_id"]] == ["LOUD!", "Loud!"]


@needs_samples
def test_podcast_episodes_keep_their_show_as_who_they_are_by(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(ACCOUNT_2025, folder / "Playlist1.json")
    library = read_account_export(folder, fetched_at=FETCHED_AT)
    document = json.loads(ACCOUNT_2025.read_text(encoding="utf-8"))
    shows = [i["episode"]["showName"] for p in document["playlists"] for i in p["items"] if i.get("episode")]
    episodes = library.playlist_tracks.filter(pl.col("item_kind") == "episode")
    assert shows and episodes["item_artists"].to_list() == shows
    assert episodes["item_name"].null_count() == 0 and episodes["item_name"].to_list() != shows
    # A track's artists are in raw.track_artists, not repeated on its entry.
    assert library.playlist_tracks.filter(pl.col("item_kind") == "track")["item_artists"].is_null().all()


def test_non_track_entries_say_who_they_are_by_in_both_file_sources(tmp_path):
    episode = {"showName": "The Show", "episodeName": "Pod 1", "episodeUri": "spotify:episode:E00000000000000000001"}
    items = [
        {"track": None, "episode": episode, "localTrack": None, "addedDate": "2024-05-01"},
        {"track": None, "episode": None, "localTrack": {"uri": "spotify:local:My+Band:Home:My+Song:200"},
         "addedDate": "2024-05-01"},
        track_item(1, "One"),
    ]
    folder = account_folder(tmp_path / "account", {"Playlist1.json": {"playlists": [playlist_2024("Mix", items)]}})
    entries = read_account_export(folder, fetched_at=FETCHED_AT).playlist_tracks
    assert entries.select("item_name", "item_artists").rows() == [
        ("Pod 1", "The Show"), ("My Song", "My Band"), ("One", None)]

    header = ["Track URI", "Track Name", "Artist URI(s)", "Artist Name(s)"]
    rows = [
        ["spotify:episode:E00000000000000000001", "Ep. 1", "", "Some Show"],
        ["spotify:local:My+Band:Demo+Tape:Garage+Song:215", "", "", ""],
        [f"spotify:track:{tid(1)}", "Real", f"spotify:artist:{aid(1)}", "Ann"],
    ]
    entries = read_exportify(write_csv(tmp_path / "mixed.csv", header, rows), fetched_at=FETCHED_AT).playlist_tracks
    assert entries.select("item_name", "item_artists").rows() == [
        ("Ep. 1", "Some Show"), ("Garage Song", "My Band"), ("Real", None)]
