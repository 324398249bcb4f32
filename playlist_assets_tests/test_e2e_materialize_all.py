"""End to end: "Materialize all" in the asset graph, all partitions, rebuilds from the current landing.

A person who built the demo library once, then edited a playlist, opens the UI and does the one
thing the graph invites: "Materialize all", every partition. The reports must describe the
library as it is now, not as it was when the warehouse was last landed. So:

1. the default demo library (12 playlists) is built from the command line, unedited;
2. `dagster dev` starts on the same instance, warehouse and reports with the demo library
   edited (PLAYLIST_ASSETS_DEMO_EDITS=1: one playlist gets a new snapshot) and the sensor that
   follows the library turned off, so that only the click below builds anything;
3. Chromium opens the global asset lineage, clicks "Materialize all", chooses all partitions and
   launches the backfill;
4. once the daemon says the backfill is done, the run history shows the landing finished before
   any per-playlist step started, every clustering, report row and report file carries the
   snapshot the landing just wrote (the edited playlist's report file changed), and nothing
   per-playlist is unsynced;
5. typing part of the edited playlist's name in the partition filter of reports/cluster_reports
   finds it, and its page shows the new snapshot, written by the backfill.

Only the command line, GraphQL, the browser and a read-only look at the DuckDB file: nothing of
the project's Dagster code is imported, so the test sees what a person sees.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from playlist_assets_tests.e2e_support import (
    chromium_or_skip,
    chromium_page,
    REPO_ROOT,
    DagsterDev,
    all_runs,
    asset_key_input,
    asset_nodes,
    start_dagster_dev,
    stop_running_sensors,
    wait_for_backfill,
    wait_until_ready,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

DEMO_PLAYLISTS = 12  # the default demo library, as `playlist-assets materialize` builds it
SENSOR = "playlists_follow_the_library"
LANDING = ("raw", "playlists")  # landed with every other raw.* table, in one step
REPORT_LINEAGE = ("reports", "cluster_reports")  # one partition per report, with its snapshot_id
# The backfill daemon looks at a backfill about every 30 s and each stage (landing, snapshots,
# per-playlist, index) waits for the next look: about two and a half minutes for this library.
BACKFILL_TIMEOUT_S = 420



# --- the command line ----------------------------------------------------------------------


def cli_command() -> list[str]:
    """`playlist-assets` as pyproject.toml declares it, run by this interpreter.

    Read from [project.scripts] rather than from the venv's script, whose first line names the
    interpreter the venv was made with and whose import is the one of the last install.
    """
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        target = tomllib.load(file)["project"]["scripts"]["playlist-assets"]
    module, function = target.split(":")
    program = f"import sys; from {module} import {function} as f; sys.argv[0] = 'playlist-assets'; sys.exit(f())"
    return [sys.executable, "-c", program]


def clean_environment() -> dict[str, str]:
    """This process's environment without a developer's own settings (another source or
    DAGSTER_HOME): every setting not given takes its offline default."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PLAYLIST_ASSETS_", "DAGSTER_"))}


# --- the browser ---------------------------------------------------------------------------


# --- what the test reads back --------------------------------------------------------------


def query(warehouse: Path, sql: str) -> list[tuple]:
    # Read-only and closed at once: only while no run of the server writes.
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def snapshots(warehouse: Path) -> dict[str, tuple[str, str]]:
    """playlist_id -> (name, snapshot_id) of raw.playlists."""
    return {pid: (name, snap) for pid, name, snap in query(warehouse, "SELECT playlist_id, name, snapshot_id FROM raw.playlists")}


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str
    start: float | None
    end: float | None
    assets: frozenset[tuple[str, ...]]
    tags: dict[str, str]


RUN_DETAILS = """
query RunDetails($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status startTime endTime
      assetSelection { path }
      tags { key value }
    }
    ... on Error { message }
  }
}
"""

RUN_EVENTS = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId, limit: 10000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { timestamp stepKey }
        ... on MaterializationEvent { assetKey { path } partition }
      }
    }
    ... on Error { message }
  }
}
"""

BACKFILLS = """
query Backfills {
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills { results { id status } }
    ... on Error { message }
  }
}
"""

STALENESS = """
query Staleness($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    partitionKeys
    staleStatusByPartition
    staleCausesByPartition { key { path } partitionKey reason }
  }
}
"""


def run_record(server: DagsterDev, run_id: str) -> RunRecord:
    run = server.graphql(RUN_DETAILS, {"runId": run_id})["runOrError"]
    assert run["__typename"] == "Run", run
    return RunRecord(
        run_id=run["runId"],
        status=run["status"],
        start=run["startTime"],
        end=run["endTime"],
        assets=frozenset(tuple(a["path"]) for a in run["assetSelection"] or []),
        tags={t["key"]: t["value"] for t in run["tags"]},
    )


def run_events(server: DagsterDev, run_id: str) -> list[dict]:
    logs = server.graphql(RUN_EVENTS, {"runId": run_id})["logsForRun"]
    assert logs["__typename"] == "EventConnection", logs
    return logs["events"]


# --- the whole story, once for the module --------------------------------------------------


@dataclass
class Story:
    server: DagsterDev
    warehouse: Path
    reports: Path
    shots: Path
    before: dict[str, tuple[str, str]]  # raw.playlists after the command line's build
    report_before: dict[str, str]  # playlist_id -> report text after the command line's build
    cli_run_ids: set[str]
    stopped_sensors: list[str]
    dialog_at_open: str
    dialog_partitions_at_open: str
    launch_enabled_at_open: bool
    dialog_partitions_chosen: str
    launch_enabled_chosen: bool
    backfill_id: str
    backfill_status: str
    backfill_partitions: int | None
    backfill_run_ids: list[str]
    edited_id: str
    report_page: dict
    seconds: dict[str, float] = field(default_factory=dict)


def build_with_the_command_line(root: Path) -> tuple[Path, Path, Path]:
    warehouse, reports, dagster_home = root / "warehouse" / "playlists.duckdb", root / "reports", root / "dagster_home"
    done = subprocess.run(
        [*cli_command(), "materialize", "--source", "demo", "--warehouse", str(warehouse),
         "--reports", str(reports), "--dagster-home", str(dagster_home)],
        check=False, cwd=root, env=clean_environment(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"`playlist-assets materialize` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return warehouse, reports, dagster_home


def partitions_label(dialog) -> str:
    """The count shown on the dialog's "Partition selection" row: "0 partitions", "12 partitions"."""
    label = dialog.get_by_text(re.compile(r"^\d[\d,]* partitions?$")).first
    label.wait_for()
    return label.inner_text().strip()


def materialize_all_from_the_asset_graph(page: Page, server: DagsterDev, shots: Path, playlists: int) -> dict:
    """Click "Materialize all" on the global lineage, choose all partitions, launch; return what
    the dialog showed and the backfill id the page announced."""
    seen: dict = {}
    page.goto(f"{server.url}/asset-groups")
    page.get_by_text("Global asset lineage").first.wait_for()
    button = page.get_by_role("button", name=re.compile(r"Materialize all"))
    button.wait_for()
    page.screenshot(path=str(shots / "01_asset_graph.png"))
    button.click()

    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    dialog.wait_for()
    launch = dialog.get_by_role("button", name="Launch backfill")
    launch.wait_for()
    # Let the dialog load the partitions before reading what it offers by default.
    page.wait_for_timeout(1500)
    seen["dialog_at_open"] = dialog.inner_text()
    seen["partitions_at_open"] = partitions_label(dialog)
    seen["launch_enabled_at_open"] = launch.is_enabled()
    page.screenshot(path=str(shots / "02_dialog_as_opened.png"))

    dialog.get_by_role("button", name="All", exact=True).click()
    chosen = f"{playlists} partitions"
    dialog.get_by_text(f"{playlists} partitions selected").wait_for()
    dialog.get_by_text(chosen, exact=True).wait_for()
    seen["partitions_chosen"] = partitions_label(dialog)
    seen["launch_enabled_chosen"] = launch.is_enabled()
    page.screenshot(path=str(shots / "03_dialog_all_partitions.png"))
    assert seen["partitions_chosen"] == chosen, seen
    assert seen["launch_enabled_chosen"], f"Launch backfill is disabled with {chosen} chosen"

    launch.click()
    toast = page.get_by_text(re.compile(r"Created backfill \w+"))
    toast.wait_for()
    page.screenshot(path=str(shots / "04_backfill_created.png"))
    seen["backfill_id"] = re.search(r"Created backfill (\w+)", toast.inner_text()).group(1)
    return seen


PARTITION_KEYS = """
query PartitionKeys($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""


def open_report_partition_by_typing(page: Page, server: DagsterDev, shots: Path, playlist_id: str, name: str) -> dict:
    """On reports/cluster_reports' partitions, type part of the playlist's name in the filter,
    open the one partition it leaves, and return what its latest materialization shows."""
    node = server.graphql(PARTITION_KEYS, {"key": asset_key_input(REPORT_LINEAGE)})["assetNodeOrError"]
    keys = node["partitionKeys"]
    (key,) = [k for k in keys if k.endswith(f"-{playlist_id}")]
    # A word of the name as a person would type it; the slug before the id if it has none.
    words = [w for w in re.findall(r"[A-Za-z]{3,}", name)] or [key.split("-", 1)[0]]
    typed = words[0][:4].lower()
    page.goto(f"{server.url}/assets/{'/'.join(REPORT_LINEAGE)}?view=partitions")
    page.get_by_placeholder("Filter by name…").fill(typed)
    wanted = page.get_by_text(key, exact=True).first
    wanted.wait_for()
    # Long keys are shown cut in the middle; the whole key is in the list's own markup.
    left = [k for k in keys if typed not in k.lower() and page.get_by_text(k, exact=True).count()]
    assert not left, f"typing {typed!r} left other playlists listed: {left}"
    wanted.click()
    page.get_by_text("Latest materialization").first.wait_for()
    page.get_by_text("snapshot_id", exact=True).first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "06_edited_report_partition.png"), full_page=True)
    return {"typed": typed, "partition": key, "page": page.locator("body").inner_text()}


@pytest.fixture(scope="module")
def chromium_executable() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def story(chromium_executable: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    root = tmp_path_factory.mktemp("materialize_all")
    shots = root / "screenshots"
    shots.mkdir()
    seconds: dict[str, float] = {}

    started = time.monotonic()
    warehouse, reports, dagster_home = build_with_the_command_line(root)
    seconds["command-line build"] = time.monotonic() - started
    before = snapshots(warehouse)
    report_before = {
        pid: (reports / path).read_text(encoding="utf-8")
        for pid, path in query(warehouse, "SELECT playlist_id, report_path FROM analytics.cluster_reports")
    }

    env = {
        **clean_environment(),
        "DAGSTER_HOME": str(dagster_home),
        "PLAYLIST_ASSETS_WAREHOUSE": str(warehouse),
        "PLAYLIST_ASSETS_REPORTS": str(reports),
        "PLAYLIST_ASSETS_SOURCE": "demo",
        # The owner edited a playlist since the command line's build: the next landing sees it.
        "PLAYLIST_ASSETS_DEMO_EDITS": "1",
    }
    started = time.monotonic()
    server = start_dagster_dev(REPO_ROOT / "workspace.yaml", root / "dagster_dev.log", env)
    try:
        wait_until_ready(server, timeout_s=120)
        seconds["dagster dev ready"] = time.monotonic() - started
        # Only the person's click below may build anything.
        stopped = stop_running_sensors(server)
        cli_run_ids = {r["runId"] for r in all_runs(server)}
        # The UI greets a fresh instance with a newsletter dialog: mark it seen, as its "Skip" does.
        server.graphql("mutation { setNuxSeen }")

        started = time.monotonic()
        with chromium_page(root / "chromium-profile", chromium_executable) as page:
            try:
                seen = materialize_all_from_the_asset_graph(page, server, shots, len(before))
            except Exception:
                page.screenshot(path=str(shots / "failed_in_dialog.png"))
                raise
            seconds["browser: open graph, choose all, launch"] = time.monotonic() - started

            started = time.monotonic()
            outcome = wait_for_backfill(server, seen["backfill_id"], timeout_s=BACKFILL_TIMEOUT_S)
            seconds["backfill (daemon ticks included)"] = time.monotonic() - started
            page.goto(f"{server.url}/runs/b/{seen['backfill_id']}")
            page.get_by_text(seen["backfill_id"]).first.wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shots / "05_backfill_page.png"), full_page=True)
            # The backfill's runs are over: the warehouse may be read. The edited playlist,
            # found as a person would, by typing part of its name in the partition filter.
            after = snapshots(warehouse)
            changed = [pid for pid in after if pid in before and after[pid][1] != before[pid][1]]
            assert len(changed) == 1, f"playlists whose snapshot changed with the landing: {changed}"
            edited_id = changed[0]
            report_page = open_report_partition_by_typing(page, server, shots, edited_id, after[edited_id][0])

        yield Story(
            server=server,
            warehouse=warehouse,
            reports=reports,
            shots=shots,
            before=before,
            report_before=report_before,
            cli_run_ids=cli_run_ids,
            stopped_sensors=stopped,
            dialog_at_open=seen["dialog_at_open"],
            dialog_partitions_at_open=seen["partitions_at_open"],
            launch_enabled_at_open=seen["launch_enabled_at_open"],
            dialog_partitions_chosen=seen["partitions_chosen"],
            launch_enabled_chosen=seen["launch_enabled_chosen"],
            backfill_id=seen["backfill_id"],
            backfill_status=outcome.status,
            backfill_partitions=outcome.num_partitions,
            backfill_run_ids=outcome.run_ids,
            edited_id=edited_id,
            report_page=report_page,
            seconds=seconds,
        )
    finally:
        server.stop()


# --- the tests -----------------------------------------------------------------------------


def test_the_dialog_offers_every_playlist_and_only_the_click_built_anything(story: Story) -> None:
    print(
        f"{story.dialog_at_open.splitlines()[0]!r}; "
        f"dialog as opened: {story.dialog_partitions_at_open!r}, Launch enabled: {story.launch_enabled_at_open}; "
        f"after All: {story.dialog_partitions_chosen!r}, Launch enabled: {story.launch_enabled_chosen}"
    )
    print("stage durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in story.seconds.items()))
    assert story.stopped_sensors == [SENSOR]
    assert len(story.cli_run_ids) >= 1, "the command line's build left no run on the instance"
    assert story.dialog_partitions_chosen == f"{DEMO_PLAYLISTS} partitions"
    assert story.launch_enabled_chosen
    assert story.backfill_status in {"COMPLETED", "COMPLETED_SUCCESS"}
    assert story.backfill_partitions == DEMO_PLAYLISTS

    server = story.server
    backfills = server.graphql(BACKFILLS)["partitionBackfillsOrError"]
    assert backfills["__typename"] == "PartitionBackfills", backfills
    assert [b["id"] for b in backfills["results"]] == [story.backfill_id], backfills
    # Every run on the instance is the command line's or the backfill's, and all succeeded.
    runs = all_runs(server)
    extra = {r["runId"] for r in runs} - story.cli_run_ids - set(story.backfill_run_ids)
    assert not extra, f"runs nobody asked for (a sensor?): {[r for r in runs if r['runId'] in extra]}"
    assert {r["status"] for r in runs} == {"SUCCESS"}, runs


def test_the_landing_finished_before_any_per_playlist_step_started(story: Story) -> None:
    server = story.server
    records = sorted((run_record(server, r) for r in story.backfill_run_ids), key=lambda r: r.start or 0)
    timeline = "\n".join(
        f"  {r.run_id[:8]} {r.status} start {r.start:.3f} end {r.end:.3f} "
        f"range {r.tags.get('dagster/asset_partition_range_start', '-')}..{r.tags.get('dagster/asset_partition_range_end', '-')} "
        f"{sorted('/'.join(a) for a in r.assets)}"
        for r in records
    )
    print(f"backfill {story.backfill_id}, its runs by start time:\n{timeline}")
    assert all(r.status == "SUCCESS" and r.tags.get("dagster/backfill") == story.backfill_id for r in records), timeline

    # Each step of the backfill's runs: when it started and what it materialized, when
    # (timestamps in milliseconds since the epoch, from the run's own event log).
    started: dict[tuple[str, str], int] = {}
    wrote: dict[tuple[str, str], list[tuple[int, tuple[str, ...], str | None]]] = {}
    for record in records:
        for event in run_events(server, record.run_id):
            step = (record.run_id, event.get("stepKey") or "")
            if event["__typename"] == "ExecutionStepStartEvent":
                started[step] = int(event["timestamp"])
            elif event["__typename"] == "MaterializationEvent":
                wrote.setdefault(step, []).append(
                    (int(event["timestamp"]), tuple(event["assetKey"]["path"]), event.get("partition"))
                )
    # The landing: the steps that wrote raw.* or the feature table (the latter also records the
    # snapshots of the playlists that changed). Per playlist: every other step writing a partition.
    landing = {
        s for s, events in wrote.items() if any(p[0] == "raw" or p == ("features", "track_features") for _, p, _ in events)
    }
    per_playlist = {s for s, events in wrote.items() if s not in landing and any(part is not None for _, _, part in events)}
    index = {s for s, events in wrote.items() if any(p == ("reports", "index") for _, p, _ in events)}
    assert landing and per_playlist and index, f"landing {landing}, per playlist {per_playlist}, index {index}\n{timeline}"
    assert sum(p == LANDING for events in wrote.values() for _, p, _ in events) == 1, "the library was landed more than once"

    landed_at = max(t for s in landing for t, _, _ in wrote[s])
    first_per_playlist = min(per_playlist, key=lambda s: started[s])
    last_per_playlist_write = max(t for s in per_playlist for t, _, _ in wrote[s])
    index_started = min(started[s] for s in index)
    print(
        f"landing done at {landed_at}; first per-playlist step {first_per_playlist[1]} "
        f"(run {first_per_playlist[0][:8]}) started at {started[first_per_playlist]} "
        f"(+{(started[first_per_playlist] - landed_at) / 1000:.1f} s); index started at {index_started}"
    )
    assert started[first_per_playlist] > landed_at, (
        f"per-playlist step {first_per_playlist} started at {started[first_per_playlist]}, "
        f"before the landing finished at {landed_at}:\n{timeline}"
    )
    assert index_started > last_per_playlist_write, f"the index started before the last report was written:\n{timeline}"
    # Every playlist's report was written by the backfill, after the landing.
    reported = {part for s in per_playlist for _, p, part in wrote[s] if p == ("reports", "cluster_reports")}
    assert len(reported) == DEMO_PLAYLISTS, sorted(reported)


def test_every_report_describes_the_current_landing(story: Story) -> None:
    after = snapshots(story.warehouse)
    assert set(after) == set(story.before) and len(after) == DEMO_PLAYLISTS
    edited = {pid for pid in after if after[pid][1] != story.before[pid][1]}
    # One playlist edited (PLAYLIST_ASSETS_DEMO_EDITS=1): the landing of the backfill saw it.
    assert len(edited) == 1, f"playlists whose snapshot changed with the landing: {edited}"
    (edited_id,) = edited

    rows = query(
        story.warehouse,
        """SELECT p.playlist_id, p.snapshot_id, c.snapshot_id, r.snapshot_id, r.report_path, r.report_sha256, r.run_id
           FROM raw.playlists p
           LEFT JOIN analytics.playlist_clusterings c USING (playlist_id)
           LEFT JOIN analytics.cluster_reports r USING (playlist_id)""",
    )
    assert len(rows) == DEMO_PLAYLISTS
    for pid, landed, clustered, reported, report_path, sha256, run_id in rows:
        # Both: a report written after the landing names the new snapshot even when its clusters
        # were made before it (seen when the clustering ran ahead of the landing).
        assert clustered == landed, f"{after[pid][0]!r}: clusters of snapshot {clustered}, landing has {landed}"
        assert reported == landed, f"{after[pid][0]!r}: report of snapshot {reported}, landing has {landed}"
        assert run_id in story.backfill_run_ids, f"{after[pid][0]!r}: report written by run {run_id}, not the backfill"
        data = (story.reports / report_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256, f"{report_path} is not the file its lineage names"

    name, new_snapshot = after[edited_id]
    old_snapshot = story.before[edited_id][1]
    report_path = next(r[4] for r in rows if r[0] == edited_id)
    text = (story.reports / report_path).read_text(encoding="utf-8")
    # The file the command line wrote named the old snapshot: had the per-playlist step run before
    # the landing, it would still do so.
    assert old_snapshot in story.report_before[edited_id], "the first build's report does not name its snapshot"
    assert new_snapshot in text and old_snapshot not in text, (
        f"{report_path} ({name!r}) should describe snapshot {new_snapshot}, not {old_snapshot}"
    )
    assert text != story.report_before[edited_id]
    print(f"edited playlist {name!r}: {report_path} now describes snapshot {new_snapshot} (was {old_snapshot})")


def test_nothing_per_playlist_is_left_unsynced(story: Story) -> None:
    partitioned = [n.path for n in asset_nodes(story.server) if n.partitioned]
    nodes = story.server.graphql(STALENESS, {"keys": [asset_key_input(p) for p in partitioned]})["assetNodes"]
    assert len(nodes) == len(partitioned) >= 2
    unsynced = []
    for node in nodes:
        assert len(node["partitionKeys"]) == DEMO_PLAYLISTS, node["partitionKeys"]
        by_partition = zip(node["partitionKeys"], node["staleStatusByPartition"], node["staleCausesByPartition"])
        for partition, status, causes in by_partition:
            if status != "FRESH":
                unsynced.append(("/".join(node["assetKey"]["path"]), partition, status, [c["reason"] for c in causes]))
    assert not unsynced, "unsynced after Materialize all:\n" + "\n".join(map(str, unsynced))


def test_the_edited_playlists_report_page_shows_the_new_snapshot(story: Story) -> None:
    name, new_snapshot = snapshots(story.warehouse)[story.edited_id]
    old_snapshot = story.before[story.edited_id][1]
    shown = story.report_page["page"]
    print(f"typed {story.report_page['typed']!r} in the partition filter, opened {story.report_page['partition']}")
    assert name in shown
    assert new_snapshot in shown and old_snapshot not in shown, shown
    # The materialization shown is the backfill's (the page names its run by the id's first 8 characters).
    assert any(run_id[:8] in shown for run_id in story.backfill_run_ids), shown
