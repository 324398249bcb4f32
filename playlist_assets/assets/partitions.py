"""One partition per playlist, keyed by its stable playlist_id."""

import dagster as dg

PLAYLISTS = dg.DynamicPartitionsDefinition(name="playlists")

# Code versions: bump when an asset's output would change for the same inputs.
RAW_CODE_VERSION = "raw-v2"  # v2: artists split, albums kept apart, entries keep who they are by, refused files
FEATURES_CODE_VERSION = "features-v1"
# What a playlist snapshot covers (queries.playlist_versions); bumping it makes every playlist unsynced.
SNAPSHOT_CODE_VERSION = "playlist-snapshots-v1"
CLUSTERING_CODE_VERSION = "clustering-v4"  # v2: Ward starts; v3: SciPy's k-means; v4: true words, smallest k within noise, stability
SCATTER_CODE_VERSION = "scatter-v4"  # v3: text without hinting, opaque plots as RGB; v4: legend below the axes
MARKDOWN_CODE_VERSION = "markdown-v4"  # v2: no autolinks, art only from Spotify; v3: every track listed, overlap said; v4: each cluster's track list, its saved playlist
LINEAGE_CODE_VERSION = "lineage-v3"  # v2: the playlist version each report describes; v3: stability
INDEX_CODE_VERSION = "index-v2"  # v2: names never autolink on GitHub

# Every asset that writes the DuckDB file runs in this pool, so writers take turns.
WAREHOUSE_POOL = "duckdb_warehouse"


def contiguous_stretches(ordered: list[str], wanted: set[str]) -> list[tuple[str, str]]:
    """(first, last) of each run of consecutive keys of `ordered` that are all in `wanted`."""
    stretches, start, previous = [], None, None
    for key in ordered:
        if key in wanted:
            start = start or key
            previous = key
        elif start is not None:
            stretches.append((start, previous))
            start = None
    if start is not None:
        stretches.append((start, previous))
    return stretches


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions first..last (single-run backfill)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
