"""The whole graph on a Dagster instance kept in PostgreSQL, configured by deploy/dagster.yaml.

A real server from Debian's `postgresql` package (`make postgres-deps`) is started in a
temporary folder on a free port, so a cluster the package may have started itself is left
alone. Without the package the test is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from playlist_assets.warehouse import queries
from playlist_assets.partitions import PLAYLISTS, WAREHOUSE_POOL
from playlist_assets.reports.report_assets import OVERVIEW_KEY
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets.warehouse.database import connect, scalar
from playlist_assets_tests.conftest import make_settings

DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
URL_VARIABLE = "DAGSTER_POSTGRES_URL"


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres_url():
    """A running PostgreSQL server for this module: its SQLAlchemy URL (psycopg2 driver)."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        _unavailable("PostgreSQL's server is not installed (make postgres-deps installs Debian's postgresql)")
    for module in ("dagster_postgres", "psycopg2"):
        try:
            importlib.import_module(module)
        except ImportError:
            _unavailable(f"{module} is not installed (pip install -e '.[dev]')")

    # initdb refuses to run as root: as root, the server runs as the package's `postgres` user.
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Short, in /tmp: the server's Unix socket lives here, and socket paths are limited to ~100 bytes.
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    if as_postgres:
        shutil.chown(root, user="postgres", group="postgres")
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def pg(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_postgres, *args], capture_output=True, text=True, timeout=120)

    started = False
    try:
        done = pg(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        assert done.returncode == 0, f"initdb failed:\n{done.stdout}\n{done.stderr}"
        started = True  # even a failed or timed-out start may leave a server: stopped below regardless
        # -l: the server's output goes to a file, not to pg_ctl's pipe (which it would keep open).
        done = pg(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start",
        )
        assert done.returncode == 0, (
            f"the PostgreSQL server did not start:\n{done.stdout}\n{done.stderr}\n"
            + (log.read_text() if log.exists() else "")
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_the_whole_graph_runs_on_a_postgres_instance_built_from_the_deploy_config(
    postgres_url, tmp_path, monkeypatch
):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv(URL_VARIABLE, postgres_url)
    # As deploy/README.md asks: partition events written in batches by the stock Postgres log.
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "2000")
    settings = make_settings(tmp_path, demo_playlists="6", demo_tracks="30")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        # The file's storage is what the instance uses: nothing falls back to SQLite.
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)

        summary = materialize_everything(settings, echo=lambda _: None, instance=instance)

        assert summary.playlists == 6 and summary.rebuilt == 6
        with connect(settings.warehouse, read_only=True) as conn:
            playlist_ids = queries.playlist_ids(conn)
            assert scalar(conn, "SELECT count(*) FROM analytics.cluster_reports") == 6
            report_paths = [r[0] for r in conn.execute("SELECT report_path FROM analytics.cluster_reports").fetchall()]
        assert len(playlist_ids) == 6
        assert all((settings.reports / path).is_file() for path in report_paths), report_paths
        assert (settings.reports / "README.md").is_file()

        runs = instance.get_runs()
        assert {run.run_id for run in runs} == set(summary.run_ids)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs), [r.status for r in runs]
        # One partition per playlist (its key holds the playlist's id), each with its report.
        keys = instance.get_dynamic_partitions(PLAYLISTS.name)
        assert len(keys) == 6 and all(sum(pid in key for key in keys) == 1 for pid in playlist_ids), keys
        status = instance.get_status_by_partition(OVERVIEW_KEY, keys, PLAYLISTS)
        assert set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}, status
        # The writer pool of deploy/dagster.yaml (one slot), and nothing left claimed in it.
        pool = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
        assert pool.slot_count == 1 and not pool.claimed_slots

        # Staleness read from the Postgres event log: nothing changed, nothing rebuilt ...
        again = materialize_everything(settings, echo=lambda _: None, instance=instance, changed_only=True)
        assert again.rebuilt == 0 and again.playlists == 6
        # ... and exactly the edited playlists when two change.
        edited = materialize_everything(
            settings.with_(demo_edits=2), echo=lambda _: None, instance=instance, changed_only=True
        )
        assert edited.rebuilt == 2 and edited.playlists == 6
        assert sorted(instance.get_dynamic_partitions(PLAYLISTS.name)) == sorted(keys)
        runs = instance.get_runs()
        assert len(runs) == len(summary.run_ids) + len(again.run_ids) + len(edited.run_ids)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)

    # The history is in the database itself, for the daemon and the webserver to read.
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT count(*) FROM runs")).scalar() == len(runs)
            assert conn.execute(sqlalchemy.text("SELECT count(*) FROM dynamic_partitions")).scalar() == 6
    finally:
        engine.dispose()
