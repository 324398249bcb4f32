"""Where a playlist's report files live inside the reports folder (the seed layout)."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from playlist_assets.reports.slugs import is_safe_slug

INDEX_PATH = PurePosixPath("README.md")
_REPORT_TEMPLATE = "playlists/{slug}/clusters/overview.md"
_SCATTER_TEMPLATE = "images/playlists/{slug}/clusters/clusters_scatter.png"
# The Track Features page sits beside the clusters/ folder, its plot beside the scatter's folder.
_TRACK_FEATURES_TEMPLATE = "playlists/{slug}/track_features.md"
_TRACK_FEATURES_PLOT_TEMPLATE = "images/playlists/{slug}/track_features.png"


def _checked(slug: str) -> str:
    # A slug is a path component: refuse anything that could leave its folder.
    if not is_safe_slug(slug):
        raise ValueError(f"unsafe playlist slug {slug!r}: use slugs.assign_slugs")
    return slug


def report_path(slug: str) -> PurePosixPath:
    """reports/<this> is the playlist's Markdown report."""
    return PurePosixPath(_REPORT_TEMPLATE.format(slug=_checked(slug)))


def scatter_path(slug: str) -> PurePosixPath:
    """reports/<this> is the playlist's scatter plot."""
    return PurePosixPath(_SCATTER_TEMPLATE.format(slug=_checked(slug)))


def scatter_link_from_report(slug: str) -> str:
    """The scatter plot's path relative to the report's folder, as the seeds write it."""
    depth = len(report_path(slug).parent.parts)
    return "../" * depth + str(scatter_path(slug))


def report_link_from_index(slug: str) -> str:
    """The report's path relative to reports/README.md."""
    return str(report_path(slug))


def track_features_path(slug: str) -> PurePosixPath:
    """reports/<this> is the playlist's Track Features page."""
    return PurePosixPath(_TRACK_FEATURES_TEMPLATE.format(slug=_checked(slug)))


def track_features_plot_path(slug: str) -> PurePosixPath:
    """reports/<this> is the Track Features page's histograms."""
    return PurePosixPath(_TRACK_FEATURES_PLOT_TEMPLATE.format(slug=_checked(slug)))


def _link(target: PurePosixPath, from_file: PurePosixPath) -> str:
    # Both paths are relative to the reports folder, so the result does not depend on where it is.
    return posixpath.relpath(str(target), str(from_file.parent))


def track_features_link_from_report(slug: str) -> str:
    """The Track Features page's path relative to the cluster report's folder."""
    return _link(track_features_path(slug), report_path(slug))


def report_link_from_track_features(slug: str) -> str:
    """The cluster report's path relative to the Track Features page's folder."""
    return _link(report_path(slug), track_features_path(slug))


def track_features_plot_link_from_page(slug: str) -> str:
    """The Track Features plot's path relative to its page's folder."""
    return _link(track_features_plot_path(slug), track_features_path(slug))


def track_features_link_from_index(slug: str) -> str:
    """The Track Features page's path relative to reports/README.md."""
    return str(track_features_path(slug))
