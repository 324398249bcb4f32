"""Clustering, partitioned by playlist: analytics.playlist_clusters, clusters, playlist_clusterings."""


import dagster as dg

from playlist_assets.clustering import analysis
from playlist_assets.warehouse import database, quality, queries, tables
from playlist_assets.clustering.kmeans import WEAK_SILHOUETTE, WEAK_STABILITY
from playlist_assets.warehouse.check_results import check_result
from playlist_assets.warehouse.table_metadata import add_partition_metadata, table_spec
from playlist_assets.partitions import PLAYLISTS, WAREHOUSE_POOL, playlists_of_run
from playlist_assets.runtime.resources import WarehouseResource
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.features.snapshot_assets import PLAYLIST_SNAPSHOTS

# Bump when this asset's output would change for the same inputs.
CLUSTERING_CODE_VERSION = "clustering-v4"  # v2: Ward starts; v3: SciPy's k-means; v4: true words, smallest k within noise, stability

CLUSTER_TABLES = (
    tables.ANALYTICS_PLAYLIST_CLUSTERS,
    tables.ANALYTICS_CLUSTERS,
    tables.ANALYTICS_PLAYLIST_CLUSTERINGS,
    tables.ANALYTICS_UNCLUSTERED_ENTRIES,
)
# Each partition reads its own playlist, so it depends on that playlist's snapshot (same
# partition key) rather than on the library-wide tables, which change with every landing.
UPSTREAM = [PLAYLIST_SNAPSHOTS.key]


@dg.multi_asset(
    specs=[
        table_spec(
            t,
            group_name="analytics",
            kinds={"duckdb", "scikitlearn"},
            code_version=CLUSTERING_CODE_VERSION,
            deps=UPSTREAM,
            partitions_def=PLAYLISTS,
            metadata={"partition_expr": "playlist_id"},
        )
        for t in CLUSTER_TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "entries_accounted_for",
            asset=["analytics", "unclustered_entries"],
            blocking=True,
            description="Every playlist entry is in a cluster or listed as not clustered with its reason.",
        ),
        dg.AssetCheckSpec(
            "clustering_quality",
            asset=["analytics", "playlist_clusterings"],
            description=(
                "Warns, naming them, about the library's playlists whose groups overlap: silhouette "
                f"below {WEAK_SILHOUETTE} or stability below {WEAK_STABILITY}, as their reports say."
            ),
        ),
    ],
    partitions_def=PLAYLISTS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    name="playlist_clustering",
)
def playlist_clustering(
    context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, workers: dg.ResourceParam[WorkerPool]
):
    """Standardise each playlist's features, project with PCA, and group with k-means.

    All playlists of the run are read in one query and written in one transaction that
    replaces exactly their rows, so re-running one playlist touches nothing else.
    """
    # The warehouse is not held while a large run clusters: SQL users and other runs can use it.
    with warehouse_db.held_for_small_run(len(context.partition_keys)):
        with warehouse_db.connect() as conn:
            run = playlists_of_run(context.partition_keys, queries.all_playlists(conn).iter_rows())
            ids = list(run.values())
            inputs = queries.clustering_inputs(conn, ids)
        result = analysis.cluster_library(inputs.playlists, inputs.entries, inputs.features, workers)
        with warehouse_db.connect() as conn:
            frames = {
                tables.ANALYTICS_PLAYLIST_CLUSTERS: result.playlist_clusters,
                tables.ANALYTICS_CLUSTERS: result.clusters,
                tables.ANALYTICS_PLAYLIST_CLUSTERINGS: result.playlist_clusterings,
                tables.ANALYTICS_UNCLUSTERED_ENTRIES: result.unclustered_entries,
            }
            database.replace_partitions(conn, frames, ids, log=context.log.info)
            accounted = quality.entries_accounted_for(conn, ids)
            # Over every playlist, not only this run's: the check's status must not depend on which
            # launch ran last.
            separated = quality.clustering_quality(conn, queries.playlist_ids(conn))

    summary_key = dg.AssetKey(["analytics", "playlist_clusterings"])
    names = dict(inputs.playlists.select("playlist_id", "name").iter_rows())
    key_of = {playlist_id: key for key, playlist_id in run.items()}
    # Every partition's metadata starts with its playlist's name, as the name is in the UI's lists.
    per_partition: dict[tuple[dg.AssetKey, str], dict] = {
        (dg.AssetKey([t.schema, t.name]), key): {"playlist": names.get(pid) or ""}
        for t in CLUSTER_TABLES
        for key, pid in run.items()
    }
    for row in result.playlist_clusterings.iter_rows(named=True):
        per_partition[(summary_key, key_of[row["playlist_id"]])] |= {
            "clustered": row["clustered"],
            "k": row["k"],
            "silhouette": row["silhouette"] if row["silhouette"] is not None else float("nan"),
            "stability": row["stability"] if row["stability"] is not None else float("nan"),
            "feature_set": row["feature_set"] or "none",
            "n_tracks": row["n_tracks"],
            "n_clustered": row["n_clustered"],
            "reason": row["reason"] or "",
        }
    for table, frame in frames.items():
        # Row counts are per playlist: in a run over many partitions each one shows its own.
        counts = dict(frame.group_by("playlist_id").len().iter_rows())
        asset_key = dg.AssetKey([table.schema, table.name])
        for key, playlist_id in run.items():
            per_partition[(asset_key, key)]["dagster/row_count"] = counts.get(playlist_id, 0)
            per_partition[(asset_key, key)]["row_count_of"] = "this playlist only (the table holds every playlist)"
            per_partition[(asset_key, key)]["playlists_in_run"] = len(run)
    add_partition_metadata(context, per_partition)
    for table in frames:
        # No run-wide metadata: Dagster would show it before each playlist's own, name first.
        yield dg.MaterializeResult(asset_key=[table.schema, table.name])
    yield check_result(accounted, ["analytics", "unclustered_entries"], "entries_accounted_for")
    yield check_result(
        separated, ["analytics", "playlist_clusterings"], "clustering_quality", dg.AssetCheckSeverity.WARN
    )
