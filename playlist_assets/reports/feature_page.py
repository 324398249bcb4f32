"""A playlist's Track Features page: how its tracks compare with the whole library, feature by feature.

For each audio feature: a histogram of this playlist against the library (one PNG of small
multiples, drawn by `feature_plot`), both medians, and the ten tracks with the highest and the
ten with the lowest value. A playlist whose tracks have no audio features gets the same for the
metadata they do have: release year, length, popularity, and the share with explicit lyrics.

`library_distribution` summarises the whole feature table once per run; `build_pages` makes each
playlist's page from its own tracks; `render_files` writes its Markdown and PNG. Rankings break
ties by track_id, so the same inputs give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from playlist_assets.reports import escape
from playlist_assets.reports.markdown import (
    LIKED,
    UNNAMED,
    art_cell,
    artists_cell,
    table_row,
    track_link_cell,
)
from playlist_assets.reports.model import ArtistCredit
from playlist_assets.reports.paths import report_link_from_track_features, track_features_plot_link_from_page
from playlist_assets.warehouse.tables import FEATURES_TRACK_FEATURES

RANKED = 10  # tracks in each "most" and "least" table
BINS = 20  # histogram bins of a continuous feature


@dataclass(frozen=True)
class Feature:
    column: str  # in features.track_features
    label: str  # section heading, table column and panel title
    most: str  # heading of the highest values
    least: str  # heading of the lowest values
    unit: str  # how values are written: fraction, bpm, db, year, minutes or score
    # The histogram's range when the feature has a fixed scale; None: the library's own range.
    domain: tuple[float, float] | None = None


AUDIO_FEATURES: tuple[Feature, ...] = (
    Feature("danceability", "Danceability", "Most danceable", "Least danceable", "fraction", (0.0, 1.0)),
    Feature("energy", "Energy", "Most energetic", "Least energetic", "fraction", (0.0, 1.0)),
    Feature("speechiness", "Speechiness", "Most speech-like", "Least speech-like", "fraction", (0.0, 1.0)),
    Feature("acousticness", "Acousticness", "Most acoustic", "Least acoustic", "fraction", (0.0, 1.0)),
    Feature("instrumentalness", "Instrumentalness", "Most instrumental", "Least instrumental", "fraction", (0.0, 1.0)),
    Feature("liveness", "Liveness", "Most live", "Least live", "fraction", (0.0, 1.0)),
    Feature("valence", "Valence", "Happiest", "Saddest", "fraction", (0.0, 1.0)),
    Feature("tempo", "Tempo (BPM)", "Fastest", "Slowest", "bpm"),
    Feature("loudness", "Loudness (dB)", "Loudest", "Quietest", "db"),
)
METADATA_FEATURES: tuple[Feature, ...] = (
    Feature("release_year", "Release year", "Newest", "Oldest", "year"),
    Feature("duration_min", "Length", "Longest", "Shortest", "minutes"),
    Feature("popularity", "Popularity", "Most popular", "Least popular", "score", (0.0, 100.0)),
)
# Explicit lyrics are a yes or no: a share of tracks, not a ranking; plotted as two bars.
EXPLICIT = Feature("explicit", "Explicit lyrics", "", "", "share")
_EXPLICIT_EDGES = (-0.5, 0.5, 1.5)
_EXPLICIT_TICKS = ((0.0, "no"), (1.0, "yes"))
_DESCRIPTIONS = {c.name: c.description for c in FEATURES_TRACK_FEATURES.columns}

TITLE_PREFIX = "# Track Features in "
CLUSTERS_LINE = "Clusters: [overview.md]({link})"
IMAGE_ALT = "Track features of this playlist against the library"
SUMMARY_INTRO = "Medians of this playlist and of the library:"
SUMMARY_INTRO_WITH_EXPLICIT = "Medians of this playlist and of the library (of explicit lyrics, the share of tracks):"
SUMMARY_HEADER = "| Feature | This playlist | Library |"
SUMMARY_ALIGN = "|:---|---:|---:|"
RANKED_ALIGN = "|:---|:---|:---|:---|---:|:---|:---|"
PLAYLIST_COLOUR_NAME, LIBRARY_COLOUR_NAME = "blue", "grey"  # as feature_plot draws them


@dataclass(frozen=True)
class Distribution:
    """One feature over the whole library: histogram bins, the share of tracks in each, the median."""

    feature: Feature
    edges: tuple[float, ...]
    shares: tuple[float, ...]
    median: float | None  # None when no track of the library has a value
    ticks: tuple[tuple[float, str], ...]  # (position, label) under the histogram


@dataclass(frozen=True)
class LibraryDistribution:
    n_tracks: int
    n_with_audio: int
    audio: tuple[Distribution, ...]  # in AUDIO_FEATURES order
    metadata: tuple[Distribution, ...]  # in METADATA_FEATURES order
    explicit: Distribution  # shares of "no" and "yes"
    explicit_share: float | None  # of the tracks whose source says either way; None: none says


@dataclass(frozen=True)
class TrackInfo:
    """What the tables show of a track, as in the cluster report."""

    track_id: str
    name: str
    album: str | None
    image_url: str | None
    artists: tuple[ArtistCredit, ...]
    liked: bool


@dataclass(frozen=True)
class RankedTrack:
    track: TrackInfo  # the same object in every table of a page that shows the track
    value: float


@dataclass(frozen=True)
class FeatureSection:
    feature: Feature
    count: int  # this playlist's tracks with a value
    playlist_median: float
    library_median: float | None
    most: tuple[RankedTrack, ...]  # highest first, ties in track_id order
    least: tuple[RankedTrack, ...]  # lowest first, ties in track_id order


@dataclass(frozen=True)
class Panel:
    """One histogram of the PNG: the share of tracks in each bin, the library's and this playlist's."""

    label: str
    edges: tuple[float, ...]
    library: tuple[float, ...]
    playlist: tuple[float, ...]
    ticks: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class PlotInput:
    title: str  # the playlist name
    legend: str  # what grey stands for: "Library (785 tracks)"
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class ExplicitShare:
    explicit: int  # this playlist's tracks with explicit lyrics
    known: int  # ... of its tracks whose source says either way
    library_share: float | None


@dataclass(frozen=True)
class FeaturePage:
    playlist_id: str
    name: str
    slug: str
    compared_on: str  # "audio features", "metadata" or "nothing"
    n_tracks: int  # distinct playable tracks, as the clustering counts them
    n_with_audio: int
    library_tracks: int
    library_with_audio: int
    sections: tuple[FeatureSection, ...]
    explicit: ExplicitShare | None  # metadata pages only
    plot: PlotInput | None  # None: nothing to plot, and no PNG


def format_value(unit: str, value: float) -> str:
    if unit == "fraction":
        return f"{value:.3f}"
    if unit in ("bpm", "db"):
        return f"{value:.1f}"
    if unit == "minutes":
        seconds = int(round(value * 60))
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{value:.0f}"


def _tick_label(unit: str, value: float) -> str:
    return f"{value:g}" if unit == "fraction" else format_value(unit, value)


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _column(frame: pl.DataFrame, column: str) -> np.ndarray:
    """A feature column as floats, a missing value as NaN (booleans as 0 and 1)."""
    return frame.get_column(column).cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _shares(values: np.ndarray, edges: tuple[float, ...]) -> tuple[float, ...]:
    if values.size == 0:
        return (0.0,) * (len(edges) - 1)
    # Every value is counted, in its bin or the nearest end bin (a track outside the library's range
    # cannot happen when the library holds the playlist, but must not vanish if it does).
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=np.asarray(edges))
    return tuple((counts / values.size).tolist())


def _distribution(feature: Feature, values: np.ndarray) -> Distribution:
    values = _finite(values)
    if feature.domain is not None:
        low, high = feature.domain
    elif values.size:
        low, high = float(values.min()), float(values.max())
    else:
        low, high = 0.0, 1.0
    if high <= low:  # one distinct value still needs a range around it
        low, high = low - 0.5, high + 0.5
    edges = tuple(np.linspace(low, high, BINS + 1).tolist())
    ticks = tuple((x, _tick_label(feature.unit, x)) for x in (low, (low + high) / 2, high))
    median = float(np.median(values)) if values.size else None
    return Distribution(feature, edges, _shares(values, edges), median, ticks)


def library_distribution(library: pl.DataFrame) -> LibraryDistribution:
    """The whole feature table (rows of features.track_features) summarised once for every page."""
    with_audio = library.filter(pl.col("has_audio_features").fill_null(False))
    explicit = _finite(_column(library, EXPLICIT.column))
    return LibraryDistribution(
        n_tracks=library.height,
        n_with_audio=with_audio.height,
        audio=tuple(_distribution(f, _column(with_audio, f.column)) for f in AUDIO_FEATURES),
        metadata=tuple(_distribution(f, _column(library, f.column)) for f in METADATA_FEATURES),
        explicit=Distribution(EXPLICIT, _EXPLICIT_EDGES, _shares(explicit, _EXPLICIT_EDGES), None, _EXPLICIT_TICKS),
        explicit_share=float(explicit.mean()) if explicit.size else None,
    )


# Columns of features.track_features the pages read, and what their tables show of each track.
_VALUE_COLUMNS = (
    *(f.column for f in AUDIO_FEATURES), *(f.column for f in METADATA_FEATURES), EXPLICIT.column, "has_audio_features"
)
_COLUMN_INDEX = {column: i for i, column in enumerate(_VALUE_COLUMNS)}
_SHOWN_COLUMNS = ("track_id", "name", "album", "image_url", "artist_names", "artist_ids", "liked")


@dataclass(frozen=True)
class _PlaylistTracks:
    """One playlist's distinct playable tracks in track_id order: what the tables show of each
    (rows), and their values (one column per _VALUE_COLUMNS; NaN where missing)."""

    rows: list[tuple]
    values: np.ndarray
    # A track is ranked under several features: its TrackInfo is made the first time, by row.
    _made: dict[int, TrackInfo] = field(default_factory=dict)

    def only(self, kept: np.ndarray) -> _PlaylistTracks:
        return _PlaylistTracks([self.rows[i] for i in np.flatnonzero(kept).tolist()], self.values[kept])

    def column(self, name: str) -> np.ndarray:
        return self.values[:, _COLUMN_INDEX[name]]

    def ranked(self, index: int, value: float) -> RankedTrack:
        info = self._made.get(index)
        if info is None:
            track_id, name, album, image_url, names, ids, liked = self.rows[index]
            names = names or []
            ids = ids or [None] * len(names)
            artists = tuple(ArtistCredit(n or "", i) for n, i in zip(names, ids))
            info = self._made[index] = TrackInfo(track_id, name or "", album, image_url, artists, bool(liked))
        return RankedTrack(info, value)


def _section(tracks: _PlaylistTracks, library: Distribution) -> tuple[FeatureSection, Panel] | None:
    values = tracks.column(library.feature.column)
    present = np.flatnonzero(np.isfinite(values))
    if present.size == 0:
        return None
    shown = values[present]
    # Rows are in track_id order, so their index breaks ties by track_id in both directions.
    highest = present[np.lexsort((present, -shown))][:RANKED]
    lowest = present[np.lexsort((present, shown))][:RANKED]
    section = FeatureSection(
        feature=library.feature,
        count=int(present.size),
        playlist_median=float(np.median(shown)),
        library_median=library.median,
        most=tuple(tracks.ranked(i, float(values[i])) for i in highest.tolist()),
        least=tuple(tracks.ranked(i, float(values[i])) for i in lowest.tolist()),
    )
    return section, _panel(library, shown)


def _panel(library: Distribution, values: np.ndarray) -> Panel:
    return Panel(library.feature.label, library.edges, library.shares, _shares(values, library.edges), library.ticks)


def _page(playlist_id: str, name: str, slug: str, tracks: _PlaylistTracks, library: LibraryDistribution) -> FeaturePage:
    has_audio = tracks.column("has_audio_features") == 1  # NaN (unknown) counts as without
    n_with_audio = int(has_audio.sum())
    explicit = None
    if n_with_audio:
        compared_on, candidates, ranked = "audio features", library.audio, tracks.only(has_audio)
    else:
        compared_on, candidates, ranked = "metadata", library.metadata, tracks
    built = [s for s in (_section(ranked, d) for d in candidates) if s is not None]
    panels = [panel for _, panel in built]
    if not n_with_audio:
        flags = _finite(tracks.column(EXPLICIT.column))
        if flags.size:
            explicit = ExplicitShare(int(flags.sum()), int(flags.size), library.explicit_share)
            panels.append(_panel(library.explicit, flags))
        if not built and explicit is None:
            compared_on = "nothing"
    plot = None
    if panels:
        legend = f"Library ({_count(library.n_with_audio if n_with_audio else library.n_tracks, 'track')})"
        plot = PlotInput(title=name, legend=legend, panels=tuple(panels))
    return FeaturePage(
        playlist_id=playlist_id,
        name=name,
        slug=slug,
        compared_on=compared_on,
        n_tracks=len(tracks.rows),
        n_with_audio=n_with_audio,
        library_tracks=library.n_tracks,
        library_with_audio=library.n_with_audio,
        sections=tuple(section for section, _ in built),
        explicit=explicit,
        plot=plot,
    )


def build_pages(
    playlists: pl.DataFrame,
    tracks: pl.DataFrame,
    features: pl.DataFrame,
    library: LibraryDistribution,
    slugs: dict[str, str],
) -> list[FeaturePage]:
    """A page for every playlist of `playlists` (playlist_id, name), in playlist_id order.

    `tracks`: the distinct playable tracks of all of them with their names (queries.track_feature_rows);
    `features`: the whole feature table `library` summarises. Joined, made one matrix and split
    once here: a polars call per playlist and feature cost more than the page's own work.
    """
    joined = tracks.join(features, on="track_id", how="inner").sort("playlist_id", "track_id")
    values = joined.select(pl.col(c).cast(pl.Float64) for c in _VALUE_COLUMNS).to_numpy()  # null -> NaN
    rows = joined.select(_SHOWN_COLUMNS).rows()
    spans, start = {}, 0
    for playlist_id, length in joined.group_by("playlist_id", maintain_order=True).len().iter_rows():
        spans[playlist_id] = (start, start + length)
        start += length
    pages = []
    for pid, name in playlists.select("playlist_id", "name").sort("playlist_id").iter_rows():
        first, last = spans.get(pid, (0, 0))
        own = _PlaylistTracks(rows[first:last], values[first:last])
        pages.append(_page(pid, name or "", slugs[pid], own, library))
    return pages


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _intro(page: FeaturePage) -> str:
    tracks = f"{_count(page.n_tracks, 'distinct playable track')} in this playlist"
    colours = (
        f"Each histogram shows the share of tracks in each range of a feature: this playlist in "
        f"{PLAYLIST_COLOUR_NAME}, the whole library in {LIBRARY_COLOUR_NAME}."
    )
    if page.n_tracks == 0:
        return "This playlist has no playable Spotify tracks, so there is nothing to compare."
    if page.compared_on == "audio features":
        if page.n_with_audio == page.n_tracks:
            have = f"All {tracks} have" if page.n_tracks > 1 else f"The {tracks} has"
        else:
            have = f"{page.n_with_audio} of the {tracks} have"
        return (
            f"{have} audio features, and {page.library_with_audio} of the "
            f"{_count(page.library_tracks, 'track')} in the library. {colours}"
        )
    none = f"None of the {tracks} has audio features"
    if page.compared_on == "nothing":
        return (
            f"{none}, and the source gave no release year, length, popularity or explicit flag for "
            "them either, so there is nothing to compare."
        )
    shown = [s.feature.label.lower() for s in page.sections]
    if page.explicit is not None:
        shown.append(EXPLICIT.label.lower())
    return (
        f"{none}, so this page compares what the source gave for them instead ({', '.join(shown)}) "
        f"with the {_count(page.library_tracks, 'track')} in the library. {colours}"
    )


def _percent(share: float) -> str:
    return f"{share:.0%}"


def _summary_lines(page: FeaturePage) -> list[str]:
    if not page.sections and page.explicit is None:
        return []
    intro = SUMMARY_INTRO if page.explicit is None else SUMMARY_INTRO_WITH_EXPLICIT
    lines = [intro, "", SUMMARY_HEADER, SUMMARY_ALIGN]
    for section in page.sections:
        unit = section.feature.unit
        library = "" if section.library_median is None else format_value(unit, section.library_median)
        lines.append(table_row([section.feature.label, format_value(unit, section.playlist_median), library]))
    if page.explicit is not None:
        share = page.explicit
        own = f"{share.explicit} of {share.known} ({_percent(share.explicit / share.known)})"
        library = "" if share.library_share is None else _percent(share.library_share)
        lines.append(table_row([EXPLICIT.label, own, library]))
    return lines + [""]


def _track_cells(track: TrackInfo) -> tuple[list[str], list[str]]:
    """The cells before and after the value column, escaped as in the cluster report."""
    before = [art_cell(track.image_url), escape.inline(track.name), escape.inline(track.album)]
    return before + [artists_cell(track.artists)], [LIKED if track.liked else "", track_link_cell(track.track_id)]


def _ranked_lines(heading: str, feature: Feature, tracks: tuple[RankedTrack, ...], cells_of: dict) -> list[str]:
    lines = [f"### {heading}", "", f"| Art | Track | Album | Artists | {feature.label} | {LIKED} | 🔗 |"]
    lines.append(RANKED_ALIGN)
    for ranked in tracks:
        # A track shows in several tables of a page; its escaped cells are made once.
        cells = cells_of.get(ranked.track.track_id)
        if cells is None:
            cells = cells_of[ranked.track.track_id] = _track_cells(ranked.track)
        before, after = cells
        lines.append(table_row([*before, format_value(feature.unit, ranked.value), *after]))
    return lines + [""]


def _section_lines(page: FeaturePage, section: FeatureSection, cells_of: dict) -> list[str]:
    feature = section.feature
    about = _DESCRIPTIONS.get(feature.column, "")
    ranked_among = page.n_with_audio if page.compared_on == "audio features" else page.n_tracks
    if section.count < ranked_among:
        about += f" Ranked among the {_count(section.count, 'track')} that have one."
    lines = [f"## {feature.label}", ""]
    if about:
        lines += [about.strip(), ""]
    lines += _ranked_lines(feature.most, feature, section.most, cells_of)
    lines += _ranked_lines(feature.least, feature, section.least, cells_of)
    return lines


def render_markdown(page: FeaturePage) -> str:
    """track_features.md: title, link to the clusters, the plot, medians, then each feature's tracks."""
    back = report_link_from_track_features(page.slug)  # raises ValueError for an unsafe slug
    title = escape.inline(page.name) or UNNAMED
    lines = [f"{TITLE_PREFIX}{title}", "", CLUSTERS_LINE.format(link=back), "", _intro(page), ""]
    if page.plot is not None:
        lines += [f"![{IMAGE_ALT}]({track_features_plot_link_from_page(page.slug)})", ""]
    lines += _summary_lines(page)
    cells_of: dict[str, tuple[list[str], list[str]]] = {}
    for section in page.sections:
        lines += _section_lines(page, section, cells_of)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_files(page: FeaturePage) -> tuple[str, bytes | None]:
    """The page's Markdown and its PNG (None when it has nothing to plot), made where it is drawn."""
    text = render_markdown(page)
    if page.plot is None:
        return text, None
    # matplotlib is imported by the processes that draw, not by every one that loads the assets.
    from playlist_assets.reports.feature_plot import render_png

    return text, render_png(page.plot)
