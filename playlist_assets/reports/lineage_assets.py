"""Lineage of every report (reports/cluster_reports, the table analytics.cluster_reports; written by
the one step of reports/report_files_assets.py) and the index of all reports."""

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import polars as pl

from playlist_assets.reports import files
from playlist_assets.warehouse import database, queries, tables
from playlist_assets.warehouse.table_metadata import table_spec
from playlist_assets.partitions import WAREHOUSE_POOL
from playlist_assets.reports.report_assets import (
    CODE_VERSION,
    OVERVIEW_KEY,
    SCATTER_KEY,
    TRACK_FEATURES_KEY,
    slugs_of_library,
)
from playlist_assets.runtime.resources import ReportsResource, WarehouseResource
from playlist_assets.features.snapshot_assets import PLAYLIST_SNAPSHOTS
from playlist_assets.reports.markdown import render_index
from playlist_assets.reports.model import IndexEntry, RefusedFile
from playlist_assets.reports.paths import report_path, scatter_path, track_features_path, track_features_plot_path
from playlist_assets.reports.track_lists import FILE_GLOB as TRACK_LISTS

# Bump when this asset's output would change for the same inputs.
LINEAGE_CODE_VERSION = "lineage-v4"  # v2: the playlist version each report describes; v3: stability; v4: Track Features files
INDEX_CODE_VERSION = "index-v3"  # v2: names never autolink on GitHub; v3: Track features column
LINEAGE = tables.ANALYTICS_CLUSTER_REPORTS
REFUSED = tables.RAW_REFUSED_FILES
# Lineage of the reports, so in the reports group and under its prefix; the table is analytics.cluster_reports.
LINEAGE_KEY = dg.AssetKey(["reports", "cluster_reports"])
# Older than any write under way: a plot or report is written in well under a second.
STALE_TEMPORARY_S = 600
# The files a lineage row names; a row written before the Track Features page names only the first two.
FILE_COLUMNS = ("report_path", "image_path", "features_page_path", "features_image_path")


LINEAGE_SPEC = table_spec(
    LINEAGE,
    key=LINEAGE_KEY,
    group_name="reports",
    kinds={"duckdb"},
    code_version=LINEAGE_CODE_VERSION,
    deps=[
        SCATTER_KEY, OVERVIEW_KEY, TRACK_FEATURES_KEY, PLAYLIST_SNAPSHOTS.key,
        ["analytics", "playlist_clusterings"],
    ],
    metadata={"partition_expr": "playlist_id"},
)


def write_lineage(
    conn, root: Path, run_id: str, run: dict[str, str], slugs: dict[str, str], versions: dict[str, str], log
) -> dict:
    """Lineage of each report of `run` (partition key -> playlist_id): its files and their
    hashes, snapshot, features, code version and run, in analytics.cluster_reports; files the
    lineage named before under another path (a renamed playlist) are removed. Its partition
    metadata."""
    now = datetime.now(timezone.utc)
    keys = list(run.values())  # playlist ids, as the warehouse keys them
    key_of = {pid: key for key, pid in run.items()}
    ids = [sorted(keys)]
    summary = database.read_frame(
        conn,
        """SELECT p.playlist_id, p.name, p.snapshot_id, p.source, c.clustered, c.feature_set,
                  c.feature_providers, c.k, c.silhouette, c.stability, c.n_tracks, c.n_clustered
           FROM raw.playlists p JOIN analytics.playlist_clusterings c USING (playlist_id)
           WHERE p.playlist_id IN (SELECT unnest(?::VARCHAR[]))""",
        ids,
    )
    previous = _previous_paths(conn, keys)
    rows = []
    for s in summary.iter_rows(named=True):
        slug = slugs[s["playlist_id"]]
        md, png = str(report_path(slug)), str(scatter_path(slug))
        has_png = (root / png).is_file() and bool(s["clustered"])
        page, page_png = str(track_features_path(slug)), str(track_features_plot_path(slug))
        has_page, has_page_png = (root / page).is_file(), (root / page_png).is_file()
        rows.append(
            {
                "playlist_id": s["playlist_id"],
                "playlist_name": s["name"],
                "slug": slug,
                "report_path": md,
                "image_path": png if has_png else None,
                "report_sha256": files.sha256_of(root / md),
                "image_sha256": files.sha256_of(root / png) if has_png else None,
                "features_page_path": page if has_page else None,
                "features_page_sha256": files.sha256_of(root / page) if has_page else None,
                "features_image_path": page_png if has_page_png else None,
                "features_image_sha256": files.sha256_of(root / page_png) if has_page_png else None,
                "snapshot_id": s["snapshot_id"],
                "playlist_version": versions.get(s["playlist_id"]),
                "source": s["source"],
                "feature_set": f"{tables.FEATURE_SET_VERSION}/{s['feature_set'] or 'none'}",
                "feature_providers": s["feature_providers"],
                "code_version": CODE_VERSION,
                "run_id": run_id,
                "k": s["k"],
                "silhouette": s["silhouette"],
                "stability": s["stability"],
                "n_tracks": s["n_tracks"],
                "n_clustered": s["n_clustered"],
                "materialized_at": now,
            }
        )
    frame = LINEAGE.conform(pl.DataFrame(rows, schema=LINEAGE.polars_schema))
    database.replace_partitions(conn, {LINEAGE: frame}, keys, log=log)
    _remove_moved_reports(root, previous, {r["playlist_id"]: r for r in rows})
    return {
        (LINEAGE_KEY, key_of[r["playlist_id"]]): {
            "playlist": r["playlist_name"] or "",
            "dagster/row_count": 1,
            "row_count_of": "this playlist only (the table holds every playlist)",
            "report_path": r["report_path"],
            "report_sha256": r["report_sha256"] or "",
            "snapshot_id": r["snapshot_id"] or "",
            "k": r["k"],
            "reports_in_run": len(rows),
        }
        for r in rows
    }


def _previous_paths(conn, keys: list[str]) -> dict[str, dict[str, str | None]]:
    """playlist_id -> {file column: path} of the files the lineage names for `keys`."""
    present = database.existing_columns(conn, LINEAGE)
    if present is None:
        return {}
    columns = [c for c in FILE_COLUMNS if c in present]
    rows = conn.execute(
        f"SELECT playlist_id, {', '.join(columns)} FROM {LINEAGE.qualified_name} "
        "WHERE playlist_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(keys)],
    ).fetchall()
    return {pid: dict(zip(columns, paths)) for pid, *paths in rows}


def _remove_moved_reports(root: Path, previous: dict, current: dict) -> None:
    """A renamed playlist gets a new folder; its old files must not linger as if current."""
    for pid, paths in previous.items():
        now = current.get(pid)
        for column, old in paths.items():
            if old and old != (now and now[column]):
                (root / old).unlink(missing_ok=True)
        old_md = paths["report_path"]
        if old_md and old_md != (now and now["report_path"]):
            _remove_track_lists(root / old_md)


@dg.asset(
    key=["reports", "index"],
    deps=[LINEAGE_KEY, REFUSED.qualified_name.split(".")],
    group_name="reports",
    kinds={"markdown"},
    code_version=INDEX_CODE_VERSION,
    pool=WAREHOUSE_POOL,
)
def reports_index(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, reports: ReportsResource):
    """reports/README.md: every playlist, a link to its report, or the reason there is none.

    Playlists that left the library lose their analytics rows and report files here, so no
    report outlives its playlist pretending to be current.
    """
    root = Path(reports.path)
    with warehouse_db.connect() as conn:
        removed = _remove_reports_of_removed_playlists(conn, root)
        if removed:
            context.log.info(f"Removed the reports of {len(removed)} playlist(s) no longer in the library.")
        # Writes a killed run left half done; the rerun that rewrote their files removed
        # the rest, these belong to files nobody rewrote (a playlist renamed or removed since).
        files.remove_stale_temporaries(root, STALE_TEMPORARY_S)
        # A lineage table written before the Track Features page has no column for it.
        lineage_columns = database.existing_columns(conn, LINEAGE) or []
        page = "r.features_page_path" if "features_page_path" in lineage_columns else "NULL"
        rows = database.read_frame(
            conn,
            f"""SELECT p.playlist_id, p.name, p.n_entries, c.clustered, c.reason, c.k,
                      c.n_tracks, c.n_clustered, r.report_path, r.image_path,
                      {page} AS features_page_path
               FROM raw.playlists p
               LEFT JOIN analytics.playlist_clusterings c USING (playlist_id)
               LEFT JOIN analytics.cluster_reports r USING (playlist_id)
               ORDER BY lower(p.name), p.playlist_id""",
        ) if database.existing_columns(conn, LINEAGE) else pl.DataFrame()
        slugs = slugs_of_library(conn)
        refused = [
            RefusedFile(file, reason)
            for file, reason in conn.execute(
                f"SELECT file, reason FROM {REFUSED.qualified_name} ORDER BY file"
            ).fetchall()
        ] if database.existing_columns(conn, REFUSED) else []
    entries = [
        IndexEntry(
            name=r["name"] or "",
            slug=slugs[r["playlist_id"]],
            n_tracks=r["n_tracks"] or 0,
            n_clustered=r["n_clustered"] or 0,
            k=r["k"] or 0,
            has_report=bool(r["report_path"]) and (root / r["report_path"]).is_file(),
            has_image=bool(r["image_path"]) and (root / r["image_path"]).is_file(),
            has_track_features=bool(r["features_page_path"]) and (root / r["features_page_path"]).is_file(),
            reason=None if r["clustered"] else (r["reason"] or "not clustered yet"),
        )
        for r in rows.iter_rows(named=True)
    ]
    text = render_index(entries, refused)
    path = root / "README.md"
    files.write_atomic(path, text.encode("utf-8"))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "playlists": len(entries),
            "with_clusters": sum(1 for e in entries if e.reason is None),
            "index": dg.MetadataValue.md(text),
            "removed_playlists": len(removed),
            "refused_files": dg.MetadataValue.json({r.file: r.reason for r in refused}),
        }
    )


def _remove_reports_of_removed_playlists(conn, root: Path) -> list[str]:
    gone = queries.reports_of_removed_playlists(conn)
    if not gone:
        return []
    named = _previous_paths(conn, gone)  # read before the rows that name them are gone
    database.replace_partitions(conn, {t: t.empty_frame() for t in tables.ANALYTICS_TABLES}, gone)
    for paths in named.values():
        for rel in paths.values():
            if rel:
                (root / rel).unlink(missing_ok=True)
        if paths["report_path"]:
            _remove_track_lists(root / paths["report_path"])
    return gone


def _remove_track_lists(report: Path) -> None:
    """The clusters' track lists beside a report go with it (reports.overview writes them)."""
    for old in report.parent.glob(TRACK_LISTS):
        old.unlink(missing_ok=True)
