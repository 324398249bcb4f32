"""The warehouse reads the pipeline needs, each one query for any number of playlists.

Reading every selected playlist at once (rather than one query per playlist) keeps a library
of a thousand playlists to a handful of round trips.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import polars as pl

from playlist_assets.warehouse import tables
from playlist_assets.reports.slugs import assign_slugs
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.warehouse.database import existing_columns, read_frame, scalar

_IDS = "(SELECT unnest(?::VARCHAR[]))"


@dataclass(frozen=True)
class ClusteringInputs:
    playlists: pl.DataFrame
    entries: pl.DataFrame
    features: pl.DataFrame


@dataclass(frozen=True)
class ReportInputs:
    playlists: pl.DataFrame  # raw.playlists rows
    clusterings: pl.DataFrame  # analytics.playlist_clusterings rows
    clusters: pl.DataFrame  # analytics.clusters rows
    memberships: pl.DataFrame  # analytics.playlist_clusters rows
    unclustered: pl.DataFrame  # analytics.unclustered_entries rows
    track_details: pl.DataFrame  # one row per track named by entries: names, album, label, artists
    has_score: bool  # the library has listening data
    saved: pl.DataFrame | None = None  # analytics.saved_clusters rows: clusters saved to Spotify


def raw_library(conn: duckdb.DuckDBPyConnection) -> RawLibrary | None:
    """The library as last landed, or None before the first landing."""
    if existing_columns(conn, tables.RAW_PLAYLISTS) is None:
        return None
    frames = {}
    for table in tables.RAW_TABLES:
        if existing_columns(conn, table) is not None:
            frames[table.name] = read_frame(conn, f"SELECT * FROM {table.qualified_name}")
    return RawLibrary.from_frames(**frames)


def raw_tables_exist(conn: duckdb.DuckDBPyConnection) -> bool:
    return existing_columns(conn, tables.RAW_PLAYLISTS) is not None


def playlist_snapshots(conn: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(conn.execute("SELECT playlist_id, snapshot_id FROM raw.playlists ORDER BY 1").fetchall())


def reports_of_removed_playlists(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Playlists that still have a report but are no longer in the library."""
    if existing_columns(conn, tables.ANALYTICS_CLUSTER_REPORTS) is None:
        return []
    return [
        r[0]
        for r in conn.execute(
            """SELECT playlist_id FROM analytics.cluster_reports
               WHERE playlist_id NOT IN (SELECT playlist_id FROM raw.playlists) ORDER BY 1"""
        ).fetchall()
    ]


def latest_report_time(conn: duckdb.DuckDBPyConnection):
    if existing_columns(conn, tables.ANALYTICS_CLUSTER_REPORTS) is None:
        return None
    return scalar(conn, "SELECT max(materialized_at) FROM analytics.cluster_reports")


def playlist_ids(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT playlist_id FROM raw.playlists ORDER BY 1").fetchall()]


def playlists_needing_reports(
    conn: duckdb.DuckDBPyConnection, code_version: str, versions: Mapping[str, str] | None = None
) -> list[str]:
    """Playlists whose report is missing, or describes another snapshot, code version or content.

    `versions` is each playlist's current content version (recorded by the library refresh):
    a renamed track or changed feature leaves the snapshot as it was but moves the version on.
    """
    columns = existing_columns(conn, tables.ANALYTICS_CLUSTER_REPORTS)
    if not columns:
        return playlist_ids(conn)
    # A report written before versions were kept has none: it counts as describing another one.
    built_from = "r.playlist_version" if "playlist_version" in columns else "NULL"
    rows = conn.execute(
        f"""SELECT p.playlist_id,
                   r.playlist_id IS NULL OR r.snapshot_id IS DISTINCT FROM p.snapshot_id
                       OR r.code_version IS DISTINCT FROM ? AS outdated,
                   {built_from} AS built_from
            FROM raw.playlists p LEFT JOIN analytics.cluster_reports r USING (playlist_id)
            ORDER BY 1""",
        [code_version],
    ).fetchall()
    versions = versions or {}
    saved = saves_after_reports(conn)
    return [
        playlist_id
        for playlist_id, outdated, built_from in rows
        if outdated or (playlist_id in versions and versions[playlist_id] != built_from) or playlist_id in saved
    ]


def saves_after_reports(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Playlists with a cluster saved to Spotify since their report was written (the report
    links to the saved playlists), each with the time of its latest save."""
    if existing_columns(conn, tables.ANALYTICS_SAVED_CLUSTERS) is None:
        return {}
    if existing_columns(conn, tables.ANALYTICS_CLUSTER_REPORTS) is None:
        return {}  # every playlist needs its first report anyway
    rows = conn.execute(
        f"""SELECT s.playlist_id, max(s.saved_at)
            FROM {tables.ANALYTICS_SAVED_CLUSTERS.qualified_name} s
            JOIN analytics.cluster_reports r USING (playlist_id)
            GROUP BY s.playlist_id
            HAVING max(s.saved_at) > max(r.materialized_at)
            ORDER BY 1"""
    ).fetchall()
    return {playlist_id: saved_at.isoformat() for playlist_id, saved_at in rows}


def all_playlists(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(conn, "SELECT playlist_id, name FROM raw.playlists ORDER BY playlist_id")


def clustering_inputs(conn: duckdb.DuckDBPyConnection, playlist_ids: list[str]) -> ClusteringInputs:
    ids = [sorted(playlist_ids)]
    return ClusteringInputs(
        playlists=read_frame(conn, f"SELECT * FROM raw.playlists WHERE playlist_id IN {_IDS}", ids),
        entries=read_frame(conn, f"SELECT * FROM raw.playlist_tracks WHERE playlist_id IN {_IDS}", ids),
        features=read_frame(
            conn,
            f"""SELECT f.* FROM features.track_features f
                WHERE f.track_id IN (SELECT track_id FROM raw.playlist_tracks WHERE playlist_id IN {_IDS})""",
            ids,
        ),
    )


def report_inputs(conn: duckdb.DuckDBPyConnection, playlist_ids: list[str]) -> ReportInputs:
    ids = [sorted(playlist_ids)]

    def rows(table: str) -> pl.DataFrame:
        return read_frame(conn, f"SELECT * FROM {table} WHERE playlist_id IN {_IDS}", ids)

    details = read_frame(
        conn,
        f"""
        WITH wanted AS (
            SELECT DISTINCT track_id FROM raw.playlist_tracks
            WHERE playlist_id IN {_IDS} AND track_id IS NOT NULL
        ),
        credits AS (
            SELECT ta.track_id,
                   list(a.name ORDER BY ta.position) AS artist_names,
                   list(ta.artist_id ORDER BY ta.position) AS artist_ids
            FROM raw.track_artists ta JOIN wanted USING (track_id)
            LEFT JOIN raw.artists a USING (artist_id)
            GROUP BY ta.track_id
        )
        SELECT t.track_id, t.name, al.name AS album, al.image_url, al.label,
               c.artist_names, c.artist_ids,
               l.score, lt.track_id IS NOT NULL AS liked
        FROM raw.tracks t JOIN wanted USING (track_id)
        LEFT JOIN raw.albums al USING (album_id)
        LEFT JOIN credits c USING (track_id)
        LEFT JOIN raw.listening l USING (track_id)
        LEFT JOIN raw.liked_tracks lt USING (track_id)
        """,
        ids,
    )
    has_score = scalar(conn, "SELECT count(*) > 0 FROM raw.listening")
    saved = (
        rows(tables.ANALYTICS_SAVED_CLUSTERS.qualified_name)
        if existing_columns(conn, tables.ANALYTICS_SAVED_CLUSTERS)
        else tables.ANALYTICS_SAVED_CLUSTERS.empty_frame()
    )
    return ReportInputs(
        playlists=rows("raw.playlists"),
        clusterings=rows("analytics.playlist_clusterings"),
        clusters=rows("analytics.clusters"),
        memberships=rows("analytics.playlist_clusters"),
        unclustered=rows("analytics.unclustered_entries"),
        track_details=details,
        has_score=bool(has_score),
        saved=saved,
    )


def playlist_versions(conn: duckdb.DuckDBPyConnection, salt: str) -> dict[str, str]:
    """A version of every playlist that changes exactly when its clusters or report could.

    It covers what the per-playlist reads above take for one playlist (`clustering_inputs`,
    `report_inputs`, the lineage's playlist row): the playlist row, its entries, and for each
    of their tracks the feature row, the names, album, label, artists, score and liked flag;
    plus the two things shared with the rest of the library that a report shows (its slug, and
    whether the library has a Score). Fetch times are left out: re-reading an unchanged
    playlist, album or artist is not a change. `salt` is mixed in so that changing what is
    covered gives every playlist a new version. One query for the whole library.

    Entries and tracks are digested by DuckDB's 64-bit `hash` (half the time of JSON and md5 at
    100,000 entries), the playlist by md5 of those digests. A DuckDB whose `hash` differs gives
    every playlist a new version once: a rebuild, never a change missed. DuckDB 2.0's `hash`
    of a struct does not see an element moved between two list fields side by side, nor a
    NULL list from an empty one: `artists` is the only list, and a track without credits has
    NULL there, never an empty list. A second list field would need a hash of its own.
    """
    content = dict(
        conn.execute(
            """
            WITH credits AS (
                SELECT ta.track_id, list([ta.artist_id, a.name] ORDER BY ta.position) AS artists
                FROM raw.track_artists ta LEFT JOIN raw.artists a USING (artist_id)
                GROUP BY ta.track_id
            ),
            tracks AS (
                SELECT t.track_id,
                       hash(struct_pack(
                           name := t.name, album := al.name, image_url := al.image_url,
                           label := al.label, artists := c.artists, score := l.score,
                           liked := lt.track_id IS NOT NULL, features := f
                       )) AS digest
                FROM raw.tracks t
                LEFT JOIN raw.albums al USING (album_id)
                LEFT JOIN credits c USING (track_id)
                LEFT JOIN raw.listening l USING (track_id)
                LEFT JOIN raw.liked_tracks lt USING (track_id)
                LEFT JOIN features.track_features f USING (track_id)
            ),
            entries AS (
                SELECT e.playlist_id, list([hash(e), coalesce(tr.digest, 0)] ORDER BY e.position) AS digests
                FROM raw.playlist_tracks e LEFT JOIN tracks tr USING (track_id)
                GROUP BY e.playlist_id
            )
            SELECT p.playlist_id, md5(to_json(p)::VARCHAR || '|' || coalesce(en.digests::VARCHAR, ''))
            FROM (SELECT * EXCLUDE (fetched_at) FROM raw.playlists) p
            LEFT JOIN entries en USING (playlist_id)
            """
        ).fetchall()
    )
    slugs = assign_slugs(all_playlists(conn).rows())
    has_score = bool(scalar(conn, "SELECT count(*) > 0 FROM raw.listening"))
    return {
        playlist_id: hashlib.sha256(f"{salt}|{digest}|{slugs[playlist_id]}|{has_score}".encode()).hexdigest()
        for playlist_id, digest in sorted(content.items())
    }


def library_track_features(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """features.track_features whole: the library every Track Features page compares with.
    Read once per run, whatever the number of playlists in it."""
    return read_frame(conn, f"SELECT * FROM {tables.FEATURES_TRACK_FEATURES.qualified_name} ORDER BY track_id")


def track_feature_rows(conn: duckdb.DuckDBPyConnection, playlist_ids: list[str]) -> pl.DataFrame:
    """The distinct playable tracks of each playlist (as the clustering counts them), with what
    the Track Features tables show: name, album, art, artists, liked. Their feature values come
    from `library_track_features`, so the feature table is read only once."""
    return read_frame(
        conn,
        f"""
        WITH wanted AS (
            SELECT DISTINCT playlist_id, track_id FROM raw.playlist_tracks
            WHERE playlist_id IN {_IDS} AND item_kind = 'track' AND track_id IS NOT NULL
              AND coalesce(is_playable, TRUE)
        ),
        credits AS (
            SELECT ta.track_id,
                   list(a.name ORDER BY ta.position) AS artist_names,
                   list(ta.artist_id ORDER BY ta.position) AS artist_ids
            FROM raw.track_artists ta LEFT JOIN raw.artists a USING (artist_id)
            WHERE ta.track_id IN (SELECT track_id FROM wanted)
            GROUP BY ta.track_id
        )
        SELECT w.playlist_id, w.track_id, t.name, al.name AS album, al.image_url,
               c.artist_names, c.artist_ids, lt.track_id IS NOT NULL AS liked
        FROM wanted w JOIN raw.tracks t USING (track_id)
        LEFT JOIN raw.albums al USING (album_id)
        LEFT JOIN credits c USING (track_id)
        LEFT JOIN raw.liked_tracks lt USING (track_id)
        ORDER BY w.playlist_id, w.track_id
        """,
        [sorted(playlist_ids)],
    )
