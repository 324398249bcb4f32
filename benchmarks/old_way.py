"""A DELIBERATELY NAIVE BASELINE, for comparison only: never use this to make reports.

It redoes one playlist's PNG and Markdown the way the generator of the seed reports
(shared/seeds, "spotify-stats", 2024) went about them, written fresh for this benchmark:
- the scatter through pyplot's global state, a seaborn-style scatter on a 15 x 15 inch figure
  at 50 dpi with a default ("best" placed) legend; seaborn draws it when installed, plain
  pyplot otherwise (seaborn is not a dependency and is never installed for this);
- the Markdown table by looking each cell up in a data frame of track details, one full-frame
  filter per cell (polars `.filter(pl.col("track_id") == id)`, the pandas idiom
  `df[df.track_id == id][col].iloc[0]`), and no escaping, as the seeds had none.

Both take exactly the inputs the project's renderers take (the same `report_data.build_reports`
output and the same queries), so the difference measured is how the rendering is done. The
clustering is not redone: the old generator's clustering is not reproduced here.
"""

from __future__ import annotations

import io
import warnings

import duckdb
import matplotlib
import numpy as np
import polars as pl

matplotlib.use("Agg")  # before pyplot: benchmarks run without a display
import matplotlib.pyplot as plt  # noqa: E402

from playlist_assets import queries, report_data  # noqa: E402
from playlist_assets.reporting.model import PlaylistReport, ScatterInput  # noqa: E402
from per_report import MARKDOWN, PNG, WARM_UP_PLAYLISTS, Built, Measured, Stopwatch, slugs_of_library  # noqa: E402

try:
    import seaborn as sns
except ImportError:
    sns = None

PLOTTED_WITH = "seaborn scatterplot" if sns is not None else "matplotlib pyplot (seaborn not installed)"
LOOKUPS_WITH = "polars filter per cell"
FIGSIZE_IN, DPI = (15, 15), 50

HEADER_WITH_SCORE = "| Art | Track | Album | Artists | Label | Score | 💚 | 🔗 |\n|:---|:---|:---|:---|:---|---:|:---|:---|"
HEADER_WITHOUT_SCORE = "| Art | Track | Album | Artists | Label | 💚 | 🔗 |\n|:---|:---|:---|:---|:---|:---|:---|"


def old_scatter_png(scatter: ScatterInput) -> bytes:
    figure = plt.figure(figsize=FIGSIZE_IN, dpi=DPI)
    xs = np.array([p.x for p in scatter.points])
    ys = np.array([p.y for p in scatter.points])
    clusters = np.array([p.cluster for p in scatter.points])
    if sns is not None:
        hue = [scatter.legend.get(int(c), f"Cluster #{c}") for c in clusters]
        sns.scatterplot(x=xs, y=ys, hue=hue)
    else:
        for number in sorted(set(clusters.tolist())):
            mine = clusters == number
            plt.scatter(xs[mine], ys[mine], label=scatter.legend.get(number, f"Cluster #{number}"))
    plt.title(scatter.title)
    plt.xlabel(scatter.x_label)
    plt.ylabel(scatter.y_label)
    plt.legend()
    buffer = io.BytesIO()
    plt.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _lookup(details: pl.DataFrame, track_id: str, *columns: str) -> tuple:
    """The naive part: scan the whole frame again for every single cell."""
    match = details.filter(pl.col("track_id") == track_id)
    if match.height == 0:
        return (None,) * len(columns)
    return match.select(columns).row(0)


def _old_slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def _old_row(details: pl.DataFrame, track_id: str, has_score: bool) -> str:
    (image_url,) = _lookup(details, track_id, "image_url")
    (name,) = _lookup(details, track_id, "name")
    (album,) = _lookup(details, track_id, "album")
    artist_names, artist_ids = _lookup(details, track_id, "artist_names", "artist_ids")
    (label,) = _lookup(details, track_id, "label")
    cells = [
        f'<img src="{image_url}" alt="" width="50" />' if image_url else "",
        name or "",
        album or "",
        ", ".join(
            f"[{artist}](../../../../artists/{_old_slug(artist)}/overview.md)" if artist_id else artist
            for artist, artist_id in zip(artist_names or [], artist_ids or [])
            if artist
        ),
        f"[{label}](../../../../labels/{_old_slug(label)})" if label else "",
    ]
    if has_score:
        (score,) = _lookup(details, track_id, "score")
        cells.append(str(int(score or 0)))
    (liked,) = _lookup(details, track_id, "liked")
    cells += ["💚" if liked else "", f"[🔗](https://open.spotify.com/track/{track_id})"]
    return "| " + " | ".join(cells) + " |"


def old_markdown(report: PlaylistReport, details: pl.DataFrame) -> str:
    """The seeds' shape: title, image, one table per cluster (no escaping, no other sections)."""
    image = f"../../../images/playlists/{report.slug}/clusters/clusters_scatter.png"
    lines = [f"# Clusters in {report.name}", "", f"![Comparison of Cluster]({image})", ""]
    for section in report.clusters:
        lines += [f"## Cluster #{section.number}", "", f"{section.size} tracks", ""]
        lines.append(HEADER_WITH_SCORE if report.has_score else HEADER_WITHOUT_SCORE)
        lines += [_old_row(details, row.track_id, report.has_score) for row in section.representatives]
        lines.append("")
    return "\n".join(lines)


def _old_way(conn: duckdb.DuckDBPyConnection, ids: list[str], code_version: str, built: Built) -> Measured:
    watch = Stopwatch()
    with watch.part(MARKDOWN):
        # The same queries and report data as the project's Markdown part: only rendering differs.
        inputs = queries.report_inputs(conn, ids)
        reports = report_data.build_reports(inputs, slugs_of_library(conn), code_version)
        for report, _ in reports:
            old_markdown(report, inputs.track_details)
    with watch.part(PNG):
        for _, scatter in built:
            if scatter is not None:
                old_scatter_png(scatter)
    return Measured(len(ids), watch.seconds, watch.cpu_seconds)


def measure_old_way(conn: duckdb.DuckDBPyConnection, ids: list[str], code_version: str, built: Built) -> Measured:
    """PNG and Markdown of `ids` the naive way, timed after an untimed warm-up.

    `built` is the project's report data for the same `ids`, so both plot the same points.
    """
    # Names in scripts DejaVu Sans lacks would print a missing-glyph warning per character.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm_ids = ids[:WARM_UP_PLAYLISTS]
        _old_way(conn, warm_ids, code_version, [b for b in built if b[0].playlist_id in warm_ids])
        return _old_way(conn, ids, code_version, built)
