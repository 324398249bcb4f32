"""The Markdown report and index: the seeds' shape, safety against hostile names, determinism."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from playlist_assets.reports import markdown as md
from playlist_assets.reports.markdown import render_index, render_report
from playlist_assets.reports.model import (
    ArtistCredit,
    ClusterSection,
    IndexEntry,
    NotClustered,
    PlaylistReport,
    TrackRow,
)

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED_WITH_SCORE = SEEDS / "000_defeebd4f4f3ddba.utf8.md"
SEED_WITHOUT_SCORE = SEEDS / "004_77bd96849e383c3f.utf8.md"
TOO_FEW = "fewer than 6 tracks with audio features"
HOSTILE = (
    'a|b [x](y) <img src="../z"> <b>bold</b> `code` *em* _u_ \\| # <script>alert(1)</script>'
    "\nnext\rline\t!"
)


def seed_lines(path: Path) -> list[str]:
    if not path.exists():
        pytest.skip(f"seed document {path} is missing (shared/ must sit beside the repo)")
    return path.read_text(encoding="utf-8").splitlines()


def track(name: str = "Lucky Girl", **changes: object) -> TrackRow:
    row = TrackRow(
        track_id="22v5j98MRwc6p5KgwHvpBZ", name=name, album="Russian Roulette",
        image_url="https://i.scdn.co/image/ab67616d0000b2733f30a062dafcdbc1a8fad842",
        artists=(ArtistCredit("Red Velvet", "1z4g3DjTuQFtrVkVJX5Js0"),),
        label="SM Entertainment", score=229, liked=True, distance_to_centre=0.1,
    )
    return dataclasses.replace(row, **changes)


def report(has_score: bool = True, **changes: object) -> PlaylistReport:
    base = PlaylistReport(
        playlist_id="p1", name="Retro Kpop", slug="retro_kpop", has_score=has_score,
        clusters=(
            ClusterSection(1, 12, "Energetic, danceable, happy", (track(), track("Day 1"))),
            ClusterSection(2, 6, "Calm, acoustic", (track("Havana", liked=False),)),
        ),
        not_clustered=(NotClustered("Some episode", "A host", "podcast episode", 2),),
        unclustered_reason=None, x_label="energy", y_label="acousticness",
        provenance=(("Snapshot", "abc123"), ("Features", "spotify")),
    )
    return dataclasses.replace(base, **changes)


def cells(row: str) -> list[str]:
    """Split a table row at the pipes that Markdown treats as cell borders."""
    parts, current, escaped = [], "", False
    for char in row:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif char == "|":
            parts.append(current)
            current = ""
        else:
            current += char
    return parts[1:]  # the text before the first border is empty


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def shapes(lines: list[str]) -> list[str]:
    """The structure of a report: heading and size lines with their numbers blanked."""
    kept = []
    for line in lines:
        if line == "## Not clustered":
            break
        if re.match(md.TITLE_PATTERN, line):
            kept.append("title")
        elif re.match(md.CLUSTER_HEADING_PATTERN, line):
            kept.append("cluster")
        elif re.match(md.SIZE_LINE_PATTERN, line):
            kept.append("size")
        elif line.startswith("|:") or line.startswith("| Art "):
            kept.append(line)
    return kept


@pytest.mark.parametrize(
    ("seed", "has_score", "header", "align"),
    [
        (SEED_WITH_SCORE, True, md.HEADER_WITH_SCORE, md.ALIGN_WITH_SCORE),
        (SEED_WITHOUT_SCORE, False, md.HEADER_WITHOUT_SCORE, md.ALIGN_WITHOUT_SCORE),
    ],
)
def test_report_has_the_seed_shape(seed: Path, has_score: bool, header: str, align: str) -> None:
    lines = seed_lines(seed)
    assert header in lines and align in lines
    ours = render_report(report(has_score=has_score)).splitlines()
    assert ours[0] == "# Clusters in Retro Kpop" and ours[1] == ""
    image = ("![Comparison of Cluster]"
             "(../../../images/playlists/retro_kpop/clusters/clusters_scatter.png)")
    assert ours[2] == image and lines[2].startswith("![Comparison of Cluster](../../../images/")
    expected_per_cluster = ["cluster", "size", header, align]
    assert shapes(ours) == ["title", *expected_per_cluster * 2]
    assert shapes(lines)[:5] == ["title", *expected_per_cluster]
    assert ours.index("## Cluster #1") < ours.index("12 tracks") < ours.index("## Cluster #2")


def test_rows_without_links_are_byte_identical_to_the_seed() -> None:
    lines = seed_lines(SEED_WITHOUT_SCORE)
    seed_rows = [line for line in lines if "| Daisy 2.0" in line or "| Con Calma |" in line]
    daisy = track(
        "Daisy 2.0 (feat. Hatsune Miku)", track_id="0s8RXkQW9lwGEV6WlG8KDq",
        album="Daisy 2.0 (feat. Hatsune Miku)", label="Parlophone UK", liked=False,
        image_url="https://i.scdn.co/image/ab67616d0000b2735064363e1b38af783f93f1a7",
        artists=(ArtistCredit("Ashnikko", None), ArtistCredit("Hatsune Miku", None)),
    )
    calma = track(
        "Con Calma", track_id="5w9c2J52mkdntKOmRLeM2m", album="Con Calma",
        image_url="https://i.scdn.co/image/ab67616d0000b273896ffcd42561c44fea2bae7b",
        artists=(ArtistCredit("Daddy Yankee", None), ArtistCredit("Snow", None)),
        label="El Cartel Records (EC3)",
    )
    section = ClusterSection(1, 52, "Mixed", (daisy, calma))
    ours = table_rows(render_report(report(has_score=False, clusters=(section,))))
    assert ours[2:4] == seed_rows


def test_artists_link_to_spotify_and_labels_are_plain_text() -> None:
    text = render_report(report())
    assert "[Red Velvet](https://open.spotify.com/artist/1z4g3DjTuQFtrVkVJX5Js0)" in text
    assert "../../../../" not in text and "| SM Entertainment |" in text
    assert "| 229 | 💚 | [🔗](https://open.spotify.com/track/22v5j98MRwc6p5KgwHvpBZ) |" in text
    assert "| 💚 |" in text and "| | [🔗]" in text  # not liked: an empty cell, as in the seeds


def test_sections_beyond_the_seeds() -> None:
    text = render_report(report())
    assert "## Cluster #1\n\nEnergetic, danceable, happy\n\n12 tracks\n" in text
    assert "Axes: x = energy; y = acousticness" in text
    assert "|\n\n## Cluster #2" in text  # a blank line the seeds lacked
    assert "## Not clustered" in text and "| Some episode | A host | podcast episode | 2 |" in text
    assert "## Provenance\n\n- Snapshot: abc123\n- Features: spotify\n" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def hostile_report() -> PlaylistReport:
    hostile_track = track(
        HOSTILE, album=HOSTILE, label=HOSTILE,
        artists=(ArtistCredit(HOSTILE, "1z4g3DjTuQFtrVkVJX5Js0"), ArtistCredit(HOSTILE, "../x")),
        image_url='https://evil.example/a.png" onerror="alert(1)',
    )
    return report(
        name=HOSTILE, x_label=HOSTILE, y_label=HOSTILE, provenance=((HOSTILE, HOSTILE),),
        clusters=(ClusterSection(1, 3, HOSTILE, (hostile_track,)),),
        not_clustered=(NotClustered(HOSTILE, HOSTILE, HOSTILE),),
    )


def test_hostile_names_cannot_break_tables_or_inject_html() -> None:
    text = render_report(hostile_report())
    rows = table_rows(text)
    assert len(rows) == 6  # each table: header, alignment, one row
    for header, row in ((rows[0], rows[2]), (rows[3], rows[5])):
        assert len(cells(row)) == len(cells(header))
    for raw in ("<b>", "<script>", "</script>", "onerror", "[x](y)", "`code`", "*em*"):
        assert raw not in text
    assert "\nnext" not in text and "\r" not in text and "\t" not in text
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("#")] == [
        lines[0], "## Cluster #1", "## Not clustered", "## Provenance"]
    assert "https://open.spotify.com/artist/../x" not in text


def test_hostile_names_look_like_no_link_to_the_link_checker(tmp_path: Path) -> None:
    quality = pytest.importorskip("playlist_assets.warehouse.quality")
    report_file = tmp_path / "playlists" / "retro_kpop" / "clusters" / "overview.md"
    image = tmp_path / "images" / "playlists" / "retro_kpop" / "clusters" / "clusters_scatter.png"
    features_page = tmp_path / "playlists" / "retro_kpop" / "track_features.md"  # the report links it
    for path in (report_file, image, features_page):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert quality.dead_links(render_report(hostile_report()), report_file, tmp_path) == []


@pytest.mark.parametrize(
    ("description", "escaped"),
    [("- not a list", "\\- not a list"), ("1. not a list", "1\\. not a list"),
     ("# not a heading", "\\# not a heading"), ("---", "\\---")],
)
def test_a_description_cannot_become_a_list_or_heading(description: str, escaped: str) -> None:
    lines = render_report(report(clusters=(ClusterSection(1, 3, description, ()),))).splitlines()
    assert lines[lines.index("## Cluster #1") + 2] == escaped


def test_scripts_and_emoji_round_trip() -> None:
    names = ["שלום עולם", "東京の夜", "北京欢迎你", "안녕하세요", "Chill 💚🔥 👨‍👩‍👧"]
    for name in names:
        section = ClusterSection(1, 1, name, (track(name),))
        text = render_report(report(name=name, clusters=(section,)))
        assert text.encode("utf-8").decode("utf-8") == text
        assert f"# Clusters in {name}\n" in text and f"| {name} |" in text


def test_rendering_is_deterministic() -> None:
    assert render_report(report()) == render_report(report())
    entries = index_entries()
    assert render_index(entries) == render_index(list(reversed(entries)))


def test_unclustered_playlist_states_the_reason_without_image_or_clusters() -> None:
    reason = "fewer than 6 tracks with audio features"
    text = render_report(report(clusters=(), unclustered_reason=reason))
    assert f"This playlist was not clustered: {reason}." in text
    assert "![" not in text and "## Cluster #" not in text and "Axes:" not in text
    assert not md.has_scatter(report(clusters=(), unclustered_reason=reason))
    assert md.has_scatter(report())


def test_unsafe_slug_is_refused() -> None:
    with pytest.raises(ValueError):
        render_report(report(slug="../../etc"))


def test_invalid_ids_and_image_urls_are_left_out() -> None:
    bad = track(track_id="spotify:local:x y", image_url="http://i.scdn.co/image/x",
                artists=(ArtistCredit("Local Artist", "not an id!"),))
    text = render_report(report(clusters=(ClusterSection(1, 1, "x", (bad,)),)))
    row = table_rows(text)[2]
    assert row.startswith("| | Lucky Girl |") and "| Local Artist |" in row
    assert row.endswith("| 💚 | |") and "http://" not in row


def index_entries() -> list[IndexEntry]:
    return [
        IndexEntry("Retro Kpop", "retro_kpop", 30, 25, 3, True, playlist_id="p1"),
        IndexEntry("Tiny", "tiny", 4, 0, 0, False, TOO_FEW, playlist_id="p2"),
        IndexEntry("", "playlist", 0, 0, None, False, "empty playlist", playlist_id="p3"),
        IndexEntry("Odd | <b>name</b>", "odd_b_name_b", 9, 7, 2, True, playlist_id="p4"),
        # Clustered, but its report file is missing: listed without a link.
        IndexEntry("Gone", "gone", 9, 7, 2, False, playlist_id="p5"),
    ]


def test_index_lists_every_playlist_and_links_only_existing_reports() -> None:
    text = render_index(index_entries())
    rows = table_rows(text)
    assert rows[0] == md.INDEX_HEADER and len(rows) == 2 + len(index_entries())
    links = re.findall(r"\]\(([^)]*)\)", text)
    assert links == ["playlists/odd_b_name_b/clusters/overview.md",
                     "playlists/retro_kpop/clusters/overview.md"]
    assert "| Tiny | 4 | 0 | | fewer than 6 tracks with audio features |" in text
    assert "empty playlist" in text and "<b>" not in text
    assert "| Gone | 9 | 7 | 2 | clustered |" in text
    assert all(len(cells(row)) == len(cells(rows[0])) for row in rows)


def test_output_is_valid_utf8_even_for_lone_surrogates() -> None:
    text = render_report(report(name="bad \ud800 json", clusters=()))
    assert text.encode("utf-8").decode("utf-8") == text
    assert "# Clusters in bad \ufffd json\n" in text


def test_not_clustered_entries_keep_the_liked_column() -> None:
    liked = NotClustered("Home video", "Me", "local file (not on Spotify)", 1, liked=True)
    text = render_report(report(not_clustered=(liked, NotClustered("Some episode", "A host", "podcast episode", 2))))
    assert "| Entry | Artists | Reason | Count | 💚 |" in text
    assert "| Home video | Me | local file (not on Spotify) | 1 | 💚 |" in text
    assert "| Some episode | A host | podcast episode | 2 | |" in text


def test_the_rest_of_a_cluster_is_listed_folded_after_its_nearest_tracks() -> None:
    others = tuple(track(f"Other {i}", liked=False) for i in range(3))
    section = ClusterSection(1, 5, "Calm", (track(), track("Day 1")), others)
    text = render_report(report(clusters=(section,)))
    folded = text.split("<details>\n<summary>The other 3 tracks of cluster #1</summary>\n\n", 1)[1]
    assert folded.split("</details>")[0].count("| Other ") == 3
    assert text.count("open.spotify.com/track/") == 5
