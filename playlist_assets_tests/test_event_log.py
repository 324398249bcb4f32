"""The instance folder's event log: batched writes keep every partition's history readable."""

import json
import os
import shutil
import sqlite3

import dagster as dg
import sqlalchemy
from dagster._core.storage.event_log import SqliteEventLogStorage

from playlist_assets.runtime.event_log import DATA_VERSION_TAG, BatchedSqliteEventLogStorage, log_materializations_as_one_batch
from playlist_assets.runtime.instance import PREVIOUS_TEMPLATE, TEMPLATE, WITH_EVENT_LOG_TEMPLATE, prepare_instance_folder

KEYS = [f"playlist-{i:02d}" for i in range(25)]
PARTS = dg.DynamicPartitionsDefinition(name="event_log_test")


@dg.asset(partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
def per_partition(context: dg.AssetExecutionContext) -> None:
    for key in context.partition_keys:
        context.add_asset_metadata({"tracks": int(key[-2:])}, partition_key=key)


@dg.asset_check(asset=per_partition)
def always_passes() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def instance_in(tmp_path) -> dg.DagsterInstance:
    prepare_instance_folder(tmp_path)
    return dg.DagsterInstance.from_config(str(tmp_path))


def test_a_run_over_many_partitions_records_each_with_its_metadata(tmp_path):
    # A folder name YAML would misread unquoted.
    instance = instance_in(tmp_path / "runs: #1")
    assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
    instance.add_dynamic_partitions(PARTS.name, KEYS)

    result = dg.materialize(
        [per_partition, always_passes],
        instance=instance,
        tags={"dagster/asset_partition_range_start": KEYS[0], "dagster/asset_partition_range_end": KEYS[-1]},
    )

    assert result.success
    assert instance.get_materialized_partitions(per_partition.key) == set(KEYS)
    # Read back through a second instance, as the webserver would: nothing lives only in memory.
    reader = dg.DagsterInstance.from_config(str(tmp_path / "runs: #1"))
    records = reader.fetch_materializations(per_partition.key, limit=100).records
    tracks = {r.partition_key: r.asset_materialization.metadata["tracks"].value for r in records}
    assert tracks == {key: int(key[-2:]) for key in KEYS}
    planned = reader.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    assert len(planned.records) >= 1
    # The asset's own bookkeeping (what the UI's asset list reads) points at the run's last event.
    entry = reader.get_asset_records([per_partition.key])[0].asset_entry
    assert entry.last_run_id == result.run_id
    latest = max(records, key=lambda r: r.storage_id)
    assert entry.last_materialization_record.storage_id == latest.storage_id
    assert entry.last_materialization_record.partition_key == latest.partition_key
    check = reader.get_latest_asset_check_evaluation_record(always_passes.check_key)
    assert check is not None and check.event.dagster_event.event_specific_data.passed  # type: ignore[union-attr]


def test_partitions_this_process_adds_or_deletes_are_seen_at_once(tmp_path):
    instance = instance_in(tmp_path)
    instance.add_dynamic_partitions(PARTS.name, KEYS[:3])
    assert instance.get_dynamic_partitions(PARTS.name) == KEYS[:3]
    instance.add_dynamic_partitions(PARTS.name, [KEYS[3]])
    assert instance.has_dynamic_partition(PARTS.name, KEYS[3])
    instance.delete_dynamic_partition(PARTS.name, KEYS[0])
    assert instance.get_dynamic_partitions(PARTS.name) == KEYS[1:4]
    # Another process (a new instance object) reads the same list from the file.
    assert dg.DagsterInstance.from_config(str(tmp_path)).get_dynamic_partitions(PARTS.name) == KEYS[1:4]


def test_an_untouched_old_dagster_yaml_is_brought_up_to_date_and_an_edited_one_is_kept(tmp_path):
    old, edited = tmp_path / "old", tmp_path / "edited"
    for folder in (old, edited):
        folder.mkdir()
    (old / "dagster.yaml").write_text(PREVIOUS_TEMPLATE)
    (edited / "dagster.yaml").write_text(PREVIOUS_TEMPLATE + "run_queue:\n  max_concurrent_runs: 2\n")

    prepare_instance_folder(old)
    prepare_instance_folder(edited)

    assert "BatchedSqliteEventLogStorage" in (old / "dagster.yaml").read_text()
    assert (edited / "dagster.yaml").read_text().endswith("max_concurrent_runs: 2\n")


def test_an_untouched_dagster_yaml_of_the_last_version_gains_run_monitoring(tmp_path):
    (tmp_path / "dagster.yaml").write_text(
        WITH_EVENT_LOG_TEMPLATE.format(event_log_dir=json.dumps(str(tmp_path / "history" / "runs")))
    )
    prepare_instance_folder(tmp_path)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    # Slots of a run that ended without releasing them (a crashed run process) are freed.
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def test_a_dagster_yaml_naming_the_event_log_where_it_used_to_be_is_updated(tmp_path):
    # Before the package was laid out by stage, the module was playlist_assets.event_log.
    runs = json.dumps(str(tmp_path / "history" / "runs"))
    (tmp_path / "dagster.yaml").write_text(
        TEMPLATE.replace("playlist_assets.runtime.event_log", "playlist_assets.event_log").format(event_log_dir=runs)
    )
    prepare_instance_folder(tmp_path)
    assert "module: playlist_assets.runtime.event_log" in (tmp_path / "dagster.yaml").read_text()
    assert isinstance(dg.DagsterInstance.from_config(str(tmp_path)).event_log_storage, BatchedSqliteEventLogStorage)


def test_a_copied_instance_folder_records_runs_in_its_own_history(tmp_path):
    original, copy, edited, elsewhere = (tmp_path / name for name in ("original", "copy", "edited", "elsewhere"))
    prepare_instance_folder(original)
    for folder in (copy, edited, elsewhere):
        folder.mkdir()
        shutil.copy(original / "dagster.yaml", folder / "dagster.yaml")
    hand_written = (original / "dagster.yaml").read_text() + "run_queue:\n  max_concurrent_runs: 2\n"
    (edited / "dagster.yaml").write_text(hand_written)
    # A log placed elsewhere by hand: the same file as written, but for its event log path.
    events_elsewhere = (original / "dagster.yaml").read_text().replace('/history/runs"', '/events"')
    (elsewhere / "dagster.yaml").write_text(events_elsewhere)

    instance = instance_in(copy)
    instance.add_dynamic_partitions(PARTS.name, KEYS[:2])
    prepare_instance_folder(edited)
    prepare_instance_folder(elsewhere)

    assert (copy / "history" / "runs" / "index.db").is_file()
    assert not (original / "history").exists()
    # A user's edits are never overwritten.
    assert (edited / "dagster.yaml").read_text() == hand_written
    assert (elsewhere / "dagster.yaml").read_text() == events_elsewhere


def run_file_layout(storage, run) -> tuple:
    with sqlite3.connect(storage.path_for_shard(run)) as db:
        tables = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        return tables, db.execute("SELECT version_num FROM alembic_version").fetchall(), db.execute(
            "PRAGMA journal_mode"
        ).fetchone()


def test_a_new_run_database_is_set_up_as_dagsters_own_storage_sets_it_up(tmp_path):
    ours = instance_in(tmp_path / "ours").event_log_storage
    dagsters = dg.DagsterInstance.from_config(str(tmp_path / "ours")).event_log_storage
    plain = SqliteEventLogStorage(str(tmp_path / "plain"))
    for storage, runs in ((ours, ("a-run", "b-run")), (plain, ("a-run",))):
        for run in runs:
            with storage.run_connection(run):
                pass
    assert type(dagsters) is BatchedSqliteEventLogStorage
    assert run_file_layout(ours, "a-run") == run_file_layout(plain, "a-run") == run_file_layout(ours, "b-run")
    assert run_file_layout(ours, "b-run")[1]  # stamped with a migration revision


def test_new_run_databases_are_copies_of_one_set_up_once_a_process(tmp_path, monkeypatch):
    # Every run gets a database file; setting one up (tables, WAL, Dagster's ~90 migration
    # scripts) cost ~20 ms a run, and the command line starts six runs for a small refresh.
    from playlist_assets.runtime import event_log

    instance = instance_in(tmp_path)
    with instance.event_log_storage.run_connection("first-run"):
        pass
    set_up = []
    monkeypatch.setattr(event_log.SqlEventLogStorageMetadata, "create_all", lambda engine: set_up.append(engine))
    instance.add_dynamic_partitions(PARTS.name, KEYS)
    first_three = {"dagster/asset_partition_range_start": KEYS[0], "dagster/asset_partition_range_end": KEYS[2]}
    result = dg.materialize([per_partition, always_passes], instance=instance, tags=first_three)
    assert result.success and not set_up
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert len(instance.fetch_materializations(per_partition.key, limit=10).records) == 3


def test_where_hard_links_are_refused_each_run_database_is_set_up_in_place(tmp_path, monkeypatch):
    # Some file systems (FAT, some network and FUSE mounts) have no hard links.
    from playlist_assets.runtime import event_log

    def refused(source, target):
        raise PermissionError(f"no hard links: {target}")

    monkeypatch.setattr(event_log.os, "link", refused)
    instance = instance_in(tmp_path)
    plain = SqliteEventLogStorage(str(tmp_path / "plain"))
    with plain.run_connection("a-run"):
        pass
    for run in ("a-run", "b-run"):
        with instance.event_log_storage.run_connection(run):
            pass
        assert run_file_layout(instance.event_log_storage, run) == run_file_layout(plain, "a-run")
    assert not [p.name for p in (tmp_path / "history" / "runs").iterdir() if p.suffix == ".new"]


def test_a_run_database_another_process_set_up_is_kept_as_it_is(tmp_path):
    instance = instance_in(tmp_path)
    storage = instance.event_log_storage
    # Dagster's own storage on the same folder (as the webserver or daemon) sets up a run's file
    # and writes an event in it before this process first opens it.
    theirs = SqliteEventLogStorage(os.path.dirname(storage.path_for_shard("shared-run")))
    with theirs.run_connection("shared-run") as conn:
        conn.execute(sqlalchemy.text("INSERT INTO event_logs (run_id, event, dagster_event_type) VALUES ('shared-run', '{}', 'THEIRS')"))
    with storage.run_connection("shared-run") as conn:
        kept = conn.execute(sqlalchemy.text("SELECT dagster_event_type FROM event_logs")).fetchall()
    assert kept == [("THEIRS",)]


OBSERVED = dg.AssetKey("recorded_per_partition")


@dg.asset(deps=[OBSERVED])
def observes_every_partition(context: dg.AssetExecutionContext) -> None:
    log_materializations_as_one_batch(context, [
        dg.AssetMaterialization(asset_key=OBSERVED, partition=key, tags={DATA_VERSION_TAG: f"version of {key}"})
        for key in KEYS
    ])


def test_each_indexed_tag_belongs_to_the_event_of_its_own_partition(tmp_path):
    # One batch of materializations, written with one statement: the index's tag rows must point at
    # the event each came from (staleness reads a partition's data version through them).
    instance = instance_in(tmp_path)
    instance.add_dynamic_partitions(PARTS.name, KEYS)
    assert dg.materialize([observes_every_partition], instance=instance).success
    index = sqlite3.connect(tmp_path / "history" / "runs" / "index.db")
    pairs = index.execute(
        "SELECT e.partition, t.value FROM asset_event_tags t JOIN event_logs e ON e.id = t.event_id "
        "WHERE t.key = ? AND e.asset_key = ?",
        [DATA_VERSION_TAG, OBSERVED.to_string()],
    ).fetchall()
    assert sorted(pairs) == [(key, f"version of {key}") for key in KEYS]
