"""The libraries read without a network (the demo, Exportify files, an account export), and
reading one in a second process while the caller starts up.

Generating the demo library, or parsing a folder of export files, is pure Python: seconds of
one core for a library of a thousand playlists. The CLI starts that read here before it imports
Dagster, and the landing asset takes the result when it asks for the same library, so the two
overlap instead of following each other. Anything else (another library asked for, a read that
failed) is read again where it is asked for, which also reports the error there.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from playlist_assets import parallel
from playlist_assets.sources.errors import SourceError
from playlist_assets.sources.library import RawLibrary

FILE_SOURCES = ("exportify", "account-export")
OFFLINE_SOURCES = ("demo", *FILE_SOURCES)


@dataclass(frozen=True)
class OfflineLibrary:
    """Which offline library to read: the source and its options."""

    kind: str
    path: str = ""
    demo_playlists: int = 12
    demo_tracks: int = 120
    demo_seed: int = 7
    demo_edits: int = 0


def read_offline(wanted: OfflineLibrary, fetched_at: datetime) -> RawLibrary:
    if wanted.kind == "demo":
        from playlist_assets.sources.demo import edited_demo_library

        return edited_demo_library(
            wanted.demo_playlists, wanted.demo_tracks, wanted.demo_seed, wanted.demo_edits, fetched_at=fetched_at
        )
    if wanted.kind in FILE_SOURCES:
        if not wanted.path:
            raise SourceError(
                f"The {wanted.kind} source reads files: set PLAYLIST_ASSETS_SOURCE_PATH "
                "(or --path) to the folder or file to import."
            )
        if wanted.kind == "exportify":
            from playlist_assets.sources.exportify import read_exportify as read
        else:
            from playlist_assets.sources.account_export import read_account_export as read
        return read(Path(wanted.path).expanduser(), fetched_at=fetched_at)
    raise SourceError(
        f"Unknown source {wanted.kind!r}; set PLAYLIST_ASSETS_SOURCE to one of: demo, spotify, "
        + ", ".join(FILE_SOURCES)
        + "."
    )


_ahead: dict[OfflineLibrary, tuple[ProcessPoolExecutor, Future]] = {}


def read_ahead(wanted: OfflineLibrary) -> None:
    """Start reading `wanted` in another process, for a later `read_offline_or_ahead`."""
    if wanted.kind not in OFFLINE_SOURCES or wanted in _ahead:
        return
    # A fresh interpreter ("spawn"), as for the clustering workers: it imports only the sources.
    pool = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=parallel.exit_without_cleanup
    )
    _ahead[wanted] = (pool, pool.submit(read_offline, wanted, datetime.now(timezone.utc)))


def read_offline_or_ahead(wanted: OfflineLibrary, fetched_at: datetime) -> RawLibrary:
    """The library read ahead for exactly `wanted` (stamped with when that read began), else read now."""
    started = _ahead.pop(wanted, None)
    if started is not None:
        pool, future = started
        try:
            return future.result()
        except Exception:  # noqa: BLE001
            pass  # read again below, where the error is raised with this process' traceback
        finally:
            pool.shutdown(wait=False)
    return read_offline(wanted, fetched_at)
