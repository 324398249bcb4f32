"""The batched event log records what Dagster's own SQLite event log records.

The same small demo library is built on two instance folders: one whose dagster.yaml names no
event log storage (Dagster's stock `SqliteEventLogStorage`, in its usual place under the
folder), and one as `prepare_instance_folder` writes it (`playlist_assets.runtime.event_log`). Then,
on both, one playlist is edited and the library landed again (the `refresh_library` job).
After each of the two steps the two histories are read back, through a fresh instance per
folder as the webserver or the daemon would read them, and must be the same:

- every asset event, per asset key and partition, in order: its type (planned,
  materialization, observation, failure), the run that wrote it, its tags (data and code
  versions; the input event pointers resolved to the event they point at), its metadata keys,
  and the tags the index keeps for it (which staleness reads);
- every run's own events (what the UI's run page reads): how many of each type, per asset,
  partition and check;
- every asset check's executions and evaluations;
- each asset's status: the asset record's latest materialization, observation and planned run,
  materialized partitions and the UI's status per partition, the latest event per partition;
- the playlist partitions, in order;
- Dagster's stale status, causes and current data version of every asset and partition.

Run ids, timestamps and storage ids differ between two instances by nature: runs are named by
their order and job, events by what they are (type, asset, partition, and which of its kind).

Stock Dagster stores events one at a time unless DAGSTER_EVENT_BATCH_SIZE is set, and the
batched storage sets it for its process; the stock folder is built without it, as a user of
the stock storage would run.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.event_log import SqliteEventLogStorage

from playlist_assets.definitions import build_definitions
from playlist_assets.runtime.instance import prepare_instance_folder
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings

BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
INPUT_POINTER_PREFIX = "dagster/input_event_pointer/"
STAGES = ("first build", "edited landing")
VIEWS = ("asset events", "run events", "checks", "asset status", "partitions", "staleness")
ASSET_EVENT_TYPES = (
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_OBSERVATION,
    dg.DagsterEventType.ASSET_FAILED_TO_MATERIALIZE,
)
ENOUGH = 10_000  # more events of one kind than these small libraries make (and Dagster's most)


# --- Building the same history on both storages ---------------------------------------------


def stock_folder(dagster_home: Path) -> Path:
    """The project's dagster.yaml without its event_log_storage: everything else the same."""
    prepare_instance_folder(dagster_home)
    config = yaml.safe_load((dagster_home / "dagster.yaml").read_text())
    del config["event_log_storage"]
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dagster_home


def build_history(root: Path, storage: str) -> dict[str, dict]:
    """Run the steps on a new instance folder of the given storage; the views after each step."""
    # One process (workers=1): only the run's own process writes events, and a worker pool
    # would cost each build a process start and its imports.
    settings = make_settings(root, demo_playlists="8", demo_tracks="30", workers="1")
    edited = settings.with_(demo_edits=1)
    if storage == "stock":
        stock_folder(settings.dagster_home)
    else:
        prepare_instance_folder(settings.dagster_home)
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    used = type(instance.event_log_storage)
    if storage == "stock":
        assert used is SqliteEventLogStorage
    else:
        named = yaml.safe_load((settings.dagster_home / "dagster.yaml").read_text())["event_log_storage"]
        # On a Dagster it was not tested with, the batched storage hands over to the stock one.
        assert (used.__module__, used.__name__) == (named["module"], named["class"]), (
            f"the instance folder's event log is {used.__module__}.{used.__name__}, not the one its dagster.yaml names"
        )

    views = {}
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    views[STAGES[0]] = read_views(settings)
    refresh = build_definitions(edited).resolve_job_def("refresh_library")
    assert refresh.execute_in_process(instance=instance).success
    views[STAGES[1]] = read_views(settings)
    return views


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> dict[str, dict[str, dict]]:
    with pytest.MonkeyPatch.context() as env:
        # Dagster's default; the batched storage sets the variable when its instance is made.
        env.delenv(BATCH_SIZE_VARIABLE, raising=False)
        stock = build_history(tmp_path_factory.mktemp("stock"), "stock")
        assert BATCH_SIZE_VARIABLE not in os.environ
        batched = build_history(tmp_path_factory.mktemp("batched"), "batched")
        assert int(os.environ[BATCH_SIZE_VARIABLE]) > 1
    return {"stock": stock, "batched": batched}


# --- Reading a history back -------------------------------------------------------------------


class Names:
    """Names for what differs between two instances by nature: run ids and storage ids."""

    def __init__(self, instance: dg.DagsterInstance):
        runs = sorted(instance.get_run_records(), key=lambda r: r.storage_id)
        self.runs = {r.dagster_run.run_id: f"run {i} ({r.dagster_run.job_name})" for i, r in enumerate(runs)}
        self.events: dict[int, tuple] = {}

    def run(self, run_id: str | None) -> str | None:
        return None if run_id is None else self.runs.get(run_id, f"unknown run {run_id}")

    def event(self, storage_id: int | None) -> tuple | str | None:
        return None if storage_id is None else self.events.get(storage_id, f"unknown event {storage_id}")

    def name_events(self, records) -> None:
        """An event's name: its type, asset, partition and which of those it is, by storage order."""
        seen: Counter = Counter()
        for record in sorted(records, key=lambda r: r.storage_id):
            kind = (record.event_log_entry.dagster_event_type.value, _asset_of(record), record.partition_key)
            self.events[record.storage_id] = (*kind, seen[kind])
            seen[kind] += 1


def _asset_of(record) -> str:
    event = record.event_log_entry.dagster_event
    key = event.asset_key or event.event_specific_data.asset_key
    return key.to_user_string()


def read_views(settings) -> dict[str, object]:
    # Two of the reads (planned materializations, all check evaluations) are public methods
    # that Dagster marks for removal in 2.0; they still read the same rows in 1.x.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _read_views(settings)


def _read_views(settings) -> dict[str, object]:
    # A new instance on the folder: what another process (webserver, daemon) would read.
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    graph = build_definitions(settings).resolve_asset_graph()
    names = Names(instance)
    keys = sorted(set(graph.get_all_asset_keys()) | set(instance.get_asset_keys()))
    records = {
        (key, event_type): _fetch(instance, key, event_type) for key in keys for event_type in ASSET_EVENT_TYPES
    }
    check_records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=True
    )
    names.name_events([r for found in records.values() for r in found] + list(check_records))
    partitions = {key: _partitions(instance, graph, key) for key in keys}
    return {
        "asset events": asset_events(instance, names, records),
        "run events": run_events(instance, names),
        "checks": checks(instance, names, graph, check_records),
        "asset status": asset_status(instance, names, keys, partitions, graph),
        "partitions": {
            name: instance.get_dynamic_partitions(name)
            for name in sorted({d.name for d in _dynamic_definitions(graph)})
        },
        "staleness": staleness(instance, graph, keys, partitions),
    }


def _fetch(instance, key, event_type) -> list:
    fetch = {
        dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED: instance.fetch_planned_materializations,
        dg.DagsterEventType.ASSET_MATERIALIZATION: instance.fetch_materializations,
        dg.DagsterEventType.ASSET_OBSERVATION: instance.fetch_observations,
        dg.DagsterEventType.ASSET_FAILED_TO_MATERIALIZE: instance.fetch_failed_materializations,
    }[event_type]
    result = fetch(dg.AssetRecordsFilter(asset_key=key), limit=ENOUGH, ascending=True)
    assert not result.has_more
    return list(result.records)


def _dynamic_definitions(graph) -> list[dg.DynamicPartitionsDefinition]:
    found = []
    for key in graph.get_all_asset_keys():
        definition = graph.get(key).partitions_def
        if isinstance(definition, dg.DynamicPartitionsDefinition):
            found.append(definition)
    return found


def _partitions(instance, graph, key) -> list[str | None]:
    if not graph.has(key) or graph.get(key).partitions_def is None:
        return [None]
    return list(graph.get(key).partitions_def.get_partition_keys(dynamic_partitions_store=instance))


def _tags(names: Names, tags) -> dict[str, object]:
    return {
        key: names.event(int(value)) if key.startswith(INPUT_POINTER_PREFIX) else value
        for key, value in (tags or {}).items()
    }


def _event_body(record):
    data = record.event_log_entry.dagster_event.event_specific_data
    return getattr(data, "materialization", None) or getattr(data, "asset_observation", None)


def asset_events(instance, names: Names, records) -> dict:
    """Per asset key and partition, its events in storage order, with tags and indexed tags."""
    by_partition: dict[tuple, list] = defaultdict(list)
    for (key, _), found in records.items():
        for record in found:
            body = _event_body(record)
            indexed = instance.get_event_tags_for_asset(key, filter_event_id=record.storage_id)
            by_partition[(key.to_user_string(), record.partition_key)].append((
                record.storage_id,
                record.event_log_entry.dagster_event_type.value,
                names.run(record.run_id),
                _tags(names, body.tags if body else None),
                sorted(body.metadata) if body else None,
                [_tags(names, tags) for tags in indexed],
            ))
    # Storage ids order one partition's events; they are not compared themselves.
    return {where: [event[1:] for event in sorted(events)] for where, events in sorted(by_partition.items())}


def run_events(instance, names: Names) -> dict:
    """Per run, its own events counted by type, asset, partition and check (or log level)."""
    found = {}
    for run_id, name in names.runs.items():
        counted: Counter = Counter()
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                counted[("log message", entry.level)] += 1
                continue
            data = event.event_specific_data
            asset = event.asset_key or getattr(data, "asset_key", None)
            counted[(
                event.event_type_value,
                event.step_key,
                asset.to_user_string() if asset else None,
                event.partition,
                getattr(data, "check_name", None),
            )] += 1
        record = instance.get_run_record_by_id(run_id)
        found[name] = (record.dagster_run.status.value, dict(sorted(counted.items(), key=repr)))
    return found


def checks(instance, names: Names, graph, check_records) -> dict:
    """Per asset check, its executions and the evaluations recorded in the index."""
    found = {}
    evaluations = defaultdict(list)
    for record in check_records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        target = evaluation.target_materialization_data
        evaluations[f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"].append((
            names.run(record.run_id),
            evaluation.passed,
            evaluation.severity.value,
            evaluation.partition,
            sorted(evaluation.metadata),
            names.event(target.storage_id) if target else None,
        ))
    for check_key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        executions = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=ENOUGH)
        latest = instance.get_latest_asset_check_evaluation_record(check_key)
        name = f"{check_key.asset_key.to_user_string()}:{check_key.name}"
        found[name] = {
            "executions": [
                (names.run(e.run_id), e.status.value, e.partition, e.event.dagster_event_type.value if e.event else None)
                for e in sorted(executions, key=lambda e: e.id)
            ],
            "latest": None if latest is None else (names.run(latest.run_id), latest.status.value),
            "evaluations": evaluations.pop(name, []),
        }
    found["(evaluations of checks not in the graph)"] = dict(evaluations)
    return found


def asset_status(instance, names: Names, keys, partitions, graph) -> dict:
    """What the UI's asset pages read: the asset record and the status of every partition."""
    records = {r.asset_entry.asset_key: r.asset_entry for r in instance.get_asset_records(keys)}
    found = {}
    for key in keys:
        entry = records.get(key)
        status: dict[str, object] = {"has events": instance.has_asset_key(key)}
        if entry is not None:
            status |= {
                "last materialization": names.event(getattr(entry.last_materialization_record, "storage_id", None)),
                "last run": names.run(entry.last_run_id),
                "last observation": names.event(getattr(entry.last_observation_record, "storage_id", None)),
                "last planned": names.event(entry.last_planned_materialization_storage_id),
                "last planned run": names.run(entry.last_planned_materialization_run_id),
                "last failure": names.event(getattr(entry.last_failed_to_materialize_record, "storage_id", None)),
            }
        latest = instance.get_latest_materialization_event(key)
        status["latest materialization"] = None if latest is None else (
            names.run(latest.run_id), latest.dagster_event.partition, _tags(names, latest.asset_materialization.tags)
        )
        source = graph.has(key) and not graph.get(key).is_materializable
        definition = graph.get(key).partitions_def if graph.has(key) else None
        if definition is not None:
            status["materialized partitions"] = sorted(instance.get_materialized_partitions(key))
            by_partition = instance.get_status_by_partition(key, partitions[key], definition) or {}
            status["status by partition"] = {p: getattr(s, "value", s) for p, s in sorted(by_partition.items())}
            for event_type in (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_OBSERVATION):
                latest_ids = instance.get_latest_storage_id_by_partition(key, event_type)
                status[f"latest {event_type.value} by partition"] = {
                    p: names.event(i) for p, i in sorted(latest_ids.items())
                }
        for partition in partitions[key]:
            record = instance.get_latest_data_version_record(key, is_source=source, partition_key=partition)
            planned = instance.get_latest_planned_materialization_info(key, partition)
            status[f"partition {partition}"] = (
                names.event(record.storage_id) if record else None,
                None if planned is None else (names.run(planned.run_id), names.event(planned.storage_id)),
            )
        found[key.to_user_string()] = status
    return found


def staleness(instance, graph, keys, partitions) -> dict:
    """Dagster's stale status of every asset and partition, read as the UI reads it."""
    resolver = CachingStaleStatusResolver(instance, graph, loading_context=LoadingContextForTest(instance))
    found = {}
    for key in keys:
        if not graph.has(key):
            continue
        for partition in partitions[key]:
            found[(key.to_user_string(), partition)] = (
                resolver.get_status(key, partition).value,
                sorted(_cause(c) for c in resolver.get_stale_causes(key, partition)),
                resolver.get_current_data_version(key, partition).value,
            )
    return found


def _cause(cause) -> tuple:
    return (repr(cause.key), cause.category.value, cause.reason, repr(cause.dependency))


# --- The comparisons --------------------------------------------------------------------------


def _differences(stock: dict, batched: dict, limit: int = 5) -> list[str]:
    """Where the two views differ, each with the first item that differs there."""
    lines = []
    for where in sorted(set(stock) | set(batched), key=repr):
        ours, theirs = stock.get(where, "(absent)"), batched.get(where, "(absent)")
        if ours != theirs:
            lines.append(f"{where!r}{_first_difference(ours, theirs)}")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _first_difference(stock, batched) -> str:
    if isinstance(stock, dict) and isinstance(batched, dict):
        key = next(k for k in sorted(set(stock) | set(batched), key=repr) if stock.get(k, "(absent)") != batched.get(k, "(absent)"))
        return f"[{key!r}]{_first_difference(stock.get(key, '(absent)'), batched.get(key, '(absent)'))}"
    if isinstance(stock, (list, tuple)) and isinstance(batched, (list, tuple)):
        if len(stock) != len(batched):
            return f": {len(stock)} items on the stock log, {len(batched)} on the batched one:\n    stock:   {_short(stock)}\n    batched: {_short(batched)}"
        index = next(i for i, (a, b) in enumerate(zip(stock, batched)) if a != b)
        return f"[{index}]{_first_difference(stock[index], batched[index])}"
    return f":\n    stock:   {_short(stock)}\n    batched: {_short(batched)}"


def _short(value, limit: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("view", VIEWS)
def test_the_batched_log_records_what_dagsters_own_log_records(histories, stage, view):
    stock, batched = histories["stock"][stage][view], histories["batched"][stage][view]
    if stock != batched:
        pytest.fail(f"{view} after the {stage} differ:\n" + "\n".join(_differences(stock, batched)), pytrace=False)


def test_the_comparison_sees_what_the_graph_does(histories):
    # Not vacuous: both histories hold every kind of event compared, and the edit shows.
    first = histories["stock"][STAGES[0]]
    kinds = {event[0] for events in first["asset events"].values() for event in events}
    assert {"ASSET_MATERIALIZATION_PLANNED", "ASSET_MATERIALIZATION"} <= kinds
    assert any(entry["evaluations"] for name, entry in first["checks"].items() if not name.startswith("("))
    data_versions = [
        event[2].get("dagster/data_version") for events in first["asset events"].values() for event in events
    ]
    assert any(data_versions)
    partitions = sum(len(keys) for keys in first["partitions"].values())
    assert partitions == 8
    assert all(status[0] == "FRESH" for status in first["staleness"].values())
    edited = histories["stock"][STAGES[1]]["staleness"]
    unsynced = {where for where, status in edited.items() if status[0] != "FRESH"}
    assert unsynced and len({partition for _, partition in unsynced}) == 1
