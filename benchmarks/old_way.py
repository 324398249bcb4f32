"""A DELIBERATELY NAIVE BASELINE, for comparison only: never use this to make reports.

It redoes one playlist's PNG and Markdown the way the generator of the seed reports
(shared/seeds, "spotify-stats", 2024) went about them, written fresh for this benchmark:
- the scatter through pyplot's global state: seaborn's `scatterplot` on a 15 x 15 inch figure
  at 50 dpi with a default ("best" placed) legend;
- the Markdown table by looking each cell up in a pandas data frame of track details, one
  full-frame mask per cell (`df[df.track_id == id][col].iloc[0]`), and no escaping, as the
  seeds had none.
seaborn and pandas come with `make bench` (the `bench` extra), never with the product. Run
without them, the scatter is plain pyplot and the lookups polars filters, and `results.json`
says so (`old_way.plotted_with`, `old_way.lookups_with`).

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

from playlist_assets.reports import report_data  # noqa: E402
from playlist_assets.warehouse import queries
from playlist_assets.reports.model import PlaylistReport, ScatterInput  # noqa: E402
from per_report import MARKDOWN, PNG, WARM_UP_PLAYLISTS, Built, Measured, Stopwatch, slugs_of_library  # noqa: E402

try:
    import pandas as pd
    import seaborn as sns
except ImportError:
    pd = sns = None

PLOTTED_WITH = "seaborn scatterplot" if sns is not None else "matplotlib pyplot (seaborn not installed)"
LOOKUPS_WITH = "pandas mask per cell" if pd is not None else "polars filter per cell (pandas not installed)"
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


def details_frame(details: pl.DataFrame):
    """The track details as the old generator held them: a pandas frame (polars without pandas)."""
    return details.to_pandas() if pd is not None else details


def _lookup(details, track_id: str, *columns: str) -> tuple:
    """The naive part: scan the whole frame again for every single cell."""
    if pd is None:
        match = details.filter(pl.col("track_id") == track_id)
        return match.select(columns).row(0) if match.height else (None,) * len(columns)
    match = details[details.track_id == track_id]
    if match.empty:
        return (None,) * len(columns)
    return tuple(_plain(match[column].iloc[0]) for column in columns)


def _plain(value):
    # pandas hands list cells back as arrays and missing numbers as NaN.
    if isinstance(value, np.ndarray):
        return value.tolist()
    return None if pd.isna(value) else value


def _old_slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def _old_row(details, track_id: str, has_score: bool) -> str:
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


def old_markdown(report: PlaylistReport, details) -> str:
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
    # Untimed: the old generator had its frame already; the conversion is this benchmark's.
    details = details_frame(inputs.track_details)
    with watch.part(MARKDOWN):
        for report, _ in reports:
            old_markdown(report, details)
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
