"""Runs the command line starts: which process owns each, and what is left when one was killed.

A `playlist-assets materialize` killed with SIGKILL leaves its run STARTED in the instance, and
the warehouse's writer slot (the `duckdb_warehouse` pool) claimed by it: every later run would
wait for that slot for ever. Each run the command starts is tagged with its process (host, pid
and the process's start time, so a reused pid is not taken for the owner); the next command
finds the runs whose process is gone, marks them failed and frees their slots. A slot held by
a run that is still going (launched from the UI, say) is waited for, within a bound, saying so.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import dagster as dg

OWNER_TAG = "playlist_assets/owner"
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class SlotBusyError(RuntimeError):
    """Another run kept the warehouse's writer slot for longer than we may wait."""


def _start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the owner of a run it starts."""
    pid = os.getpid()
    return {OWNER_TAG: f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}"}


def _owner_is_gone(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's process: we cannot tell, so it is not ours to end
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return bool(started) and _start_time(pid) not in (None, started)


def fail_abandoned_runs(instance: dg.DagsterInstance, echo: Callable[[str], None]) -> list[str]:
    """Mark failed the unfinished runs whose owning process is gone; free every slot they held."""
    abandoned = [
        run
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
        if OWNER_TAG in run.tags and _owner_is_gone(run.tags[OWNER_TAG])
    ]
    for run in abandoned:
        pid = run.tags[OWNER_TAG].split(":")[1]
        instance.report_run_failed(run, f"The process that ran it (pid {pid}) ended without finishing it.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        echo(
            f"  Run {run.run_id} of an earlier playlist-assets (pid {pid}) had stopped without "
            "finishing; marked it failed and freed its hold on the warehouse."
        )
    return [run.run_id for run in abandoned]


def free_slots_of_finished_runs(instance: dg.DagsterInstance, pool: str) -> None:
    """Slots still claimed by runs that have ended (a crashed UI run the daemon marked failed)."""
    holders = _slot_holders(instance, pool)
    if not holders:
        return
    runs = {run.run_id: run for run in instance.get_runs(filters=dg.RunsFilter(run_ids=sorted(holders)))}
    for run_id in holders:
        if run_id not in runs or runs[run_id].is_finished:  # ended, or deleted from the history
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def wait_for_slot(
    instance: dg.DagsterInstance, pool: str, wait_s: float, echo: Callable[[str], None], poll_s: float = 0.5
) -> None:
    """Return once no other run holds `pool`'s slots; after `wait_s`, raise SlotBusyError."""
    fail_abandoned_runs(instance, echo)
    free_slots_of_finished_runs(instance, pool)
    deadline = time.monotonic() + wait_s
    said = False
    while holders := _slot_holders(instance, pool):
        described = ", ".join(_describe(instance, run_id) for run_id in sorted(holders))
        if time.monotonic() >= deadline:
            raise SlotBusyError(
                f"The warehouse is still being written by {described} after {wait_s:g} s; wait for it "
                "to finish, or terminate it in the Dagster UI (Runs), then run again "
                f"(PLAYLIST_ASSETS_LOCK_WAIT_S sets how long to wait)."
            )
        if not said:
            echo(f"  Waiting up to {wait_s:g} s for {described}, which is writing the warehouse (pool {pool}).")
            said = True
        time.sleep(poll_s)
        fail_abandoned_runs(instance, echo)
        free_slots_of_finished_runs(instance, pool)


def _slot_holders(instance: dg.DagsterInstance, pool: str) -> set[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return set()
    return {slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}


def _describe(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id}"
    owner = run.tags.get(OWNER_TAG)
    started_by = f"playlist-assets, pid {owner.split(':')[1]}" if owner else "the Dagster UI or daemon"
    return f"run {run_id} (job {run.job_name}, started by {started_by})"
