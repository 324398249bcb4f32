"""The SQL views of `sql_views.py`, kept current by the graph."""

import dagster as dg

from playlist_assets.warehouse import tables
from playlist_assets.partitions import WAREHOUSE_POOL
from playlist_assets.runtime.resources import WarehouseResource
from playlist_assets.warehouse.sql_views import VIEWS, create_views
from playlist_assets.warehouse.database import ensure_table


@dg.asset(
    key=["reports", "sql_views"],
    deps=[["reports", "cluster_reports"], ["analytics", "clusters"], ["raw", "artists"]],
    group_name="reports",
    kinds={"duckdb", "sql"},
    code_version="views-v2",  # v2: analytics.saved_clusters exists before the first save
    pool=WAREHOUSE_POOL,
    description="Views for common questions: " + "; ".join(f"{v.name} ({v.description})" for v in VIEWS),
)
def warehouse_views(warehouse_db: WarehouseResource):
    with warehouse_db.connect() as conn:
        # Saves create it too; made here so that SQL and `export` find it, empty, before the first.
        ensure_table(conn, tables.ANALYTICS_SAVED_CLUSTERS)
        names = create_views(conn)
    return dg.MaterializeResult(metadata={"views": ", ".join(names)})
