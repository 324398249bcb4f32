"""What makes a playlist's version (queries.playlist_versions) change: exactly what its clusters
or report show, for that playlist and the playlists sharing the changed track."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from playlist_assets.features.feature_table import track_features
from playlist_assets.ingest.sources.demo import demo_library
from playlist_assets.warehouse import database, queries, tables


@pytest.fixture
def conn(tmp_path):
    library = demo_library(14, 12, 3, fetched_at=datetime(2026, 1, 1, tzinfo=UTC))
    frames = library.by_table()
    with database.connect(tmp_path / "w.duckdb") as conn:
        database.replace_tables(conn, frames)
        by_name = {t.name: f for t, f in frames.items()}
        database.replace_tables(conn, {tables.FEATURES_TRACK_FEATURES: track_features(
            by_name["tracks"], by_name["albums"], by_name["audio_features"])})
        yield conn


def _changed(conn, before: dict[str, str]) -> set[str]:
    after = queries.playlist_versions(conn, "salt")
    assert after.keys() == before.keys()
    return {p for p in after if after[p] != before[p]}


def _holding(conn, tracks_sql: str, track_id: str) -> set[str]:
    rows = conn.execute(
        f"SELECT DISTINCT playlist_id FROM raw.playlist_tracks WHERE track_id IN ({tracks_sql})", {"t": track_id}
    )
    return {r[0] for r in rows.fetchall()}


def _a_shared_track(conn) -> str:
    return conn.execute(
        "SELECT track_id FROM raw.playlist_tracks JOIN features.track_features USING (track_id) "
        "WHERE has_audio_features GROUP BY track_id HAVING count(DISTINCT playlist_id) > 1 ORDER BY track_id LIMIT 1"
    ).fetchone()[0]


def test_the_same_warehouse_gives_the_same_versions_and_a_new_fetch_changes_none(conn):
    before = queries.playlist_versions(conn, "salt")
    assert len(set(before.values())) == len(before)  # every playlist has a version of its own
    conn.execute("UPDATE raw.playlists SET fetched_at = fetched_at + INTERVAL 1 DAY")
    conn.execute("UPDATE raw.albums SET fetched_at = fetched_at + INTERVAL 1 DAY")
    assert _changed(conn, before) == set()
    assert queries.playlist_versions(conn, "other salt").keys() == before.keys()
    assert set(queries.playlist_versions(conn, "other salt").values()).isdisjoint(before.values())


THE_TRACK = "SELECT $t"
# Each edit, and the tracks it changes: a shared artist or album changes every track of theirs.
EDITS = {
    "track name": ("UPDATE raw.tracks SET name = name || ' (Live)' WHERE track_id = $t", THE_TRACK),
    "feature": ("UPDATE features.track_features SET energy = 1 - energy WHERE track_id = $t", THE_TRACK),
    "liked or not": (None, THE_TRACK),  # the report marks liked tracks: liking and unliking both show
    "artist name": (
        "UPDATE raw.artists SET name = name || ' & Co' WHERE artist_id = "
        "(SELECT artist_id FROM raw.track_artists WHERE track_id = $t AND position = 0)",
        "SELECT track_id FROM raw.track_artists WHERE artist_id = "
        "(SELECT artist_id FROM raw.track_artists WHERE track_id = $t AND position = 0)",
    ),
    "album label": (
        "UPDATE raw.albums SET label = 'Another Label' WHERE album_id = (SELECT album_id FROM raw.tracks WHERE track_id = $t)",
        "SELECT track_id FROM raw.tracks WHERE album_id = (SELECT album_id FROM raw.tracks WHERE track_id = $t)",
    ),
}


@pytest.mark.parametrize("edit", EDITS)
def test_a_change_to_a_track_changes_exactly_the_playlists_holding_it(conn, edit):
    change, changed_tracks = EDITS[edit]
    track = _a_shared_track(conn)
    expected = _holding(conn, changed_tracks, track)
    before = queries.playlist_versions(conn, "salt")
    if change is None:
        liked = conn.execute("SELECT count(*) FROM raw.liked_tracks WHERE track_id = $t", {"t": track}).fetchone()[0]
        change = (
            "DELETE FROM raw.liked_tracks WHERE track_id = $t" if liked
            else "INSERT INTO raw.liked_tracks (track_id, added_at) VALUES ($t, TIMESTAMPTZ '2026-01-01')"
        )
    conn.execute(change, {"t": track})
    assert len(expected) > 1
    assert _changed(conn, before) == expected


def test_moving_an_entry_changes_only_its_playlist(conn):
    playlist = conn.execute("SELECT playlist_id FROM raw.playlists ORDER BY playlist_id LIMIT 1").fetchone()[0]
    before = queries.playlist_versions(conn, "salt")
    conn.execute(
        "UPDATE raw.playlist_tracks SET position = CASE position WHEN 0 THEN 1 ELSE 0 END "
        "WHERE playlist_id = ? AND position IN (0, 1)",
        [playlist],
    )
    assert _changed(conn, before) == {playlist}
