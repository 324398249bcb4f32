"""The Track Features page: true rankings, links that resolve, the plot, escaping, determinism."""

from __future__ import annotations

import csv
import io
import re
import threading
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
from PIL import Image

from playlist_assets.warehouse import queries
from playlist_assets.reports.files import sha256_of
from playlist_assets.features.feature_table import AUDIO_SET
from playlist_assets.automation.jobs import PER_PLAYLIST
from playlist_assets.partitions import PLAYLISTS, partition_key
from playlist_assets.definitions import ASSETS, resources_for
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets.warehouse.quality import dead_links, reports_unlike_their_lineage
from playlist_assets.reports import feature_page, feature_plot
from playlist_assets.reports.feature_page import AUDIO_FEATURES, METADATA_FEATURES, format_value
from playlist_assets.reports.paths import report_path, track_features_path
from playlist_assets.reports.png import encode_up_filtered
from playlist_assets.reports.slugs import assign_slugs
from playlist_assets.warehouse.tables import FEATURES_TRACK_FEATURES
from playlist_assets_tests.conftest import make_settings

HOSTILE = "a|b <b>x</b> https://evil.example"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
EXPORTIFY = SAMPLES / "exportify_watsonbox_2020_instrumental.csv"
TRACK_LINK = re.compile(r"\[🔗\]\(https://open\.spotify\.com/track/([0-9A-Za-z]+)\)")
# The distinct playable tracks of a playlist, as the page (and the clustering) counts them.
PLAYLIST_TRACKS = """
    SELECT DISTINCT track_id FROM raw.playlist_tracks
    WHERE playlist_id = ? AND item_kind = 'track' AND track_id IS NOT NULL AND coalesce(is_playable, TRUE)
"""


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def cells(row: str) -> list[str]:
    """The cells of a table row, split at the pipes Markdown treats as borders (not at \\|)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def table_after(text: str, heading: str) -> list[list[str]]:
    """The cells of each row of the table under `heading` (header and alignment left out)."""
    lines = text.split("\n")
    start = lines.index(heading) + 4  # heading, blank line, header, alignment
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return rows


def lineage_rows(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        """SELECT r.playlist_id, p.name, r.report_path, r.features_page_path, r.features_page_sha256,
                  r.features_image_path, r.features_image_sha256
           FROM analytics.cluster_reports r JOIN raw.playlists p USING (playlist_id) ORDER BY 1""",
    )


# --- the demo library, built once with every asset (conftest.demo_build) -----------------------


def test_the_feature_specs_follow_the_clustering_features_in_order():
    assert tuple(f.column for f in AUDIO_FEATURES) == AUDIO_SET
    columns = set(FEATURES_TRACK_FEATURES.column_names)
    assert all(f.column in columns for f in (*AUDIO_FEATURES, *METADATA_FEATURES))


def test_every_page_ranks_the_true_ten_most_and_least_of_each_feature(demo_build):
    settings, _, _ = demo_build
    checked = 0
    for playlist_id, name, _, page, *_ in lineage_rows(settings.warehouse):
        (with_audio,) = query(
            settings.warehouse,
            f"SELECT count(*) FROM features.track_features WHERE has_audio_features "
            f"AND track_id IN ({PLAYLIST_TRACKS})",
            [playlist_id],
        )[0]
        if not with_audio:
            continue
        text = (settings.reports / page).read_text(encoding="utf-8")
        for feature in AUDIO_FEATURES:
            for heading, order in ((feature.most, "DESC"), (feature.least, "ASC")):
                expected = query(
                    settings.warehouse,
                    f"""SELECT track_id, {feature.column} FROM features.track_features
                        WHERE has_audio_features AND {feature.column} IS NOT NULL
                          AND track_id IN ({PLAYLIST_TRACKS})
                        ORDER BY {feature.column} {order}, track_id LIMIT 10""",
                    [playlist_id],
                )
                shown = table_after(text, f"### {heading}")
                assert [TRACK_LINK.search(row[-1]).group(1) for row in shown] == [t for t, _ in expected], (
                    f"{name!r}: {heading}"
                )
                assert [row[4] for row in shown] == [format_value(feature.unit, v) for _, v in expected]
                assert len(shown) == min(10, with_audio)
        checked += 1
    assert checked >= 10  # every demo playlist with tracks has audio features


def test_ties_are_broken_by_track_id():
    names = pl.DataFrame({"playlist_id": ["p"] * 12, "track_id": [f"t{i:02d}" for i in range(12)]})
    tracks = names.with_columns(
        pl.col("track_id").alias("name"), pl.lit(None, pl.String).alias("album"),
        pl.lit(None, pl.String).alias("image_url"), pl.lit(None, pl.List(pl.String)).alias("artist_names"),
        pl.lit(None, pl.List(pl.String)).alias("artist_ids"), pl.lit(False).alias("liked"),
    )
    # Every energy the same but one, so the order is the track ids' wherever it is not the value's.
    features = FEATURES_TRACK_FEATURES.conform(
        names.select("track_id").with_columns(
            pl.when(pl.col("track_id") == "t05").then(0.9).otherwise(0.5).alias("energy"),
            pl.lit(True).alias("has_audio_features"),
        ).sample(fraction=1.0, shuffle=True, seed=3)
    )
    library = feature_page.library_distribution(features)
    (page,) = feature_page.build_pages(
        pl.DataFrame({"playlist_id": ["p"], "name": ["P"]}), tracks, features, library, {"p": "p"}
    )
    energy = next(s for s in page.sections if s.feature.column == "energy")
    assert [t.track.track_id for t in energy.most] == ["t05", "t00", "t01", "t02", "t03", "t04", "t06", "t07", "t08", "t09"]
    assert [t.track.track_id for t in energy.least] == ["t00", "t01", "t02", "t03", "t04", "t06", "t07", "t08", "t09", "t10"]
    assert [s.feature.column for s in page.sections] == ["energy"]  # the other features have no values


def test_pages_and_plots_exist_and_match_their_lineage(demo_build):
    settings, _, _ = demo_build
    rows = lineage_rows(settings.warehouse)
    assert rows
    for playlist_id, name, _, page, page_sha, image, image_sha in rows:
        assert page and (settings.reports / page).is_file(), name
        assert sha256_of(settings.reports / page) == page_sha
        (n_tracks,) = query(settings.warehouse, f"SELECT count(*) FROM ({PLAYLIST_TRACKS})", [playlist_id])[0]
        if n_tracks == 0:
            assert image is None, f"{name!r} has no tracks but a plot"
            continue
        png = (settings.reports / image).read_bytes()
        assert sha256_of(settings.reports / image) == image_sha
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert Image.open(io.BytesIO(png)).size == (900, 600)


def test_the_page_the_report_and_the_index_link_each_other_and_every_link_resolves(demo_build):
    settings, _, _ = demo_build
    index = (settings.reports / "README.md").read_text(encoding="utf-8")
    for _, name, report, page, *_ in lineage_rows(settings.warehouse):
        page_text = (settings.reports / page).read_text(encoding="utf-8")
        report_text = (settings.reports / report).read_text(encoding="utf-8")
        assert dead_links(page_text, settings.reports / page, settings.reports) == [], name
        assert dead_links(report_text, settings.reports / report, settings.reports) == [], name
        assert "Clusters: [overview.md](clusters/overview.md)" in page_text
        assert "Track features: [track_features.md](../track_features.md)" in report_text.split("\n## ")[0]
        assert f"[track_features.md]({page})" in index


def test_re_rendering_gives_the_same_bytes(demo_build):
    settings, _, _ = demo_build
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        playlists = queries.all_playlists(conn)
        features = queries.library_track_features(conn)
        tracks = queries.track_feature_rows(conn, playlists["playlist_id"].to_list())
    library = feature_page.library_distribution(features)
    pages = feature_page.build_pages(playlists, tracks, features, library, assign_slugs(playlists.rows()))
    assert pages
    for page in pages:
        written = (settings.reports / track_features_path(page.slug)).read_bytes()
        assert feature_page.render_markdown(page).encode("utf-8") == written
        assert feature_page.render_files(page)[0].encode("utf-8") == written


def test_each_partition_shows_its_page_with_the_playlist_name_first(demo_build):
    settings, instance, _ = demo_build
    records = instance.fetch_materializations(dg.AssetKey(["reports", "track_features_page"]), limit=1000).records
    latest = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        latest[record.partition_key] = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    names = {sha: name for _, name, _, _, sha, *_ in lineage_rows(settings.warehouse)}
    assert len(latest) == len(names)
    for metadata in latest.values():
        assert list(metadata)[0] == "playlist"
        assert names[metadata["page_sha256"]] == metadata["playlist"]


def test_the_lineage_follows_the_page_when_it_is_damaged_moved_or_removed(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="6", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    moved, removed = [row for row in lineage_rows(settings.warehouse) if row[5]][:2]

    # A page that is not the one its lineage recorded (a killed run) makes its playlist stale.
    page = settings.reports / moved[3]
    original = page.read_bytes()
    page.write_bytes(original + b"half")
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        assert set(reports_unlike_their_lineage(conn, settings.reports)) == {moved[0]}
    page.write_bytes(original)

    # Renamed: the playlist's files move to its new folder, and none stays in the old one.
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("UPDATE raw.playlists SET name = 'Renamed Elsewhere' WHERE playlist_id = ?", [moved[0]])
    key = partition_key(moved[0], "Renamed Elsewhere")
    instance.add_dynamic_partitions(PLAYLISTS.name, [key])
    rebuilt = dg.materialize(
        ASSETS, selection=PER_PLAYLIST, partition_key=key, instance=instance, resources=resources_for(settings)
    )
    assert rebuilt.success
    assert not (settings.reports / moved[3]).exists() and not (settings.reports / moved[5]).exists()
    now = {row[0]: row for row in lineage_rows(settings.warehouse)}[moved[0]]
    assert now[3] == "playlists/renamed_elsewhere/track_features.md" and (settings.reports / now[3]).is_file()
    assert (settings.reports / now[5]).is_file()

    # Removed from the library: the index run takes its page and plot with its report.
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("DELETE FROM raw.playlists WHERE playlist_id = ?", [removed[0]])
    index = dg.materialize(
        ASSETS, selection=dg.AssetSelection.assets(["reports", "index"]), instance=instance,
        resources=resources_for(settings),
    )
    assert index.success
    assert not (settings.reports / removed[3]).exists() and not (settings.reports / removed[5]).exists()
    assert removed[3] not in (settings.reports / "README.md").read_text(encoding="utf-8")


# --- names, plots and files, from plain data ------------------------------------------------------


def hostile_page(slug: str = "hostile") -> feature_page.FeaturePage:
    ids = [f"{c}{i:02d}" for c in "AB" for i in range(6)]
    tracks = pl.DataFrame({
        "playlist_id": ["p"] * len(ids),
        "track_id": ids,
        "name": [HOSTILE] * len(ids),
        "album": [HOSTILE] * len(ids),
        "image_url": ['https://evil.example/a.png" onerror="alert(1)'] * len(ids),
        "artist_names": [[HOSTILE, "Plain"]] * len(ids),
        "artist_ids": [["1z4g3DjTuQFtrVkVJX5Js0", "../x"]] * len(ids),
        "liked": [True, False] * (len(ids) // 2),
    })
    rng = np.random.default_rng(1)
    features = FEATURES_TRACK_FEATURES.conform(
        pl.DataFrame({"track_id": ids, "has_audio_features": [True] * len(ids)}).with_columns(
            *(pl.Series(f.column, rng.random(len(ids))) for f in AUDIO_FEATURES)
        )
    )
    library = feature_page.library_distribution(features)
    (page,) = feature_page.build_pages(
        pl.DataFrame({"playlist_id": ["p"], "name": [HOSTILE]}), tracks, features, library, {"p": slug}
    )
    return page


def test_hostile_names_render_as_text(tmp_path: Path):
    page = hostile_page()
    text = feature_page.render_markdown(page)
    assert text.startswith("# Track Features in a\\|b &lt;b&gt;x&lt;/b&gt; https:\\//evil.example\n")
    for raw in ("<b>", "</b>", "https://evil.example", "onerror", "/artist/../x"):
        assert raw not in text
    assert "[a\\|b &lt;b&gt;x&lt;/b&gt; https:\\//evil.example](https://open.spotify.com/artist/1z4g3DjTuQFtrVkVJX5Js0)" in text
    rows = [line for line in text.split("\n") if line.startswith("|")]
    header = "| Art | Track | Album | Artists | Energy | 💚 | 🔗 |"
    assert header in rows
    ranked = [r for r in rows if TRACK_LINK.search(r)]
    assert len(ranked) == 2 * 10 * len(AUDIO_FEATURES)
    assert all(len(cells(r)) == len(cells(header)) for r in ranked)
    assert [line for line in text.split("\n") if line.startswith("# ")] == [text.split("\n")[0]]
    # The only links are the page's own: the clusters, the plot, artists and tracks on Spotify.
    page_file = tmp_path / track_features_path(page.slug)
    for target in (report_path(page.slug), page_file.relative_to(tmp_path)):
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / target).write_text("")
    (tmp_path / "images" / "playlists" / page.slug).mkdir(parents=True)
    (tmp_path / "images" / "playlists" / page.slug / "track_features.png").write_bytes(b"")
    assert dead_links(text, page_file, tmp_path) == []


def test_an_unsafe_slug_is_refused():
    with pytest.raises(ValueError):
        feature_page.render_markdown(hostile_page(slug="../../etc"))


def test_a_plot_is_the_same_whatever_was_drawn_before():
    page = hostile_page()
    other = hostile_page()
    other_plot = other.plot.__class__(
        title="Another", legend=other.plot.legend,
        panels=tuple(p.__class__(p.label, p.edges, p.library, tuple(reversed(p.playlist)), p.ticks) for p in other.plot.panels),
    )
    feature_plot.render_png(other_plot)  # this thread's figure now holds another playlist
    after_another = feature_plot.render_png(page.plot)
    fresh = []
    worker = threading.Thread(target=lambda: fresh.append(feature_plot.render_png(page.plot)))  # a figure of its own
    worker.start()
    worker.join()
    assert after_another == fresh[0]
    assert Image.open(io.BytesIO(after_another)).size == (900, 600)


def test_the_png_decodes_to_the_drawn_pixels():
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_up_filtered(pixels))))
    assert decoded.shape == (37, 53, 4) and (decoded == pixels).all()
    drawn = feature_plot.render_pixels(hostile_page().plot)
    decoded = np.asarray(Image.open(io.BytesIO(feature_plot.render_png(hostile_page().plot))))
    assert (decoded == drawn).all()


# --- a library without audio features ------------------------------------------------------------


@pytest.mark.skipif(not EXPORTIFY.is_file(), reason=f"sample exports not found in {SAMPLES}")
def test_a_playlist_without_audio_features_shows_its_metadata(tmp_path):
    # The real Exportify sample without its audio-feature columns: release dates, durations,
    # explicit flags and popularity remain.
    with EXPORTIFY.open(encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    kept = rows[0].index("Danceability")
    folder = tmp_path / "exportify"
    folder.mkdir()
    with (folder / "No Features.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, quoting=csv.QUOTE_ALL).writerows(row[:kept] for row in rows)
    settings = make_settings(tmp_path, source="exportify", source_path=str(folder))
    materialize_everything(settings, echo=lambda _: None, instance=dg.DagsterInstance.ephemeral())

    ((playlist_id, _, report, page, _, image, _),) = lineage_rows(settings.warehouse)
    text = (settings.reports / page).read_text(encoding="utf-8")
    assert text.startswith("# Track Features in No Features\n")
    assert "None of the 73 distinct playable tracks in this playlist has audio features" in text
    for heading in ("## Release year", "### Newest", "### Oldest", "## Length", "### Longest", "### Shortest"):
        assert f"\n{heading}\n" in text
    assert "## Danceability" not in text
    (explicit, known) = query(
        settings.warehouse,
        f"SELECT count(*) FILTER (WHERE explicit), count(explicit) FROM features.track_features "
        f"WHERE track_id IN ({PLAYLIST_TRACKS})",
        [playlist_id],
    )[0]
    assert f"| Explicit lyrics | {explicit} of {known} (" in text
    oldest = query(
        settings.warehouse,
        f"""SELECT track_id FROM features.track_features WHERE release_year IS NOT NULL
              AND track_id IN ({PLAYLIST_TRACKS}) ORDER BY release_year, track_id LIMIT 10""",
        [playlist_id],
    )
    assert [TRACK_LINK.search(r[-1]).group(1) for r in table_after(text, "### Oldest")] == [t for (t,) in oldest]
    assert image and (settings.reports / image).is_file()
    assert dead_links(text, settings.reports / page, settings.reports) == []


def test_a_playlist_without_tracks_says_so_and_has_no_plot(demo_build):
    settings, _, _ = demo_build
    empty = [
        (page, image) for playlist_id, _, _, page, _, image, _ in lineage_rows(settings.warehouse)
        if not query(settings.warehouse, f"SELECT count(*) FROM ({PLAYLIST_TRACKS})", [playlist_id])[0][0]
    ]
    assert empty, "the demo library has an empty playlist"
    for page, image in empty:
        text = (settings.reports / page).read_text(encoding="utf-8")
        assert "This playlist has no playable Spotify tracks, so there is nothing to compare." in text
        assert image is None and "![" not in text


def test_demo_names_in_the_title_are_escaped(demo_build):
    settings, _, _ = demo_build
    for _, name, _, page, *_ in lineage_rows(settings.warehouse):
        first = (settings.reports / page).read_text(encoding="utf-8").split("\n")[0]
        assert first.startswith("# Track Features in ")
        assert "<b>" not in first and "\n" not in first
        if name == "케이팝 <b>최고</b>":
            assert first == "# Track Features in 케이팝 &lt;b&gt;최고&lt;/b&gt;"
