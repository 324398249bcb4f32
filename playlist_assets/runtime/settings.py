"""Every setting, its environment variable and its offline default, read in this one place."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playlist_assets.ingest.sources.offline import OfflineLibrary

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

# The settings that say which library to read: each field of sources.offline.OfflineLibrary (and
# so of the LibrarySource resource's config) and the setting above that gives its value.
LIBRARY_SETTINGS: dict[str, str] = {
    "kind": "source",
    "path": "source_path",
    "demo_playlists": "demo_playlists",
    "demo_tracks": "demo_tracks",
    "demo_seed": "demo_seed",
    "demo_edits": "demo_edits",
}

# The values each number may take, (lowest, highest or None), checked before any work starts:
# a negative count or an extra zero or two would otherwise surface minutes into a run, deep in
# NumPy or the worker pool. The demo's caps sit far past the benchmarks' 1,000 x 100 library.
RANGES: dict[str, tuple[float, float | None]] = {
    "demo_playlists": (1, 20_000),
    "demo_tracks": (1, 10_000),
    "demo_seed": (0, None),  # NumPy refuses negative seeds
    "demo_edits": (0, None),
    "lock_wait_s": (0, None),
    "workers": (0, None),  # 0 = one process per CPU core
}

# Read by the Spotify source (sources.spotify_api.SpotifyConfig) but checked here too, whatever
# the source: a typo in them should stop the run that has it set, not only a Spotify run.
FEATURE_PROVIDERS_VAR = "PLAYLIST_ASSETS_FEATURE_PROVIDERS"
FEATURE_PROVIDERS = ("spotify", "reccobeats", "none")  # and csv:PATH
SOURCE_NUMBERS: tuple[tuple[str, type, str], ...] = (
    ("PLAYLIST_ASSETS_MAX_RETRY_AFTER_S", float, "a number of seconds"),
    ("PLAYLIST_ASSETS_REFRESH_AFTER_DAYS", int, "a whole number of days"),
)


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
            if name in RANGES:
                _check_range(name, var, raw, values[name])
        settings = cls(**values)
        if settings.source not in SOURCES:
            raise ValueError(
                f"Unknown source {settings.source!r} (PLAYLIST_ASSETS_SOURCE / --source); "
                f"choose one of: {', '.join(SOURCES)}."
            )
        check_source_settings(env)
        return settings

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def offline_library(self) -> OfflineLibrary:
        """The library these settings read, when it needs no network (see sources.offline)."""
        from playlist_assets.ingest.sources.offline import OfflineLibrary

        return OfflineLibrary(**{field: getattr(self, setting) for field, setting in LIBRARY_SETTINGS.items()})


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


def _check_range(name: str, var: str, raw, value: float) -> None:
    low, high = RANGES[name]
    # An int is always finite (and may be too large for math.isfinite's float).
    if (isinstance(value, int) or math.isfinite(value)) and low <= value and (high is None or value <= high):
        return
    kind = "a whole number" if isinstance(value, int) else "a number"
    allowed = f"from {low:,} to {high:,}" if high is not None else f"of {low:,} or more"
    raise ValueError(f"{var} (or --{name.replace('_', '-')}) must be {kind} {allowed}, not {raw!r}.")


def check_source_settings(env: Mapping[str, str]) -> None:
    """Refuse, in one sentence, a feature-provider list or Spotify number the source could not use.

    Unset or empty variables keep the source's defaults, as in SpotifyConfig.from_env.
    """
    providers = (env.get(FEATURE_PROVIDERS_VAR) or "").strip()
    # Split as SpotifyConfig.from_env splits: commas or spaces.
    unknown = [
        name for name in providers.replace(",", " ").split()
        if name not in FEATURE_PROVIDERS and not (name.startswith("csv:") and len(name) > len("csv:"))
    ]
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        which = "" if unknown == [providers] else f" ({', '.join(map(repr, unknown))} {verb} none of these)"
        raise ValueError(
            f"{FEATURE_PROVIDERS_VAR} must list spotify, reccobeats, csv:PATH or none, separated by "
            f"commas, not {providers!r}{which}."
        )
    for var, kind, meaning in SOURCE_NUMBERS:
        raw = (env.get(var) or "").strip()
        if not raw:
            continue
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or (isinstance(value, float) and not math.isfinite(value)) or value < 0:
            raise ValueError(f"{var} must be {meaning}, 0 or more, not {raw!r}.")
