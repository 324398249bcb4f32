"""The sensor keeps partitions and reports in step with the library."""

from __future__ import annotations

import dagster as dg
import duckdb

from playlist_assets.automation import planning
from playlist_assets.automation.jobs import LANDING, playlists_follow_the_library
from playlist_assets.partitions import PLAYLISTS, partition_key
from playlist_assets.definitions import ASSETS, build_definitions, resources_for
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings


def evaluate(instance, settings) -> dg.SensorResult:
    # Only what the sensor asks for, as the daemon gives it (the worker pool is for runs).
    needed = {k: v for k, v in resources_for(settings).items() if k in ("warehouse_db", "reports")}
    context = dg.build_sensor_context(instance=instance, resources=needed, definitions=build_definitions(settings))
    return playlists_follow_the_library(context)


def as_ids(keys: list[str]) -> set[str]:
    """The playlist ids of partition keys (the name, "-", the id)."""
    return {key.split("-", 1)[1] for key in keys}


def test_only_edited_playlists_are_requested_and_the_index_follows(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    current = evaluate(instance, settings)
    assert current.run_requests == []  # everything is current
    assert current.skip_reason.skip_message == "All 12 reports are current; the index too."

    edited = settings.with_(demo_edits=2)
    landed = dg.materialize(ASSETS, selection=LANDING,
                            instance=instance, resources=resources_for(edited))
    assert landed.success
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        changed = {pid for (pid,) in conn.execute(
            "SELECT p.playlist_id FROM raw.playlists p JOIN analytics.cluster_reports r USING (playlist_id) "
            "WHERE p.snapshot_id <> r.snapshot_id").fetchall()}
    result = evaluate(instance, settings)
    assert len(changed) == 2
    keys = instance.get_dynamic_partitions(PLAYLISTS.name)
    changed_keys = {k for k in keys if as_ids([k]) <= changed}
    # The sensor asks for the runs the planner plans for exactly the edited playlists (the
    # command line asks the same planner): here one run, the two edits being close together.
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in result.run_requests] == planning.report_runs(keys, changed_keys)
    assert [r.job_name for r in result.run_requests] == ["playlist_reports"]
    first, last = planning.report_runs(keys, changed_keys)[0]
    assert changed_keys <= set(keys[keys.index(first) : keys.index(last) + 1])
    assert result.run_requests[0].asset_selection is None  # the index and views come in the same run
    # The same change is not requested twice once its runs exist (run keys are per snapshot).
    assert len({r.run_key for r in result.run_requests}) == len(result.run_requests)


def test_far_apart_edits_are_one_run_each_and_the_index_is_built_once(tmp_path, monkeypatch):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    before = instance.get_dynamic_partitions(PLAYLISTS.name)
    scatter, index = dg.AssetKey(["reports", "clusters_scatter"]), dg.AssetKey(["reports", "index"])

    def count(key, partition=None):
        wanted = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None)
        return len(instance.fetch_materializations(wanted, limit=100).records)

    history = {key: count(scatter, key) for key in before}
    indexes = count(index)
    # As in a library of thousands, where edits lie hundreds of partitions apart.
    monkeypatch.setattr(planning, "MERGE_GAP", 0)
    summary = materialize_everything(settings.with_(demo_edits=3), echo=lambda _: None, instance=instance,
                                     changed_only=True)

    assert summary.rebuilt == 3
    assert instance.get_dynamic_partitions(PLAYLISTS.name) == before  # partitions keep their order
    edited = {key for key in before if count(scatter, key) == history[key] + 1}
    assert len(edited) == 3
    assert all(count(scatter, key) == history[key] for key in set(before) - edited)
    positions = sorted(before.index(key) for key in edited)
    runs = len(planning.report_runs(before, edited))
    assert runs == len(summary.run_ids) - 1  # refresh_library, then one run per stretch of edits
    assert runs > 1 and positions[-1] - positions[0] > 2
    assert count(index) == indexes + 1  # in the last run only


def test_a_removed_playlist_loses_its_partition_rows_and_files(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    with duckdb.connect(str(settings.warehouse)) as conn:
        pid, name, report = conn.execute(
            "SELECT playlist_id, playlist_name, report_path FROM analytics.cluster_reports WHERE image_path IS NOT NULL LIMIT 1"
        ).fetchall()[0]
        conn.execute("DELETE FROM raw.playlists WHERE playlist_id = ?", [pid])  # the owner deleted it
    result = evaluate(instance, settings)
    assert [r.job_name for r in result.run_requests] == ["reports_index"]
    assert result.dynamic_partitions_requests[0].partition_keys == [partition_key(pid, name)]
    instance.delete_dynamic_partition(PLAYLISTS.name, partition_key(pid, name))
    index = dg.materialize(ASSETS, selection=dg.AssetSelection.assets(["reports", "index"]),
                           instance=instance, resources=resources_for(settings))
    assert index.success
    assert not (settings.reports / report).exists()
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        for table in ("playlist_clusters", "clusters", "cluster_reports", "unclustered_entries"):
            assert conn.execute(f"SELECT count(*) FROM analytics.{table} WHERE playlist_id = ?", [pid]).fetchall() == [(0,)]
    assert report not in (settings.reports / "README.md").read_text(encoding="utf-8")
    assert evaluate(instance, settings).run_requests == []


def test_the_planner_runs_each_stretch_and_merges_close_ones():
    keys = [f"p{i}" for i in range(10)]
    assert planning.report_runs(keys, set(), merge_gap=0) == []
    assert planning.report_runs(keys, {"p1", "p2", "p7"}, merge_gap=0) == [("p1", "p2"), ("p7", "p7")]
    # Four others lie between p2 and p7: one run when four may.
    assert planning.report_runs(keys, {"p1", "p2", "p7"}, merge_gap=3) == [("p1", "p2"), ("p7", "p7")]
    assert planning.report_runs(keys, {"p1", "p2", "p7"}, merge_gap=4) == [("p1", "p7")]
    assert planning.report_runs(keys, set(keys), merge_gap=0) == [("p0", "p9")]


def test_a_playlist_edited_back_to_a_state_built_before_is_requested_again(tmp_path):
    # The daemon skips a run key it has launched before: a key made of the playlist's state
    # alone would leave the playlist unbuilt for ever once it went back to an earlier state.
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    edited = settings.with_(demo_edits=1)
    keys = []
    for state in (edited, settings, edited):
        assert dg.materialize(ASSETS, selection=LANDING, instance=instance, resources=resources_for(state)).success
        requests = evaluate(instance, state).run_requests
        assert [r.job_name for r in requests] == ["playlist_reports"]
        keys.append(requests[0].run_key)
        materialize_everything(state, echo=lambda _: None, instance=instance, changed_only=True)
        assert evaluate(instance, state).run_requests == [] or evaluate(instance, state).run_requests[0].job_name == "reports_index"
    assert len(set(keys)) == 3, keys
