"""Groups of similar tracks inside one playlist: k-means on z-scores, a PCA view, plain words.

numpy/polars/SciPy (Ward's tree, k-means) and scikit-learn (scaling, silhouette, PCA) only; no
Dagster. Nothing is random: the same input gives the same result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from playlist_assets.clustering.describe import describe_cluster

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

# scikit-learn and SciPy (2-3 s to import) are imported where they are used, not here: the
# Dagster processes that load the definitions (the UI's code server, the daemon, a run over a
# large library) mostly never cluster in-process, and the worker processes that do import them
# when they start (parallel.WorkerPool) or first cluster.
DEPENDENCIES = (
    "sklearn.decomposition", "sklearn.metrics", "sklearn.preprocessing", "scipy.cluster.hierarchy", "scipy.cluster.vq",
)

MIN_TRACKS = 6
MIN_COLUMNS = 2
MAX_K = 10
# Largest cluster more than this many times the smallest: "lopsided", avoided when possible.
MAX_SIZE_RATIO = 10.0
# Silhouettes closer than this are not told apart: the smaller k wins (see _choose_clustering).
SILHOUETTE_NOISE = 0.02
# Stability: how many subsamples, of what share of the tracks, drawn from which seed.
STABILITY_SUBSAMPLES = 10
SUBSAMPLE_SHARE = 0.8
STABILITY_SEED = 20261206
STABILITY_STARTS = 3
# Below either figure the report says that its groups overlap.
WEAK_SILHOUETTE = 0.25
WEAK_STABILITY = 0.75

ASSIGNMENT_SCHEMA = pl.Schema(
    {"track_id": pl.String, "cluster": pl.Int32, "distance_to_centre": pl.Float64, "x": pl.Float64, "y": pl.Float64}
)


@dataclass(frozen=True)
class ClusterSummary:
    cluster: int  # 1-based, ordered by size descending then by smallest track_id for ties
    size: int
    description: str  # "Calm, acoustic; slower than the rest of this playlist" (describe.py)
    centroid: dict[str, float]  # in standardised (z-score) units, per feature column used


@dataclass(frozen=True)
class ClusteringResult:
    clustered: bool
    reason: str | None  # why not clustered, when clustered is False
    feature_columns: tuple[str, ...]  # the columns actually used (constant ones dropped)
    k: int  # 0 when not clustered
    silhouette: float | None
    stability: float | None  # see stability(); None when not clustered
    # One row per input track: track_id, cluster (Int32, 1-based), distance_to_centre (Float64),
    # x, y (Float64, the scatter coordinates: the first two PCA components). Empty when not clustered.
    assignments: pl.DataFrame
    clusters: tuple[ClusterSummary, ...]
    x_label: str  # "+energy +loudness -acousticness": top 3 loadings of the plotted x axis
    y_label: str
    explained_variance: tuple[float, float]  # fraction of total variance along x and y


def cluster_playlist(features: pl.DataFrame, feature_columns: list[str]) -> ClusteringResult:
    """Cluster one playlist's distinct tracks.

    `features` has a `track_id` column and the numeric `feature_columns`, one row per distinct
    track that has features. Nulls are allowed and imputed with the column mean; columns that
    are entirely null or constant are dropped.
    """
    import sklearn

    _check_input(features, feature_columns)
    # BLAS and OpenMP threads only add CPU for matrices this small (measured: 2x CPU, no faster at 200-1000
    # tracks) and oversubscribe when playlists run in parallel.
    # A playlist makes some forty scikit-learn calls, and each first checks its parameters against
    # their declared constraints and its arrays for NaN and infinity. Our parameters are constants
    # that pass, and _cluster checks the standardised matrix once, the only array those calls see
    # that could hold either: both checks are skipped (~6% and ~12% of the CPU at ~100 tracks).
    config = sklearn.config_context(skip_parameter_validation=True, assume_finite=True)
    with _blas_controller().limit(limits=1), config:
        return _cluster(features, feature_columns)


@cache
def _blas_controller() -> ThreadpoolController:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # scanning the loaded libraries costs ~1 ms: do it once


def _cluster(features: pl.DataFrame, feature_columns: list[str]) -> ClusteringResult:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    # Sorted so that the result does not depend on the order the rows arrived in.
    features = features.sort("track_id")
    track_ids = features["track_id"].cast(pl.String).to_numpy()
    columns, raw = _usable_matrix(features, feature_columns)
    n_tracks = len(track_ids)
    if n_tracks < MIN_TRACKS:
        have = {0: "No tracks have", 1: "Only 1 track has"}.get(n_tracks, f"Only {n_tracks} tracks have")
        needed = f"at least {MIN_TRACKS} are needed to form clusters."
        return _not_clustered(f"{have} audio features; {needed}", columns)
    if len(columns) < MIN_COLUMNS:
        vary = "No feature varies" if not columns else "Only 1 feature varies"
        needed = f"at least {MIN_COLUMNS} are needed to form clusters."
        return _not_clustered(f"{vary} across these tracks; {needed}", columns)

    # An overflow is reported below in one sentence, not as NumPy's warnings from inside scikit-learn.
    with np.errstate(over="ignore", invalid="ignore"):
        z = StandardScaler().fit_transform(raw)
    overflowing = [c for c, finite in zip(columns, np.isfinite(z).all(axis=0)) if not finite]
    if overflowing:
        # Values so large that their variance overflows (|x| ~ 1e154): no scale makes them comparable.
        raise ValueError(
            f"The values of feature(s) {', '.join(overflowing)} are too large to compare; "
            "correct them in the source (audio features are 0-1, tempo in BPM, loudness in dB)."
        )
    chosen = _choose_clustering(z)
    if chosen is None:
        return _not_clustered("The tracks' features are too alike to split into clusters.", columns)
    labels, silhouette = chosen
    solid = stability(z, labels)
    labels = _number_by_size(labels, track_ids)
    k = int(labels.max())
    centroids = np.stack([z[labels == c].mean(axis=0) for c in range(1, k + 1)])
    distance = np.linalg.norm(z - centroids[labels - 1], axis=1)

    n_axes = min(2, z.shape[1])  # with one component, y stays 0 and unlabelled
    pca = PCA(n_components=n_axes, svd_solver="full", random_state=0).fit(z)
    coords = np.zeros((n_tracks, 2))
    coords[:, :n_axes] = pca.transform(z)
    # components_ is (component, column): row i holds the loadings of the axis in coords[:, i].
    axis_labels = [_axis_label(pca.components_[i], columns) if i < n_axes else "" for i in (0, 1)]
    variance = [float(pca.explained_variance_ratio_[i]) if i < n_axes else 0.0 for i in (0, 1)]

    assignments = pl.DataFrame(
        [track_ids, labels, distance, coords[:, 0], coords[:, 1]], schema=ASSIGNMENT_SCHEMA, orient="col"
    ).sort("cluster", "distance_to_centre", "track_id")
    # The words are checked against the songs' own values (unknown ones left unknown), not
    # against the standardised, imputed matrix the clusters were found in.
    values = {col: features[col].cast(pl.Float64).fill_nan(None).to_numpy() for col in feature_columns}
    summaries = []
    for c in range(1, k + 1):
        centroid = {col: float(v) for col, v in zip(columns, centroids[c - 1])}
        members = labels == c
        summaries.append(ClusterSummary(c, int(members.sum()), describe_cluster(values, members, centroid), centroid))
    return ClusteringResult(
        clustered=True, reason=None, feature_columns=tuple(columns), k=k, silhouette=silhouette, stability=solid,
        assignments=assignments, clusters=tuple(summaries), x_label=axis_labels[0],
        y_label=axis_labels[1], explained_variance=(variance[0], variance[1]),
    )


def representatives(result: ClusteringResult, n: int = 10) -> pl.DataFrame:
    """Per cluster, the up-to-`n` tracks nearest its centre, nearest first (ties by track_id)."""
    return (
        result.assignments.sort("cluster", "distance_to_centre", "track_id")
        .filter(pl.int_range(pl.len()).over("cluster") < n)
    )


def _axis_label(loadings: np.ndarray, columns: list[str]) -> str:
    top = np.argsort(-np.abs(loadings), kind="stable")[:3]
    return " ".join(f"{'+' if loadings[i] >= 0 else '-'}{columns[i]}" for i in top)


def _check_input(features: pl.DataFrame, feature_columns: list[str]) -> None:
    missing = [c for c in ["track_id", *feature_columns] if c not in features.columns]
    if missing:
        raise ValueError(f"features is missing column(s) {missing}")
    non_numeric = [
        c for c in feature_columns if not (features[c].dtype.is_numeric() or features[c].dtype == pl.Boolean)
    ]
    if non_numeric:
        raise ValueError(f"feature column(s) {non_numeric} are not numeric or boolean")
    ids = features["track_id"]
    if ids.null_count() or ids.n_unique() != features.height:
        raise ValueError("features needs exactly one row per track, each with a track_id")


def _usable_matrix(features: pl.DataFrame, feature_columns: list[str]) -> tuple[list[str], np.ndarray]:
    """The columns that vary, in input order, with missing values replaced by the column mean."""
    raw = features.select(pl.col(c).cast(pl.Float64) for c in feature_columns).to_numpy()
    raw = np.where(np.isfinite(raw), raw, np.nan).reshape(features.height, len(feature_columns))
    keep = []
    for j in range(raw.shape[1]):
        present = raw[~np.isnan(raw[:, j]), j]
        if present.size and present.max() > present.min():
            keep.append(j)
            raw[np.isnan(raw[:, j]), j] = present.mean()
    return [feature_columns[j] for j in keep], raw[:, keep]


def _not_clustered(reason: str, columns: list[str]) -> ClusteringResult:
    return ClusteringResult(
        clustered=False, reason=reason, feature_columns=tuple(columns), k=0, silhouette=None, stability=None,
        assignments=pl.DataFrame(schema=ASSIGNMENT_SCHEMA), clusters=(), x_label="", y_label="",
        explained_variance=(0.0, 0.0),
    )


def _choose_clustering(z: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Labels (0-based) and silhouette of the chosen k, or None when no k in 2..MAX_K works.

    Rule: among k whose largest cluster is at most MAX_SIZE_RATIO times its smallest, take the
    smallest k whose silhouette is within SILHOUETTE_NOISE of the best: a larger k must be
    clearly better to be chosen, since on overlapping groups the silhouettes of neighbouring k
    differ by less than resampling the same tracks moves them. If every k is lopsided, take the
    least lopsided one (ties: higher silhouette).
    """
    from scipy.spatial.distance import cdist

    n_distinct = len({row.tobytes() for row in z})
    tree = ward_tree(z)
    fitted = []  # (size ratio, k, labels) of every k whose clusters are all non-empty
    for k in range(2, min(MAX_K, len(z) - 1, n_distinct) + 1):
        labels = kmeans_labels(z, k, tree)
        if labels is not None:
            sizes = np.bincount(labels, minlength=k)
            fitted.append((sizes.max() / sizes.min(), k, labels))
    if not fitted:
        return None
    # Score only the k the rule can pick: a silhouette costs about five k-means runs (~1 ms at
    # ~100 tracks, mostly scikit-learn's input checks), and a lopsided k loses to any balanced
    # one whatever its silhouette. With no balanced k, only the least lopsided ones are scored:
    # silhouette breaks their tie.
    contenders = [f for f in fitted if f[0] <= MAX_SIZE_RATIO]
    balanced = bool(contenders)
    if not balanced:
        least = min(ratio for ratio, _, _ in fitted)
        contenders = [f for f in fitted if f[0] == least]
    # One distance matrix serves the silhouette of every k scored.
    distance = cdist(z, z)
    scored = [(mean_silhouette(distance, labels, k), k, labels) for _, k, labels in contenders]
    best = max(silhouette for silhouette, _, _ in scored)
    margin = SILHOUETTE_NOISE if balanced else 0.0
    silhouette, _, labels = min((s for s in scored if s[0] >= best - margin), key=lambda s: s[1])
    return labels, silhouette


def mean_silhouette(distance: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean silhouette of `labels` (0..k-1) over a full distance matrix (Rousseeuw's definition:
    a track alone in its cluster scores 0). Computed with one matrix product: scikit-learn's
    own spent most of its ~1 ms a call checking its input, ~9 calls a playlist."""
    members = np.eye(k)[labels]  # n x k: one-hot
    sizes = members.sum(axis=0)
    totals = distance @ members  # each track's summed distance to each cluster
    own = sizes[labels]
    inside = totals[np.arange(len(labels)), labels] / np.maximum(own - 1, 1)
    means = totals / sizes
    means[np.arange(len(labels)), labels] = np.inf
    nearest = means.min(axis=1)
    widest = np.maximum(inside, nearest)
    scores = np.where((own > 1) & (widest > 0), (nearest - inside) / np.where(widest > 0, widest, 1), 0.0)
    return float(scores.mean())


def stability(z: np.ndarray, labels: np.ndarray) -> float:
    """How solid a clustering is: the mean adjusted Rand index between `labels` and k-means
    clusterings (same k, k-means++ starts) of STABILITY_SUBSAMPLES subsamples of SUBSAMPLE_SHARE
    of the tracks, on the tracks each subsample holds. 1 = every subsample finds the same
    groups; near 0 = no more alike than chance. The subsamples start afresh rather than from
    the chosen clustering, so agreement is found, not built in; a fixed seed keeps it
    deterministic.
    """
    from scipy.cluster.vq import kmeans2

    k = len(np.unique(labels))
    rng = np.random.default_rng(STABILITY_SEED)
    size = max(k + 1, int(round(len(z) * SUBSAMPLE_SHARE)))
    agreements = []
    with warnings.catch_warnings():
        # A start that leaves a cluster empty just agrees less: said by the figure, not a warning.
        warnings.simplefilter("ignore")
        for _ in range(STABILITY_SUBSAMPLES):
            chosen = np.sort(rng.choice(len(z), size=size, replace=False))
            sample = z[chosen]
            # The better of STABILITY_STARTS starts (least spread within clusters): one start
            # alone now and then merges two planted groups, which is the start's fault.
            fits = [kmeans2(sample, k, minit="++", seed=rng, check_finite=False) for _ in range(STABILITY_STARTS)]
            _, again = min(fits, key=lambda fit: float(((sample - fit[0][fit[1]]) ** 2).sum()))
            agreements.append(adjusted_rand_index(labels[chosen], again))
    return float(np.mean(agreements))


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Hubert and Arabie's adjusted Rand index of two labelings of the same items (1 = same)."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)
    pairs = lambda counts: float((counts * (counts - 1)).sum() / 2)  # noqa: E731
    together, rows, columns = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * columns / pairs(np.array([len(a)]))
    most = (rows + columns) / 2
    if most == expected:  # both put everything together, or everything apart: identical
        return 1.0
    return (together - expected) / (most - expected)


def ward_tree(z: np.ndarray) -> np.ndarray:
    """SciPy's Ward linkage of the rows of `z`: one tree whose cuts start k-means at every k."""
    from scipy.cluster.hierarchy import linkage

    return linkage(z, method="ward")


def kmeans_labels(z: np.ndarray, k: int, tree: np.ndarray | None = None) -> np.ndarray | None:
    """0-based labels of k-means started from Ward's k groups; None if there are not k.

    Why Ward's tree rather than random k-means++ starts: one tree (~0.3 ms) gives a good start
    for every k, so one k-means run per k suffices, and nothing is random. Measured on 300
    playlists of the 1,000-playlist demo against the best of 10 k-means++ restarts: the same k
    for 98.7% of playlists at 21 ms a playlist, where 2 k-means++ restarts gave 97.3% at 44 ms.
    `tree` is `ward_tree(z)`, passed in so that the k of one playlist share it.

    The iterations are SciPy's (Lloyd's, until the mean distance to the centres stops moving),
    not scikit-learn's KMeans: on matrices this small the work is the same few passes, but each
    KMeans fit spent several times that checking its input (~0.8 ms a fit against 0.2 ms at 100 x 12).
    Both gave the same clusters for every playlist of the 1,000-playlist demo.
    """
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.vq import kmeans, vq

    tree = ward_tree(z) if tree is None else tree
    # Merges at equal heights can leave the tree no cut with exactly k groups: that k is skipped.
    start = fcluster(tree, k, criterion="maxclust") - 1
    if len(np.unique(start)) != k:
        return None
    centres = np.stack([z[start == c].mean(axis=0) for c in range(k)])
    # SciPy drops a centre that loses all its tracks: fewer than k centres means no k-clustering.
    centres, _ = kmeans(z, centres, check_finite=False)
    if len(centres) != k:
        return None
    labels, _ = vq(z, centres, check_finite=False)
    return labels if len(np.unique(labels)) == k else None


def _number_by_size(labels: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
    """Renumber 0-based labels to 1..k by size descending, ties by the smallest track_id."""
    order = sorted(
        range(labels.max() + 1), key=lambda c: (-(labels == c).sum(), min(track_ids[labels == c]))
    )
    new_number = np.empty(len(order), dtype=np.int32)
    new_number[order] = np.arange(1, len(order) + 1)
    return new_number[labels]
