"""features.track_features: one model-ready row per track, computed with polars."""


import dagster as dg

from playlist_assets.features import feature_table
from playlist_assets.warehouse import database, tables
from playlist_assets.warehouse.table_metadata import table_spec, table_written
from playlist_assets.partitions import WAREHOUSE_POOL
from playlist_assets.runtime.resources import WarehouseResource
from playlist_assets.features.snapshot_assets import record_changed_versions

# Bump when this asset's output would change for the same inputs.
FEATURES_CODE_VERSION = "features-v1"
TABLE = tables.FEATURES_TRACK_FEATURES


@dg.multi_asset(
    specs=[
        table_spec(
            TABLE,
            group_name="features",
            kinds={"duckdb", "polars"},
            code_version=FEATURES_CODE_VERSION,
            deps=[["raw", "tracks"], ["raw", "albums"], ["raw", "audio_features"]],
        )
    ],
    pool=WAREHOUSE_POOL,
    name="track_features",
)
def track_features(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource):
    """Join tracks, albums and audio features into standardisable feature columns.

    The last step of every library refresh, so it also records which playlists changed
    (features/playlist_snapshots): what the per-playlist assets read is final only now, and
    recording them here, not in a run of their own, makes their reports unsynced at once.
    """
    with warehouse_db.connect() as conn:
        frame = feature_table.track_features(
            database.read_frame(conn, "SELECT * FROM raw.tracks"),
            database.read_frame(conn, "SELECT * FROM raw.albums"),
            database.read_frame(conn, "SELECT * FROM raw.audio_features"),
        )
        database.replace_tables(conn, {TABLE: frame}, log=context.log.info)
    with_features = int(frame["has_audio_features"].sum())
    # Stored first, so that the snapshots recorded next name this materialization as their input.
    yield dg.MaterializeResult(
        metadata={
            **table_written(TABLE, frame),
            "tracks_with_audio_features": with_features,
            "tracks_without_audio_features": frame.height - with_features,
            "feature_set": tables.FEATURE_SET_VERSION,
        }
    )
    with warehouse_db.connect() as conn:
        changed = record_changed_versions(context, conn)
    context.log.info(f"{changed} playlist snapshot(s) changed and recorded (features/playlist_snapshots).")
