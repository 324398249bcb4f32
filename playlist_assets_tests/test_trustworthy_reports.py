"""Reports a listener can check: every word true for most of its cluster's songs, every song
named, the clusters' solidity measured and said, planted groups still found."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from playlist_assets.clustering import describe, kmeans
from playlist_assets.clustering.kmeans import cluster_playlist
from playlist_assets.reports.markdown import CLUSTER_HEADING_PATTERN, SIZE_LINE_PATTERN

AUDIO = ["danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness", "valence", "tempo", "loudness"]


def property_words(description: str) -> list[str]:
    """The property words of a description (before ';'), as a reader would pick them out."""
    head = description.split(";")[0]
    if head.lower().startswith(("higher ", "lower ", "faster", "slower", "louder", "quieter", "newer", "older", "longer", "shorter", "more ", "less ")):
        return []
    if head == describe.NOTHING_STANDS_OUT:
        return []
    return [w.strip().lower() for w in head.split(",")]


def holds(word: str, tracks: pl.DataFrame) -> np.ndarray:
    """Per track, whether it has the property `word` names, by Spotify's documented meaning."""
    decade = re.fullmatch(r"from the (\d{4})s", word)
    if decade:
        years = tracks["release_year"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        return np.floor(years / 10) * 10 == int(decade.group(1))
    rules = {
        "instrumental": ("instrumentalness", lambda v: v > 0.5),
        "vocal": ("instrumentalness", lambda v: v < 0.5),
        "spoken word": ("speechiness", lambda v: v > 0.66),
        "rap or spoken": ("speechiness", lambda v: v > 0.33),
        "live": ("liveness", lambda v: v > 0.8),
        "acoustic": ("acousticness", lambda v: v > 0.5),
        "energetic": ("energy", lambda v: v > 0.5),
        "calm": ("energy", lambda v: v < 0.5),
        "danceable": ("danceability", lambda v: v > 0.5),
        "happy": ("valence", lambda v: v > 0.5),
        "sad": ("valence", lambda v: v < 0.5),
        "explicit": ("explicit", lambda v: v == 1),
        "not explicit": ("explicit", lambda v: v == 0),
    }
    assert word in rules, f"a word no rule checks: {word!r}"
    column, rule = rules[word]
    values = tracks[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
    with np.errstate(invalid="ignore"):
        return rule(values)


def test_every_word_of_every_demo_description_is_true_for_two_thirds_of_its_tracks(demo_build):
    settings, _, _ = demo_build
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        clusters = conn.sql("SELECT playlist_id, cluster, size, description FROM analytics.clusters").pl()
        members = conn.sql(
            """SELECT pc.playlist_id, pc.cluster, f.* FROM analytics.playlist_clusters pc
               JOIN features.track_features f USING (track_id)"""
        ).pl()
    checked = 0
    for c in clusters.iter_rows(named=True):
        tracks = members.filter((pl.col("playlist_id") == c["playlist_id"]) & (pl.col("cluster") == c["cluster"]))
        assert tracks.height == c["size"]
        for word in property_words(c["description"]):
            share = holds(word, tracks).mean()
            assert share >= 2 / 3, f"{c['description']!r}: {word!r} holds for {share:.0%} of {tracks.height}"
            checked += 1
    assert checked > 10, "the demo's descriptions name almost no property: nothing was checked"


def playlist(n: int, seed: int = 3, **columns) -> pl.DataFrame:
    """`n` tracks with audio features drawn uniformly in 0-1 unless given."""
    rng = np.random.default_rng(seed)
    data = {"track_id": [f"t{i:03d}" for i in range(n)]}
    for column in AUDIO:
        data[column] = columns.get(column, rng.uniform(0, 1, n))
    data["tempo"] = columns.get("tempo", rng.uniform(60, 180, n))
    data["loudness"] = columns.get("loudness", rng.uniform(-20, -3, n))
    return pl.DataFrame(data)


def test_a_word_is_said_only_when_two_thirds_of_the_cluster_have_it():
    # Half the cluster above 0.5 on instrumentalness: far above the rest, yet not "instrumental".
    n = 12
    values = {"instrumentalness": np.array([0.9] * 3 + [0.3] * 3 + [0.05] * 6)}
    members = np.array([True] * 6 + [False] * 6)
    text = describe.describe_cluster(values, members, {"instrumentalness": 1.5})
    assert "nstrumental," not in text and not text.startswith("Instrumental")
    assert text == "Higher instrumentalness than the rest of this playlist"
    values = {"instrumentalness": np.array([0.9] * 4 + [0.3] * 2 + [0.05] * 6)}
    assert describe.describe_cluster(values, members, {"instrumentalness": 1.5}).startswith("Instrumental")
    assert n == members.size


def test_unknown_popularity_is_never_a_reason_for_a_word():
    members = np.array([True] * 6 + [False] * 6)
    zeros = {"popularity": np.array([0.0] * 6 + [60.0] * 6)}
    assert describe.describe_cluster(zeros, members, {"popularity": -1.0}) == describe.NOTHING_STANDS_OUT
    known = {"popularity": np.array([20.0] * 6 + [60.0] * 6)}
    assert describe.describe_cluster(known, members, {"popularity": -1.0}) == "Less popular than the rest of this playlist"


def test_a_metadata_cluster_is_described_by_decade_length_and_explicitness():
    members = np.array([True] * 6 + [False] * 6)
    values = {
        "release_year": np.array([1991, 1994, 1998, 1999, 1993, 2004] + [2019] * 6, dtype=float),
        "duration_min": np.array([6.0] * 6 + [3.0] * 6),
        "explicit": np.array([0.0] * 6 + [1.0] * 6),
    }
    text = describe.describe_cluster(values, members, {"release_year": -1.0, "duration_min": 1.0, "explicit": -1.0})
    assert text == "Not explicit, from the 1990s; longer than the rest of this playlist"


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_planted_well_separated_groups_are_recovered(k):
    rng = np.random.default_rng(k)
    centres = rng.uniform(0.05, 0.95, size=(k, len(AUDIO)))
    # Far apart on one feature each, so that the groups are planted for sure.
    for group in range(k):
        centres[group, group % len(AUDIO)] += 3
    truth = np.repeat(np.arange(k), 20)
    values = centres[truth] + rng.normal(scale=0.15, size=(len(truth), len(AUDIO)))
    frame = pl.DataFrame({"track_id": [f"t{i:03d}" for i in range(len(truth))]}).with_columns(
        pl.Series(c, values[:, j]) for j, c in enumerate(AUDIO)
    )
    result = cluster_playlist(frame, AUDIO)
    found = result.assignments.sort("track_id")["cluster"].to_numpy()
    assert result.k == k
    assert adjusted_rand_score(truth, found) >= 0.9
    assert result.stability is not None and result.stability >= 0.9


def test_groups_that_overlap_are_measured_unstable_and_the_smallest_fitting_k_is_chosen():
    frame = playlist(90, seed=11)  # uniform noise: no real groups
    result = cluster_playlist(frame, AUDIO)
    assert result.clustered
    assert result.stability < kmeans.WEAK_STABILITY or result.silhouette < kmeans.WEAK_SILHOUETTE
    again = cluster_playlist(frame.reverse(), AUDIO)
    assert (again.k, again.stability) == (result.k, result.stability)  # deterministic


def cluster_sections(text: str) -> list[tuple[int, int, int]]:
    """(number, size line, rows listed) of each cluster section of a report."""
    sections = re.split(r"(?m)^(?=## )", text)
    out = []
    for section in sections:
        heading = re.match(CLUSTER_HEADING_PATTERN, section.splitlines()[0]) if section else None
        if not heading:
            continue
        size = next(int(m.group(1)) for line in section.splitlines() if (m := re.match(SIZE_LINE_PATTERN, line)))
        rows = [line for line in section.splitlines() if line.startswith("| ") and "open.spotify.com/track/" in line]
        out.append((int(heading.group(1)), size, len(rows)))
    return out


def test_every_clustered_track_is_named_in_its_report_and_each_count_matches_its_rows(demo_build):
    settings, _, _ = demo_build
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        reports = conn.execute(
            "SELECT r.playlist_id, r.report_path, c.stability, c.silhouette FROM analytics.cluster_reports r "
            "JOIN analytics.playlist_clusterings c USING (playlist_id) WHERE c.clustered"
        ).fetchall()
        members = conn.sql("SELECT playlist_id, track_id FROM analytics.playlist_clusters").pl()
    assert reports
    for playlist_id, path, stability, silhouette in reports:
        text = (settings.reports / path).read_text(encoding="utf-8")
        for number, size, rows in cluster_sections(text):
            assert rows == size, f"{path}: cluster #{number} says {size} tracks, lists {rows}"
        for track_id in members.filter(pl.col("playlist_id") == playlist_id)["track_id"]:
            assert f"open.spotify.com/track/{track_id})" in text, f"{track_id} is not named in {path}"
        assert stability is not None and f"stability {stability:.2f}" in text
        overlap = "These groups overlap: treat them as tendencies, not boundaries." in text
        assert overlap == (silhouette < kmeans.WEAK_SILHOUETTE or stability < kmeans.WEAK_STABILITY)
