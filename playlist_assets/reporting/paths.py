"""Where a playlist's report files live inside the reports folder (the seed layout)."""

from __future__ import annotations

from pathlib import PurePosixPath

from playlist_assets.reporting.slugs import is_safe_slug

INDEX_PATH = PurePosixPath("README.md")
_REPORT_TEMPLATE = "playlists/{slug}/clusters/overview.md"
_SCATTER_TEMPLATE = "images/playlists/{slug}/clusters/clusters_scatter.png"


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
