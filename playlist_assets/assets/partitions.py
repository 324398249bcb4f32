"""One partition per playlist, keyed by its stable playlist_id."""

import dagster as dg

PLAYLISTS = dg.DynamicPartitionsDefinition(name="playlists")

# Code versions: bump when an asset's output would change for the same inputs.
RAW_CODE_VERSION = "raw-v1"
FEATURES_CODE_VERSION = "features-v1"
CLUSTERING_CODE_VERSION = "clustering-v1"
SCATTER_CODE_VERSION = "scatter-v1"
MARKDOWN_CODE_VERSION = "markdown-v1"
LINEAGE_CODE_VERSION = "lineage-v1"
INDEX_CODE_VERSION = "index-v1"

# Every asset that writes the DuckDB file runs in this pool, so writers take turns.
WAREHOUSE_POOL = "duckdb_warehouse"
