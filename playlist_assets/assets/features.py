"""features.track_features: one model-ready row per track, computed with polars."""


import dagster as dg

from playlist_assets import features, tables, warehouse
from playlist_assets.assets.metadata import table_spec, table_written
from playlist_assets.assets.partitions import FEATURES_CODE_VERSION, WAREHOUSE_POOL
from playlist_assets.assets.resources import WarehouseResource
from playlist_assets.assets.snapshots import record_changed_versions

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
        frame = features.track_features(
            warehouse.read_frame(conn, "SELECT * FROM raw.tracks"),
            warehouse.read_frame(conn, "SELECT * FROM raw.albums"),
            warehouse.read_frame(conn, "SELECT * FROM raw.audio_features"),
        )
        warehouse.replace_tables(conn, {TABLE: frame}, log=context.log.info)
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
