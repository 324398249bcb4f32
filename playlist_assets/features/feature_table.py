"""Raw tables -> the model-ready feature table, and the feature sets clustering may use.

Pure polars expressions over whole tables; no Dagster, no per-row Python.
"""

from __future__ import annotations

import polars as pl

from playlist_assets.warehouse.tables import AUDIO_FEATURE_COLUMNS, FEATURE_SET_VERSION, FEATURES_TRACK_FEATURES

# What clustering compares when a playlist has audio features. key and mode are left out on
# purpose: they are categories, and a distance between C and C# means nothing.
AUDIO_SET: tuple[str, ...] = (
    "danceability",
    "energy",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "loudness",
)
# What is left when no provider had audio features for enough of a playlist's tracks.
METADATA_SET: tuple[str, ...] = ("release_year", "duration_min", "explicit", "popularity")

_AUDIO_NAMES = [c.name for c in AUDIO_FEATURE_COLUMNS]


def track_features(
    tracks: pl.DataFrame, albums: pl.DataFrame, audio_features: pl.DataFrame
) -> pl.DataFrame:
    """One row per track of `raw.tracks`, shaped like `features.track_features`."""
    release = albums.select(
        "album_id",
        pl.col("release_date").str.slice(0, 4).cast(pl.Int32, strict=False).alias("release_year"),
    )
    audio = audio_features.select("track_id", *_AUDIO_NAMES, pl.col("provider").alias("feature_provider"))
    frame = (
        tracks.select("track_id", "album_id", "duration_ms", "explicit", "popularity")
        .join(release, on="album_id", how="left")
        .join(audio, on="track_id", how="left")
        .with_columns(
            (pl.col("duration_ms") / 60_000).alias("duration_min"),
            pl.col("feature_provider").is_not_null().alias("has_audio_features"),
            pl.lit(FEATURE_SET_VERSION).alias("feature_set"),
        )
        .sort("track_id")
    )
    return FEATURES_TRACK_FEATURES.conform(frame)
