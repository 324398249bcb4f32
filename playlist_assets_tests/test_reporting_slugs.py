"""Playlist slugs: safe folder names, unique per playlist, independent of input order."""

from __future__ import annotations

import hashlib
import random

import pytest

from playlist_assets.reports.paths import report_path, scatter_link_from_report, scatter_path
from playlist_assets.reports.slugs import assign_slugs, base_slug, is_safe_slug

NAMES = [
    "Retro Kpop", "International Pop", "שלום עולם", "東京の夜", "💚🔥", "", "   ", "..",
    "../../etc", "a/b\\c", "CON", "com1", "Lpt9", "nul.txt", "Beyoncé Café",
    "ＦＵＬＬＷＩＤＴＨ", "x" * 300,
    "Ünïcödé — dashes", "C:\\Windows", "tab\there", "new\nline", "a:b*c?d\"e<f>g|h",
]


def test_slug_follows_the_seed_style() -> None:
    assert base_slug("Retro Kpop") == "retro_kpop"
    assert base_slug("International Pop") == "international_pop"
    assert base_slug("Beyoncé Café!!") == "beyonce_cafe"
    assert base_slug("ＦＵＬＬＷＩＤＴＨ") == "fullwidth"


@pytest.mark.parametrize("name", NAMES)
def test_every_slug_is_safe_on_every_filesystem(name: str) -> None:
    slug = assign_slugs([("id-" + name, name)])["id-" + name]
    assert is_safe_slug(slug)
    assert slug.isascii() and len(slug) <= 64 and slug
    assert "/" not in slug and "\\" not in slug and ".." not in slug and "." not in slug
    assert report_path(slug).parts[:2] == ("playlists", slug)


def test_names_without_ascii_fall_back_and_reserved_names_get_a_suffix() -> None:
    assert base_slug("東京の夜") == "playlist"
    assert base_slug("💚") == "playlist"
    assert base_slug("CON") == "con_playlist"
    assert base_slug("com7") == "com7_playlist"


def test_colliding_names_get_the_id_hash_suffix() -> None:
    pairs = [("id1", "Mix"), ("id2", "mix!"), ("id3", "Other"), ("id4", "東京"), ("id5", "北京")]
    slugs = assign_slugs(pairs)
    assert slugs["id3"] == "other"
    for playlist_id, base in (("id1", "mix"), ("id2", "mix"), ("id4", "playlist")):
        digest = hashlib.sha256(playlist_id.encode()).hexdigest()[:8]
        assert slugs[playlist_id] == f"{base}_{digest}"
    assert len(set(slugs.values())) == len(pairs)


def test_slugs_are_unique_and_independent_of_order() -> None:
    pairs = [(f"id{i}", name) for i, name in enumerate(NAMES * 3)]
    expected = assign_slugs(pairs)
    assert len(set(expected.values())) == len(pairs)
    shuffled = pairs[:]
    random.Random(7).shuffle(shuffled)
    assert assign_slugs(shuffled) == expected
    assert all(is_safe_slug(slug) and len(slug) <= 64 for slug in expected.values())


def test_a_suffixed_slug_that_meets_a_plain_one_is_lengthened() -> None:
    digest = hashlib.sha256(b"a").hexdigest()[:8]
    pairs = [("a", "Mix"), ("b", "Mix"), ("c", f"mix {digest}")]
    slugs = assign_slugs(pairs)
    assert len(set(slugs.values())) == 3
    assert slugs == assign_slugs(list(reversed(pairs)))


def test_one_id_with_two_names_is_an_error() -> None:
    assert assign_slugs([("a", "x"), ("a", "x")]) == {"a": "x"}
    with pytest.raises(ValueError):
        assign_slugs([("a", "x"), ("a", "y")])


def test_paths_stay_inside_the_reports_folder() -> None:
    assert str(scatter_path("retro_kpop")) == (
        "images/playlists/retro_kpop/clusters/clusters_scatter.png")
    assert scatter_link_from_report("retro_kpop") == (
        "../../../images/playlists/retro_kpop/clusters/clusters_scatter.png")
    for unsafe in ("..", "a/b", "", "con", "A"):
        with pytest.raises(ValueError):
            report_path(unsafe)
