"""Metadata every table asset shows in the UI: columns with their meaning, and row counts."""


import dagster as dg
import polars as pl

from playlist_assets.runtime.event_log import add_metadata_in_one_step
from playlist_assets.warehouse.tables import Table
from playlist_assets.warehouse.database import sql_type


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c.name, type=sql_type(c.dtype), description=c.description)
            for c in table.columns
        ]
    )


def table_spec(table: Table, metadata: dict | None = None, key=None, **kwargs) -> dg.AssetSpec:
    """The AssetSpec of a warehouse table: key schema/name (unless `key`), its description and column schema."""
    return dg.AssetSpec(
        key=key or [table.schema, table.name],
        description=table.description,
        metadata={
            "dagster/column_schema": column_schema(table),
            "dagster/table_name": f"playlists.{table.qualified_name}",
            "primary_key": ", ".join(table.primary_key),
            **(metadata or {}),
        },
        **kwargs,
    )


def table_written(table: Table, frame: pl.DataFrame) -> dict:
    return {"dagster/row_count": frame.height, "table": table.qualified_name}


def add_partition_metadata(
    context: dg.AssetExecutionContext, entries: dict[tuple[dg.AssetKey, str], dict]
) -> None:
    """`context.add_asset_metadata` for many (asset key, partition) pairs at once (the public
    call is quadratic in the entries of a step; see event_log.add_metadata_in_one_step)."""
    add_metadata_in_one_step(context, entries)
