"""Words for one cluster that a listener can check against its songs.

Two kinds of words, never mixed up:
- a property of the songs ("instrumental", "calm") is said only when at least two thirds of the
  cluster's tracks have it by Spotify's documented meaning of the feature (instrumentalness
  above 0.5, liveness above 0.8, speechiness above 0.33 or 0.66, acousticness above 0.5, the
  0.5 midpoint for energy, valence and danceability), and only when it sets the cluster apart
  from the rest of the playlist;
- what sets the cluster apart otherwise is said as a comparison with the rest of the playlist
  ("higher acousticness and slower than the rest of this playlist"), and only when the
  cluster's mean lies on that side of the rest's mean.
Popularity says something only when it is known for most tracks: 0 usually means another
release of the song, not a niche one. Pure numpy; no Dagster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

MOST = 2 / 3  # the share of a cluster's tracks that must have a property to be called so
# A property that most of the rest of the playlist has too does not describe this cluster.
MIN_LEAD = 0.15
MAX_PROPERTIES = 3
# A cluster mean this many standard deviations (of the playlist) from the playlist mean is
# worth a comparison; at most this many are said.
COMPARE_MIN_Z = 0.5
MAX_COMPARISONS = 2
NOTHING_STANDS_OUT = "Typical of the playlist"
REST = "than the rest of this playlist"


@dataclass(frozen=True)
class Property:
    word: str
    column: str
    holds: Callable[[np.ndarray], np.ndarray]  # per track: True where the song has it
    excludes: tuple[str, ...] = ()  # weaker words this one makes redundant


# Spotify's documented meanings of its audio features (0-1 scales unless said otherwise).
PROPERTIES: tuple[Property, ...] = (
    Property("instrumental", "instrumentalness", lambda v: v > 0.5),
    Property("vocal", "instrumentalness", lambda v: v < 0.5),
    Property("spoken word", "speechiness", lambda v: v > 0.66, excludes=("rap or spoken",)),
    Property("rap or spoken", "speechiness", lambda v: v > 0.33),
    Property("live", "liveness", lambda v: v > 0.8),
    Property("acoustic", "acousticness", lambda v: v > 0.5),
    Property("energetic", "energy", lambda v: v > 0.5),
    Property("calm", "energy", lambda v: v < 0.5),
    Property("danceable", "danceability", lambda v: v > 0.5),
    Property("happy", "valence", lambda v: v > 0.5),
    Property("sad", "valence", lambda v: v < 0.5),
    Property("explicit", "explicit", lambda v: v == 1),
    Property("not explicit", "explicit", lambda v: v == 0),
)
# column -> (when the cluster's mean is higher, when lower), said before REST.
COMPARISONS: dict[str, tuple[str, str]] = {
    "energy": ("higher energy", "lower energy"),
    "danceability": ("higher danceability", "lower danceability"),
    "valence": ("higher valence", "lower valence"),
    "acousticness": ("higher acousticness", "lower acousticness"),
    "instrumentalness": ("higher instrumentalness", "lower instrumentalness"),
    "speechiness": ("higher speechiness", "lower speechiness"),
    "liveness": ("higher liveness", "lower liveness"),
    "tempo": ("faster", "slower"),
    "loudness": ("louder", "quieter"),
    "release_year": ("newer", "older"),
    "duration_min": ("longer", "shorter"),
    "duration_ms": ("longer", "shorter"),
    "popularity": ("more popular", "less popular"),
}


def describe_cluster(values: Mapping[str, np.ndarray], members: np.ndarray, centroid: Mapping[str, float]) -> str:
    """The description of the tracks where `members` is True.

    `values` holds each feature's raw values for every track of the playlist (NaN where
    unknown); `centroid` the cluster's mean in the playlist's z-scores, per feature clustered on.
    A track whose value is unknown does not count as having a property.
    """
    rest = ~members
    said = _properties(values, members, rest)
    # A feature already named as a property is not compared again ("calm; lower energy").
    comparisons = _comparisons(values, members, rest, centroid, skip={p.column for p in said})
    parts = [", ".join(p.word for p in said)] if said else []
    if comparisons:
        parts.append(f"{' and '.join(comparisons)} {REST}")
    if not parts:
        return NOTHING_STANDS_OUT
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def _properties(values: Mapping[str, np.ndarray], members: np.ndarray, rest: np.ndarray) -> list[Property]:
    found: list[tuple[float, int, Property]] = []
    for order, prop in enumerate(PROPERTIES):
        column = values.get(prop.column)
        if column is None:
            continue
        with np.errstate(invalid="ignore"):
            has = prop.holds(column) & ~np.isnan(column)
        share = has[members].mean()
        lead = share - (has[rest].mean() if rest.any() else 0.0)
        if share >= MOST and lead >= MIN_LEAD:
            found.append((-lead, order, prop))
    decade = _decade(values.get("release_year"), members, rest)
    if decade is not None:
        found.append(decade)
    chosen: list[Property] = []
    excluded: set[str] = set()
    for _, _, prop in sorted(found, key=lambda f: f[:2]):
        if prop.word not in excluded and len(chosen) < MAX_PROPERTIES:
            chosen.append(prop)
            excluded.update(prop.excludes)
    return chosen


def _decade(years: np.ndarray | None, members: np.ndarray, rest: np.ndarray) -> tuple[float, int, Property] | None:
    """"from the 1990s" when most of the cluster's tracks were released in that decade."""
    if years is None:
        return None
    decades = np.floor(years / 10) * 10
    known = decades[members][~np.isnan(decades[members])]
    if not known.size:
        return None
    found, counts = np.unique(known, return_counts=True)
    decade = found[np.argmax(counts)]  # the earliest of equally common decades
    share = counts.max() / members.sum()
    lead = share - ((decades[rest] == decade).mean() if rest.any() else 0.0)
    if share < MOST or lead < MIN_LEAD:
        return None
    word = f"from the {int(decade)}s"
    return (-lead, len(PROPERTIES), Property(word, "release_year", lambda v: np.floor(v / 10) * 10 == decade))


def _comparisons(
    values: Mapping[str, np.ndarray],
    members: np.ndarray,
    rest: np.ndarray,
    centroid: Mapping[str, float],
    skip: set[str],
) -> list[str]:
    if not rest.any():
        return []
    notable = sorted(
        (-abs(z), order, column)
        for order, (column, z) in enumerate(centroid.items())
        if column in COMPARISONS and abs(z) >= COMPARE_MIN_Z and column in values and column not in skip
    )
    said = []
    for _, _, column in notable:
        column_values = values[column]
        if column == "popularity" and not popularity_is_known(column_values):
            continue
        inside, outside = _mean(column_values[members]), _mean(column_values[rest])
        if inside is None or outside is None or inside == outside:
            continue
        higher, lower = COMPARISONS[column]
        said.append(higher if inside > outside else lower)
        if len(said) == MAX_COMPARISONS:
            break
    return said


def popularity_is_known(popularity: np.ndarray) -> bool:
    """Whether most tracks have a real popularity (0 or missing: unknown, another release)."""
    with np.errstate(invalid="ignore"):
        return bool((popularity > 0).mean() >= MOST) if popularity.size else False


def _mean(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known.mean()) if known.size else None
