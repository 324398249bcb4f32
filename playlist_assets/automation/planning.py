"""Which playlists need new reports, and the ranged runs that rebuild them.

The sensor and `playlist-assets materialize --changed-only` both ask these two functions, so the
UI and the command line agree on what is stale and on how it is rebuilt.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from playlist_assets.warehouse import quality, queries

# A run costs about as much as rebuilding this many playlists' reports besides (setting it up,
# recording its steps): stale playlists at most this many apart share one run, the ones between
# them rebuilt too. Measured in benchmarks/README.md.
MERGE_GAP = 25


def playlists_to_rebuild(
    conn: duckdb.DuckDBPyConnection, code_version: str, recorded: Mapping[str, str], reports_root: Path
) -> dict[str, str]:
    """playlist_id -> why its report is rebuilt: "" when it is missing or describes another
    snapshot, content version (`recorded`, by playlist_id), code version or saved playlist; the
    id of the run whose files are no longer on disk as it wrote them (a run killed mid-write)."""
    stale = dict.fromkeys(queries.playlists_needing_reports(conn, code_version, recorded), "")
    for playlist_id, run_id in quality.reports_unlike_their_lineage(conn, reports_root).items():
        stale.setdefault(playlist_id, run_id)
    return stale


def report_runs(ordered: list[str], stale: set[str], merge_gap: int | None = None) -> list[tuple[str, str]]:
    """(first, last) of each ranged run that rebuilds every partition key in `stale`.

    Dagster runs a contiguous range of partitions (in `ordered`, the partition order) as one
    run; stale keys with at most `merge_gap` (default MERGE_GAP) others between them go in the
    same run, those others rebuilt too.
    """
    merge_gap = MERGE_GAP if merge_gap is None else merge_gap
    runs: list[tuple[str, str]] = []
    last_index = None
    for index, key in enumerate(ordered):
        if key not in stale:
            continue
        if runs and index - last_index - 1 <= merge_gap:
            runs[-1] = (runs[-1][0], key)
        else:
            runs.append((key, key))
        last_index = index
    return runs
