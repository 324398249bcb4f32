"""The quality rules behind the asset checks can fail, and say what is wrong."""

from __future__ import annotations

from pathlib import Path

import duckdb

from playlist_assets.warehouse import quality, tables


def test_dead_links_finds_missing_files_and_links_leaving_the_folder(tmp_path: Path):
    root = tmp_path / "reports"
    page = root / "playlists" / "a" / "clusters" / "overview.md"
    page.parent.mkdir(parents=True)
    (root / "images").mkdir()
    (root / "images" / "ok.png").write_bytes(b"png")
    (tmp_path / "outside.md").write_text("x")
    text = (
        "![ok](../../../images/ok.png) [gone](../../../images/gone.png) "
        "[out](../../../../outside.md) [web](https://open.spotify.com/track/x) [anchor](#top)"
    )
    page.write_text(text)
    assert quality.dead_links(text, page, root) == ["../../../images/gone.png", "../../../../outside.md"]
    finding = quality.reports_links_resolve(root, ["playlists/a/clusters/overview.md", "playlists/b/x.md"])
    assert not finding.passed and set(finding.details["dead_links"]) == {
        "playlists/a/clusters/overview.md", "playlists/b/x.md"}


def test_audio_features_out_of_range_are_named():
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA raw")
    from playlist_assets.warehouse.database import create_table_sql

    conn.execute(create_table_sql(tables.RAW_AUDIO_FEATURES))
    conn.execute("INSERT INTO raw.audio_features (track_id, energy, tempo) VALUES ('a', 0.5, 120), ('b', 1.7, 120)")
    finding = quality.audio_features_in_range(conn)
    assert not finding.passed and finding.details["out_of_range"] == {"energy": 1}


def test_null_and_duplicated_keys_are_counted_and_a_clean_table_passes():
    from playlist_assets.warehouse.database import create_table_sql

    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA raw")
    table = tables.RAW_AUDIO_FEATURES
    # The table's own constraints would refuse these rows; the check also judges tables
    # written by older code or by hand, so it is built without them here.
    conn.execute(create_table_sql(table).split(",\n  PRIMARY KEY")[0].replace(" NOT NULL", "") + "\n)")
    conn.execute("INSERT INTO raw.audio_features (track_id, energy) VALUES ('a', 0.5), ('b', 0.5)")
    assert quality.keys_unique_and_present(conn, table).passed
    conn.execute("INSERT INTO raw.audio_features (track_id, energy) VALUES ('a', 0.4), ('a', 0.3), (NULL, 0.2)")
    finding = quality.keys_unique_and_present(conn, table)
    assert not finding.passed
    assert finding.details == {"null_key_rows": 1, "duplicated_keys": 1}
