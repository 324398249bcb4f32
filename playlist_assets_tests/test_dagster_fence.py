"""The one module that uses Dagster's private API (event_log.py), checked against the Dagster
installed: a Dagster upgrade that moves what it uses fails here, not in a user's run."""

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from playlist_assets.runtime import event_log
from playlist_assets.warehouse.table_metadata import add_partition_metadata
from playlist_assets.runtime.instance import prepare_instance_folder

PACKAGE = Path(__file__).resolve().parents[1] / "playlist_assets"
PARTS = dg.DynamicPartitionsDefinition(name="fence_parts")
KEYS = ["a-1", "b-2", "c-3"]
SEEN = dg.AssetKey(["fence", "seen"])


def test_no_other_module_reaches_into_dagsters_private_modules():
    reaching = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"\bdagster\._", path.read_text(encoding="utf-8"))
    )
    assert reaching == ["runtime/event_log.py"]


def test_the_installed_dagster_is_the_one_the_batched_log_was_tested_with():
    # When this fails, re-run the suite on the new Dagster (event log, metadata, observations)
    # and move TESTED_DAGSTER; until then the instance falls back to the stock storage.
    assert event_log.dagster_is_tested(dg.__version__), (dg.__version__, event_log.TESTED_DAGSTER)


UPSTREAM = dg.AssetKey(["fence", "upstream"])
BY_DAGSTER = dg.AssetKey(["fence", "by_dagster"])


@dg.asset(key=UPSTREAM, code_version="u1")
def upstream() -> None:
    pass


@dg.asset(key=BY_DAGSTER, deps=[UPSTREAM], code_version="v1")
def by_dagster() -> None:
    pass


@dg.asset(partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
def fenced(context: dg.AssetExecutionContext) -> None:
    keys = list(context.partition_keys)
    add_partition_metadata(context, {(context.asset_key, key): {"which": key} for key in keys})
    inputs, pointers = event_log.provenance_tags(context.instance, "v1", [UPSTREAM])
    event_log.log_materializations_as_one_batch(
        context,
        [
            dg.AssetMaterialization(
                asset_key=SEEN, partition=key, tags={**inputs, **pointers, **event_log.user_data_version_tags(f"v-{key}")}
            )
            for key in keys
        ],
    )


def test_per_partition_metadata_and_batched_materializations_land_on_each_partition(tmp_path):
    prepare_instance_folder(tmp_path)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    assert type(instance.event_log_storage).__name__ == "BatchedSqliteEventLogStorage"
    instance.add_dynamic_partitions(PARTS.name, KEYS)
    seen = dg.AssetSpec(SEEN, partitions_def=PARTS, deps=[UPSTREAM], code_version="v1")
    assets = [fenced, seen, upstream, by_dagster]
    assert dg.materialize(assets, selection=[UPSTREAM, BY_DAGSTER], instance=instance).success
    result = dg.materialize(
        assets, selection=[fenced.key], instance=instance,
        tags={"dagster/asset_partition_range_start": KEYS[0], "dagster/asset_partition_range_end": KEYS[-1]},
    )
    assert result.success
    records = instance.fetch_materializations(fenced.key, limit=10).records
    assert {r.partition_key: r.asset_materialization.metadata["which"].value for r in records} == {k: k for k in KEYS}
    tags = instance.event_log_storage.get_latest_tags_by_partition(
        SEEN, dg.DagsterEventType.ASSET_MATERIALIZATION, [event_log.DATA_VERSION_TAG]
    )
    assert {key: t[event_log.DATA_VERSION_TAG] for key, t in tags.items()} == {k: f"v-{k}" for k in KEYS}
    # The tags are the ones Dagster writes on its own materializations, with the same values
    # for the code version and the input's version and event.
    ours = instance.fetch_materializations(SEEN, limit=1).records[0].asset_materialization.tags
    theirs = instance.fetch_materializations(BY_DAGSTER, limit=1).records[0].asset_materialization.tags
    shared = set(theirs) - {event_log.DATA_VERSION_TAG}
    assert len(shared) >= 3 and shared <= set(ours)
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}


FALLBACK = """
import warnings
from playlist_assets.runtime import event_log
event_log.dagster_version = "9.0.0"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    storage = event_log.BatchedSqliteEventLogStorage.from_config_value(None, {"base_dir": %r})
    again = event_log.BatchedSqliteEventLogStorage.from_config_value(None, {"base_dir": %r})
print(type(storage).__name__, type(again).__name__, len(caught))
print(caught[0].message)
"""


def test_another_dagster_version_gets_the_stock_storage_and_one_warning(tmp_path):
    done = subprocess.run([sys.executable, "-c", FALLBACK % (str(tmp_path), str(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, message = done.stdout.splitlines()[:2]
    assert first == "SqliteEventLogStorage SqliteEventLogStorage 1"
    assert "tested with Dagster 1.13.x, not 9.0.0" in message


@pytest.mark.parametrize("version, tested", [("1.13.27", True), ("1.13.0", True), ("1.14.0", False), ("2.0.1", False)])
def test_which_versions_count_as_tested(version, tested):
    assert event_log.dagster_is_tested(version) is tested
