"""Leaving the single file: every warehouse table as Parquet, readable by any engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from playlist_assets.warehouse.tables import ALL_TABLES
from playlist_assets.warehouse.database import existing_columns, scalar


@dataclass(frozen=True)
class Exported:
    table: str
    rows: int
    path: Path


def export_parquet(conn: duckdb.DuckDBPyConnection, out_dir: Path) -> list[Exported]:
    """Write `<out_dir>/<schema>/<table>.parquet`, or a hive-partitioned folder by playlist_id.

    Partitioned tables become `<schema>/<table>/playlist_id=<id>/*.parquet`, so an engine can
    read one playlist without scanning the others.
    """
    done = []
    for table in ALL_TABLES:
        if existing_columns(conn, table) is None:
            continue
        target = out_dir / table.schema / table.name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = f"(SELECT * FROM {table.qualified_name} ORDER BY {', '.join(table.primary_key)})"
        if table.partition_column:
            conn.execute(
                f"COPY {source} TO '{target}' "
                f"(FORMAT parquet, PARTITION_BY ({table.partition_column}), OVERWRITE_OR_IGNORE)"
            )
        else:
            target = target.with_suffix(".parquet")
            conn.execute(f"COPY {source} TO '{target}' (FORMAT parquet)")
        rows = scalar(conn, f"SELECT count(*) FROM {table.qualified_name}")
        done.append(Exported(table.qualified_name, rows, target))
    return done
