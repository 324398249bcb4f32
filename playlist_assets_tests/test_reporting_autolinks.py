"""Names render as text on GitHub (no autolinks), and album art comes only from Spotify's hosts.

The reports are read on GitHub, whose renderer is cmark-gfm: these tests render our Markdown
with it (through the cmarkgfm package) and look at the HTML a reader would get.
"""

from __future__ import annotations

import html
import re

import pytest

from playlist_assets.reports.markdown import render_index, render_report
from playlist_assets.reports.model import (
    ArtistCredit,
    ClusterSection,
    IndexEntry,
    NotClustered,
    PlaylistReport,
)
from playlist_assets_tests.test_reporting import report, table_rows, track

cmarkgfm = pytest.importorskip("cmarkgfm")

URL = "https://evil.example/x"
WWW = "www.evil.example"
EMAIL = "mail@evil.example"
PIECES = [URL, WWW, EMAIL, "<b>bold</b>", "a|b"]
# Each piece alone fills a whole cell; the sentence puts them between words and punctuation.
NAMES = [*PIECES, f"Go to {URL}, ({WWW}) or *{EMAIL}* <b>bold</b> a|b", "HTTPS://EVIL.EXAMPLE"]
ARTIST_ID = "1z4g3DjTuQFtrVkVJX5Js0"
TRACK_ID = "22v5j98MRwc6p5KgwHvpBZ"
GFM_EXTENSIONS = ["autolink", "table", "strikethrough", "tagfilter"]
# The one invisible character the escaping may add (before an "@", so no e-mail link forms).
WORD_JOINER = "\u2060"


def github_html(markdown: str) -> str:
    # GitHub keeps inline HTML (then sanitizes it), so raw HTML is let through here as well:
    # an <img> for album art is then visible, and so would be any tag a name smuggled in.
    unsafe = cmarkgfm.Options.CMARK_OPT_UNSAFE
    return cmarkgfm.markdown_to_html_with_extensions(markdown, unsafe, GFM_EXTENSIONS)


def visible(fragment: str) -> str:
    """The text a reader sees in an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment)).replace(WORD_JOINER, "")


def elements(page: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}(?: [^>]*)?>(.*?)</{tag}>", page, flags=re.DOTALL)


def link_targets(page: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', page)


def hostile_report(name: str) -> PlaylistReport:
    hostile_track = track(
        name, album=name, label=name, track_id=TRACK_ID,
        artists=(ArtistCredit(name, ARTIST_ID), ArtistCredit(name, None)),
    )
    return report(
        name=name, x_label=name, y_label=name, provenance=(),
        clusters=(ClusterSection(1, 3, name, (hostile_track,)),),
        not_clustered=(NotClustered(name, name, "local file"),),
    )


@pytest.mark.parametrize("name", NAMES)
def test_names_in_a_report_are_text_not_links(name: str) -> None:
    page = github_html(render_report(hostile_report(name)))
    assert sorted(set(link_targets(page))) == [
        "../track_features.md",  # the report's own link to the playlist's second page
        f"https://open.spotify.com/artist/{ARTIST_ID}",
        f"https://open.spotify.com/track/{TRACK_ID}",
    ]
    assert "<b>" not in page and "mailto:" not in page
    assert [visible(h) for h in elements(page, "h1")] == [f"Clusters in {name}"]
    paragraphs = [visible(p) for p in elements(page, "p")]
    # After the plot and the link to the Track Features page: the axes, the cluster's
    # description, its size.
    assert paragraphs[2:5] == [f"Axes: x = {name}; y = {name}", name, "3 tracks"]
    tracks, leftovers = (
        [elements(row, "td") for row in elements(table, "tr")[1:]]
        for table in elements(page, "table")
    )
    assert len(tracks[0]) == 8  # Art, Track, Album, Artists, Label, Score, liked, link
    assert [visible(cell) for cell in tracks[0][1:5]] == [name, name, f"{name}, {name}", name]
    assert [visible(cell) for cell in leftovers[0][:2]] == [name, name]


@pytest.mark.parametrize("name", NAMES)
def test_names_in_the_index_are_text_not_links(name: str) -> None:
    entries = [
        IndexEntry(name, "linked", 9, 7, 2, True, playlist_id="p1"),
        IndexEntry(name, "unlinked", 4, 0, 0, False, name, playlist_id="p2"),
    ]
    page = github_html(render_index(entries))
    assert link_targets(page) == ["playlists/linked/clusters/overview.md"]
    rows = [elements(row, "td") for row in elements(page, "tr")[1:]]
    assert [visible(row[0]) for row in rows] == [name, name]
    assert visible(rows[1][-2]) == name  # the reason, shown as the status (before Track features)


def test_plain_names_are_written_as_before() -> None:
    """Only the shapes of autolinks are escaped: "feat." and "2.0" stay as the seeds write them."""
    name = "Daisy 2.0 (feat. Hatsune Miku) - www - re: x / y"
    section = ClusterSection(1, 1, "x", (track(name),))
    assert f"| {name} |" in render_report(report(clusters=(section,)))


@pytest.mark.parametrize(
    "url",
    [
        "https://i.scdn.co/image/ab67616d0000b2733f30a062dafcdbc1a8fad842",
        "https://mosaic.scdn.co/640/ab67616d0000b2733f30a062dafcdbc1a8fad842",
        "https://image-cdn-ak.spotifycdn.com/image/ab67706c0000da84",
        "https://image-cdn-fa.spotifycdn.com/image/ab67706c0000da84",
        "https://I.SCDN.CO/image/ab67616d0000b273",
    ],
)
def test_album_art_from_spotify_is_kept(url: str) -> None:
    text = render_report(report(clusters=(ClusterSection(1, 1, "x", (track(image_url=url),)),)))
    assert table_rows(text)[2].startswith(f'| <img src="{url}" alt="" width="50" /> | Lucky Girl |')
    assert f'<img src="{url}"' in github_html(text)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/pixel.gif",
        "http://i.scdn.co/image/ab67616d0000b273",
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
        "//i.scdn.co/image/ab67616d0000b273",
        "https://i.scdn.co.evil.example/image/x",
        "https://evilscdn.co/image/x",
        "https://scdn.co.evil.example/x",
        "https://i.scdn.co@evil.example/image/x",
        "https://user@i.scdn.co/image/x",
        "https://i.scdn.co:8443/image/x",
        "https://i.scdn.co:443:80/image/x",
        "https://evil.example/?.scdn.co",
        "https://evil.example#.spotifycdn.com",
    ],
)
def test_album_art_from_other_hosts_is_dropped(url: str) -> None:
    text = render_report(report(clusters=(ClusterSection(1, 1, "x", (track(image_url=url),)),)))
    row = table_rows(text)[2]
    assert row.startswith("| | Lucky Girl |")  # an empty Art cell, as for a track without art
    assert url not in text and url.replace("&", "&amp;") not in github_html(text)
