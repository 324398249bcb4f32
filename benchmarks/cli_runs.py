"""Run `playlist-assets materialize` as a child process: wall time, peak memory, run summary.

Every run gets its own warehouse, reports folder and Dagster home inside a benchmark temp
folder, so a benchmark never reads or writes the user's `warehouse/`, `reports/` or `.dagster/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class BenchmarkRunError(RuntimeError):
    pass


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
    return env


def materialize(workspace: Workspace, name: str, extra_args: list[str]) -> CliRun:
    """One `materialize` of the demo source on `workspace`; raises if the command fails."""
    workspace.root.mkdir(parents=True, exist_ok=True)
    summary_path = workspace.root / f"{name}.summary.json"
    log_path = workspace.root / f"{name}.log"
    command = [
        sys.executable, "-m", "playlist_assets.cli", "materialize",
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
            command, cwd=workspace.root, env=_child_environment(workspace), stdout=log, stderr=subprocess.STDOUT
        )
        # wait4 rather than Popen.wait: it returns this one child's resource usage, where
        # getrusage(RUSAGE_CHILDREN) would mix in every earlier run of the benchmark.
        _, status, usage = os.wait4(child.pid, 0)
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
