"""Groups of similar tracks inside one playlist: k-means on z-scores, a PCA view, plain words.

numpy/polars/scikit-learn only; no Dagster. The same input and seed give the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

MIN_TRACKS = 6
MIN_COLUMNS = 2
MAX_K = 10
N_INIT = 10
MAX_ITER = 100
# Largest cluster more than this many times the smallest: "lopsided", avoided when possible.
MAX_SIZE_RATIO = 10.0
# A centroid this many standard deviations from the playlist mean is worth a word.
DESCRIBE_MIN_Z = 0.5
DESCRIBE_MAX_WORDS = 3
NOTHING_STANDS_OUT = "Typical of the playlist"

# column -> (word when the cluster is high on it, word when low); None: not worth saying.
ADJECTIVES: dict[str, tuple[str | None, str | None]] = {
    "energy": ("energetic", "calm"),
    "danceability": ("danceable", "undanceable"),
    "valence": ("happy", "melancholic"),
    "acousticness": ("acoustic", "electronic"),
    "instrumentalness": ("instrumental", "vocal"),
    "speechiness": ("wordy", "sung"),
    "liveness": ("live", "studio"),
    "tempo": ("fast", "slow"),
    "loudness": ("loud", "quiet"),
    "release_year": ("recent", "older"),
    "duration_ms": ("long", "short"),
    "duration_min": ("long", "short"),
    "explicit": ("explicit", "clean"),
    "popularity": ("popular", "niche"),
    "mode": ("major-key", "minor-key"),
    "key": (None, None),  # pitch class is circular: a high or low mean key means nothing
    "time_signature": ("odd-metered", "triple-time"),
}
GENRE_PREFIX = "genre_"

ASSIGNMENT_SCHEMA = pl.Schema(
    {
        "track_id": pl.String,
        "cluster": pl.Int32,
        "distance_to_centre": pl.Float64,
        "x": pl.Float64,
        "y": pl.Float64,
    }
)


@dataclass(frozen=True)
class ClusterSummary:
    cluster: int  # 1-based, ordered by size descending then by smallest track_id for ties
    size: int
    description: str  # "Energetic, danceable, happy": the 1-3 features that set it apart
    centroid: dict[str, float]  # in standardised (z-score) units, per feature column used


@dataclass(frozen=True)
class ClusteringResult:
    clustered: bool
    reason: str | None  # why not clustered, when clustered is False
    feature_columns: tuple[str, ...]  # the columns actually used (constant ones dropped)
    k: int  # 0 when not clustered
    silhouette: float | None
    # One row per input track: track_id, cluster (Int32, 1-based), distance_to_centre (Float64),
    # x, y (Float64, the scatter coordinates: the first two PCA components). Empty when not clustered.
    assignments: pl.DataFrame
    clusters: tuple[ClusterSummary, ...]
    x_label: str  # "+energy +loudness -acousticness": top 3 loadings of the plotted x axis
    y_label: str
    explained_variance: tuple[float, float]  # fraction of total variance along x and y


def cluster_playlist(
    features: pl.DataFrame, feature_columns: list[str], *, seed: int = 0
) -> ClusteringResult:
    """Cluster one playlist's distinct tracks.

    `features` has a `track_id` column and the numeric `feature_columns`, one row per distinct
    track that has features. Nulls are allowed and imputed with the column mean; columns that
    are entirely null or constant are dropped.
    """
    _check_input(features, feature_columns)
    # Sorted so that the result does not depend on the order the rows arrived in.
    features = features.sort("track_id")
    track_ids = features["track_id"].cast(pl.String).to_numpy()
    columns, raw = _usable_matrix(features, feature_columns)
    n_tracks = len(track_ids)
    if n_tracks < MIN_TRACKS:
        have = {0: "No tracks have", 1: "Only 1 track has"}.get(n_tracks, f"Only {n_tracks} tracks have")
        return _not_clustered(f"{have} audio features; at least {MIN_TRACKS} are needed to form clusters.", columns)
    if len(columns) < MIN_COLUMNS:
        vary = "No feature varies" if not columns else "Only 1 feature varies"
        return _not_clustered(f"{vary} across these tracks; at least {MIN_COLUMNS} are needed to form clusters.", columns)

    z = StandardScaler().fit_transform(raw)
    squared = _pairwise_squared(z)
    chosen = _choose_clustering(z, squared, seed)
    if chosen is None:
        return _not_clustered("The tracks' features are too alike to split into clusters.", columns)
    labels, silhouette = chosen
    labels = _number_by_size(labels, track_ids)
    k = int(labels.max())
    centroids = np.stack([z[labels == c].mean(axis=0) for c in range(1, k + 1)])
    distance = np.linalg.norm(z - centroids[labels - 1], axis=1)

    pca = PCA(n_components=min(2, z.shape[1]), svd_solver="full", random_state=0).fit(z)
    coords = pca.transform(z)
    # components_ rows are the components; row i holds the loadings of the axis plotted as coords[:, i].
    labels_xy = [_axis_label(pca.components_[i], columns) for i in range(coords.shape[1])]
    ratios = list(pca.explained_variance_ratio_)
    if coords.shape[1] == 1:
        coords = np.column_stack([coords[:, 0], np.zeros(n_tracks)])
        labels_xy.append("")
        ratios.append(0.0)

    assignments = pl.DataFrame(
        {"track_id": track_ids, "cluster": labels, "distance_to_centre": distance, "x": coords[:, 0], "y": coords[:, 1]},
        schema=ASSIGNMENT_SCHEMA,
    ).sort("cluster", "distance_to_centre", "track_id")
    summaries = []
    for c in range(1, k + 1):
        centroid = {col: float(v) for col, v in zip(columns, centroids[c - 1])}
        size = int((labels == c).sum())
        summaries.append(ClusterSummary(c, size, describe_centroid(centroid), centroid))
    return ClusteringResult(
        clustered=True,
        reason=None,
        feature_columns=tuple(columns),
        k=k,
        silhouette=silhouette,
        assignments=assignments,
        clusters=tuple(summaries),
        x_label=labels_xy[0],
        y_label=labels_xy[1],
        explained_variance=(float(ratios[0]), float(ratios[1])),
    )


def representatives(result: ClusteringResult, n: int = 10) -> pl.DataFrame:
    """Per cluster, the up-to-`n` tracks nearest its centre, nearest first (ties by track_id)."""
    return (
        result.assignments.sort("cluster", "distance_to_centre", "track_id")
        .filter(pl.int_range(pl.len()).over("cluster") < n)
    )


def describe_centroid(centroid: Mapping[str, float]) -> str:
    """"Energetic, danceable, happy": the words of the features furthest from the playlist mean."""
    notable: list[tuple[float, str]] = []
    for column, z in centroid.items():
        word = _word(column, z)
        if word and abs(z) >= DESCRIBE_MIN_Z:
            notable.append((abs(z), word))
    notable.sort(key=lambda pair: -pair[0])  # stable: equal deviations keep column order
    words = list(dict.fromkeys(word for _, word in notable))[:DESCRIBE_MAX_WORDS]
    if not words:
        return NOTHING_STANDS_OUT
    text = ", ".join(words)
    return text[0].upper() + text[1:]


def _word(column: str, z: float) -> str | None:
    if column.startswith(GENRE_PREFIX):
        # A cluster with less of a genre than the playlist says little; more of it says a lot.
        return column.removeprefix(GENRE_PREFIX).replace("_", " ") if z > 0 else None
    high, low = ADJECTIVES.get(column, (f"high {column}", f"low {column}"))
    return high if z > 0 else low


def _axis_label(loadings: np.ndarray, columns: list[str]) -> str:
    top = np.argsort(-np.abs(loadings), kind="stable")[:3]
    return " ".join(f"{'+' if loadings[i] >= 0 else '-'}{columns[i]}" for i in top)


def _check_input(features: pl.DataFrame, feature_columns: list[str]) -> None:
    missing = [c for c in ["track_id", *feature_columns] if c not in features.columns]
    if missing:
        raise ValueError(f"features is missing column(s) {missing}")
    non_numeric = [c for c in feature_columns if not (features[c].dtype.is_numeric() or features[c].dtype == pl.Boolean)]
    if non_numeric:
        raise ValueError(f"feature column(s) {non_numeric} are not numeric or boolean")
    if features["track_id"].null_count():
        raise ValueError("features has rows without a track_id")
    if features["track_id"].n_unique() != features.height:
        raise ValueError("features has more than one row for some track_id; pass distinct tracks")


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
        clustered=False, reason=reason, feature_columns=tuple(columns), k=0, silhouette=None,
        assignments=pl.DataFrame(schema=ASSIGNMENT_SCHEMA), clusters=(), x_label="", y_label="",
        explained_variance=(0.0, 0.0),
    )


def _pairwise_squared(z: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", z, z)
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * z @ z.T, 0.0)


def _choose_clustering(z: np.ndarray, squared: np.ndarray, seed: int) -> tuple[np.ndarray, float] | None:
    """Labels (0-based) and silhouette of the chosen k, or None when no k in 2..MAX_K works.

    Rule: among k whose largest cluster is at most MAX_SIZE_RATIO times its smallest, take the
    highest silhouette (ties: smaller k). If every k is lopsided, take the least lopsided one
    (ties: higher silhouette) rather than whichever k happened to be tried last.
    """
    n_distinct = len(np.unique(z, axis=0))
    distance = np.sqrt(squared)
    candidates = []  # (is_lopsided, size ratio, -silhouette, k, labels): the best sorts first
    for k in range(2, min(MAX_K, len(z) - 1, n_distinct) + 1):
        labels = kmeans_labels(z, k, seed, squared=squared)
        if labels is None:
            continue
        sizes = np.bincount(labels, minlength=k)
        ratio = sizes.max() / sizes.min()
        lopsided = ratio > MAX_SIZE_RATIO
        candidates.append((lopsided, ratio if lopsided else 0.0, -silhouette_score(distance, labels), k, labels))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: c[:4])
    return best[4], -best[2]


def kmeans_labels(
    z: np.ndarray, k: int, seed: int, *, n_init: int = N_INIT, squared: np.ndarray | None = None
) -> np.ndarray | None:
    """Lloyd's k-means with k-means++ starts; labels of the lowest-inertia run, or None.

    All n_init runs advance together as one matrix product per step: sklearn's KMeans spends
    ~1.5 ms of fixed overhead per fit, which for 9 values of k blew the per-playlist budget.
    None when every run ends with an empty cluster (fewer distinct points than k).
    """
    rng = np.random.default_rng([seed, k])
    n = len(z)
    squared = _pairwise_squared(z) if squared is None else squared
    starts = np.empty((n_init, k), dtype=np.intp)
    starts[:, 0] = rng.integers(n, size=n_init)
    nearest = squared[starts[:, 0]]  # (n_init, n): squared distance to the closest start so far
    for j in range(1, k):
        # k-means++: the next start is drawn with probability proportional to `nearest`.
        cumulative = np.cumsum(nearest, axis=1)
        draw = rng.random(n_init) * cumulative[:, -1]
        starts[:, j] = np.minimum((cumulative < draw[:, None]).sum(axis=1), n - 1)
        nearest = np.minimum(nearest, squared[starts[:, j]])

    centres = z[starts.ravel()]  # (n_init * k, d): run r owns rows r*k .. r*k+k-1
    minus_2z = -2.0 * z
    # In the flattened (track, run, cluster) membership matrix, (track, run) starts at base.
    base = np.arange(n * n_init) * k
    labels = np.full((n, n_init), -1)
    for _ in range(MAX_ITER):
        # |x - c|^2 without the |x|^2 term, which does not change the argmin.
        partial = (minus_2z @ centres.T + np.einsum("cd,cd->c", centres, centres)).reshape(n, n_init, k)
        new_labels = partial.argmin(axis=2)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        members = np.zeros(n * n_init * k)
        members[base + labels.ravel()] = 1.0
        members = members.reshape(n, n_init * k)
        counts = members.sum(axis=0)
        previous, empty = centres, counts == 0
        centres = (members.T @ z) / np.maximum(counts, 1.0)[:, None]
        # An empty cluster keeps its old centre; the run is discarded below if it stays empty.
        centres[empty] = previous[empty]
    inertia = partial.min(axis=2).sum(axis=0)
    complete = (labels[:, :, None] == np.arange(k)).any(axis=0).all(axis=1)
    if not complete.any():
        return None
    best = int(np.argmin(np.where(complete, inertia, np.inf)))
    return labels[:, best]


def silhouette_score(distance: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette from a precomputed distance matrix (same definition as sklearn's)."""
    k = int(labels.max()) + 1
    members = (labels[:, None] == np.arange(k)).astype(np.float64)
    sizes = members.sum(axis=0)
    totals = distance @ members  # (n, k): summed distance from each track to each cluster
    own_size = sizes[labels]
    rows = np.arange(len(labels))
    within = totals[rows, labels] / np.maximum(own_size - 1, 1)
    mean_to = totals / sizes
    mean_to[rows, labels] = np.inf
    nearest_other = mean_to.min(axis=1)
    scores = (nearest_other - within) / np.maximum(np.maximum(within, nearest_other), 1e-300)
    return float(np.where(own_size > 1, scores, 0.0).mean())  # singletons score 0, as in sklearn


def _number_by_size(labels: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
    """Renumber 0-based labels to 1..k by size descending, ties by the smallest track_id."""
    order = sorted(range(labels.max() + 1), key=lambda c: (-(labels == c).sum(), min(track_ids[labels == c])))
    new_number = np.empty(len(order), dtype=np.int32)
    new_number[order] = np.arange(1, len(order) + 1)
    return new_number[labels]
