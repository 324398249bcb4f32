"""Views over the warehouse for the questions SQL users ask most; created by the graph itself."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class View:
    name: str
    description: str
    sql: str


VIEWS: tuple[View, ...] = (
    View(
        "analytics.cluster_members",
        "Every clustered track with its playlist, cluster description, track, album and artist names.",
        """
        SELECT pc.playlist_id, p.name AS playlist_name, pc.cluster, c.description AS cluster_description,
               pc.track_id, t.name AS track_name, al.name AS album_name,
               (SELECT string_agg(a.name, ', ' ORDER BY ta.position)
                  FROM raw.track_artists ta LEFT JOIN raw.artists a USING (artist_id)
                 WHERE ta.track_id = pc.track_id) AS artist_names,
               pc.distance_to_centre, pc.x, pc.y
        FROM analytics.playlist_clusters pc
        JOIN raw.playlists p USING (playlist_id)
        LEFT JOIN analytics.clusters c USING (playlist_id, cluster)
        LEFT JOIN raw.tracks t USING (track_id)
        LEFT JOIN raw.albums al ON al.album_id = t.album_id
        """,
    ),
    View(
        "analytics.playlist_summary",
        "One row per playlist: size, how it was clustered, and where its report is.",
        """
        SELECT p.playlist_id, p.name, p.owner_name, p.source, p.snapshot_id, p.n_entries,
               c.n_tracks, c.n_clustered, c.clustered, c.reason, c.feature_set, c.k, c.silhouette, c.stability,
               r.report_path, r.image_path, r.materialized_at
        FROM raw.playlists p
        LEFT JOIN analytics.playlist_clusterings c USING (playlist_id)
        LEFT JOIN analytics.cluster_reports r USING (playlist_id)
        """,
    ),
    View(
        "analytics.track_playlists",
        "One row per track: in how many playlists it appears, and which.",
        """
        SELECT pt.track_id, t.name AS track_name,
               count(DISTINCT pt.playlist_id) AS n_playlists,
               list(DISTINCT p.name ORDER BY p.name) AS playlist_names
        FROM raw.playlist_tracks pt
        JOIN raw.tracks t USING (track_id)
        JOIN raw.playlists p USING (playlist_id)
        WHERE pt.item_kind = 'track'
        GROUP BY pt.track_id, t.name
        """,
    ),
    View(
        "analytics.playlist_similarity",
        "Pairs of playlists sharing tracks: shared count and Jaccard similarity of their track sets.",
        """
        WITH sets AS (
            SELECT DISTINCT playlist_id, track_id FROM raw.playlist_tracks WHERE item_kind = 'track'
        ), sizes AS (
            SELECT playlist_id, count(*) AS n FROM sets GROUP BY playlist_id
        ), shared AS (
            SELECT a.playlist_id AS playlist_a, b.playlist_id AS playlist_b, count(*) AS shared_tracks
            FROM sets a JOIN sets b ON a.track_id = b.track_id AND a.playlist_id < b.playlist_id
            GROUP BY 1, 2
        )
        SELECT s.playlist_a, pa.name AS name_a, s.playlist_b, pb.name AS name_b, s.shared_tracks,
               s.shared_tracks / (za.n + zb.n - s.shared_tracks) AS jaccard
        FROM shared s
        JOIN sizes za ON za.playlist_id = s.playlist_a JOIN sizes zb ON zb.playlist_id = s.playlist_b
        JOIN raw.playlists pa ON pa.playlist_id = s.playlist_a
        JOIN raw.playlists pb ON pb.playlist_id = s.playlist_b
        """,
    ),

)


def create_views(conn: duckdb.DuckDBPyConnection) -> list[str]:
    conn.execute("BEGIN TRANSACTION")
    try:
        for view in VIEWS:
            conn.execute(f"CREATE OR REPLACE VIEW {view.name} AS {view.sql}")
            conn.execute(f"COMMENT ON VIEW {view.name} IS '{view.description.replace(chr(39), chr(39) * 2)}'")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return [v.name for v in VIEWS]
