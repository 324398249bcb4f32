"""The Dagster event log of the instance folder, with partition events written in batches.

One run over every playlist records two events per partition for each per-playlist asset
(planned, then materialized), and every per-partition metadata entry looks the partition up
in the same storage. Dagster's SQLite event log builds a new database engine for every one of
these accesses and commits twice for every single event, about 20 ms an event on this
project's machines: at 1,000 playlists that was most of a full run. This storage keeps the
engines it built, each with one connection used under the storage's lock (it holds no lock on
the file between transactions, and no process shares it) and, as Dagster already groups partition events into batches when
`DAGSTER_EVENT_BATCH_SIZE` is set, writes each batch in one transaction per database file.
The rows are exactly the ones Dagster's own storage writes, so the UI, the daemon, sensors and
staleness read them unchanged.

Every per-partition metadata entry also makes Dagster list the playlist partitions again (to
check the partition is in the run): thousands of identical queries in one run. The list is
kept for a second, and dropped at once when this process adds or deletes a partition.

Each run's own database file starts as a copy of one set up once per process, in a private
temporary folder, with Dagster's tables, WAL mode and migration stamp: not set up anew, with
Dagster's migration scripts read twice, for every run.

`playlist_assets.runtime.instance` names this class in the dagster.yaml it writes.

This is the one module that reaches into Dagster's private modules (the storage it extends is
not public API). The two step-level helpers at its end belong to the same batching: they hand
a step's per-partition events and metadata to Dagster in one piece. test_dagster_fence.py
fails when a Dagster upgrade moves any of what this module uses.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dagster import __version__ as dagster_version
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqlEventLogStorageMetadata, SqlEventLogStorageTable, SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.sql import get_alembic_config, safe_commit
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, text
from sqlalchemy import event as sqlalchemy_events
from sqlalchemy import exc as db_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# The Dagster minor version whose storage internals this module was written and tested against.
TESTED_DAGSTER = "1.13"
BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# Large enough that a run over a whole library sends each asset's partitions as one batch.
DEFAULT_BATCH_SIZE = "2000"
# The index plus the few runs being written or watched; a webserver reading many old runs
# does not keep an engine for each.
KEPT_ENGINES = 8
# Long enough to serve the thousands of look-ups of one run step; short enough that partitions
# added by another process (the sensor in the daemon) are seen at once by a person or a run.
PARTITIONS_FRESH_SECONDS = 1.0


def dagster_is_tested(version: str) -> bool:
    return version.split(".")[:2] == TESTED_DAGSTER.split(".")


@cache
def _warn_once(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _is_indexed_asset_event(event: EventLogEntry) -> bool:
    return (
        event.is_dagster_event
        and event.dagster_event_type in ASSET_EVENTS
        and event.get_dagster_event().asset_key is not None
    )


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """SQLite event log storage that writes a batch of asset events in two transactions."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_present: set[str] = set()
        # partitions definition name -> (when read, keys in order, the same keys as a set)
        self._partitions: dict[str, tuple[float, list[str], frozenset[str]]] = {}
        self._copy_run_files = True  # until this file system refuses a hard link
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # type: ignore[override]
        if not dagster_is_tested(dagster_version):
            # Its overrides lean on how this Dagster stores events; on another one the stock
            # storage, which writes the same database files, is the safe choice.
            _warn_once(
                f"playlist-assets: the batched event log was tested with Dagster {TESTED_DAGSTER}.x, "
                f"not {dagster_version}; the instance uses Dagster's own SQLite event log instead "
                "(slower for runs over many playlists, otherwise the same)."
            )
            return SqliteEventLogStorage(inst_data=inst_data, **config_value)
        # Batching is decided per process by this variable; an instance using this storage
        # wants it, and a value the user set is kept.
        os.environ.setdefault(BATCH_SIZE_VARIABLE, DEFAULT_BATCH_SIZE)
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As the base storage does, but with the shard's engine, and its one connection, kept
        # between calls: opening and closing a SQLite connection for each of the ~7 statements
        # of every run or step event cost about a millisecond each, a fifth of a second a run.
        # The connection is only used under the storage's lock, one thread at a time, and holds
        # no lock on the file between transactions (WAL), so other processes are not kept out.
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=StaticPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                sqlalchemy_events.listen(engine, "connect", _sync_at_checkpoints)
                self._engines[shard] = engine
                if len(self._engines) > KEPT_ENGINES:
                    self._engines.popitem(last=False)[1].dispose()
            self._engines.move_to_end(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        # Every run gets a database file of its own, set up as Dagster does: its tables, WAL,
        # and the migration stamp. That took ~20 ms a run (Dagster also read its ~90 migration
        # scripts twice each time), and a small --changed-only refresh starts six runs: a new
        # run's file is a copy of one set up once per process (~1 ms). A file that exists
        # already (the cross-run index, a run another process set up) is checked and, if its
        # set-up is missing, set up in place; one that cannot be read is left to Dagster's code.
        if for_index_shard:
            super()._initdb(engine, for_index_shard=True)
            return
        path = engine.url.database
        if self._copy_run_files and path and not os.path.exists(path):
            made = _new_run_file()
            try:
                if made is not None and _create_as_copy(path, made):
                    return
            except OSError:
                self._copy_run_files = False  # no hard links here: each file is set up below
        try:
            with engine.connect() as conn:
                if MigrationContext.configure(conn).get_current_revision() is None:
                    _set_up_run_file(engine, conn)
        except (db_exc.DatabaseError, sqlite3.DatabaseError):
            super()._initdb(engine)

    def has_table(self, table_name: str) -> bool:
        # Asked once per stored event and answered by opening a new engine each time; a table
        # that exists does not go away while the instance is running.
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        # Asked by reflecting the table for every stored event; columns are only ever added.
        key = f"asset_keys.{column_name}"
        if key in self._tables_present:
            return True
        present = super()._has_asset_key_col_on_connection(conn, column_name)
        if present:
            self._tables_present.add(key)
        return present

    def _fresh_partitions(self, name: str) -> tuple[list[str], frozenset[str]]:
        cached = self._partitions.get(name)
        now = time.monotonic()
        if cached is None or now - cached[0] > PARTITIONS_FRESH_SECONDS:
            keys = list(super().get_dynamic_partitions(name))
            cached = (now, keys, frozenset(keys))
            self._partitions[name] = cached
        return cached[1], cached[2]

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        return list(self._fresh_partitions(partitions_def_name)[0])

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        return partition_key in self._fresh_partitions(partitions_def_name)[1]

    def add_dynamic_partitions(self, partitions_def_name: str, partition_keys) -> None:
        self._partitions.pop(partitions_def_name, None)
        super().add_dynamic_partitions(partitions_def_name, partition_keys)
        self._partitions.pop(partitions_def_name, None)

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        self._partitions.pop(partitions_def_name, None)
        super().delete_dynamic_partition(partitions_def_name, partition_key)
        self._partitions.pop(partitions_def_name, None)

    def wipe(self) -> None:
        self._partitions.clear()
        super().wipe()

    def dispose(self) -> None:
        # The kept connections are closed, as Dagster's storage closes each after use: closing
        # the last one moves a file's WAL into it. Left to the process's exit, each run's file
        # kept its WAL (11 MB for a landing of 200 playlists) for the next reader to recover.
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # In order: each stretch of asset events of one run is written together; anything else
        # (asset check events come in the same batches) exactly as the base storage does.
        stretch: list[EventLogEntry] = []
        for event in events:
            if stretch and (not _is_indexed_asset_event(event) or event.run_id != stretch[0].run_id):
                self._store_asset_events(stretch)
                stretch = []
            if _is_indexed_asset_event(event):
                stretch.append(event)
            else:
                self.store_event(event)
        if stretch:
            self._store_asset_events(stretch)

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        # The rows Dagster's own storage inserts one statement at a time, each built and compiled
        # anew, are inserted with one statement per file: an executemany into the run's file; into
        # the index, one statement whose ids come back in the rows' order (SQLAlchemy still runs
        # it row by row on SQLite, which cannot order a batch's RETURNING, but compiles it once).
        # Measured on a run of one asset over 1,000 partitions (1,000 planned and 1,000
        # materialized events): 1.8-2.1 s before, 1.1-1.3 s after.
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        # The same rows are mirrored in the cross-run index, with each asset's tags and its
        # latest-event bookkeeping, as the base storage does one event at a time.
        with self.index_transaction() as conn:
            inserted = conn.execute(
                SqlEventLogStorageTable.insert().returning(
                    SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            event_ids = [row[0] for row in inserted]
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in _last_of_each_kind(events, event_ids):
                self._store_asset_event(conn, event, event_id)


def _sync_at_checkpoints(dbapi_connection, _record) -> None:
    # Every event is its own transaction, and SQLite's default waits for the disk at each
    # commit (~0.3 ms, hundreds a run). In WAL mode, NORMAL waits only at checkpoints: the file
    # stays consistent after any crash, and only a power loss can drop the last few events.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _set_up_run_file(engine: Engine, conn: Connection) -> None:
    """What Dagster puts in a new run's database file: its tables, WAL mode, the migration stamp."""
    SqlEventLogStorageMetadata.create_all(engine)
    conn.execute(text("PRAGMA journal_mode=WAL;"))
    MigrationContext.configure(conn).stamp(_migration_scripts(), "head")
    safe_commit(conn)


@cache
def _new_run_file() -> bytes | None:
    """The bytes of a run's database file just set up (None if it could not be made here).

    Made in a folder of its own, which no other process opens: nothing but the set-up is in it,
    and with the file closed, SQLite has moved all of it out of the WAL into the file.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="playlist-assets-run-db-") as folder:
            path = os.path.join(folder, "run.db")
            engine = create_engine(f"sqlite:///{path}", poolclass=StaticPool)
            try:
                with engine.connect() as conn:
                    _set_up_run_file(engine, conn)
                    busy, *_ = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE);")).one()
            finally:
                engine.dispose()
            if busy:
                return None
            with open(path, "rb") as made:
                return made.read()
    except (OSError, db_exc.DatabaseError, sqlite3.DatabaseError):
        return None


def _create_as_copy(path: str, content: bytes) -> bool:
    """Create the file `path` holding `content`, all at once; False if it exists already.

    Written beside it and on disk first, then linked into place: a process that opens the run's
    file at the same moment (the webserver following the run) finds no file or the whole of it,
    and a power loss leaves no half-written one. Raises OSError where hard links are refused.
    """
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".new")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.link(partial, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)


@cache
def _migration_scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__))


def _last_of_each_kind(events: list[EventLogEntry], event_ids: list[int]) -> list[tuple[EventLogEntry, int]]:
    """Per asset and event type, the batch's last event (with its id), in batch order.

    The asset's bookkeeping row keeps, column by column, the value of the latest event that sets
    it, and which columns an event sets depends only on its type. So applying just these events,
    in order, leaves the row as applying all of them would: at 1,000 partitions that is a few
    updates instead of a thousand, each of which serialized the whole event again.
    """
    last: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        last[(event.get_dagster_event().asset_key.to_string(), event.dagster_event_type)] = index
    return [(events[i], event_ids[i]) for i in sorted(last.values())]


# --- Handing a step's per-partition events and metadata to Dagster in one piece -------------

# The tags Dagster writes on every materialization it makes itself: the data version, the code
# version, and each input's data version and event (staleness compares them with the inputs').
from dagster._core.definitions.data_version import (  # noqa: E402
    CODE_VERSION_TAG,
    DATA_VERSION_IS_USER_PROVIDED_TAG,
    DATA_VERSION_TAG as DATA_VERSION_TAG,  # re-exported
    DEFAULT_DATA_VERSION,
    NULL_EVENT_POINTER,
    get_input_data_version_tag,
    get_input_event_pointer_tag,
)
from dagster._core.events import DagsterEvent, DagsterEventBatchMetadata, generate_event_batch_id  # noqa: E402
from dagster._core.execution.context.metadata_logging import AssetMetadataHandle, OutputMetadataAccumulator  # noqa: E402


def provenance_tags(instance, code_version: str, inputs: Sequence) -> tuple[dict[str, str], dict[str, str]]:
    """(versions, pointers): the tags Dagster would write on a materialization made now from
    `inputs` (asset keys) with `code_version`, minus the data version itself.

    `versions` (code version, each input's data version) is what staleness compares; `pointers`
    (each input's event) only says which materialization was read, and changes with every run.
    """
    versions = {CODE_VERSION_TAG: code_version}
    pointers = {}
    for key in inputs:
        record = next(iter(instance.fetch_materializations(key, limit=1).records), None)
        tags = (record.asset_materialization.tags or {}) if record else {}
        versions[get_input_data_version_tag(key)] = tags.get(DATA_VERSION_TAG, DEFAULT_DATA_VERSION.value)
        pointers[get_input_event_pointer_tag(key)] = str(record.storage_id) if record else NULL_EVENT_POINTER
    return versions, pointers


def user_data_version_tags(data_version: str) -> dict[str, str]:
    return {DATA_VERSION_TAG: data_version, DATA_VERSION_IS_USER_PROVIDED_TAG: "true"}


def log_materializations_as_one_batch(context, materializations: list) -> None:
    """Log the materializations as Dagster logs a ranged run's partitions: one event-log batch.

    A first landing of a library records every playlist; `context.log_event` would store each
    one with its own two commits (~20 ms each on this machine), the batch stores them
    together (see the storage above). The events are the ones log_event makes.
    """
    step_context = context.op_execution_context._step_execution_context
    batch_id = generate_event_batch_id()
    for i, materialization in enumerate(materializations):
        is_last = i == len(materializations) - 1
        DagsterEvent.asset_materialization(step_context, materialization, DagsterEventBatchMetadata(batch_id, is_last))


def add_metadata_in_one_step(context, entries: dict) -> None:
    """`context.add_asset_metadata` for many (asset key, partition) pairs at once.

    Dagster's accumulator copies and re-checks every entry gathered so far on each call, so a
    run over 1,000 playlists that adds five entries per playlist spent ~22 s in those checks.
    Here the entries are merged in one step. The partitions are the run's own (the callers
    take them from `context.partition_keys`), which is what the per-call check verifies.
    """
    step_context = context.op_execution_context._step_execution_context
    current = dict(step_context._metadata_accumulator.per_output_metadata)
    for (asset_key, partition), metadata in entries.items():
        handle = AssetMetadataHandle(asset_key=asset_key, partition_key=partition)
        current[handle] = {**current.get(handle, {}), **metadata}
    step_context._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=current)
