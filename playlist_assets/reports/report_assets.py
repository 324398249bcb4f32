"""reports/clusters_scatter and reports/overview: each playlist's PNG scatter plot and Markdown report
(written by the one step of reports/report_files_assets.py)."""


import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg

import playlist_assets
from playlist_assets.reports import files
from playlist_assets.warehouse import quality, queries
from playlist_assets.warehouse.check_results import check_result
from playlist_assets.clustering.clustering_assets import CLUSTERING_CODE_VERSION
from playlist_assets.reports.feature_page_assets import TRACK_FEATURES_CODE_VERSION, TRACK_FEATURES_KEY
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.features.snapshot_assets import PLAYLIST_SNAPSHOTS
from playlist_assets.reports import previews, track_lists
from playlist_assets.reports.markdown import has_scatter, render_report
from playlist_assets.reports.paths import report_path, scatter_path, track_features_path
from playlist_assets.reports.slugs import assign_slugs

CLUSTER_KEYS = [
    ["analytics", "playlist_clusters"],
    ["analytics", "clusters"],
    ["analytics", "playlist_clusterings"],
    ["analytics", "unclustered_entries"],
]
# The reports also show what the clusters do not hold (track names, albums, artists, likes), so
# they depend on the playlist's snapshot directly: a renamed track makes its reports unsynced.
REPORT_INPUTS = [*CLUSTER_KEYS, PLAYLIST_SNAPSHOTS.key]
SCATTER_KEY = dg.AssetKey(["reports", "clusters_scatter"])
OVERVIEW_KEY = dg.AssetKey(["reports", "overview"])
# Bump when this asset's output would change for the same inputs.
SCATTER_CODE_VERSION = "scatter-v5"  # v3: no hinting; v4: legend below the axes; v5: rows Up-filtered, RGBA
MARKDOWN_CODE_VERSION = "markdown-v5"  # v2: no autolinks, art only from Spotify; v3: every track listed, overlap said; v4: each cluster's track list, its saved playlist; v5: links the Track Features page
CODE_VERSION = (
    f"playlist-assets {playlist_assets.__version__} "
    f"({CLUSTERING_CODE_VERSION}, {SCATTER_CODE_VERSION}, {MARKDOWN_CODE_VERSION}, {TRACK_FEATURES_CODE_VERSION})"
)
# Spotify's snapshot id, told apart from features/playlist_snapshots (this project's data version).
_METADATA_LABELS = {"Playlist snapshot": "spotify_snapshot_id"}


def slugs_of_library(conn) -> dict[str, str]:
    # Slugs depend on every playlist's name (to keep colliding names apart), not only this run's.
    return assign_slugs(queries.all_playlists(conn).rows())


SCATTER_SPEC = dg.AssetSpec(
    SCATTER_KEY,
    deps=REPORT_INPUTS,
    group_name="reports",
    kinds={"matplotlib", "png"},
    code_version=SCATTER_CODE_VERSION,
    description=(
        "The scatter plot of each playlist: tracks on the first two principal components, coloured "
        "by cluster. Written to reports/images/playlists/SLUG/clusters/clusters_scatter.png."
    ),
)
OVERVIEW_SPEC = dg.AssetSpec(
    OVERVIEW_KEY,
    # After the Track Features page: the report links to it, and its check reads both.
    deps=[*REPORT_INPUTS, SCATTER_KEY, TRACK_FEATURES_KEY],
    group_name="reports",
    kinds={"markdown"},
    code_version=MARKDOWN_CODE_VERSION,
    description=(
        "The Markdown report of each playlist: its clusters, their songs, and where they came from. "
        "Written to reports/playlists/SLUG/clusters/overview.md; byte-identical for the same inputs."
    ),
)
LINKS_RESOLVE = dg.AssetCheckSpec(
    "links_resolve",
    asset=OVERVIEW_KEY,
    blocking=True,
    description="Every relative link and image in the reports points at a file inside the reports folder.",
)


def draw_scatters(built: list, workers: WorkerPool) -> Iterator[tuple[bytes, bytes]]:
    """The PNG and UI preview of each plotted report of `built`, drawn by `workers.map_ahead`
    (read in order)."""
    return workers.map_ahead(previews.render_scatter_with_preview, [s for _, s in built if s is not None])


def write_scatters(root: Path, built: list, drawn: Iterator[tuple[bytes, bytes]], key_of: dict[str, str]) -> dict:
    """Write each report's scatter plot (`drawn`, in order, for those with one); its partition metadata."""
    per_partition = {}
    for report, scatter in built:
        path = root / scatter_path(report.slug)
        if scatter is None:
            path.unlink(missing_ok=True)  # an old plot must not outlive its clusters
            per_partition[(SCATTER_KEY, key_of[report.playlist_id])] = {
                "playlist": report.name,
                "written": False,
                "reason": report.unclustered_reason or "",
            }
            continue
        png, preview = next(drawn)
        previews.remember(png, preview)
        files.write_atomic(path, png)
        per_partition[(SCATTER_KEY, key_of[report.playlist_id])] = {
            "playlist": report.name,
            "written": True,
            "path": dg.MetadataValue.path(str(path)),
            "points": len(scatter.points),
            "preview": dg.MetadataValue.md(previews.png_preview_markdown(png, report.name)),
        }
    return per_partition


def render_overviews(built: list, workers: WorkerPool) -> Iterator[str]:
    """The Markdown of each report of `built`, rendered by `workers.map_ahead` (read in order)."""
    return workers.map_ahead(render_report, [report for report, _ in built])


def write_overviews(
    root: Path, built: list, texts: Iterable[str], key_of: dict[str, str], versions: dict[str, str]
) -> tuple[dict, dg.AssetCheckResult]:
    """Write each report (`texts`, in order; after its plot and Track Features page, which it
    links); its partition metadata, and the links_resolve check over the reports written."""
    written, per_partition = [], {}
    for (report, _), text in zip(built, texts):
        _write_track_lists(root, report)  # before the report that links to them
        path = root / report_path(report.slug)
        files.write_atomic(path, text.encode("utf-8"))
        written += [str(report_path(report.slug)), str(track_features_path(report.slug))]
        png = root / scatter_path(report.slug)
        # The partition page tells where the report came from without opening another asset:
        # the playlist first, then its provenance, then both files' hashes (as in the lineage).
        # The playlist's own recorded version: Dagster's input data version of a ranged run
        # combines every partition of the range.
        per_partition[(OVERVIEW_KEY, key_of[report.playlist_id])] = {
            "playlist": report.name,
            **{_METADATA_LABELS.get(label, label.lower().replace(" ", "_")): value for label, value in report.provenance},
            "playlist_version": versions.get(key_of[report.playlist_id], "(not recorded yet)"),
            "report_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "plot_sha256": files.sha256_of(png) if has_scatter(report) else "(no plot: not clustered)",
            "path": dg.MetadataValue.path(str(path)),
            "clusters": len(report.clusters),
            "not_clustered_entries": sum(n.count for n in report.not_clustered),
            "report": dg.MetadataValue.md(_with_inline_plot(text, png)),
        }
    links = quality.reports_links_resolve(root, written)
    return per_partition, check_result(links, OVERVIEW_KEY, "links_resolve")


# A relative link (another page, a track list): in the UI it would open an empty page of the UI.
_RELATIVE_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\((?![a-z]+:)[^)]*\)")


def _with_inline_plot(text: str, png: Path) -> str:
    """The report for the UI: its relative links cannot resolve there, so the plot is inlined as
    a preview and the other relative links become their text (they work in the file)."""
    text = _RELATIVE_LINK.sub(r"\1", text)
    if not png.is_file():
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("![Comparison of Cluster]("):
            lines[i] = previews.png_preview_markdown(png.read_bytes(), "Comparison of Cluster")
            break
    return "\n".join(lines)


def _write_track_lists(root: Path, report) -> None:
    """Each cluster's track list beside the report (cluster_<N>_tracks.txt); the lists of
    clusters the report no longer shows are removed, so none outlives its cluster."""
    folder = root / report_path(report.slug).parent
    kept = set()
    for section in report.clusters if has_scatter(report) else ():
        if section.tracks_file:
            track_ids = [t.track_id for t in (*section.representatives, *section.others)]
            files.write_atomic(folder / section.tracks_file, track_lists.file_text(track_ids).encode("utf-8"))
            kept.add(section.tracks_file)
    for old in folder.glob(track_lists.FILE_GLOB):
        if old.name not in kept:
            old.unlink(missing_ok=True)
