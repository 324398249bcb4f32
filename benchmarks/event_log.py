"""The batched event log's benefit: the scale run with it and with Dagster's stock SQLite log.

    .venv/bin/python benchmarks/event_log.py                          # 200 playlists x 100 entries
    .venv/bin/python benchmarks/event_log.py --playlists 200 1000     # both sizes, one after the other
    .venv/bin/python benchmarks/event_log.py --repeat 2               # two interleaved pairs per size

Figures, not tests: it prints what it measured. For each library size it runs the scale run of
`run.py` (`playlist-assets materialize` on the demo library scaled to N playlists x 100
entries, fresh folders) once per storage, the storages interleaved:

- **batched**: the instance folder as the command writes it (`playlist_assets.runtime.event_log`);
- **stock**: the same dagster.yaml without its `event_log_storage`, so Dagster uses its own
  `SqliteEventLogStorage` in the same place (`<DAGSTER_HOME>/history/runs`).

Besides wall and CPU seconds it counts, inside the command (`event_log_timing.py`), the time
spent in the event log storage: writing events (`store_event`, `store_event_batch`) and
everything else asked of it (reads, partitions, concurrency slots), the connections it opened,
and afterwards the rows in the index and the run files. DAGSTER_EVENT_BATCH_SIZE is removed
from the environment: the batched storage sets it for its own process, and the stock one runs
as Dagster ships it. A run past `--timeout-min` is stopped, with its workers, and reported as
stopped. Nothing is written to warehouse/, reports/ or .dagster/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The sibling modules by name; the package from this checkout, as the runs import it (cli_runs).
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from cli_runs import BenchmarkRunError, BenchmarkTimeout, Workspace, materialize  # noqa: E402
from run import _machine  # noqa: E402

STORAGES = ("batched", "stock")
TRACKS_PER_PLAYLIST = 100
BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
WRITES = ("store_event", "store_event_batch")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--playlists", type=int, nargs="+", default=[200], metavar="N",
                        help="Library sizes, N playlists x 100 entries each (default %(default)s).")
    parser.add_argument("--storages", nargs="+", choices=STORAGES, default=list(STORAGES),
                        help="Which event logs, in this order within each pair (default: %(default)s).")
    parser.add_argument("--repeat", type=int, default=1, metavar="K", help="Pairs per size (default 1).")
    parser.add_argument("--timeout-min", type=float, default=15.0, metavar="M",
                        help="Stop a run after M minutes (default %(default)s).")
    parser.add_argument("--results", type=Path, default=HERE / "out" / "event_log.json", metavar="FILE",
                        help="Where to write the figures (default benchmarks/out/event_log.json).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folders and print where they are.")
    args = parser.parse_args(argv)
    if min(args.playlists) < 1 or args.repeat < 1:
        parser.error("--playlists and --repeat must be at least 1")
    return args


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(workspace: Workspace, storage: str) -> None:
    """The instance folder: as the command writes it, or the same without the batched log."""
    from playlist_assets.runtime.instance import prepare_instance_folder

    prepare_instance_folder(workspace.dagster_home)
    if storage == "stock":
        import yaml

        config_file = workspace.dagster_home / "dagster.yaml"
        config = yaml.safe_load(config_file.read_text())
        del config["event_log_storage"]
        # No longer the file the command writes, so the command keeps it as it is.
        config_file.write_text(yaml.safe_dump(config))


def stored_rows(dagster_home: Path) -> dict:
    """Rows and bytes of the event log's files after the run: the index and one file per run."""
    folder = dagster_home / "history" / "runs"
    rows = {"index_rows": 0, "run_files": 0, "run_file_rows": 0}
    for db in sorted(folder.glob("*.db")):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            count = conn.execute("SELECT count(*) FROM event_logs").fetchone()[0]
        if db.name == "index.db":
            rows["index_rows"] = count
        else:
            rows["run_files"] += 1
            rows["run_file_rows"] += count
    rows["bytes"] = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return rows


def one_run(tmp: Path, storage: str, playlists: int, repeat: int, timeout_s: float) -> dict:
    workspace = Workspace(tmp / f"{storage}-{playlists}-{repeat}")
    prepare(workspace, storage)
    timing = workspace.root / "event_log_timing.json"
    library = ["--demo-playlists", str(playlists), "--demo-tracks", str(TRACKS_PER_PLAYLIST)]
    launcher = (str(HERE / "event_log_timing.py"), str(timing))
    _say(f"{storage}: materialize {playlists} playlists x {TRACKS_PER_PLAYLIST} entries ...")
    figures: dict = {"storage": storage, "playlists": playlists, "repeat": repeat}
    try:
        run = materialize(workspace, "scale", library, launcher=launcher, timeout_s=timeout_s)
    except BenchmarkTimeout as stopped:
        _say(f"{storage}: stopped after {stopped.seconds:.0f} s")
        return figures | {"stopped_after_s": round(stopped.seconds, 1)}
    timed = json.loads(timing.read_text())
    calls = timed["calls"]
    writes = [calls.get(name, {"calls": 0, "seconds": 0.0}) for name in WRITES]
    others = {name: c for name, c in calls.items() if name not in WRITES}
    return figures | {
        "wall_s": round(run.wall_s, 2),
        "in_process_s": run.summary["seconds"],
        "cpu_s": round(run.cpu_s, 2),
        "peak_rss_mb": round(run.peak_rss_mib),
        "runs": run.summary["runs"],
        "stage_s": run.stage_seconds,
        "storage_class": timed["storage_classes"],
        "events_stored": timed["events_stored"],
        "write_calls": sum(w["calls"] for w in writes),
        "write_s": round(sum(w["seconds"] for w in writes), 2),
        "other_calls": sum(c["calls"] for c in others.values()),
        "other_s": round(sum(c["seconds"] for c in others.values()), 2),
        "other_top": dict(sorted(others.items(), key=lambda item: -item[1]["seconds"])[:4]),
        "connections": timed["connections"],
        **stored_rows(workspace.dagster_home),
    }


def _row(label: str, values: list, unit: str = "", digits: int = 2) -> str:
    cells = []
    for value in values:
        if value is None:
            cells.append("-")
        elif isinstance(value, str):
            cells.append(value)
        else:
            cells.append(f"{value:,.{digits}f}{unit}" if isinstance(value, float) else f"{value:,}{unit}")
    return f"  {label:<34}" + "".join(f"{cell:>16}" for cell in cells)


def render(results: list[dict]) -> str:
    lines = []
    for playlists in sorted({r["playlists"] for r in results}):
        runs = [r for r in results if r["playlists"] == playlists]
        lines.append(f"\n{playlists} playlists x {TRACKS_PER_PLAYLIST} entries")
        lines.append(_row("", [f"{r['storage']} #{r['repeat'] + 1}" for r in runs]))
        done = [r for r in runs if "wall_s" in r]
        if len(done) < len(runs):
            lines.append(_row("stopped after (s)", [r.get("stopped_after_s") for r in runs], digits=0))
        if not done:
            continue
        def get(key: str, runs: list[dict] = runs) -> list:
            return [r.get(key) for r in runs]

        per_event = [None if "write_s" not in r else 1000 * r["write_s"] / max(r["events_stored"], 1) for r in runs]
        lines += [
            _row("wall, spawn to exit (s)", get("wall_s")),
            _row("in process (s)", get("in_process_s")),
            _row("CPU, user + system (s)", get("cpu_s")),
            _row("peak RSS (MiB)", get("peak_rss_mb")),
            _row("Dagster runs", get("runs")),
            _row("event log: events written", get("events_stored")),
            _row("event log: write calls", get("write_calls")),
            _row("event log: writing (s)", get("write_s")),
            _row("event log: ms per event written", per_event),
            _row("event log: other calls", get("other_calls")),
            _row("event log: other calls (s)", get("other_s")),
            _row("event log: connections opened", get("connections")),
            _row("rows: index / run files", [
                None if "index_rows" not in r else f"{r['index_rows']:,} / {r['run_file_rows']:,}" for r in runs
            ]),
            _row("files: bytes", get("bytes")),
        ]
        stages = list(dict.fromkeys(stage for r in done for stage in r["stage_s"]))  # in run order
        for stage in stages:
            lines.append(_row(f"stage {stage} (s)", [r.get("stage_s", {}).get(stage) for r in runs]))
        for r in done:
            top = ", ".join(f"{name} {c['seconds']:.2f} s/{c['calls']:,}" for name, c in r["other_top"].items())
            lines.append(f"  {r['storage']} #{r['repeat'] + 1}: {', '.join(r['storage_class'])}; most of the other calls: {top}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    was_set = os.environ.pop(BATCH_SIZE_VARIABLE, None)
    if was_set is not None:
        _say(f"{BATCH_SIZE_VARIABLE}={was_set} removed from the environment of the runs")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    machine = _machine()
    import playlist_assets

    # The package the runs import (a checkout on PYTHONPATH comes before the editable install).
    machine["package"] = str(Path(playlist_assets.__file__).resolve().parent)
    package = Path(playlist_assets.__file__).parent
    machine["package_git_commit"] = _git_at(package, "rev-parse", "--short", "HEAD")
    # Uncommitted changes to the package: what ran is not exactly that commit.
    machine["package_git_dirty"] = bool(_git_at(package, "status", "--porcelain", "--untracked-files=no", "."))
    tmp = Path(tempfile.mkdtemp(prefix="playlist-assets-event-log-"))
    results: list[dict] = []
    try:
        for playlists in args.playlists:
            for repeat in range(args.repeat):
                for storage in args.storages:
                    results.append(one_run(tmp, storage, playlists, repeat, args.timeout_min * 60))
    except BenchmarkRunError as error:
        print(f"benchmark: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            _say(f"kept the benchmark folders in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if hasattr(os, "getloadavg"):
        machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"date": started, "machine": machine, "runs": results}, indent=2) + "\n")
    print(f"event log benchmark, {started}, {machine['cpu_count']} CPUs, Python {machine['python']}, "
          f"dagster {machine['packages']['dagster']}, package {machine['package']} "
          f"(commit {machine['package_git_commit'] or 'unknown'}{', with uncommitted changes' if machine['package_git_dirty'] else ''}), load average {machine['load_average_at_start']} "
          f"at start, {machine.get('load_average_at_end')} at end")
    print(render(results))
    print(f"\nwritten to {args.results}")
    return 0


def _git_at(folder: Path, *args: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())
