"""Writing the DuckDB warehouse: declared tables, atomic replacement, schema upgrades.

Every write happens in one transaction, so a reader (or a failed run) sees either the previous
state or the new one, never half of a snapshot or half of a partition. Tables are created from
`tables.py` with their primary keys, and rows are inserted by column name, so a column added to
the contract in a later version cannot land in the wrong place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from playlist_assets.warehouse.tables import Table

_SQL_TYPES: tuple[tuple[pl.DataType, str], ...] = (
    (pl.String, "VARCHAR"),
    (pl.Int32, "INTEGER"),
    (pl.Int64, "BIGINT"),
    (pl.Float64, "DOUBLE"),
    (pl.Boolean, "BOOLEAN"),
)


class WarehouseBusyError(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than we may wait."""


class WarehouseUnusableError(RuntimeError):
    """The warehouse file cannot be used as it is: not DuckDB, damaged, or not writable."""


# What DuckDB says, and what it means for the person who owns the file.
_REBUILD = "move it aside (or delete it) and run again to build it anew from your library, or pass --warehouse another path"
_UNUSABLE = (
    ("not a valid DuckDB database file", "is not a DuckDB database (an empty, foreign or overwritten file)", _REBUILD),
    ("Could not read enough bytes", "is truncated or damaged (DuckDB could not read all of it)", _REBUILD),
    ("Read-only file system", "is on a read-only file system",
     "pass --warehouse (PLAYLIST_ASSETS_WAREHOUSE) a path you can write; `playlist-assets sql` reads it as it is"),
    ("Permission denied", "cannot be opened for writing (permission denied)",
     "pass --warehouse (PLAYLIST_ASSETS_WAREHOUSE) a path you can write, or fix the file's permissions"),
)


def unusable(path: str | Path, error: BaseException) -> WarehouseUnusableError | None:
    """The sentence for a DuckDB error that means the file itself is unusable, else None."""
    text = str(error)
    for marker, cause, fix in _UNUSABLE:
        if marker in text:
            return WarehouseUnusableError(f"The warehouse {path} {cause}: {fix}.")
    return None


def _read_only_mount(path: Path) -> bool:
    return hasattr(os, "statvfs") and bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_usable(path: str | Path) -> None:
    """Fail now, in one sentence, if the warehouse file cannot be written: before any run starts.

    A missing file is fine when its folder can be written (the first landing creates it). An
    existing one must open and hold at least all the blocks DuckDB says are in use (a cut-off
    copy opens, then fails deep inside a run).
    """
    path = Path(path)
    if not path.exists():
        folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
        if folder is not None and (_read_only_mount(folder) or not os.access(folder, os.W_OK)):
            raise WarehouseUnusableError(
                f"The warehouse {path} cannot be created: {folder} is not writable (or on a read-only "
                "file system); pass --warehouse (PLAYLIST_ASSETS_WAREHOUSE) a path you can write."
            )
        return
    if path.is_dir():
        raise WarehouseUnusableError(f"The warehouse {path} is a folder; pass --warehouse the path of a DuckDB file.")
    if _read_only_mount(path):
        raise unusable(path, OSError("Read-only file system"))
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise unusable(path, OSError("Permission denied"))
    try:
        conn = duckdb.connect(str(path))
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            return  # in use: the run waits for it (PLAYLIST_ASSETS_LOCK_WAIT_S) and says so
        raise unusable(path, error) or error
    except duckdb.Error as error:
        raise unusable(path, error) or error
    try:
        block_size, used_blocks = conn.execute(
            "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchone()
    finally:
        conn.close()
    # A truthful lower bound only: every used block has its own block-sized place in the file.
    # total_blocks is not one: it counts free blocks too, and a checkpoint cuts the free ones at
    # the end off the file (a healthy file then is shorter than block_size * total_blocks).
    # A cut this misses (free blocks at the front, used ones lost at the end) still fails as
    # one sentence when a query reaches it (`connect`).
    if path.stat().st_size < block_size * used_blocks:
        raise unusable(path, OSError("Could not read enough bytes"))


def sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    if isinstance(dtype, pl.List):
        return f"{sql_type(dtype.inner)}[]"
    for known, name in _SQL_TYPES:
        if dtype == known:
            return name
    raise TypeError(f"no DuckDB type for {dtype}")


def create_table_sql(table: Table, name: str | None = None) -> str:
    columns = [
        f"{c.name} {sql_type(c.dtype)}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    ]
    columns.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    return f"CREATE TABLE {name or table.qualified_name} (\n  " + ",\n  ".join(columns) + "\n)"


@contextmanager
def connect(path: str | Path, *, read_only: bool = False, wait_s: float = 30.0):
    """Open the warehouse, waiting up to `wait_s` while another process holds the file."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise unusable(path, error) or error
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"The warehouse {path} is locked by another process ({error}); close the "
                    f"other connection (duckdb CLI, notebook) or raise "
                    f"PLAYLIST_ASSETS_LOCK_WAIT_S (now {wait_s:g} s)."
                ) from error
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as error:
            raise unusable(path, error) or error
    try:
        yield conn
    except duckdb.Error as error:
        # Damage can show only when a query reaches the damaged part of the file.
        raise unusable(path, error) or error
    finally:
        conn.close()


def existing_columns(conn: duckdb.DuckDBPyConnection, table: Table) -> list[str] | None:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [table.schema, table.name],
    ).fetchall()
    return [r[0] for r in rows] or None


def ensure_table(conn: duckdb.DuckDBPyConnection, table: Table, log: Callable[[str], None] = print) -> None:
    """Create `table` if missing; rebuild it, keeping its rows, if an older version has other columns."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
    found = existing_columns(conn, table)
    if found is None:
        conn.execute(create_table_sql(table))
        return
    if found == table.column_names:
        return
    kept = [c for c in table.column_names if c in found]
    staging = f"{table.schema}.__upgrade_{table.name}"
    conn.execute(f"DROP TABLE IF EXISTS {staging}")
    conn.execute(create_table_sql(table, staging))
    if kept:
        cols = ", ".join(kept)
        conn.execute(f"INSERT INTO {staging} ({cols}) SELECT {cols} FROM {table.qualified_name}")
    conn.execute(f"DROP TABLE {table.qualified_name} CASCADE")
    conn.execute(f"ALTER TABLE {staging} RENAME TO {table.name}")
    added = [c for c in table.column_names if c not in found]
    dropped = [c for c in found if c not in table.column_names]
    log(
        f"Upgraded {table.qualified_name} to the current column set "
        f"(added: {', '.join(added) or 'none'}; removed: {', '.join(dropped) or 'none'}); "
        f"rows kept."
    )


def _insert(conn: duckdb.DuckDBPyConnection, table: Table, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    rows = table.conform(frame)  # noqa: F841 - DuckDB reads the local frame by name
    conn.execute(f"INSERT INTO {table.qualified_name} BY NAME SELECT * FROM rows")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection):
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except duckdb.Error:
            # DuckDB may refuse ("Current transaction is aborted"): the error that aborted it
            # is the one to report, and the transaction is not committed either way.
            pass
        raise
    conn.execute("COMMIT")


def replace_tables(
    conn: duckdb.DuckDBPyConnection,
    frames: Mapping[Table, pl.DataFrame],
    log: Callable[[str], None] = print,
) -> None:
    """Replace the whole contents of every given table, all in one transaction.

    Each table ends holding exactly its frame's rows, but only the rows that differ are
    written: when a few playlists of a library changed, rewriting every table was most of what
    a refresh cost DuckDB. An empty table (a first landing) simply receives the frame.
    """
    with transaction(conn):
        for table, frame in frames.items():
            ensure_table(conn, table, log)
            rows = table.conform(frame)
            stored = scalar(conn, f"SELECT count(*) > 0 FROM {table.qualified_name}")
            if stored and _differences_are_exact(table, rows):
                _write_difference(conn, table, rows)
            else:
                conn.execute(f"DELETE FROM {table.qualified_name}")
                _insert(conn, table, rows)


def _differences_are_exact(table: Table, rows: pl.DataFrame) -> bool:
    """Whether `_write_difference` leaves `table` exactly as a full replace by `rows` would.

    Its comparison matches rows by key, so keys that repeat or are missing go to the full
    replace, which rejects them as it always did. SQL equality takes -0.0 for 0.0: the sign
    of a float column is compared too, but a float inside a list or struct would go unseen.
    """
    if any(c.dtype.is_nested() and _holds_float(c.dtype) for c in table.columns):
        return False
    keys = rows.select(table.primary_key)
    return not (keys.null_count().sum_horizontal().item() or keys.is_duplicated().any())


def _holds_float(dtype: pl.DataType) -> bool:
    if dtype.is_float():
        return True
    if isinstance(dtype, (pl.List, pl.Array)):
        return _holds_float(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(_holds_float(f.dtype) for f in dtype.fields)
    return False


def _write_difference(conn: duckdb.DuckDBPyConnection, table: Table, rows: pl.DataFrame) -> None:
    """Make `table` hold exactly `rows` (unique, non-null keys): the stored rows that are gone
    or differ in any column are deleted, and the new or changed rows inserted.

    IS DISTINCT FROM compares NULL with NULL and NaN with NaN as equal, as "the same stored
    value" should. Rows keep no particular order: a changed row is appended where a full
    replace would have rewritten every row in the frame's order; reads that need an order say
    ORDER BY.
    """
    name = table.qualified_name
    keys = table.primary_key
    matched = " AND ".join(f"s.{k} = l.{k}" for k in keys)
    values = [c.name for c in table.columns if c.name not in keys]
    differs = " OR ".join(
        [f"s.{k} IS NULL OR l.{k} IS NULL" for k in keys[:1]]
        + [f"s.{c} IS DISTINCT FROM l.{c}" for c in values]
        + [f"signbit(s.{c.name}) IS DISTINCT FROM signbit(l.{c.name})"
           for c in table.columns if c.dtype.is_float()]
    )
    conn.register("__landing", rows)
    try:
        changed = read_frame(
            conn,
            f"SELECT {', '.join(f'coalesce(s.{k}, l.{k}) AS {k}' for k in keys)} "
            f"FROM {name} s FULL JOIN __landing l ON {matched} WHERE {differs}",
        )
        if changed.is_empty():
            return
        conn.register("__changed", changed)
        key_list = ", ".join(keys)
        conn.execute(f"DELETE FROM {name} WHERE ({key_list}) IN (SELECT {key_list} FROM __changed)")
        columns = ", ".join(table.column_names)
        conn.execute(
            f"INSERT INTO {name} ({columns}) SELECT {columns} FROM __landing "
            f"WHERE ({key_list}) IN (SELECT {key_list} FROM __changed)"
        )
    finally:
        conn.unregister("__landing")
        conn.unregister("__changed")


def replace_partitions(
    conn: duckdb.DuckDBPyConnection,
    frames: Mapping[Table, pl.DataFrame],
    playlist_ids: Iterable[str],
    log: Callable[[str], None] = print,
) -> None:
    """Replace exactly the rows of `playlist_ids` in every given table, in one transaction."""
    ids = sorted(set(playlist_ids))
    with transaction(conn):
        for table, frame in frames.items():
            if table.partition_column is None:
                raise ValueError(f"{table.qualified_name} is not partitioned by playlist")
            ensure_table(conn, table, log)
            conn.execute(
                f"DELETE FROM {table.qualified_name} "
                f"WHERE {table.partition_column} IN (SELECT unnest(?::VARCHAR[]))",
                [ids],
            )
            _insert(conn, table, frame.filter(pl.col(table.partition_column).is_in(ids)))


def read_frame(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return conn.sql(sql, params=params or None).pl()


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """The single value of a one-row, one-column query (fetching it all releases the connection)."""
    return conn.execute(sql, params or []).fetchall()[0][0]
