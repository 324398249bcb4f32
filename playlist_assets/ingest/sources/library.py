"""The one shape every source produces: the raw tables of a library as polars frames."""

from __future__ import annotations

from dataclasses import dataclass, fields

import polars as pl

from playlist_assets.warehouse import tables


@dataclass(frozen=True)
class RawLibrary:
    """A whole library, one frame per `raw.*` table, each conforming to `tables.RAW_*`."""

    playlists: pl.DataFrame
    playlist_tracks: pl.DataFrame
    tracks: pl.DataFrame
    track_artists: pl.DataFrame
    albums: pl.DataFrame
    artists: pl.DataFrame
    audio_features: pl.DataFrame
    liked_tracks: pl.DataFrame
    listening: pl.DataFrame
    # Input files the source left out, each with its reason (raw.refused_files); the frames
    # above hold the files it read.
    refused_files: pl.DataFrame

    @classmethod
    def from_frames(cls, **frames: pl.DataFrame) -> RawLibrary:
        """Build a library from frames named like the tables; absent tables are empty.

        Every frame is conformed to its table (columns selected, ordered and cast), so a source
        only has to produce the columns it knows.
        """
        unknown = set(frames) - {t.name for t in tables.RAW_TABLES}
        if unknown:
            raise ValueError(f"unknown raw tables: {sorted(unknown)}")
        conformed = {
            t.name: t.conform(frames[t.name]) if t.name in frames else t.empty_frame()
            for t in tables.RAW_TABLES
        }
        return cls(**conformed)

    def by_table(self) -> dict[tables.Table, pl.DataFrame]:
        table_by_name = {t.name: t for t in tables.RAW_TABLES}
        return {table_by_name[f.name]: getattr(self, f.name) for f in fields(self)}
