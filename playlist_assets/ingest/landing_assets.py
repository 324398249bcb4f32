"""Landing the library in the raw.* tables, all of them in one transaction."""


from datetime import datetime, timezone

import dagster as dg

from playlist_assets.warehouse import database, quality, queries, tables
from playlist_assets.warehouse.check_results import check_result
from playlist_assets.warehouse.table_metadata import table_spec, table_written
from playlist_assets.partitions import PLAYLISTS, WAREHOUSE_POOL, keys_by_id
from playlist_assets.runtime.resources import LibrarySource, WarehouseResource
from playlist_assets.ingest.sources.errors import SourceError

# Bump when this asset's output would change for the same inputs.
RAW_CODE_VERSION = "raw-v2"  # v2: artists split, albums kept apart, entries keep who they are by, refused files

RAW_SPECS = [
    table_spec(t, group_name="raw", kinds={"duckdb", "polars"}, code_version=RAW_CODE_VERSION)
    for t in tables.RAW_TABLES
]


RAW_CHECKS = [
    dg.AssetCheckSpec(
        "keys_unique_and_present",
        asset=[t.schema, t.name],
        blocking=True,
        description=f"Every row of {t.qualified_name} has a key ({', '.join(t.primary_key)}), and no key repeats.",
    )
    for t in tables.RAW_TABLES
] + [
    dg.AssetCheckSpec(
        "audio_features_in_range",
        asset=["raw", "audio_features"],
        blocking=True,
        description="Every audio feature lies within its documented range (0-1, BPM, dB, key -1..11).",
    )
]


def _check_results(conn) -> list[dg.AssetCheckResult]:
    results = []
    for table in tables.RAW_TABLES:
        finding = quality.keys_unique_and_present(conn, table)
        results.append(check_result(finding, [table.schema, table.name], "keys_unique_and_present"))
    finding = quality.audio_features_in_range(conn)
    results.append(check_result(finding, ["raw", "audio_features"], "audio_features_in_range"))
    return results


@dg.multi_asset(specs=RAW_SPECS, check_specs=RAW_CHECKS, pool=WAREHOUSE_POOL, name="raw_library")
def raw_library(
    context: dg.AssetExecutionContext, source: LibrarySource, warehouse_db: WarehouseResource
):
    """Read the whole library from the configured source and replace every raw table at once.

    The source is read completely before anything is written, and all tables are replaced in
    one transaction: a failure leaves the previous snapshot exactly as it was. A library that
    breaks the rules of the blocking checks below is refused before that transaction, for the
    same reason: the checks run on what was written, too late to keep the previous snapshot.
    """
    with warehouse_db.connect() as conn:
        # Incremental sources (Spotify) read only what changed since the last landing.
        library, cost = source.load(
            fetched_at=datetime.now(timezone.utc),
            previous=lambda: queries.raw_library(conn),
            log=context.log.info,
        )
        frames = library.by_table()
        refusals = quality.landing_refusals(frames)
        if refusals:
            raise SourceError(" ".join(refusals))
        database.replace_tables(conn, frames, log=context.log.info)
        checks = _check_results(conn)

    # Partitions follow the library here, so nobody has to add or remove keys by hand; the
    # reports of removed playlists are dropped when the index is rebuilt.
    wanted = list(keys_by_id(library.playlists.select("playlist_id", "name").iter_rows()).values())
    known = context.instance.get_dynamic_partitions(PLAYLISTS.name)
    new = [key for key in wanted if key not in set(known)]
    if new:
        context.instance.add_dynamic_partitions(PLAYLISTS.name, new)
        context.log.info(f"Added {len(new)} playlist partition(s).")
    # A removed or renamed playlist: its old key goes (a renamed one has just got its new key).
    for gone in sorted(set(known) - set(wanted)):
        context.instance.delete_dynamic_partition(PLAYLISTS.name, gone)

    for table, frame in frames.items():
        metadata = table_written(table, frame)
        if table is tables.RAW_PLAYLISTS:
            metadata.update(cost, new_playlists=len(new), source=source.kind)
        yield dg.MaterializeResult(asset_key=[table.schema, table.name], metadata=metadata)
    yield from checks
