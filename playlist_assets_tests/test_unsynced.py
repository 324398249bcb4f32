"""Dagster's "unsynced" (stale) status singles out exactly the playlists whose content changed.

The status is read the way the UI reads it for a partition (GraphQL `staleStatus(partition:)`):
with Dagster's stale-status resolver over the project's own definitions and run history.
"""

from __future__ import annotations

import dagster as dg
import duckdb
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from playlist_assets.automation.jobs import PER_PLAYLIST
from playlist_assets.clustering.clustering_assets import playlist_clustering
from playlist_assets.partitions import PLAYLISTS, keys_by_id, range_tags
from playlist_assets.automation import planning
from playlist_assets.reports.report_assets import CODE_VERSION
from playlist_assets.features.snapshot_assets import PLAYLIST_SNAPSHOTS, recorded_versions
from playlist_assets.definitions import ASSETS, build_definitions, resources_for
from playlist_assets.runtime.instance import prepare_instance_folder
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings
from playlist_assets_tests.test_automation import evaluate

def asset_graph(settings, assets=ASSETS):
    return dg.Definitions(assets=assets, resources=resources_for(settings)).resolve_asset_graph()


def unsynced(instance, settings, assets=ASSETS) -> set[tuple[str, str]]:
    """(asset, playlist) of every per-playlist partition that is not FRESH."""
    graph = asset_graph(settings, assets)
    resolver = CachingStaleStatusResolver(instance, graph, loading_context=LoadingContextForTest(instance))
    found = set()
    for key in PER_PLAYLIST.resolve(graph):
        for playlist in instance.get_dynamic_partitions(PLAYLISTS.name):
            if resolver.get_status(key, playlist) != StaleStatus.FRESH:
                found.add((key.to_user_string(), playlist_id(playlist)))
    return found


def land(instance, settings) -> None:
    """The library refresh as the schedule runs it: the `refresh_library` job."""
    job = build_definitions(settings).resolve_job_def("refresh_library")
    assert job.execute_in_process(instance=instance).success


def requested_playlists(instance, settings) -> set[str]:
    """Every playlist in the ranges of the report runs the sensor requests."""
    order = instance.get_dynamic_partitions(PLAYLISTS.name)
    found = set()
    for request in evaluate(instance, settings).run_requests:
        if "dagster/asset_partition_range_start" in request.tags:
            first = order.index(request.tags["dagster/asset_partition_range_start"])
            last = order.index(request.tags["dagster/asset_partition_range_end"])
            found.update(playlist_id(key) for key in order[first : last + 1])
    return found


def playlist_id(key: str) -> str:
    return key.split("-", 1)[1]  # a partition key: the name, "-", the playlist id


def keys(settings) -> dict[str, str]:
    """playlist_id -> partition key, from the warehouse."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        return keys_by_id(conn.execute("SELECT playlist_id, name FROM raw.playlists").fetchall())


def snapshot_records(instance) -> int:
    return len(instance.fetch_materializations(PLAYLIST_SNAPSHOTS.key, limit=10_000).records)


def test_editing_one_playlist_makes_exactly_its_partitions_unsynced(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="8", demo_tracks="30")
    # The project's instance folder, whose event log stores the versions in batches.
    prepare_instance_folder(settings.dagster_home)
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    playlists = instance.get_dynamic_partitions(PLAYLISTS.name)
    assert len(playlists) == 8
    assert unsynced(instance, settings) == set()
    assert snapshot_records(instance) == 8  # one version recorded per playlist

    # Landing the same library again changes nothing, and records nothing.
    land(instance, settings)
    assert unsynced(instance, settings) == set()
    assert snapshot_records(instance) == 8

    # "Materialize all" over every partition (one ranged run, snapshots first) leaves every
    # playlist with its own version, not one version for the range: nothing is unsynced.
    versions = recorded_versions(instance, keys(settings))
    everything = PER_PLAYLIST | dg.AssetSelection.assets(PLAYLIST_SNAPSHOTS.key)
    assert dg.materialize(ASSETS, selection=everything, instance=instance, resources=resources_for(settings),
                          tags=range_tags(playlists[0], playlists[-1])).success
    assert recorded_versions(instance, keys(settings)) == versions
    assert len(set(versions.values())) == 8
    assert unsynced(instance, settings) == set()

    # The owner edits one playlist in the source; the library is landed again.
    edited = settings.with_(demo_edits=1)
    land(instance, edited)
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        (changed,) = [pid for (pid,) in conn.execute(
            "SELECT p.playlist_id FROM raw.playlists p JOIN analytics.cluster_reports r USING (playlist_id) "
            "WHERE p.snapshot_id <> r.snapshot_id").fetchall()]
    per_playlist = {key.to_user_string() for key in PER_PLAYLIST.resolve(asset_graph(settings))}
    assert {"analytics/playlist_clusters", "reports/clusters_scatter", "reports/overview"} <= per_playlist
    assert unsynced(instance, settings) == {(key, changed) for key in per_playlist}
    assert snapshot_records(instance) == 8 + 16 + 1  # the run above recorded each twice
    # The sensor asks for the same playlist the UI shows as unsynced.
    requested = {r.tags["dagster/asset_partition_range_start"] for r in evaluate(instance, edited).run_requests}
    assert requested == {keys(settings)[changed]}

    # Materializing the unsynced partitions (one ranged run) brings everything back in sync.
    rebuilt = dg.materialize(ASSETS, selection=PER_PLAYLIST, instance=instance, resources=resources_for(edited),
                             tags=range_tags(keys(settings)[changed], keys(settings)[changed]))
    assert rebuilt.success
    assert unsynced(instance, settings) == set()

    # A track renamed in the library: exactly the playlists holding it become unsynced.
    with duckdb.connect(str(settings.warehouse)) as conn:
        track, holders = conn.execute(
            "SELECT track_id, list(DISTINCT playlist_id) FROM raw.playlist_tracks WHERE track_id IS NOT NULL "
            "GROUP BY track_id HAVING count(DISTINCT playlist_id) = 2 ORDER BY track_id LIMIT 1").fetchall()[0]
        conn.execute("UPDATE raw.tracks SET name = name || ' (Remastered)' WHERE track_id = ?", [track])
    features_only = dg.AssetSelection.assets(["features", "track_features"])
    assert dg.materialize(ASSETS, selection=features_only, instance=instance, resources=resources_for(edited)).success
    assert {playlist for _, playlist in unsynced(instance, settings)} == set(holders)
    # Their snapshots did not change, yet the sensor and `--changed-only` rebuild them (the
    # planner they share may add the few playlists between two, to save a run).
    assert requested_playlists(instance, edited) >= set(holders)
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        recorded = recorded_versions(instance, keys(settings))
        assert set(planning.playlists_to_rebuild(conn, CODE_VERSION, recorded, settings.reports)) == set(holders)
    for holder in holders:
        assert dg.materialize(ASSETS, selection=PER_PLAYLIST, instance=instance, resources=resources_for(edited),
                              tags=range_tags(keys(settings)[holder], keys(settings)[holder])).success
    assert unsynced(instance, settings) == set()
    assert requested_playlists(instance, edited) == set()

    # A new clustering code version makes every clustering partition unsynced.
    bumped = playlist_clustering.map_asset_specs(lambda spec: spec.replace_attributes(code_version="clustering-next"))
    assets = [bumped if a is playlist_clustering else a for a in ASSETS]
    clustering_keys = {spec.key.to_user_string() for spec in playlist_clustering.specs}
    assert {(k, p) for k, p in unsynced(instance, settings, assets) if k in clustering_keys} == {
        (k, playlist_id(p)) for k in clustering_keys for p in playlists
    }
