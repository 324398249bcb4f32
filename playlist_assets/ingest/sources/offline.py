"""The libraries read without a network (the demo, Exportify files, an account export), and
reading one in a second process while the caller starts up.

Generating the demo library, or parsing a folder of export files, is pure Python: seconds of
one core for a library of a thousand playlists. The CLI starts that read here before it imports
Dagster, and the landing asset takes the result when it asks for the same library, so the two
overlap instead of following each other. Anything else (another library asked for, a read that
failed) is read again where it is asked for, which also reports the error there.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.library import RawLibrary

FILE_SOURCES = ("exportify", "account-export")
OFFLINE_SOURCES = ("demo", *FILE_SOURCES)


@dataclass(frozen=True)
class OfflineLibrary:
    """Which offline library to read: the source and its options.

    The one declaration of the library's fields: the Dagster resource that reads it
    (runtime.resources.LibrarySource) takes its config fields from these. Every field is required:
    each value, and its default, comes from a setting (runtime.settings: Settings.offline_library).
    """

    kind: str
    path: str
    demo_playlists: int
    demo_tracks: int
    demo_seed: int
    demo_edits: int


def read_offline(wanted: OfflineLibrary, fetched_at: datetime) -> RawLibrary:
    library, _made_from = _read(wanted, fetched_at)
    return library


def _read(wanted: OfflineLibrary, fetched_at: datetime) -> tuple[RawLibrary, object]:
    """The library, and the objects it was made from (the demo's API payload; None for files)."""
    if wanted.kind == "demo":
        from playlist_assets.ingest.sources.demo import edited_demo_payload
        from playlist_assets.ingest.sources.spotify_objects import gc_paused, library_from_payload

        with gc_paused():  # one pause for both steps, as in demo.edited_demo_library
            payload = edited_demo_payload(wanted.demo_playlists, wanted.demo_tracks, wanted.demo_seed, wanted.demo_edits)
            return library_from_payload(payload, source="demo", fetched_at=fetched_at), payload
    if wanted.kind in FILE_SOURCES:
        if not wanted.path:
            raise SourceError(
                f"The {wanted.kind} source reads files: set PLAYLIST_ASSETS_SOURCE_PATH "
                "(or --path) to the folder or file to import."
            )
        if wanted.kind == "exportify":
            from playlist_assets.ingest.sources.exportify import read_exportify as read
        else:
            from playlist_assets.ingest.sources.account_export import read_account_export as read
        return read(Path(wanted.path).expanduser(), fetched_at=fetched_at), None
    raise SourceError(
        f"Unknown source {wanted.kind!r}; set PLAYLIST_ASSETS_SOURCE to one of: demo, spotify, "
        + ", ".join(FILE_SOURCES)
        + "."
    )


@dataclass
class _Reading:
    process: BaseProcess
    received: Connection


_ahead: dict[OfflineLibrary, _Reading] = {}


@contextmanager
def reading_ahead(wanted: OfflineLibrary) -> Iterator[None]:
    """Read `wanted` in another process while the block runs, for `read_offline_or_ahead`.

    The block owns that process: leaving it stops the process if its library was not taken
    (a run that failed before landing), so a failure never waits for a read nobody needs.
    """
    if wanted.kind not in OFFLINE_SOURCES or wanted in _ahead:
        yield
        return
    # A fresh interpreter ("spawn"), as for the clustering workers: it imports only the sources.
    context = multiprocessing.get_context("spawn")
    received, sent = context.Pipe(duplex=False)
    process = context.Process(
        target=_read_and_send, args=(wanted, datetime.now(timezone.utc), sent), name="read-ahead", daemon=True
    )
    process.start()
    sent.close()  # the child holds the only sending end: its exit ends the pipe
    _ahead[wanted] = _Reading(process, received)
    try:
        yield
    finally:
        _ahead.pop(wanted, None)
        received.close()
        if process.is_alive():
            process.terminate()
        process.join()


def _read_and_send(wanted: OfflineLibrary, fetched_at: datetime, sent: Connection) -> None:
    # This process reads one library, sends it and exits, while the landing waits for it. The
    # demo's read makes millions of small objects: a collection scanning them (the collector
    # is back on once the read is over) and freeing them one by one would come before the send
    # (0.5 s at 1,000 playlists, measured). Neither is needed before it: the collector stays
    # off in this process, and the objects the library was made from live until it is sent.
    gc.disable()
    made_from = None  # freed when this function returns, after the send
    try:
        library, made_from = _read(wanted, fetched_at)
    except Exception:  # noqa: BLE001
        library = None  # read again where it is asked for, which raises the error there
    try:
        # A table at a time, then None (None alone: the read failed). Pickled whole, the
        # library took a 45 MB buffer here and another in the owner at 1,000 playlists: memory
        # first touched, which costs CPU time on a virtual machine; table by table, the buffers
        # are a table's size and their memory is used again for the next table.
        if library is not None:
            for table in fields(library):
                sent.send((table.name, getattr(library, table.name)))
        sent.send(None)
    except OSError:
        pass  # the owner left without taking it (its run failed first): nothing to say
    finally:
        sent.close()


def read_offline_or_ahead(wanted: OfflineLibrary, fetched_at: datetime) -> RawLibrary:
    """The library read ahead for exactly `wanted` (stamped with when that read began), else read now."""
    reading = _ahead.pop(wanted, None)
    if reading is not None:
        tables = {}
        try:
            while (table := reading.received.recv()) is not None:
                name, frame = table
                tables[name] = frame
        except (EOFError, OSError):
            tables = {}  # the reading process died
        if tables:
            return RawLibrary(**tables)
    return read_offline(wanted, fetched_at)
