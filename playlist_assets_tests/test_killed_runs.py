"""A run whose process was killed does not block the next one; a run still going is waited for,
within a bound, and named."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from playlist_assets.runtime import owned_runs
from playlist_assets.partitions import WAREHOUSE_POOL
from playlist_assets.runtime.instance import prepare_instance_folder
from playlist_assets.runtime.pipeline import PipelineError, materialize_everything
from playlist_assets_tests.conftest import make_settings


def instance_with_pool(settings) -> dg.DagsterInstance:
    prepare_instance_folder(settings.dagster_home)  # the project's dagster.yaml: one writer slot
    return dg.DagsterInstance.from_config(str(settings.dagster_home))


def run_holding_the_slot(instance: dg.DagsterInstance, owner_pid: int) -> str:
    """A STARTED run owned by `owner_pid` that holds the warehouse's only writer slot."""
    run_id = str(uuid.uuid4())
    started = owned_runs._start_time(owner_pid) or ""
    instance.add_run(
        dg.DagsterRun(
            job_name="playlist_reports",
            run_id=run_id,
            status=dg.DagsterRunStatus.STARTED,
            tags={owned_runs.OWNER_TAG: f"{socket.gethostname()}:{owner_pid}:{started}"},
        )
    )
    storage = instance.event_log_storage
    storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
    assert storage.claim_concurrency_slot(WAREHOUSE_POOL, run_id, "playlist_clustering").is_claimed
    return run_id


def test_a_run_whose_process_is_gone_is_marked_failed_and_its_slot_freed(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="4", demo_tracks="20", lock_wait_s="5")
    instance = instance_with_pool(settings)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = run_holding_the_slot(instance, gone.pid)
    lines: list[str] = []
    summary = materialize_everything(settings, echo=lines.append, instance=instance)
    assert summary.playlists == 4
    assert instance.get_run_by_id(stale).status == dg.DagsterRunStatus.FAILURE
    said = [line for line in lines if stale in line]
    assert len(said) == 1 and "marked it failed" in said[0] and f"pid {gone.pid}" in said[0]
    assert not instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots


def test_a_slot_held_by_a_live_run_is_waited_for_then_refused_in_one_sentence(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="4", demo_tracks="20", lock_wait_s="1")
    instance = instance_with_pool(settings)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = run_holding_the_slot(instance, alive.pid)
        lines: list[str] = []
        with pytest.raises(PipelineError) as refused:
            materialize_everything(settings, echo=lines.append, instance=instance)
    finally:
        alive.kill()
        alive.wait()
    assert f"run {busy} (job playlist_reports, started by playlist-assets, pid {alive.pid})" in str(refused.value)
    assert "after 1 s" in str(refused.value) and "terminate it in the Dagster UI" in str(refused.value)
    assert any("Waiting up to 1 s for run " + busy in line for line in lines)
    assert instance.get_run_by_id(busy).status == dg.DagsterRunStatus.STARTED  # not ours to end
    assert not Path(settings.warehouse).exists()  # nothing was landed


# --- the command, killed for real ------------------------------------------------------------

# Above the size where the command starts worker processes, so that they are killed with it.
KILL_PLAYLISTS, KILL_TRACKS = "120", "40"


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def wait_for_line(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared:\n{path.read_text()}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_kill_9_while_clustering_then_a_plain_rerun_succeeds_with_reports_equal_to_their_lineage(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYLIST_ASSETS_", "DAGSTER_"))}
    args = [
        sys.executable, "-m", "playlist_assets.runtime.cli", "materialize", "--demo-playlists", KILL_PLAYLISTS,
        "--demo-tracks", KILL_TRACKS, "--workers", "2", "--warehouse", str(tmp_path / "w.duckdb"),
        "--reports", str(tmp_path / "reports"), "--dagster-home", str(tmp_path / "dagster"),
    ]
    log = tmp_path / "first.log"
    with log.open("w") as out:
        first = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # The per-playlist run starts after this line; clustering holds the writer slot.
        wait_for_line(log, "features.track_features", timeout_s=120)
        time.sleep(1.0)
        workers = children_of(first.pid)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert "cluster every playlist" not in log.read_text(), "killed too late to test a held slot"
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)], "workers outlived the killed command"

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "had stopped without finishing; marked it failed" in again.stdout
    reports = tmp_path / "reports"
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        lineage = conn.execute("SELECT report_path, report_sha256, image_path, image_sha256 FROM analytics.cluster_reports").fetchall()
    assert len(lineage) == int(KILL_PLAYLISTS)
    for md, md_sha, png, png_sha in lineage:
        assert hashlib.sha256((reports / md).read_bytes()).hexdigest() == md_sha, md
        if png:
            assert hashlib.sha256((reports / png).read_bytes()).hexdigest() == png_sha, png
