"""Dagster resources: where the warehouse, the reports and the library are."""


import dataclasses
import os
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import pydantic

from playlist_assets.clustering import kmeans
from playlist_assets.warehouse import database
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.offline import OfflineLibrary, read_offline_or_ahead
from playlist_assets.runtime.settings import LIBRARY_SETTINGS, SETTINGS_DOC


# What the workers run, imported as each one starts.
WORKER_MODULES = (
    *kmeans.DEPENDENCIES,
    "playlist_assets.reports.previews",
    "playlist_assets.reports.scatter",
    "playlist_assets.reports.feature_plot",
)
# scikit-learn imports pandas whenever it is installed (with the benchmarks' extra, or in a
# user's data-science environment), to recognise pandas inputs; the workers pass it NumPy only.
# So the clustering's dependencies are imported first, as if pandas were not installed.
# Measured: 0.45 s of CPU and 60 MB less per worker.
WORKERS_WITHOUT = {"pandas": kmeans.DEPENDENCIES}


# A refresh of a few changed playlists runs a clustering step and a report step for each stretch
# of them, each step ~0.2 s for one playlist, where opening and closing the warehouse costs
# ~30 ms each time: such a step keeps the file open (held_for_small_run). A larger run computes
# for seconds and leaves the file free meanwhile, so that SQL users (who wait for it, up to
# PLAYLIST_ASSETS_LOCK_WAIT_S) are not kept out for the whole step.
HOLD_BELOW_PLAYLISTS = 10


# No field has a default of its own: definitions.resources_for gives every value from the
# settings, whose defaults are declared once, in runtime.settings.SETTINGS_DOC.
class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (PLAYLIST_ASSETS_WAREHOUSE)."""

    path: str
    lock_wait_s: float

    @contextmanager
    def connect(self, read_only: bool = False):
        with database.connect(self.path, read_only=read_only, wait_s=self.lock_wait_s) as conn:
            yield conn

    @contextmanager
    def held_for_small_run(self, playlists: int) -> Iterator[None]:
        """For a step that connects more than once (it reads, computes, then writes): in a run
        of fewer than HOLD_BELOW_PLAYLISTS playlists the file stays open for the whole block,
        and each `connect` in it shares the open database (DuckDB reuses what its process has
        open) instead of opening and closing the file again. A `connect(read_only=True)` inside
        the block would fail (DuckDB shares an open database only with the same settings)."""
        if playlists >= HOLD_BELOW_PLAYLISTS:
            yield
            return
        with self.connect():
            yield


# Each step that uses it gets a pool of its own, closed when the step ends (its workers have
# exited by then), so the step's process can end: in `dagster dev`'s run workers, the
# multiprocess executor and tests alike. The command line passes a pool it owns instead
# (pipeline.py), so one pool serves all of its runs.
class WorkersResource(dg.ConfigurableResource):
    """Processes that cluster and draw playlists side by side in large runs
    (PLAYLIST_ASSETS_WORKERS: 0 = one per CPU core, 1 = none). A run starts them when it needs
    them and stops them when its step ends."""

    processes: int

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WorkerPool]:
        # The assets receive the pool itself (they take a ResourceParam[WorkerPool]).
        with WorkerPool(self.processes, preload=WORKER_MODULES, absent=WORKERS_WITHOUT) as pool:
            yield pool


class ReportsResource(dg.ConfigurableResource):
    """The folder the Markdown and PNG reports are written to (PLAYLIST_ASSETS_REPORTS)."""

    path: str


def _library_config_fields() -> dict[str, typing.Any]:
    """OfflineLibrary's fields as config fields: the same names and types, each required (the
    settings give every value) and described, in the UI, by the setting it comes from."""
    types = typing.get_type_hints(OfflineLibrary)
    described = {name: f"{meaning} ({var})" for name, var, _, meaning in SETTINGS_DOC}
    return {
        field.name: (types[field.name], pydantic.Field(description=described[LIBRARY_SETTINGS[field.name]]))
        for field in dataclasses.fields(OfflineLibrary)
    }


# The library's fields are declared once, in sources.offline.OfflineLibrary (which imports no
# Dagster); this config class is made from them, so the resource shows and takes them one by one
# (kind, path, demo_playlists, ...), in the UI's resource page and the Launchpad alike.
_LibraryConfig = pydantic.create_model(
    "LibraryConfig", __base__=dg.ConfigurableResource, __module__=__name__, **_library_config_fields()
)


class LibrarySource(_LibraryConfig):
    """Where the library comes from (PLAYLIST_ASSETS_SOURCE) and its options."""

    def load(
        self,
        fetched_at: datetime,
        previous: Callable[[], RawLibrary | None] = lambda: None,
        log: Callable[[str], None] = print,
    ) -> tuple[RawLibrary, dict]:
        """The library and what reading it cost (shown as metadata)."""
        if self.kind == "spotify":
            from playlist_assets.ingest.sources.spotify_api import SpotifyConfig, fetch_library

            library, stats = fetch_library(
                SpotifyConfig.from_env(os.environ), previous=previous(), fetched_at=fetched_at, log=log
            )
            return library, {
                "requests": stats.total_requests,
                "playlists_read": stats.playlists_fetched,
                "playlists_unchanged": stats.playlists_unchanged,
                "playlists_skipped": stats.playlists_skipped,
                "features_by_provider": dg.MetadataValue.json(stats.features_by_provider),
            }
        # The CLI may have started reading this library while Dagster started (sources.offline).
        library = read_offline_or_ahead(self.offline_library(), fetched_at)
        if self.kind == "account-export":
            from playlist_assets.ingest.sources.spotify_api import SpotifyConfig

            config = SpotifyConfig.from_env(os.environ)
            if config.client_id and config.client_secret:
                # The export has only names and URIs: albums, labels, genres and features come
                # from the API when the user has credentials (Client Credentials, no login).
                from playlist_assets.ingest.sources.account_enrich import enrich_from_api

                library = enrich_from_api(library, config, log=log, fetched_at=fetched_at)
        return library, {}

    @classmethod
    def of(cls, wanted: OfflineLibrary) -> "LibrarySource":
        """The resource that reads `wanted`, field for field."""
        return cls(**dataclasses.asdict(wanted))

    def offline_library(self) -> OfflineLibrary:
        return OfflineLibrary(**{field.name: getattr(self, field.name) for field in dataclasses.fields(OfflineLibrary)})
