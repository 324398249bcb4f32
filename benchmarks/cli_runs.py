"""Run `playlist-assets materialize` as a child process: wall time, peak memory, run summary.

Every run gets its own warehouse, reports folder and Dagster home inside a benchmark temp
folder, so a benchmark never reads or writes the user's `warehouse/`, `reports/` or `.dagster/`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# How the command is started: `python -m playlist_assets.runtime.cli materialize ...`.
CLI = ("-m", "playlist_assets.runtime.cli")
# The checkout this benchmarks folder belongs to: the runs import its package.
CHECKOUT = Path(__file__).resolve().parents[1]


class BenchmarkRunError(RuntimeError):
    pass


class BenchmarkTimeout(BenchmarkRunError):
    """The run was stopped (with every process it started) after `seconds`."""

    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


@dataclass(frozen=True)
class Workspace:
    """The folders one benchmarked library lives in (reused by a later incremental run)."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "playlists.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"


@dataclass(frozen=True)
class CliRun:
    wall_s: float  # from spawning the process to its exit: imports and Dagster start-up included
    cpu_s: float  # user + system CPU seconds: less sensitive than wall time to a busy machine
    peak_rss_mib: float  # the child's own peak resident memory (and any child it waited for)
    summary: dict  # what `--summary-json` wrote: seconds, rebuilt, stage_seconds, ...
    log: Path

    @property
    def stage_seconds(self) -> dict[str, float]:
        return dict(self.summary.get("stage_seconds", {}))


def _peak_rss_mib(max_rss: int) -> float:
    # getrusage reports kibibytes on Linux but bytes on macOS.
    in_bytes = max_rss if sys.platform == "darwin" else max_rss * 1024
    return in_bytes / (1024 * 1024)


def _child_environment(workspace: Workspace) -> dict[str, str]:
    # A user's own PLAYLIST_ASSETS_* settings (another source, another warehouse, a bigger demo)
    # would silently change what is measured, so the child sees none of them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYLIST_ASSETS_")}
    env["DAGSTER_HOME"] = str(workspace.dagster_home)
    # The run starts in the workspace folder, where `import playlist_assets` would find whatever
    # checkout the venv's editable install names (another worktree, once someone reinstalled
    # from it): the package measured is the one of this checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    return env


def materialize(
    workspace: Workspace,
    name: str,
    extra_args: list[str],
    launcher: Sequence[str] = CLI,
    timeout_s: float | None = None,
) -> CliRun:
    """One `materialize` of the demo source on `workspace`; raises if the command fails.

    `launcher` is what runs the command after the Python executable (the CLI module, or a script
    that wraps it); past `timeout_s` the run and its worker processes are stopped and
    BenchmarkTimeout is raised.
    """
    workspace.root.mkdir(parents=True, exist_ok=True)
    summary_path = workspace.root / f"{name}.summary.json"
    log_path = workspace.root / f"{name}.log"
    command = [
        sys.executable, *launcher, "materialize",
        "--source", "demo",
        "--warehouse", str(workspace.warehouse),
        "--reports", str(workspace.reports),
        "--dagster-home", str(workspace.dagster_home),
        "--summary-json", str(summary_path),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=workspace.root, env=_child_environment(workspace), stdout=log, stderr=subprocess.STDOUT,
            # With a time limit, the run gets a process group of its own, so that it can be
            # stopped together with its workers.
            start_new_session=timeout_s is not None,
        )
        # wait4 rather than Popen.wait: it returns this one child's resource usage, where
        # getrusage(RUSAGE_CHILDREN) would mix in every earlier run of the benchmark.
        if timeout_s is None:
            _, status, usage = os.wait4(child.pid, 0)
        else:
            status, usage = _wait_at_most(child, timeout_s, started, command)
        wall_s = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise BenchmarkRunError(f"`{' '.join(command)}` exited with {child.returncode}:\n{tail}")
    return CliRun(
        wall_s=wall_s,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=_peak_rss_mib(usage.ru_maxrss),
        summary=json.loads(summary_path.read_text()),
        log=log_path,
    )


def _wait_at_most(child: subprocess.Popen, timeout_s: float, started: float, command: list[str]):
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            return status, usage
        waited = time.perf_counter() - started
        if waited > timeout_s:
            # The child leads its own process group (start_new_session): it and its workers.
            os.killpg(child.pid, signal.SIGKILL)
            os.wait4(child.pid, 0)
            raise BenchmarkTimeout(f"`{' '.join(command)}` stopped after {waited:.0f} s", waited)
        time.sleep(0.2)
