"""Every setting, its environment variable and its offline default, read in this one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playlist_assets.sources.offline import OfflineLibrary

# (field, environment variable, default, meaning): the README's configuration table mirrors this.
SETTINGS_DOC: tuple[tuple[str, str, str, str], ...] = (
    ("warehouse", "PLAYLIST_ASSETS_WAREHOUSE", "warehouse/playlists.duckdb", "The DuckDB file."),
    ("reports", "PLAYLIST_ASSETS_REPORTS", "reports", "Folder the Markdown and PNG reports go to."),
    ("dagster_home", "DAGSTER_HOME", ".dagster", "Dagster instance folder (run history)."),
    ("source", "PLAYLIST_ASSETS_SOURCE", "demo", "Where the library comes from: demo, spotify, exportify, account-export."),
    ("source_path", "PLAYLIST_ASSETS_SOURCE_PATH", "", "File or folder for file-based sources."),
    ("demo_playlists", "PLAYLIST_ASSETS_DEMO_PLAYLISTS", "12", "Demo library: number of playlists."),
    ("demo_tracks", "PLAYLIST_ASSETS_DEMO_TRACKS", "120", "Demo library: entries per playlist."),
    ("demo_seed", "PLAYLIST_ASSETS_DEMO_SEED", "7", "Demo library: random seed."),
    ("demo_edits", "PLAYLIST_ASSETS_DEMO_EDITS", "0", "Demo library: playlists to edit, to try a refresh."),
    ("lock_wait_s", "PLAYLIST_ASSETS_LOCK_WAIT_S", "30", "Seconds to wait for a locked warehouse."),
    ("workers", "PLAYLIST_ASSETS_WORKERS", "0", "Processes for clustering and plots in large runs: 0 = one per CPU core, 1 = none."),
)
SOURCES = ("demo", "spotify", "exportify", "account-export")


@dataclass(frozen=True)
class Settings:
    warehouse: Path
    reports: Path
    dagster_home: Path
    source: str
    source_path: str
    demo_playlists: int
    demo_tracks: int
    demo_seed: int
    demo_edits: int
    lock_wait_s: float
    workers: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from the environment, then `overrides` (None values ignored)."""
        env = os.environ if env is None else env
        types = {f.name: f.type for f in fields(cls)}
        values = {}
        for name, var, default, _ in SETTINGS_DOC:
            raw = overrides.get(name)
            if raw is None:
                raw = env.get(var) or default
            values[name] = _parse(name, var, raw, types[name])
        settings = cls(**values)
        if settings.source not in SOURCES:
            raise ValueError(
                f"Unknown source {settings.source!r} (PLAYLIST_ASSETS_SOURCE / --source); "
                f"choose one of: {', '.join(SOURCES)}."
            )
        return settings

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def offline_library(self) -> OfflineLibrary:
        """The library these settings read, when it needs no network (see sources.offline)."""
        from playlist_assets.sources.offline import OfflineLibrary

        return OfflineLibrary(
            self.source, self.source_path, self.demo_playlists, self.demo_tracks, self.demo_seed, self.demo_edits
        )


def _parse(name: str, var: str, raw, kind: str):
    try:
        if kind == "Path":
            return Path(raw).expanduser().resolve()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return str(raw)
    except ValueError:
        raise ValueError(f"{var} (or --{name.replace('_', '-')}) must be a number, not {raw!r}.") from None
