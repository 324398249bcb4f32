"""Markdown for one playlist's cluster report and for the index of all playlists.

The report follows the seed documents (shared/seeds/*.utf8.md) wherever they speak; every
name in it is escaped, so no playlist, track, artist or label name can change its structure.
"""

from __future__ import annotations

from collections.abc import Sequence

from playlist_assets.reports import escape
from playlist_assets.reports.model import (
    ArtistCredit,
    ClusterSection,
    IndexEntry,
    NotClustered,
    PlaylistReport,
    RefusedFile,
    TrackRow,
)
from playlist_assets.reports.paths import (
    report_link_from_index,
    scatter_link_from_report,
    track_features_link_from_index,
    track_features_link_from_report,
)

# The seeds' format, exported so that tests can compare with them line by line.
TITLE_PREFIX = "# Clusters in "
TITLE_PATTERN = r"^# Clusters in (.+)$"
CLUSTER_HEADING = "## Cluster #{number}"
CLUSTER_HEADING_PATTERN = r"^## Cluster #(\d+)$"
SIZE_LINE_PATTERN = r"^(\d+) tracks?$"
IMAGE_ALT = "Comparison of Cluster"
# After the plot (or the reason there is none), so the seeds' title-then-plot opening stays as it was.
TRACK_FEATURES_LINE = "Track features: [track_features.md]({link})"
LIKED = "💚"
LINK_ICON = "🔗"
HEADER_WITH_SCORE = "| Art | Track | Album | Artists | Label | Score | 💚 | 🔗 |"
ALIGN_WITH_SCORE = "|:---|:---|:---|:---|:---|---:|:---|:---|"
HEADER_WITHOUT_SCORE = "| Art | Track | Album | Artists | Label | 💚 | 🔗 |"
ALIGN_WITHOUT_SCORE = "|:---|:---|:---|:---|:---|:---|:---|"

OTHERS_SUMMARY = "The other {count} tracks of cluster #{number}"
NOT_CLUSTERED_HEADER = "| Entry | Artists | Reason | Count | 💚 |"
NOT_CLUSTERED_ALIGN = "|:---|:---|:---|---:|:---|"
INDEX_TITLE = "# Playlist reports"
INDEX_HEADER = "| Playlist | Tracks | Clustered | Clusters | Status | Track features |"
INDEX_ALIGN = "|:---|---:|---:|---:|:---|:---|"
REFUSED_TITLE = "## Files not imported"
REFUSED_HEADER = "| File | Why it was left out |"
REFUSED_ALIGN = "|:---|:---|"
REFUSED_INTRO = "The playlists above come from the other files; fix or remove these and run again."

SPOTIFY_TRACK_URL = "https://open.spotify.com/track/{id}"
SPOTIFY_ARTIST_URL = "https://open.spotify.com/artist/{id}"
UNNAMED = "(unnamed playlist)"


def table_row(cells: Sequence[str]) -> str:
    """A table row; an empty cell is written "| |" as in the seeds."""
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def has_scatter(report: PlaylistReport) -> bool:
    """Whether the report shows (and so links) a scatter plot: the PNG must then be written."""
    return report.unclustered_reason is None and bool(report.clusters)


def _credit(name: str, artist_id: str | None) -> str:
    text = escape.inline(name)
    valid_id = escape.spotify_id(artist_id)
    if valid_id is None or not text:
        return text
    return f"[{text}]({SPOTIFY_ARTIST_URL.format(id=valid_id)})"


def art_cell(image_url: str | None) -> str:
    """The Art cell: the album art when its URL is one of Spotify's, else empty."""
    url = escape.image_url(image_url)
    # & is the one character of a valid URL that HTML wants escaped inside an attribute.
    return f'<img src="{url.replace("&", "&amp;")}" alt="" width="50" />' if url else ""


def artists_cell(artists: Sequence[ArtistCredit]) -> str:
    """The Artists cell: every name escaped, linked to its Spotify page when it has one."""
    return ", ".join(cell for cell in (_credit(a.name, a.artist_id) for a in artists) if cell)


def track_link_cell(track_id: str | None) -> str:
    """The 🔗 cell: the track on Spotify, or empty when its ID is not a Spotify ID."""
    valid_id = escape.spotify_id(track_id)
    return f"[{LINK_ICON}]({SPOTIFY_TRACK_URL.format(id=valid_id)})" if valid_id else ""


def _track_cells(track: TrackRow, with_score: bool) -> list[str]:
    cells = [art_cell(track.image_url), escape.inline(track.name), escape.inline(track.album)]
    cells += [artists_cell(track.artists), escape.inline(track.label)]
    if with_score:
        cells.append("" if track.score is None else str(int(track.score)))
    cells += [LIKED if track.liked else "", track_link_cell(track.track_id)]
    return cells


def _size_line(size: int) -> str:
    return f"{size} track" if size == 1 else f"{size} tracks"


SPOTIFY_PLAYLIST_URL = "https://open.spotify.com/playlist/{id}"
SAVED_LINE = "Saved to Spotify as [{name}]({url})."
SAVED_EARLIER_LINE = (
    "Saved to Spotify as [{name}]({url}) from an earlier version of this playlist: "
    "`playlist-assets save-clusters` updates it."
)
TRACKS_FILE_LINE = (
    "Add these tracks to a playlist: [{file}]({file}) — paste its lines into a playlist in the "
    "Spotify desktop app."
)


def _saving_lines(cluster: ClusterSection) -> list[str]:
    """Where the cluster is saved in Spotify, and its track list for saving it by hand."""
    lines = []
    saved = cluster.saved
    playlist_id = escape.spotify_id(saved.spotify_playlist_id) if saved else None
    if saved and playlist_id:
        template = SAVED_LINE if saved.current else SAVED_EARLIER_LINE
        url = SPOTIFY_PLAYLIST_URL.format(id=playlist_id)
        lines += [template.format(name=escape.inline(saved.name) or UNNAMED, url=url), ""]
    if cluster.tracks_file:
        lines += [TRACKS_FILE_LINE.format(file=cluster.tracks_file), ""]
    return lines


def _cluster_lines(cluster: ClusterSection, with_score: bool) -> list[str]:
    lines = [CLUSTER_HEADING.format(number=int(cluster.number)), ""]
    description = escape.block(cluster.description)
    if description:
        lines += [description, ""]
    lines += [_size_line(int(cluster.size)), ""]
    lines += _saving_lines(cluster)
    if cluster.representatives:
        lines += _track_table(cluster.representatives, with_score)
    if cluster.others:
        # Folded, so the section still reads like the seed's; GitHub and the Dagster UI both
        # unfold it. The blank line after the summary lets the table inside render as Markdown.
        summary = OTHERS_SUMMARY.format(count=len(cluster.others), number=int(cluster.number))
        lines += ["<details>", f"<summary>{summary}</summary>", ""]
        lines += _track_table(cluster.others, with_score)
        lines += ["</details>", ""]
    return lines


def _track_table(tracks: Sequence[TrackRow], with_score: bool) -> list[str]:
    lines = [HEADER_WITH_SCORE if with_score else HEADER_WITHOUT_SCORE]
    lines.append(ALIGN_WITH_SCORE if with_score else ALIGN_WITHOUT_SCORE)
    lines += [table_row(_track_cells(t, with_score)) for t in tracks]
    return lines + [""]


def _not_clustered_lines(entries: Sequence[NotClustered]) -> list[str]:
    if not entries:
        return []
    lines = ["## Not clustered", "", NOT_CLUSTERED_HEADER, NOT_CLUSTERED_ALIGN]
    for entry in entries:
        cells = [escape.inline(entry.name), escape.inline(entry.artists)]
        cells += [escape.inline(entry.reason), str(int(entry.count)), LIKED if entry.liked else ""]
        lines.append(table_row(cells))
    return lines + [""]


def _provenance_lines(pairs: Sequence[tuple[str, str]]) -> list[str]:
    if not pairs:
        return []
    items = [f"- {escape.block(label)}: {escape.inline(value)}" for label, value in pairs]
    return ["## Provenance", "", *items, ""]


def _finish(lines: list[str]) -> str:
    return "\n".join(lines).rstrip("\n") + "\n"


def render_report(report: PlaylistReport) -> str:
    """The playlist's overview.md: title, scatter plot, one section per cluster, the rest."""
    image = scatter_link_from_report(report.slug)  # raises ValueError for an unsafe slug
    title = escape.inline(report.name) or UNNAMED
    lines = [f"{TITLE_PREFIX}{title}", ""]
    features_line = TRACK_FEATURES_LINE.format(link=track_features_link_from_report(report.slug))
    if has_scatter(report):
        lines += [f"![{IMAGE_ALT}]({image})", "", features_line, ""]
        x_label, y_label = escape.inline(report.x_label), escape.inline(report.y_label)
        lines += [f"Axes: x = {x_label}; y = {y_label}", ""]
        if report.caveat:
            lines += [escape.block(report.caveat), ""]
        for cluster in sorted(report.clusters, key=lambda c: c.number):
            lines += _cluster_lines(cluster, report.has_score)
    else:
        reason = escape.inline(report.unclustered_reason).rstrip(".") or "no clusters were found"
        lines += [f"This playlist was not clustered: {reason}.", "", features_line, ""]
    lines += _not_clustered_lines(report.not_clustered)
    lines += _provenance_lines(report.provenance)
    return _finish(lines)


def _status(entry: IndexEntry) -> str:
    if entry.reason:
        return escape.inline(entry.reason)
    return "clustered" if entry.k else "not clustered"


def render_index(entries: Sequence[IndexEntry], refused: Sequence[RefusedFile] = ()) -> str:
    """reports/README.md: every playlist, linked where its report exists, else with the reason;
    then the input files the landing left out, each with why."""
    ordered = sorted(entries, key=lambda e: (e.name.casefold(), e.name, e.slug, e.playlist_id))
    reported = sum(1 for e in ordered if e.has_report)
    lines = [INDEX_TITLE, ""]
    counts_line = f"{len(ordered)} playlists, {reported} with a report."
    if refused:
        files = "1 input file was" if len(refused) == 1 else f"{len(refused)} input files were"
        counts_line += f" {files} not imported (listed below)."
    lines += [counts_line, ""]
    if ordered:
        lines += [INDEX_HEADER, INDEX_ALIGN]
    for entry in ordered:
        name = escape.inline(entry.name) or UNNAMED
        if entry.has_report:
            name = f"[{name}]({report_link_from_index(entry.slug)})"
        k = str(int(entry.k)) if entry.k else ""
        counts = [str(int(entry.n_tracks)), str(int(entry.n_clustered)), k]
        page = ""
        if entry.has_track_features:
            page = f"[track_features.md]({track_features_link_from_index(entry.slug)})"
        lines.append(table_row([name, *counts, _status(entry), page]))
    if refused:
        if ordered:
            lines.append("")
        lines += [REFUSED_TITLE, "", REFUSED_INTRO, ""]
        lines += [REFUSED_HEADER, REFUSED_ALIGN]
        for item in sorted(refused, key=lambda r: (r.file, r.reason)):
            lines.append(table_row([escape.inline(item.file), escape.inline(item.reason)]))
    return _finish(lines)
