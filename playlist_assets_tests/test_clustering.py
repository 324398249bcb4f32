"""Unit tests of playlist_assets.clustering.kmeans: pure functions over small constructed playlists."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from playlist_assets.clustering import kmeans
from playlist_assets.clustering.kmeans import (
    ASSIGNMENT_SCHEMA,
    MIN_TRACKS,
    cluster_playlist,
    kmeans_labels,
    representatives,
)

AUDIO = ["energy", "danceability", "valence", "acousticness", "tempo", "loudness"]


def blobs(sizes: list[int], centres: list[list[float]], columns: list[str] = AUDIO, seed: int = 1):
    """Gaussian blobs (sd 1) around `centres`; returns the frame and the true group per row."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    values = np.asarray(centres, dtype=float)[groups] + rng.normal(size=(len(groups), len(columns)))
    frame = pl.DataFrame({"track_id": [f"t{i:03d}" for i in range(len(groups))]})
    frame = frame.with_columns(pl.Series(c, values[:, j]) for j, c in enumerate(columns))
    return frame, groups


def three_blobs():
    return blobs([20, 20, 20], [[8, 0, 0, 0, 0, 0], [0, 8, 0, 0, 0, 0], [0, 0, 0, -8, 0, 0]])


def by_track(result) -> pl.DataFrame:
    return result.assignments.sort("track_id")


def test_well_separated_blobs_are_recovered():
    frame, truth = three_blobs()
    result = cluster_playlist(frame, AUDIO)
    assert result.clustered and result.k == 3 and result.reason is None
    assert adjusted_rand_score(truth, by_track(result)["cluster"].to_numpy()) >= 0.9
    assert result.silhouette is not None and result.silhouette > 0.3


def test_every_track_is_assigned_exactly_once_with_the_contract_schema():
    frame, _ = three_blobs()
    assignments = cluster_playlist(frame, AUDIO).assignments
    assert assignments.schema == ASSIGNMENT_SCHEMA
    assert sorted(assignments["track_id"]) == sorted(frame["track_id"])
    assert assignments.equals(assignments.sort("cluster", "distance_to_centre", "track_id"))


def test_clusters_are_numbered_by_size_then_smallest_track_id():
    centres = [[0, 0, 0, 0, 0, 0], [9, 9, 0, 0, 0, 0], [0, 0, 9, 9, 0, 0], [0, 0, 0, 0, 9, 9]]
    frame, _ = blobs([10, 25, 10, 15], centres)
    result = cluster_playlist(frame, AUDIO)
    assert [c.size for c in result.clusters] == [25, 15, 10, 10]
    assert [c.cluster for c in result.clusters] == [1, 2, 3, 4]
    # The two clusters of 10: t000..t009 (smallest id) must be #3, t035..t044 #4.
    assert set(result.assignments.filter(pl.col("cluster") == 3)["track_id"]) == {f"t{i:03d}" for i in range(10)}


def test_distance_is_euclidean_to_the_centroid_in_z_units():
    frame, _ = three_blobs()
    result = cluster_playlist(frame, AUDIO)
    z = StandardScaler().fit_transform(frame.sort("track_id").select(AUDIO).to_numpy())
    rows = by_track(result)
    centroids = np.array([[c.centroid[col] for col in AUDIO] for c in result.clusters])
    expected = np.linalg.norm(z - centroids[rows["cluster"].to_numpy() - 1], axis=1)
    np.testing.assert_allclose(rows["distance_to_centre"].to_numpy(), expected, atol=1e-9)


def correlated_playlist(n: int = 80) -> pl.DataFrame:
    """Two independent latent factors: x should follow the 3-column one, y the 2-column one."""
    rng = np.random.default_rng(7)
    loud_latent, mood_latent = rng.normal(size=n), rng.normal(size=n)
    noise = lambda: 0.15 * rng.normal(size=n)  # noqa: E731
    return pl.DataFrame({
        "track_id": [f"t{i:03d}" for i in range(n)],
        "tempo": rng.normal(size=n),
        "energy": loud_latent + noise(),
        "acousticness": -loud_latent + noise(),
        "valence": mood_latent + noise(),
        "loudness": loud_latent + noise(),
        "danceability": mood_latent + noise(),
    })


def signed_terms(label: str) -> dict[str, int]:
    return {term[1:]: 1 if term[0] == "+" else -1 for term in label.split()}


def test_axis_labels_name_the_loadings_of_the_plotted_components():
    frame = correlated_playlist()
    columns = frame.columns[1:]
    result = cluster_playlist(frame, columns)
    rows = by_track(result)
    z = StandardScaler().fit_transform(frame.sort("track_id").select(columns).to_numpy())

    x_terms, y_terms = signed_terms(result.x_label), signed_terms(result.y_label)
    assert set(x_terms) == {"energy", "acousticness", "loudness"}
    assert set(list(y_terms)[:2]) == {"valence", "danceability"}
    for axis, terms in (("x", x_terms), ("y", y_terms)):
        for column, sign in terms.items():
            r = np.corrcoef(rows[axis].to_numpy(), z[:, columns.index(column)])[0, 1]
            if column in {"energy", "acousticness", "loudness", "valence", "danceability"}:
                assert abs(r) > 0.9, (axis, column, r)
            assert np.sign(r) == sign, f"{axis} label says {sign:+d}{column} but r = {r:.2f}"
    # Independent check: the label is the top 3 |loadings| of the component plotted as x.
    pca = PCA(n_components=2, svd_solver="full").fit(z)
    top = np.argsort(-np.abs(pca.components_[0]))[:3]
    assert list(x_terms) == [columns[i] for i in top]
    np.testing.assert_allclose(np.abs(rows["x"].to_numpy()), np.abs(pca.transform(z)[:, 0]), atol=1e-9)
    assert 0 < result.explained_variance[1] < result.explained_variance[0] <= 1


@pytest.mark.parametrize("playlist", ["three blobs", "no structure"])
def test_same_input_gives_identical_result_whatever_the_row_order(playlist):
    # With no structure, random starts would disagree between calls: nothing here is random.
    frame = three_blobs()[0] if playlist == "three blobs" else blobs([30], [[0] * 6], seed=4)[0]
    first = cluster_playlist(frame, AUDIO)
    again = cluster_playlist(frame, AUDIO)
    shuffled = cluster_playlist(frame.sample(fraction=1.0, shuffle=True, seed=5), AUDIO)
    for other in (again, shuffled):
        assert other.assignments.equals(first.assignments)
        assert other.clusters == first.clusters
        assert (other.x_label, other.y_label, other.k) == (first.x_label, first.y_label, first.k)


def test_too_few_tracks_is_explained_not_clustered():
    frame, _ = blobs([5], [[0] * 6])
    result = cluster_playlist(frame, AUDIO)
    assert not result.clustered and result.k == 0 and result.silhouette is None
    assert "5 tracks" in result.reason and str(MIN_TRACKS) in result.reason
    assert result.assignments.is_empty() and result.assignments.schema == ASSIGNMENT_SCHEMA
    assert result.clusters == () and result.x_label == result.y_label == ""
    assert representatives(result).is_empty()


def test_fewer_than_two_varying_columns_is_explained_not_clustered():
    frame = pl.DataFrame({"track_id": [f"t{i}" for i in range(10)], "energy": np.arange(10.0), "mode": [1] * 10})
    result = cluster_playlist(frame, ["energy", "mode"])
    assert not result.clustered and result.feature_columns == ("energy",)
    assert "feature" in result.reason and "2" in result.reason


def test_feature_values_too_large_to_compare_are_refused_naming_the_feature():
    frame = pl.DataFrame({
        "track_id": [f"t{i}" for i in range(12)],
        "energy": np.linspace(0.1, 0.9, 12),
        "tempo": np.linspace(1e300, 9e300, 12),  # a corrupt source: the variance overflows
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sentence alone: no NumPy overflow warnings around it
        with pytest.raises(ValueError, match=r"feature\(s\) tempo are too large"):
            cluster_playlist(frame, ["energy", "tempo"])


def test_constant_and_all_null_columns_are_dropped_keeping_input_order():
    frame, _ = three_blobs()
    frame = frame.with_columns(
        pl.lit(4, dtype=pl.Int32).alias("time_signature"), pl.lit(None, dtype=pl.Float64).alias("popularity")
    )
    columns = ["time_signature", *AUDIO[:3], "popularity", *AUDIO[3:]]
    result = cluster_playlist(frame, columns)
    assert result.feature_columns == tuple(AUDIO)
    assert set(result.clusters[0].centroid) == set(AUDIO)


def test_nulls_are_imputed_and_every_track_still_assigned():
    frame, truth = three_blobs()
    rng = np.random.default_rng(0)
    frame = frame.with_columns(
        pl.when(pl.Series(rng.random(frame.height) < 0.1)).then(None).otherwise(pl.col(c)).alias(c) for c in AUDIO
    ).with_columns(pl.Series("explicit", [None if i % 7 == 0 else bool(g == 0) for i, g in enumerate(truth)]))
    result = cluster_playlist(frame, [*AUDIO, "explicit"])
    rows = by_track(result)
    assert rows.height == frame.height and "explicit" in result.feature_columns
    assert not rows.select(pl.all().exclude("track_id").is_nan().any()).row(0)[0]
    assert adjusted_rand_score(truth, rows["cluster"].to_numpy()) >= 0.8


def test_representatives_are_the_nearest_tracks_in_distance_order():
    frame, _ = blobs([30, 14], [[0] * 6, [9, 9, 9, 0, 0, 0]])
    result = cluster_playlist(frame, AUDIO)
    reps = representatives(result)
    assert reps.group_by("cluster").len()["len"].max() <= 10
    for cluster, members in result.assignments.group_by("cluster"):
        chosen = reps.filter(pl.col("cluster") == cluster[0])
        assert chosen.height == min(10, members.height)
        assert chosen["distance_to_centre"].is_sorted()
        assert chosen["distance_to_centre"].to_list() == sorted(members["distance_to_centre"])[: chosen.height]
    assert representatives(result, n=3).group_by("cluster").len()["len"].to_list() == [3, 3]


def outlier_playlist():
    """Two balanced groups plus a pair of far outliers: k=3 scores best but is lopsided (40/40/2)."""
    frame, _ = blobs([40, 40, 2], [[0] * 6, [5, 5, 0, 0, 0, 0], [40, -40, 40, 0, 0, 0]])
    return frame


def test_lopsided_clustering_is_rejected_when_a_balanced_one_exists(monkeypatch):
    sizes = lambda result: [c.size for c in result.clusters]  # noqa: E731
    result = cluster_playlist(outlier_playlist(), AUDIO)
    assert max(sizes(result)) <= kmeans.MAX_SIZE_RATIO * min(sizes(result))
    # Without the rule the silhouette would pick the lopsided split: the test above can fail.
    monkeypatch.setattr(kmeans, "MAX_SIZE_RATIO", float("inf"))
    unguarded = cluster_playlist(outlier_playlist(), AUDIO)
    assert max(sizes(unguarded)) > 10 * min(sizes(unguarded))


def test_when_every_k_is_lopsided_the_least_lopsided_is_kept(monkeypatch):
    monkeypatch.setattr(kmeans, "MAX_SIZE_RATIO", 1.0)  # every unequal split counts as lopsided
    frame, _ = blobs([24, 12, 6], [[0] * 6, [7] + [0] * 5, [0, 7, 0, 0, 0, 0]])
    result = cluster_playlist(frame, AUDIO)
    z = StandardScaler().fit_transform(frame.sort("track_id").select(AUDIO).to_numpy())
    ratios = {}
    for k in range(2, 11):
        sizes = np.bincount(kmeans_labels(z, k), minlength=k)
        ratios[k] = sizes.max() / sizes.min()
    assert result.clusters[0].size / result.clusters[-1].size == pytest.approx(min(ratios.values()))


def test_descriptions_say_what_sets_each_blob_apart_and_only_true_words():
    frame, _ = three_blobs()  # energy high / danceability high / acousticness low, one blob each
    result = cluster_playlist(frame, AUDIO)
    by_blob = {c.description: by_track(result).filter(pl.col("cluster") == c.cluster)["track_id"][0] for c in result.clusters}
    said = {track: description for description, track in by_blob.items()}
    assert "Energetic" in said["t000"] and "Danceable" in said["t020"]
    assert said["t040"].startswith("Calm; lower acousticness and ")


def test_duplicate_track_ids_are_refused():
    frame, _ = three_blobs()
    with pytest.raises(ValueError, match="track_id"):
        cluster_playlist(pl.concat([frame, frame.head(1)]), AUDIO)


def test_a_k_the_ward_tree_cannot_cut_into_is_skipped():
    # Equally spaced points merge in pairs at one height: the tree has 4 groups or 2, never 3.
    z = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert kmeans_labels(z, 3) is None
    assert sorted(np.bincount(kmeans_labels(z, 2))) == [2, 2]


def score_every_k(z: np.ndarray):
    """The choice rule written out plainly: every k fitted and scored, then the one the rule picks:
    among balanced k, the smallest within SILHOUETTE_NOISE of the best silhouette; with none
    balanced, the least lopsided (then the highest silhouette, then the smallest k)."""
    candidates = []
    for k in range(2, kmeans.MAX_K + 1):
        labels = kmeans_labels(z, k)
        if labels is not None:
            sizes = np.bincount(labels, minlength=k)
            ratio = sizes.max() / sizes.min()
            candidates.append((ratio > kmeans.MAX_SIZE_RATIO, ratio, float(silhouette_score(z, labels)), k, labels))
    balanced = [c for c in candidates if not c[0]]
    if balanced:
        best = max(c[2] for c in balanced)
        chosen = min((c for c in balanced if c[2] >= best - kmeans.SILHOUETTE_NOISE), key=lambda c: c[3])
    else:
        chosen = min(candidates, key=lambda c: (c[1], -c[2], c[3]))
    return chosen[4], chosen[2]


@pytest.mark.parametrize("max_size_ratio", [10.0, 3.0, 1.0])  # 1.0: every unequal split is lopsided
def test_scoring_only_the_k_that_can_win_chooses_as_scoring_every_k(monkeypatch, max_size_ratio):
    monkeypatch.setattr(kmeans, "MAX_SIZE_RATIO", max_size_ratio)
    uneven, _ = blobs([24, 12, 6], [[0] * 6, [7] + [0] * 5, [0, 7, 0, 0, 0, 0]])
    playlists = [outlier_playlist(), three_blobs()[0], uneven]
    playlists += [blobs([30], [[0] * 6], seed=s)[0] for s in range(3)]  # no structure: many k near-tied
    for frame in playlists:
        z = StandardScaler().fit_transform(frame.sort("track_id").select(AUDIO).to_numpy())
        labels, silhouette = kmeans._choose_clustering(z)
        expected_labels, expected_silhouette = score_every_k(z)
        np.testing.assert_array_equal(labels, expected_labels)
        assert silhouette == pytest.approx(expected_silhouette, abs=1e-12)
