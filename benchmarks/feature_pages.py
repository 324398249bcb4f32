"""The cost of one playlist's Track Features page, next to the cluster report's, on one core.

Builds a demo library (or takes a built warehouse), samples playlists spread over it, and times
the pure functions the assets call, in this process, as `per_report.py` does: the page's queries
(the whole feature table once, the sampled playlists' tracks once), its data, its Markdown and
its PNG, each divided by the number of playlists. The cluster report's figures (clustering +
PNG + Markdown) are measured on the same playlists right before, for the budget's sum.

    .venv/bin/python benchmarks/feature_pages.py                    # 50 demo playlists x 100 entries
    .venv/bin/python benchmarks/feature_pages.py --warehouse PATH   # an existing warehouse
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

import per_report  # noqa: E402

from playlist_assets.warehouse import queries  # noqa: E402
from playlist_assets.reports.report_assets import CODE_VERSION  # noqa: E402
from playlist_assets.reports import feature_page, feature_plot  # noqa: E402
from playlist_assets.reports.slugs import assign_slugs  # noqa: E402

BUDGET_MS = 60.0
PARTS = ("queries", "data", "markdown", "png")


def _build_demo(root: Path, playlists: int, tracks: int) -> Path:
    warehouse = root / "playlists.duckdb"
    subprocess.run(
        [str(Path(sys.executable).parent / "playlist-assets"), "materialize", "--warehouse", str(warehouse),
         "--reports", str(root / "reports"), "--dagster-home", str(root / "dagster_home"),
         "--demo-playlists", str(playlists), "--demo-tracks", str(tracks)],
        check=True, stdout=subprocess.DEVNULL,
    )
    return warehouse


def _pages(conn, ids: list[str], watch: per_report.Stopwatch) -> None:
    with watch.part("queries"):
        playlists = queries.all_playlists(conn)
        features = queries.library_track_features(conn)
        tracks = queries.track_feature_rows(conn, ids)
    with watch.part("data"):
        library = feature_page.library_distribution(features)
        chosen = playlists.filter(playlists["playlist_id"].is_in(ids))
        pages = feature_page.build_pages(chosen, tracks, features, library, assign_slugs(playlists.rows()))
    with watch.part("markdown"):
        for page in pages:
            feature_page.render_markdown(page)
    with watch.part("png"):
        for page in pages:
            if page.plot is not None:
                feature_plot.render_png(page.plot)


def measure(conn, ids: list[str]) -> tuple[dict[str, float], dict[str, float], float]:
    """Wall and CPU ms per page of each part after a warm-up, and the one-off cost of the first
    plot of a library (drawing what every page of the run shares) in ms."""
    first = per_report.Stopwatch()
    _pages(conn, ids[: per_report.WARM_UP_PLAYLISTS], first)
    watch = per_report.Stopwatch()
    _pages(conn, ids, watch)
    wall = {part: 1000 * watch.seconds.get(part, 0.0) / len(ids) for part in PARTS}
    cpu = {part: 1000 * watch.cpu_seconds.get(part, 0.0) / len(ids) for part in PARTS}
    warm_up_png = 1000 * first.seconds["png"] - wall["png"] * per_report.WARM_UP_PLAYLISTS
    return wall, cpu, warm_up_png


def _line(parts: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) + f"; total {sum(parts.values()):.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, help="a built warehouse (default: build a demo one)")
    parser.add_argument("--demo-playlists", type=int, default=50)
    parser.add_argument("--demo-tracks", type=int, default=100)
    parser.add_argument("--playlists", type=int, default=50, help="playlists to time (spread over the library)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = args.warehouse or _build_demo(Path(tmp), args.demo_playlists, args.demo_tracks)
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            ids = per_report.sample_playlists(conn, args.playlists)
            started = time.perf_counter()
            # Each measurement starts without the other's garbage: a full collection of what the
            # cluster reports left (~3 ms a page here) would otherwise land in the pages' figures.
            gc.collect()
            report = per_report.measure_new_way(conn, ids, CODE_VERSION).measured
            gc.collect()
            page, page_cpu, warm_up_png = measure(conn, ids)
            seconds = time.perf_counter() - started
    print(f"{len(ids)} playlists, one core, in process ({seconds:.1f} s in all); ms per playlist:")
    print(f"cluster report, wall: {_line(report.ms_per_playlist())}")
    print(f"cluster report, CPU:  {_line(report.cpu_ms_per_playlist())}")
    print(f"Track Features, wall: {_line(page)}")
    print(f"Track Features, CPU:  {_line(page_cpu)}")
    print(f"  first plot of a library (once per process and layout): +{warm_up_png:.0f} ms, "
          f"{warm_up_png / len(ids):.1f} ms a page over these {len(ids)}")
    total = report.total_ms_per_playlist() + sum(page.values())
    print(f"both, wall: {total:.1f} ms a playlist (budget {BUDGET_MS:.0f} ms: {'met' if total <= BUDGET_MS else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
