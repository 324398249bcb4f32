"""The `playlist-assets` command as a user runs it: a process that leaves everything written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "playlist_assets.runtime.cli", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_materialize_exits_zero_with_the_warehouse_reports_and_summary_complete(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYLIST_ASSETS_")}
    summary = tmp_path / "summary.json"
    done = run_cli(
        "materialize", "--demo-playlists", "6", "--demo-tracks", "25",
        "--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(tmp_path / "reports"),
        "--dagster-home", str(tmp_path / "dagster"), "--summary-json", str(summary), env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Done in" in done.stdout  # the last lines reach the terminal before the process ends
    assert json.loads(summary.read_text())["playlists"] == 6
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        reports = conn.execute("SELECT count(*) FROM analytics.cluster_reports").fetchone()[0]
    assert reports == 6
    assert (tmp_path / "reports" / "README.md").is_file()
    # The event log's files hold all their events: none is left in a WAL for the next reader
    # (the UI) to recover.
    logs = tmp_path / "dagster" / "history" / "runs"
    assert len(list(logs.glob("*.db"))) == 3  # the index and the command's two runs
    assert [wal.name for wal in logs.glob("*.db-wal") if wal.stat().st_size] == []


def test_bad_input_exits_non_zero_with_one_sentence(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYLIST_ASSETS_")}
    done = run_cli("materialize", "--workers", "many", "--dagster-home", str(tmp_path / "d"), env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == "playlist-assets: PLAYLIST_ASSETS_WORKERS (or --workers) must be a number, not 'many'."
