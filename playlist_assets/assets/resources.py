"""Dagster resources: where the warehouse, the reports and the library are."""


from contextlib import contextmanager
from datetime import datetime

import dagster as dg

from playlist_assets import warehouse
from playlist_assets.sources.library import RawLibrary


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (PLAYLIST_ASSETS_WAREHOUSE)."""

    path: str
    lock_wait_s: float = 30.0

    @contextmanager
    def connect(self, read_only: bool = False):
        with warehouse.connect(self.path, read_only=read_only, wait_s=self.lock_wait_s) as conn:
            yield conn


class ReportsResource(dg.ConfigurableResource):
    """The folder the Markdown and PNG reports are written to (PLAYLIST_ASSETS_REPORTS)."""

    path: str


class LibrarySource(dg.ConfigurableResource):
    """Where the library comes from (PLAYLIST_ASSETS_SOURCE) and its options."""

    kind: str = "demo"
    path: str = ""
    demo_playlists: int = 12
    demo_tracks: int = 120
    demo_seed: int = 7

    def load(self, fetched_at: datetime) -> RawLibrary:
        if self.kind == "demo":
            from playlist_assets.sources.demo import demo_library

            return demo_library(
                self.demo_playlists, self.demo_tracks, self.demo_seed, fetched_at=fetched_at
            )
        raise ValueError(f"Unknown source {self.kind!r}; set PLAYLIST_ASSETS_SOURCE to demo.")
