"""reports/track_features_page: each playlist's Track Features page and its histograms (written
by the one step of reports/report_files_assets.py)."""

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from playlist_assets.reports import files
from playlist_assets.warehouse import queries, tables
from playlist_assets.features.snapshot_assets import PLAYLIST_SNAPSHOTS
from playlist_assets.runtime.parallel import WorkerPool
from playlist_assets.reports import feature_page
from playlist_assets.reports.paths import track_features_path, track_features_plot_path

TRACK_FEATURES_KEY = dg.AssetKey(["reports", "track_features_page"])
# Bump when this asset's output would change for the same inputs.
TRACK_FEATURES_CODE_VERSION = "track-features-page-v1"
FEATURES = tables.FEATURES_TRACK_FEATURES
FEATURES_KEY = dg.AssetKey([FEATURES.schema, FEATURES.name])
NO_PLOT = "(no plot: nothing to compare)"


TRACK_FEATURES_SPEC = dg.AssetSpec(
    TRACK_FEATURES_KEY,
    # Its own playlist's version, and the whole feature table: the histograms compare with the library.
    deps=[PLAYLIST_SNAPSHOTS.key, FEATURES_KEY],
    group_name="reports",
    kinds={"matplotlib", "png", "markdown"},
    code_version=TRACK_FEATURES_CODE_VERSION,
    description=(
        "Each playlist's audio features against the whole library's: a histogram per feature, the "
        "medians, and the ten highest and ten lowest tracks of each (or, without audio features, its "
        "release years, lengths, popularity and explicit share). Written to "
        "reports/playlists/SLUG/track_features.md and reports/images/playlists/SLUG/track_features.png; "
        "byte-identical Markdown for the same inputs."
    ),
)


def read_pages(
    instance: dg.DagsterInstance, warehouse_path: str, conn, playlists: pl.DataFrame, ids: list[str], slugs: dict[str, str]
) -> list:
    """The Track Features pages of the playlists `ids`, ready to render."""
    features, library = _library(instance, warehouse_path, conn)
    tracks = queries.track_feature_rows(conn, ids)
    return feature_page.build_pages(playlists.filter(pl.col("playlist_id").is_in(ids)), tracks, features, library, slugs)


def render_pages(pages: list, workers: WorkerPool) -> Iterator[tuple[str, bytes | None]]:
    """Each page's Markdown and PNG, made together by `workers.map_ahead` (read in order)."""
    return workers.map_ahead(feature_page.render_files, pages)


def write_pages(root: Path, pages: list, rendered: Iterable[tuple[str, bytes | None]], key_of: dict[str, str]) -> dict:
    """Write each page and its plot (`rendered`, in the order of `pages`); its partition metadata."""
    per_partition = {}
    for page, (text, png) in zip(pages, rendered):
        plot_path = root / track_features_plot_path(page.slug)
        if png is None:
            plot_path.unlink(missing_ok=True)  # an old plot must not outlive what it showed
        else:
            files.write_atomic(plot_path, png)  # before the page that shows it
        data = text.encode("utf-8")
        path = root / track_features_path(page.slug)
        files.write_atomic(path, data)
        per_partition[(TRACK_FEATURES_KEY, key_of[page.playlist_id])] = {
            "playlist": page.name,
            "compared_on": page.compared_on,
            "tracks": page.n_tracks,
            "tracks_with_audio_features": page.n_with_audio,
            "library_tracks": page.library_tracks,
            "page_sha256": hashlib.sha256(data).hexdigest(),
            "plot_sha256": hashlib.sha256(png).hexdigest() if png is not None else NO_PLOT,
            "path": dg.MetadataValue.path(str(path)),
        }
    return per_partition


# The whole feature table and its distributions, which every page compares with: read once per
# landing, not once per run (the command line runs one per stretch of changed playlists).
_LIBRARY: dict[tuple[str, int], tuple[pl.DataFrame, object]] = {}


def _library(instance: dg.DagsterInstance, warehouse_path: str, conn) -> tuple[pl.DataFrame, object]:
    """The feature table and its distributions, kept while its latest materialization is the
    same one (a table rewritten without one is read again every time)."""
    record = next(iter(instance.fetch_materializations(FEATURES_KEY, limit=1).records), None)
    key = (str(warehouse_path), record.storage_id) if record else None
    if key is not None and key in _LIBRARY:
        return _LIBRARY[key]
    features = queries.library_track_features(conn)
    found = features, feature_page.library_distribution(features)
    if key is not None:
        _LIBRARY.clear()
        _LIBRARY[key] = found
    return found
