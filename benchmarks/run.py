"""Print the project's performance figures and write them to benchmarks/results.json.

    .venv/bin/python benchmarks/run.py                        # everything (the scale run takes minutes)
    .venv/bin/python benchmarks/run.py --scale-playlists 50   # quick: the same figures, smaller library
    .venv/bin/python benchmarks/run.py --skip-scale           # demo + per report + old way only

Figures, not tests: nothing here passes or fails, it prints what it measured next to the
targets. Every library is built in a temporary folder, never in warehouse/, reports/ or .dagster/.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script (`make bench`), so the sibling modules import by name from this folder; the
# package is this checkout's, as in the runs (cli_runs.CHECKOUT), not the editable install's.
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from cli_runs import BenchmarkRunError, CliRun, Workspace, materialize  # noqa: E402
from figures import EXPECTED_INCREMENTAL_PARTITIONS, render_details, render_table, target_status  # noqa: E402

SCALE_TRACKS_PER_PLAYLIST = 100
PARTS = ("clustering", "png", "markdown")
PACKAGES = ("dagster", "duckdb", "polars", "matplotlib", "scikit-learn", "numpy")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-scale", action="store_true", help="Skip the scale and incremental runs.")
    parser.add_argument(
        "--scale-playlists", type=int, default=1000, metavar="N",
        help="Playlists in the scaled demo library, 100 entries each (default %(default)s).",
    )
    parser.add_argument(
        "--per-report-playlists", type=int, default=100, metavar="N",
        help="Playlists the per-report figures are measured on (default %(default)s).",
    )
    parser.add_argument(
        "--results", type=Path, default=HERE / "results.json", metavar="FILE",
        help="Where to write the figures (default benchmarks/results.json).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder and print where it is.")
    args = parser.parse_args(argv)
    if args.scale_playlists < 1 or args.per_report_playlists < 1:
        parser.error("--scale-playlists and --per-report-playlists must be at least 1")
    return args


def _say(message: str) -> None:
    # Progress goes to stderr so that stdout holds only the figures.
    print(message, file=sys.stderr, flush=True)


def _machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "memory_gib": _memory_gib(),
        # Other work on the machine slows every wall-clock figure; this says how busy it was.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "packages": {name: _version(name) for name in PACKAGES},
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _cli_runs(args: argparse.Namespace, tmp: Path) -> tuple[dict, Workspace]:
    """The subprocess figures; returns them and the workspace to measure per report on."""
    figures: dict = {}
    demo = Workspace(tmp / "demo")
    _say("demo: materialize the default demo library ...")
    run = materialize(demo, "demo", [])
    figures |= {
        "demo_s": round(run.wall_s, 2),
        "demo_in_process_s": run.summary["seconds"],
        "demo_cpu_s": round(run.cpu_s, 2),
        "demo_peak_rss_mb": round(run.peak_rss_mib),
        "demo_playlists": run.summary["playlists"],
    }
    if args.skip_scale:
        return figures | {"scale_playlists": None}, demo

    scale = Workspace(tmp / "scale")
    library = ["--demo-playlists", str(args.scale_playlists), "--demo-tracks", str(SCALE_TRACKS_PER_PLAYLIST)]
    _say(f"scale: materialize {args.scale_playlists} playlists x {SCALE_TRACKS_PER_PLAYLIST} entries ...")
    run = materialize(scale, "scale", library)
    figures |= _scale_figures(args.scale_playlists, run)
    _say(f"incremental: {EXPECTED_INCREMENTAL_PARTITIONS} playlists edited, --changed-only ...")
    edits = ["--demo-edits", str(EXPECTED_INCREMENTAL_PARTITIONS), "--changed-only"]
    run = materialize(scale, "incremental", library + edits)
    figures |= {
        "incremental_s": round(run.wall_s, 2),
        "incremental_in_process_s": run.summary["seconds"],
        "incremental_cpu_s": round(run.cpu_s, 2),
        "incremental_partitions": run.summary["rebuilt"],
        "incremental_runs": run.summary["runs"],
        "incremental_peak_rss_mb": round(run.peak_rss_mib),
        "incremental_stage_s": run.stage_seconds,
    }
    return figures, scale


def _scale_figures(playlists: int, run: CliRun) -> dict:
    return {
        "scale_playlists": playlists,
        "scale_tracks_per_playlist": SCALE_TRACKS_PER_PLAYLIST,
        "scale_s": round(run.wall_s, 2),
        "scale_cpu_s": round(run.cpu_s, 2),
        "scale_in_process_s": run.summary["seconds"],
        "scale_peak_rss_mb": round(run.peak_rss_mib),
        "scale_clustered": run.summary["clustered"],
        "scale_stage_s": run.stage_seconds,
    }


def _per_report(args: argparse.Namespace, workspace: Workspace) -> dict:
    # Imported here: the package (and Dagster, for the code version) loads only after the
    # subprocess figures, so its import cost never lands in them.
    import feature_pages
    import old_way
    import per_report
    from playlist_assets.warehouse.database import connect

    with warnings.catch_warnings():
        # As the CLI does: Dagster's notice about the project's beta backfill policy is noise here.
        warnings.simplefilter("ignore")
        from playlist_assets.reports.report_assets import CODE_VERSION

    with connect(workspace.warehouse, read_only=True) as conn:
        ids = per_report.sample_playlists(conn, args.per_report_playlists)
        _say(f"per report: {len(ids)} playlists, the project's way ...")
        new = per_report.measure_new_way(conn, ids, CODE_VERSION)
        _say(f"per report: {len(ids)} playlists, the project's way on every core ...")
        all_cores = per_report.measure_on_all_cores(conn, ids, CODE_VERSION)
        _say(f"per report: {len(ids)} playlists, the old way ...")
        old = old_way.measure_old_way(conn, ids, CODE_VERSION, new.built)
        _say(f"per report: {len(ids)} playlists, their Track Features pages ...")
        page_parts, _, _ = feature_pages.measure(conn, ids)
    new_parts = new.measured.ms_per_playlist()
    # The old way keeps the project's clustering (see old_way's docstring), so only rendering differs.
    old_parts = {"clustering": new_parts["clustering"], **old.ms_per_playlist()}
    new_ms, old_ms = sum(new_parts.values()), sum(old_parts.values())
    return {
        "per_report_ms": round(new_ms, 1),
        # Both pages a playlist gets, on one core: the budget the Track Features page shares.
        "per_playlist_both_pages_ms": round(new_ms + sum(page_parts.values()), 1),
        "track_features_page_parts_ms": {part: round(ms, 1) for part, ms in page_parts.items()},
        "per_report_parts_ms": {part: round(new_parts[part], 1) for part in PARTS},
        "per_report_parts_cpu_ms": {part: round(ms, 1) for part, ms in new.measured.cpu_ms_per_playlist().items()},
        "per_report_all_cores_ms": None if all_cores is None else round(all_cores.total_ms_per_playlist(), 1),
        "per_report_all_cores_parts_ms": None if all_cores is None else {
            part: round(all_cores.ms_per_playlist()[part], 1) for part in PARTS
        },
        "per_report_playlists": len(ids),
        "per_report_warehouse": workspace.root.name,
        "per_report_markdown_same_as_pipeline": per_report.same_as_pipeline(workspace.reports, new),
        "old_way_per_report_ms": round(old_ms, 1),
        "old_way_parts_ms": {part: round(old_parts[part], 1) for part in PARTS},
        "old_way_ratio": round(old_ms / new_ms, 2),
        "old_way_render_ratio": round(
            (old_parts["png"] + old_parts["markdown"]) / (new_parts["png"] + new_parts["markdown"]), 2
        ),
        "old_way": {"plotted_with": old_way.PLOTTED_WITH, "lookups_with": old_way.LOOKUPS_WITH},
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": _machine()}
    tmp = Path(tempfile.mkdtemp(prefix="playlist-assets-bench-"))
    try:
        figures, measured_on = _cli_runs(args, tmp)
        results |= figures
        results |= _per_report(args, measured_on)
    except BenchmarkRunError as error:
        print(f"benchmark: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            _say(f"kept the benchmark folders in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = target_status(results)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    machine = results["machine"]
    print(f"playlist-assets benchmark, {results['date']}, {machine['cpu_count']} CPUs, {machine['platform']}, "
          f"Python {machine['python']}, load average {machine['load_average_at_start']} at start")
    print(render_table(results))
    print()
    print(render_details(results))
    print(f"\nwritten to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
