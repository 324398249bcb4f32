"""The sensor keeps partitions and reports in step with the library."""

from __future__ import annotations

import dagster as dg
import duckdb

from playlist_assets.assets.automation import playlists_follow_the_library
from playlist_assets.assets.partitions import PLAYLISTS, partition_key
from playlist_assets.definitions import ASSETS, resources_for
from playlist_assets.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings


def evaluate(instance, settings) -> dg.SensorResult:
    # Only what the sensor asks for, as the daemon gives it (the worker pool is for runs).
    needed = {k: v for k, v in resources_for(settings).items() if k in ("warehouse_db", "reports")}
    context = dg.build_sensor_context(instance=instance, resources=needed)
    return playlists_follow_the_library(context)


def as_ids(keys: list[str]) -> set[str]:
    """The playlist ids of partition keys (the name's slug, "-", the id)."""
    return {key.split("-", 1)[1] for key in keys}


def test_only_edited_playlists_are_requested_and_the_index_follows(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    current = evaluate(instance, settings)
    assert current.run_requests == []  # everything is current
    assert current.skip_reason.skip_message == "All 12 reports are current; the index too."

    edited = settings.with_(demo_edits=2)
    landed = dg.materialize(ASSETS, selection=dg.AssetSelection.groups("raw", "features"),
                            instance=instance, resources=resources_for(edited))
    assert landed.success
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        changed = {pid for (pid,) in conn.execute(
            "SELECT p.playlist_id FROM raw.playlists p JOIN analytics.cluster_reports r USING (playlist_id) "
            "WHERE p.snapshot_id <> r.snapshot_id").fetchall()}
    result = evaluate(instance, settings)
    assert len(changed) == 2
    built = set()
    for request in result.run_requests:
        assert request.job_name == "playlist_reports"
        first = request.tags["dagster/asset_partition_range_start"]
        last = request.tags["dagster/asset_partition_range_end"]
        keys = instance.get_dynamic_partitions(PLAYLISTS.name)
        built |= as_ids(keys[keys.index(first) : keys.index(last) + 1])
    assert built == changed  # exactly the edited playlists
    # The landing moved their partitions together to the end, so one ranged run builds both.
    assert len(result.run_requests) == 1
    assert as_ids(instance.get_dynamic_partitions(PLAYLISTS.name)[-2:]) == changed
    # The same change is not requested twice once its runs exist (run keys are per snapshot).
    assert len({r.run_key for r in result.run_requests}) == len(result.run_requests)


def test_a_refresh_of_scattered_edits_is_one_run_and_keeps_every_partitions_history(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    before = instance.get_dynamic_partitions(PLAYLISTS.name)
    scatter = dg.AssetKey(["reports", "clusters_scatter"])
    history = {
        key: len(instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=scatter, asset_partitions=[key]), limit=10
        ).records)
        for key in before
    }

    summary = materialize_everything(settings.with_(demo_edits=3), echo=lambda _: None, instance=instance,
                                     changed_only=True)

    after = instance.get_dynamic_partitions(PLAYLISTS.name)
    edited = after[-3:]
    assert summary.rebuilt == 3
    assert sorted(after) == sorted(before)
    # The edits were spread over the library; their partitions now close the list, in their old order.
    assert [before.index(key) for key in edited] == sorted(before.index(key) for key in edited)
    assert max(before.index(key) for key in edited) - min(before.index(key) for key in edited) > 2
    assert len(summary.run_ids) == 2  # refresh_library, then one playlist_reports run (with the index) for the three
    for key in before:
        kept = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=scatter, asset_partitions=[key]), limit=10
        ).records
        assert len(kept) == history[key] + (key in edited)


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
