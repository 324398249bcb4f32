"""Four runs writing the warehouse at once: none fails on the DuckDB lock, no row is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import dagster as dg
import duckdb

from playlist_assets.partitions import PLAYLISTS
from playlist_assets.runtime.instance import prepare_instance_folder
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings

RUN_RANGE = textwrap.dedent("""
    import sys
    import dagster as dg
    from playlist_assets.automation.jobs import PER_PLAYLIST
    from playlist_assets.partitions import range_tags
    from playlist_assets.definitions import ASSETS, resources_for
    from playlist_assets.runtime.settings import Settings
    result = dg.materialize(
        ASSETS, selection=PER_PLAYLIST, instance=dg.DagsterInstance.get(),
        resources=resources_for(Settings.from_env()), tags=range_tags(sys.argv[1], sys.argv[2]),
        raise_on_error=False,
    )
    sys.exit(0 if result.success else 1)
""")


def table_rows(settings) -> dict[str, int]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM analytics.{t}").fetchall()[0][0]
            for t in ("playlist_clusters", "clusters", "playlist_clusterings", "unclustered_entries", "cluster_reports")
        }


def test_four_concurrent_runs_take_turns_and_lose_nothing(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    prepare_instance_folder(settings.dagster_home)  # the project's dagster.yaml: one writer slot
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    before = table_rows(settings)
    keys = instance.get_dynamic_partitions(PLAYLISTS.name)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(settings.dagster_home),
        "PLAYLIST_ASSETS_WAREHOUSE": str(settings.warehouse),
        "PLAYLIST_ASSETS_REPORTS": str(settings.reports),
        "PLAYLIST_ASSETS_DEMO_PLAYLISTS": "12",
        "PLAYLIST_ASSETS_DEMO_TRACKS": "30",
    }
    runs = [
        subprocess.Popen([sys.executable, "-c", RUN_RANGE, keys[i], keys[i + 2]], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in (0, 3, 6, 9)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], "\n".join(o[-2000:] for o in outputs)
    assert not any("lock" in o.lower() and "error" in o.lower() for o in outputs)
    assert table_rows(settings) == before


def test_the_command_holds_no_warehouse_lock_while_it_waits_for_the_writer_slot(tmp_path, monkeypatch):
    # A run launched from the UI may take the writer slot between two of the command's runs; its
    # steps then open the DuckDB file. Were the command still holding the file while it waits
    # for the slot, each would wait for the other until one failed.
    from playlist_assets.runtime import owned_runs

    first = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    prepare_instance_folder(first.dagster_home)
    instance = dg.DagsterInstance.from_config(str(first.dagster_home))
    materialize_everything(first, echo=lambda _: None, instance=instance)
    settings = first.with_(demo_edits=3)  # three playlists edited: the landing, then report runs
    opened_by_another_process = []
    wait_for_slot = owned_runs.wait_for_slot

    def another_process_opens_the_file_first(*args, **kwargs):
        probe = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(settings.warehouse)],
            capture_output=True, text=True, timeout=120,
        )
        opened_by_another_process.append(probe.returncode == 0 or probe.stderr[-300:])
        return wait_for_slot(*args, **kwargs)

    monkeypatch.setattr(owned_runs, "wait_for_slot", another_process_opens_the_file_first)
    summary = materialize_everything(settings, echo=lambda _: None, instance=instance, changed_only=True)
    assert summary.rebuilt == 3 and len(summary.run_ids) >= 2  # the landing, then the reports
    assert opened_by_another_process == [True] * len(summary.run_ids)


def _another_process_can_open(path) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True).close()", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    return probe.returncode == 0


def test_a_small_runs_step_keeps_the_warehouse_open_and_a_large_runs_step_frees_it_between_connects(tmp_path):
    from playlist_assets.runtime.resources import HOLD_BELOW_PLAYLISTS, WarehouseResource

    path = tmp_path / "w.duckdb"
    warehouse = WarehouseResource(path=str(path), lock_wait_s=0.5)
    free_while_computing = {}
    for playlists in (1, HOLD_BELOW_PLAYLISTS):
        with warehouse.held_for_small_run(playlists):
            with warehouse.connect() as conn:
                conn.execute(f"CREATE OR REPLACE TABLE t AS SELECT {playlists} AS n")
            # Between a step's read and its write (while it clusters or draws), as SQL users see it.
            free_while_computing[playlists] = _another_process_can_open(path)
            with warehouse.connect() as conn:
                assert conn.execute("SELECT n FROM t").fetchall() == [(playlists,)]
        assert _another_process_can_open(path), "the step's end must free the warehouse"
    assert free_while_computing == {1: False, HOLD_BELOW_PLAYLISTS: True}
