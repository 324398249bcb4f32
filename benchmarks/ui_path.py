"""How long a person waits in the Dagster UI: a real `dagster dev`, driven over GraphQL.

    .venv/bin/python benchmarks/ui_path.py                 # the 12-playlist demo
    .venv/bin/python benchmarks/ui_path.py --playlists 1000 --tracks 100

It launches `refresh_library` as the UI's Launch button does and waits until every playlist's
report is current and the index rebuilt, built by the sensor's runs (the way a UI user gets
them), then prints the wall time from launch to done and the runs it took. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playlist_assets.runtime.instance import prepare_instance_folder  # noqa: E402
from playlist_assets_tests.e2e_support import (  # noqa: E402
    LOCATION_NAME,
    REPO_ROOT,
    REPOSITORY_NAME,
    LAUNCH_RUN,
    E2EError,
    all_runs,
    poll_until,
    start_dagster_dev,
    wait_until_ready,
)


def _launch_job(server, job: str) -> str:
    selector = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME, "jobName": job}
    answer = server.graphql(LAUNCH_RUN, {"params": {"selector": selector}})["launchRun"]
    if answer["__typename"] != "LaunchRunSuccess":
        raise E2EError(f"launchRun answered {answer}")
    return answer["run"]["runId"]


def _all_current(warehouse: Path, playlists: int, reports: Path) -> bool | None:
    if not warehouse.exists() or not (reports / "README.md").exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            done = conn.execute(
                """SELECT count(*) FROM raw.playlists p JOIN analytics.cluster_reports r USING (playlist_id)
                   WHERE r.snapshot_id IS NOT DISTINCT FROM p.snapshot_id"""
            ).fetchone()[0]
            latest = conn.execute("SELECT max(materialized_at) FROM analytics.cluster_reports").fetchone()[0]
    except duckdb.Error:
        return None  # a run is writing: ask again
    if done < playlists or latest is None:
        return None
    # The index must have been written after the last report.
    return True if (reports / "README.md").stat().st_mtime >= latest.timestamp() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--playlists", type=int, default=12)
    parser.add_argument("--tracks", type=int, default=120)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ui-path-"))
    home = root / "dagster_home"
    prepare_instance_folder(home)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYLIST_ASSETS_", "DAGSTER_"))}
    warehouse, reports = root / "playlists.duckdb", root / "reports"
    env = {
        **inherited,
        "DAGSTER_HOME": str(home),
        "PLAYLIST_ASSETS_WAREHOUSE": str(warehouse),
        "PLAYLIST_ASSETS_REPORTS": str(reports),
        "PLAYLIST_ASSETS_DEMO_PLAYLISTS": str(args.playlists),
        "PLAYLIST_ASSETS_DEMO_TRACKS": str(args.tracks),
    }
    server = start_dagster_dev(REPO_ROOT / "workspace.yaml", root / "dagster_dev.log", env)
    try:
        wait_until_ready(server, timeout_s=180)
        started = time.monotonic()
        _launch_job(server, "refresh_library")
        poll_until(lambda: _all_current(warehouse, args.playlists, reports), args.timeout, "every report", 1)
        seconds = time.monotonic() - started
        runs = all_runs(server)
    finally:
        server.stop()
    jobs = sorted(run["jobName"] for run in runs)
    print(f"UI path, {args.playlists} playlists x {args.tracks} entries: {seconds:.1f} s from Launch to "
          f"every report current and the index rebuilt; {len(runs)} runs ({', '.join(jobs)})")
    print(f"(folder kept: {root})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
