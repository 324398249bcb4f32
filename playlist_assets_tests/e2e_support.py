"""Helpers for the end-to-end tests: a real `dagster dev` on a free port, GraphQL calls, polling.

Nothing here imports the project's Dagster code: the tests talk to the server the way the UI
does, so what they see is what a person sees.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
# `dagster dev` names the code location after workspace.yaml; a Definitions object is always
# served as this one repository.
LOCATION_NAME = "playlist_assets"
REPOSITORY_NAME = "__repository__"
# The job Dagster makes for materializing any selection of (compatibly partitioned) assets.
ASSET_JOB = "__ASSET_JOB"

RUN_TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

T = TypeVar("T")


class E2EError(AssertionError):
    """A step of an end-to-end test went wrong; the message carries what is needed to see why."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it; a tiny race with others is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def poll_until(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.5,
    on_timeout: Callable[[], str] = lambda: "",
) -> T:
    """Call `probe` until it returns something other than None; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise E2EError(f"timed out after {timeout_s:.0f} s waiting for {what}. {on_timeout()}".rstrip())
        time.sleep(interval_s)


def tail(path: Path, max_chars: int = 6000) -> str:
    """The end of a log file, for failure messages (the start is mostly Dagster's banner)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]


@dataclass
class DagsterDev:
    """A running `dagster dev`: its process group, where it listens and where it logs."""

    process: subprocess.Popen
    host: str
    port: int
    log_path: Path
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self) -> str:
        return f"--- dagster dev log ({self.log_path}) ---\n{tail(self.log_path)}"

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout_s: float = 60) -> dict:
        """The `data` of a GraphQL answer; GraphQL-level errors fail with the server's log."""
        try:
            response = self.session.post(
                f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=timeout_s
            )
        except requests.RequestException as error:
            # Most often the server died: its log says why, the connection error does not.
            raise E2EError(f"/graphql did not answer ({error}).\n{self.log_tail()}") from None
        try:
            body = response.json()
        except ValueError:
            raise E2EError(f"/graphql answered {response.status_code}: {response.text[:2000]}") from None
        if body.get("errors"):
            raise E2EError(f"GraphQL errors: {body['errors']}\n{self.log_tail()}")
        return body["data"]

    def stop(self, grace_s: float = 20) -> None:
        stop_process_group(self.process, grace_s)
        self.session.close()


def start_dagster_dev(
    workspace: Path,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path = REPO_ROOT,
    host: str = "127.0.0.1",
) -> DagsterDev:
    """Start `dagster dev` (webserver, daemon, code server) in its own process group.

    `env` is its whole environment, not additions: the caller decides what it inherits.
    Its own session lets one signal reach the webserver, the daemon, the code server and every
    run they started, and keeps a Ctrl-C in the terminal from reaching them twice.
    """
    port = free_port(host)
    # The `dagster` script next to this interpreter: the venv the tests run in, not whatever is on PATH.
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(workspace), "-p", str(port), "-h", host]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        # A file, not a pipe: nobody reads a pipe while the tests run, and a full one blocks Dagster.
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DagsterDev(process=process, host=host, port=port, log_path=log_path)


def stop_process_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after `grace_s`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    # The leader may have exited while children (runs, the code server) linger: kill the group.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=grace_s)


WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def wait_until_ready(server: DagsterDev, timeout_s: float = 120) -> None:
    """Wait for the webserver to answer and the code location to be loaded (or fail to)."""

    def probe() -> bool | None:
        if server.process.poll() is not None:
            raise E2EError(f"dagster dev exited with code {server.process.returncode}.\n{server.log_tail()}")
        try:
            answer = server.session.get(f"{server.url}/server_info", timeout=5)
        except requests.RequestException:
            return None
        if answer.status_code != 200:
            return None
        entries = server.graphql(WORKSPACE_QUERY)["workspaceOrError"].get("locationEntries") or []
        entry = next((e for e in entries if e["name"] == LOCATION_NAME), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return None
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            raise E2EError(f"code location failed to load: {loaded['message']}\n{loaded.get('stack')}")
        return True

    poll_until(probe, timeout_s, f"dagster dev on {server.url}", interval_s=1, on_timeout=server.log_tail)


def asset_key_input(path: Iterable[str]) -> dict:
    return {"path": list(path)}


ASSET_NODES_QUERY = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    isMaterializable
  }
}
"""


@dataclass(frozen=True)
class AssetNode:
    path: tuple[str, ...]
    group: str
    partitioned: bool
    materializable: bool


def asset_nodes(server: DagsterDev) -> list[AssetNode]:
    return [
        AssetNode(tuple(n["assetKey"]["path"]), n["groupName"], n["isPartitioned"], n["isMaterializable"])
        for n in server.graphql(ASSET_NODES_QUERY)["assetNodes"]
    ]


SENSORS_QUERY = """
query Sensors($repository: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repository) {
    __typename
    ... on Sensors { results { name sensorState { id status } } }
    ... on Error { message }
  }
}
"""

STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on Error { message }
  }
}
"""


def stop_running_sensors(server: DagsterDev) -> list[str]:
    """Turn off every running sensor, as its toggle in the UI does; return their names."""
    repository = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}
    answer = server.graphql(SENSORS_QUERY, {"repository": repository})["sensorsOrError"]
    if answer["__typename"] != "Sensors":
        raise E2EError(f"sensorsOrError answered {answer}")
    stopped = []
    for sensor in answer["results"]:
        if sensor["sensorState"]["status"] != "RUNNING":
            continue
        result = server.graphql(STOP_SENSOR, {"id": sensor["sensorState"]["id"]})["stopSensor"]
        status = (result.get("instigationState") or {}).get("status")
        if status != "STOPPED":
            raise E2EError(f"could not stop sensor {sensor['name']}: {result}")
        stopped.append(sensor["name"])
    return stopped


LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on PythonError { stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


def launch_asset_run(server: DagsterDev, asset_paths: Iterable[Iterable[str]]) -> str:
    """Launch a run of the implicit asset job over exactly these assets; return its run id."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": REPOSITORY_NAME,
            "jobName": ASSET_JOB,
            "assetSelection": [asset_key_input(p) for p in asset_paths],
        },
    }
    answer = server.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    if answer["__typename"] != "LaunchRunSuccess":
        raise E2EError(f"launchRun answered {answer}\n{server.log_tail()}")
    return answer["run"]["runId"]


RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on Error { message }
  }
}
"""

RUN_FAILURES = """
query RunFailures($runId: ID!) {
  logsForRun(runId: $runId, limit: 10000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ExecutionStepFailureEvent { error { message errorChain { error { message } } } }
      }
    }
  }
}
"""


def run_failure_summary(server: DagsterDev, run_id: str) -> str:
    """What failed in a run, one line per failed step with its innermost error (our own code's
    message, not Dagster's wrapper), as a person would look for it in the UI."""
    logs = server.graphql(RUN_FAILURES, {"runId": run_id})["logsForRun"]
    lines = []
    for event in logs.get("events") or []:
        if event["__typename"] == "ExecutionStepFailureEvent":
            error = event.get("error") or {}
            chain = [link["error"]["message"] for link in error.get("errorChain") or []]
            root_cause = (chain[-1] if chain else error.get("message") or "").strip()
            lines.append(f"step {event.get('stepKey')} failed: {root_cause}")
        elif event["__typename"] == "RunFailureEvent":
            lines.append(f"run failed: {event.get('message')}")
    return "\n".join(lines) or f"(no failure events in run {run_id})"


def wait_for_run(server: DagsterDev, run_id: str, timeout_s: float = 180) -> None:
    """Poll a run until it ends; anything but SUCCESS fails with its failure events."""

    def probe() -> str | None:
        answer = server.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
        if answer["__typename"] != "Run":
            raise E2EError(f"run {run_id}: {answer}")
        return answer["status"] if answer["status"] in RUN_TERMINAL else None

    status = poll_until(probe, timeout_s, f"run {run_id}", on_timeout=server.log_tail)
    if status != "SUCCESS":
        raise E2EError(f"run {run_id} ended {status}:\n{run_failure_summary(server, run_id)}\n{server.log_tail()}")


ALL_RUNS = """
query AllRuns {
  runsOrError {
    __typename
    ... on Runs { results { runId jobName status } }
    ... on Error { message }
  }
}
"""


def all_runs(server: DagsterDev) -> list[dict]:
    """Every run on the instance: runId, jobName, status."""
    answer = server.graphql(ALL_RUNS)["runsOrError"]
    if answer["__typename"] != "Runs":
        raise E2EError(f"runsOrError answered {answer}")
    return answer["results"]


LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
    ... on PythonError { stack }
  }
}
"""


def launch_all_partitions_backfill(server: DagsterDev, asset_paths: Iterable[Iterable[str]]) -> str:
    """Launch a backfill of every partition of these assets; return its id."""
    params = {"assetSelection": [asset_key_input(p) for p in asset_paths], "allPartitions": True}
    answer = server.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise E2EError(f"launchPartitionBackfill answered {answer}\n{server.log_tail()}")
    return answer["backfillId"]


BACKFILL_STATUS = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      numPartitions
      runs { runId status }
      error { message stack }
    }
    ... on Error { message }
  }
}
"""


@dataclass(frozen=True)
class BackfillOutcome:
    status: str
    num_partitions: int | None
    run_ids: list[str]


def wait_for_backfill(server: DagsterDev, backfill_id: str, timeout_s: float = 240) -> BackfillOutcome:
    """Poll a backfill until the daemon says it is done; anything but success fails with why."""

    def probe() -> dict | None:
        answer = server.graphql(BACKFILL_STATUS, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if answer["__typename"] != "PartitionBackfill":
            raise E2EError(f"backfill {backfill_id}: {answer}")
        return answer if answer["status"] in BACKFILL_TERMINAL else None

    answer = poll_until(probe, timeout_s, f"backfill {backfill_id}", interval_s=1, on_timeout=server.log_tail)
    run_ids = [r["runId"] for r in answer["runs"]]
    if answer["status"] not in {"COMPLETED", "COMPLETED_SUCCESS"}:
        failures = "\n".join(run_failure_summary(server, r) for r in run_ids)
        raise E2EError(
            f"backfill {backfill_id} ended {answer['status']}: {answer['error']}\n{failures}\n{server.log_tail()}"
        )
    return BackfillOutcome(answer["status"], answer["numPartitions"], run_ids)


def chromium_or_skip() -> str:
    """Debian's Chromium and the playwright package, or skip saying what is missing.

    In CI (CI=true) a missing browser fails instead: there a skip would hide that the UI was
    never tested.
    """
    executable = os.environ.get("PLAYLIST_ASSETS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "the browser tests need the `playwright` package (pip install playwright; no `playwright install`)"
    if reason is None and not Path(executable).is_file():
        reason = f"the browser tests need Chromium at {executable} (apt-get install chromium)"
    if reason is None:
        return executable
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


# How both browser modules start Debian's Chromium, and how long a page may take.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests may run as root (CI does), where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine has no network: without these Chromium keeps dialling Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 30_000


@contextmanager
def chromium_page(profile: Path, executable: str):
    """A page of Debian's Chromium, headless, with its own profile folder; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            context.set_default_timeout(UI_TIMEOUT_MS)
            yield context.new_page()
        finally:
            context.close()
