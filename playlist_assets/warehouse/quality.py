"""Data-quality rules over the warehouse, each returning what a reader needs to act on it.

Pure functions over a DuckDB connection; the Dagster asset checks (`check_results.py`) call
them, and so can anyone from SQL-land. `landing_refusals` applies the raw tables' rules to a
library's frames before they are written, so a library that breaks them never replaces one
that did not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from playlist_assets.clustering.kmeans import WEAK_SILHOUETTE, WEAK_STABILITY
from playlist_assets.reports.files import sha256_of
from playlist_assets.warehouse.tables import ANALYTICS_CLUSTER_REPORTS as LINEAGE
from playlist_assets.warehouse.tables import RAW_AUDIO_FEATURES, Table
from playlist_assets.warehouse.database import existing_columns, scalar

# Documented ranges of the audio-feature columns (see tables.AUDIO_FEATURE_COLUMNS).
AUDIO_FEATURE_RANGES: dict[str, tuple[float, float]] = {
    "danceability": (0, 1),
    "energy": (0, 1),
    "speechiness": (0, 1),
    "acousticness": (0, 1),
    "instrumentalness": (0, 1),
    "liveness": (0, 1),
    "valence": (0, 1),
    "key": (-1, 11),
    "mode": (0, 1),
    "loudness": (-60, 5),
    "tempo": (0, 300),
    "time_signature": (0, 7),
}
# Providers that are services rather than files: their values cannot be fixed by the user.
API_FEATURE_PROVIDERS = ("spotify", "reccobeats")
_IDS = "(SELECT unnest(?::VARCHAR[]))"


@dataclass(frozen=True)
class Finding:
    passed: bool
    summary: str
    details: dict = field(default_factory=dict)


def keys_unique_and_present(conn: duckdb.DuckDBPyConnection, table: Table) -> Finding:
    keys = ", ".join(table.primary_key)
    nulls = " OR ".join(f"{k} IS NULL" for k in table.primary_key)
    null_rows = scalar(conn, f"SELECT count(*) FROM {table.qualified_name} WHERE {nulls}")
    dupes = scalar(
        conn,
        f"SELECT count(*) FROM (SELECT {keys} FROM {table.qualified_name} GROUP BY ALL HAVING count(*) > 1)",
    )
    return Finding(
        null_rows == 0 and dupes == 0,
        f"{table.qualified_name}: {null_rows} rows with a null key, {dupes} duplicated keys",
        {"null_key_rows": null_rows, "duplicated_keys": dupes},
    )


def audio_features_in_range(conn: duckdb.DuckDBPyConnection) -> Finding:
    out_of_range = {}
    for column, (low, high) in AUDIO_FEATURE_RANGES.items():
        n = scalar(conn, f"SELECT count(*) FROM raw.audio_features WHERE {column} NOT BETWEEN ? AND ?", [low, high])
        if n:
            out_of_range[column] = n
    return Finding(
        not out_of_range,
        "every audio feature within its documented range"
        if not out_of_range
        else f"values outside their documented range: {out_of_range}",
        {"out_of_range": out_of_range},
    )


def landing_refusals(frames: Mapping[Table, pl.DataFrame]) -> list[str]:
    """Why these raw frames may not land, one sentence per broken rule; empty when they may.

    The same rules as the raw tables' blocking checks (`keys_unique_and_present`,
    `audio_features_in_range`), applied before anything is written: by the time a check
    failed, the tables it judged had already replaced the previous library.
    """
    refusals = [r for table, frame in frames.items() if (r := _key_refusal(table, frame))]
    audio_features = frames.get(RAW_AUDIO_FEATURES)
    if audio_features is not None:
        refusals += _out_of_range_refusals(audio_features)
    return refusals


def _key_refusal(table: Table, frame: pl.DataFrame) -> str | None:
    key = list(table.primary_key)
    keys = frame.select(key)
    missing = keys.select(pl.any_horizontal(pl.all().is_null())).to_series()
    repeated = keys.is_duplicated() & ~missing
    if not missing.any() and not repeated.any():
        return None
    key_name = ", ".join(key)
    problems = []
    if repeated.any():
        shown = ", ".join(repr(v) for v in keys.filter(repeated).row(0))
        problems.append(f"{_rows(repeated.sum())} whose key ({key_name}) another row has too, e.g. {shown}")
    if missing.any():
        problems.append(f"{_rows(missing.sum())} without a {key_name}")
    return (
        f"{table.qualified_name} has {', and '.join(problems)}, so the library was not landed: "
        f"each row needs a {key_name} of its own; fix the source files (one row per key) or "
        "report the source that produced these rows."
    )


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _out_of_range_refusals(frame: pl.DataFrame) -> list[str]:
    refusals = []
    for column, (low, high) in AUDIO_FEATURE_RANGES.items():
        if column not in frame.columns:
            continue
        # Polars counts NaN as greater than any number, so a NaN is outside too, as in DuckDB's check.
        outside = ~pl.col(column).is_between(low, high)
        bad = frame.filter(outside.fill_null(False))  # a missing feature is allowed, not wrong
        if bad.is_empty():
            continue
        example = bad.row(0, named=True)
        provider = example.get("provider")
        if provider in API_FEATURE_PROVIDERS:
            fix = (
                f"leave {provider} out of PLAYLIST_ASSETS_FEATURE_PROVIDERS until it sends values in "
                "range, or report the track"
            )
        else:
            fix = (
                "fix the file (it may use another scale, such as 0-100 for 0-1) or remove the column, "
                "leaving that feature empty rather than wrong"
            )
        refusals.append(
            f"{RAW_AUDIO_FEATURES.qualified_name}.{column} has {bad.height} of {frame.height} rows "
            f"outside its range {low:g} to {high:g}, e.g. track {example['track_id']} with {column} = "
            f"{example[column]:g}{f' (from {provider})' if provider else ''}, so the library was not "
            f"landed: {fix}."
        )
    return refusals


def entries_accounted_for(conn: duckdb.DuckDBPyConnection, playlist_ids: list[str]) -> Finding:
    """Every entry's track is in a cluster, or the entry is listed as unclustered with a reason."""
    rows = conn.execute(
        f"""
        SELECT pt.playlist_id, count(*) AS lost
        FROM raw.playlist_tracks pt
        WHERE pt.playlist_id IN {_IDS}
          AND NOT EXISTS (SELECT 1 FROM analytics.playlist_clusters pc
                          WHERE pc.playlist_id = pt.playlist_id AND pc.track_id = pt.track_id)
          AND NOT EXISTS (SELECT 1 FROM analytics.unclustered_entries u
                          WHERE u.playlist_id = pt.playlist_id AND u.position = pt.position
                            AND u.reason IS NOT NULL)
        GROUP BY 1 ORDER BY 1
        """,
        [sorted(playlist_ids)],
    ).fetchall()
    lost = dict(rows)
    return Finding(
        not lost,
        "every entry is in a cluster or listed with its reason"
        if not lost
        else f"{sum(lost.values())} entries in no cluster and without a reason",
        {"entries_unaccounted_by_playlist": lost},
    )


def dead_links(markdown: str, markdown_path: Path, root: Path) -> list[str]:
    """Relative links of a Markdown file that point at no file, or outside `root`."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown) + re.findall(r'src="([^"]+)"', markdown)
    dead = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # absolute URL or in-page anchor
        resolved = (markdown_path.parent / target).resolve()
        if not resolved.is_file() or root.resolve() not in resolved.parents:
            dead.append(target)
    return dead


def reports_links_resolve(root: Path, report_paths: list[str]) -> Finding:
    broken = {}
    for rel in report_paths:
        path = root / rel
        if not path.is_file():
            broken[rel] = ["(the report itself is missing)"]
            continue
        dead = dead_links(path.read_text(encoding="utf-8"), path, root)
        if dead:
            broken[rel] = dead
    return Finding(
        not broken,
        f"all links resolve in {len(report_paths)} Markdown page(s): each playlist's report and Track Features page"
        if not broken
        else f"dead links in {len(broken)} of {len(report_paths)} Markdown page(s)",
        {"dead_links": broken},
    )


def clustering_quality(conn: duckdb.DuckDBPyConnection, playlist_ids: list[str]) -> Finding:
    """Clustered playlists whose groups overlap: the ones whose report says "These groups
    overlap" (silhouette below WEAK_SILHOUETTE or stability below WEAK_STABILITY), by name."""
    rows = conn.execute(
        f"""SELECT p.name, c.silhouette, c.stability
            FROM analytics.playlist_clusterings c JOIN raw.playlists p USING (playlist_id)
            WHERE c.clustered AND c.playlist_id IN {_IDS} ORDER BY p.name, c.playlist_id""",
        [sorted(playlist_ids)],
    ).fetchall()
    overlapping = [
        f"{name}: silhouette {silhouette:.2f}, stability {stability:.2f}"
        for name, silhouette, stability in rows
        if (silhouette is not None and silhouette < WEAK_SILHOUETTE)
        or (stability is not None and stability < WEAK_STABILITY)
    ]
    scores = [s for _, s, _ in rows if s is not None]
    rule = f"silhouette below {WEAK_SILHOUETTE} or stability below {WEAK_STABILITY}"
    return Finding(
        not overlapping,
        f"{len(rows)} clustered playlist(s): "
        + (f"{len(overlapping)} with overlapping groups ({rule}), as their reports say" if overlapping
           else "every one with separate, stable groups"),
        {
            "clustered_playlists": len(rows),
            "lowest_silhouette": round(min(scores), 2) if scores else None,
            "mean_silhouette": round(sum(scores) / len(scores), 2) if scores else None,
            "overlapping": overlapping,
        },
    )


# (path, SHA-256) columns of the files a lineage row names; the report's path is never null.
_LINEAGE_FILES = (
    ("report_path", "report_sha256"),
    ("image_path", "image_sha256"),
    ("features_page_path", "features_page_sha256"),
    ("features_image_path", "features_image_sha256"),
)


def reports_unlike_their_lineage(conn: duckdb.DuckDBPyConnection, root: Path) -> dict[str, str]:
    """Playlists whose report, plot or Track Features files on disk are missing, or are not the
    files their lineage recorded (a run killed while writing leaves some files new and some old),
    each with the run that wrote that lineage.

    The sensor asks this every few seconds: a file not modified since its lineage was written
    (the lineage comes after the files) is taken as recorded, and only newer ones are hashed.
    """
    present = existing_columns(conn, LINEAGE)
    if present is None:
        return {}
    # A lineage table written before the Track Features page has no columns for it.
    pairs = [(path, sha) for path, sha in _LINEAGE_FILES if path in present]
    columns = ", ".join(f"{path}, {sha}" for path, sha in pairs)
    rows = conn.execute(
        f"SELECT playlist_id, run_id, epoch(materialized_at), {columns} FROM {LINEAGE.qualified_name} ORDER BY playlist_id"
    ).fetchall()
    unlike = {}
    for playlist_id, run_id, written_at, *named in rows:
        files = list(zip(named[0::2], named[1::2]))
        if any(path is not None and _differs(root / path, sha, written_at) for path, sha in files):
            unlike[playlist_id] = run_id
    return unlike


def _differs(path: Path, sha: str | None, written_at: float | None) -> bool:
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return True
    if written_at is not None and modified <= written_at:
        return False
    return sha256_of(path) != sha
