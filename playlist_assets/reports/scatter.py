"""The PNG scatter plot of a playlist's clusters: 800 x 600 px, one colour per cluster.

The legend sits below the axes, never over them, so it hides no point; the axes give up the
height its rows take.

Plain matplotlib on the Agg canvas, never pyplot. Building a Figure and its Axes costs about as
much as drawing them, so each thread keeps one plot and redraws it for the next playlist; what
a call sets (points, limits, texts, legend) is all of its state, so the same input gives the
same bytes whatever was drawn before. Text uses the installed fallback fonts of `fonts`, so
Hebrew, CJK and emoji names render without missing-glyph boxes.
"""

from __future__ import annotations

import threading

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TABLEAU_COLORS, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Text
from matplotlib.transforms import IdentityTransform

from playlist_assets.reports import fonts
from playlist_assets.reports.model import ScatterInput
from playlist_assets.reports.png import encode_up_filtered

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 6.0, 100
_WIDTH_PX, _HEIGHT_PX = WIDTH_IN * DPI, HEIGHT_IN * DPI
POINT_SIZE = 28  # marker area in points², as matplotlib's scatter takes it
LEGEND_MAX_CHARS = 48
LEGEND_FONT_SIZE = 9  # points
# Ten clusters, the most the clustering makes, take five rows of two columns. Past this many rows
# the axes would be squeezed flat, so entries show only their number ("Cluster #12").
LEGEND_MAX_ROWS = 6
_EM = LEGEND_FONT_SIZE * DPI / 72  # the legend's font size in pixels
# The legend's spacing in multiples of _EM, as matplotlib's own legend lays it out.
_OUTER_PAD, _INNER_PAD, _ROW_GAP, _MARKER_SPAN, _MARKER_TEXT_GAP, _CORNER = 0.5, 0.4, 0.5, 2.0, 0.8, 0.2
_COLUMN_GAP = 2.0
# Fixed margins around the axes, in pixels: room for the title above, the y label on the left,
# and below, the x label (its 4 pt pad and a 10 pt line) down to the legend's top or the edge.
AXES_LEFT_PX, AXES_RIGHT_PX, TITLE_ROOM_PX, X_LABEL_ROOM_PX = 40, 16, 42, 32
_AXES_WIDTH_PX = _WIDTH_PX - AXES_LEFT_PX - AXES_RIGHT_PX
# Space left around the points, as a fraction of their spread (matplotlib's default margin).
MARGIN = 0.05
EDGE_COLOR, EDGE_WIDTH = "white", 0.4
# Text is drawn without FreeType's hinting: glyphs keep their outlines' shape instead of being
# snapped to the pixel grid. Half of a plot's drawing time went to hinting each glyph (measured:
# 37 ms a plot with matplotlib's default, 19 ms without); at 9-14 pt the text reads the same.
_TEXT_SETTINGS = {"text.hinting": "no_hinting"}
_TEXT_SETTINGS_LOCK = threading.Lock()

# The "tab10" qualitative palette: neighbouring cluster numbers stay easy to tell apart.
_PALETTE = tuple(to_rgb(color) for color in TABLEAU_COLORS.values())
_PALETTE_ARRAY = np.array(_PALETTE)


def cluster_color(number: int) -> tuple[float, float, float]:
    """The same cluster number gets the same colour in every plot."""
    return _PALETTE[(number - 1) % len(_PALETTE)]


def _cluster_colors(numbers: np.ndarray) -> np.ndarray:
    """cluster_color of each number, as one (n, 3) array."""
    return _PALETTE_ARRAY[(numbers - 1) % len(_PALETTE)]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _family(*texts: str) -> list[str]:
    # Laying text out over a chain of fonts costs several times more than over one, so the chain
    # is used only for text that leaves the first font's (DejaVu Sans') alphabet.
    families = list(fonts.installed_families())
    return families if not all(t.isascii() for t in texts) else families[:1]


def _limits(values: np.ndarray) -> tuple[float, float]:
    """The axis range that shows all of values with a margin; (0, 1) when there are none."""
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    # One distinct value still needs a range around it, or the point sits on the frame.
    pad = (high - low) * MARGIN if high > low else max(abs(low) * MARGIN, 0.5)
    return low - pad, high + pad


class ScatterPlot:
    """A figure drawn again for every playlist; each thread keeps one (see render_scatter_pixels)."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = axes = self.figure.add_subplot()
        # The projected coordinates have no unit: the axis labels carry the meaning, ticks would not.
        axes.set_xticks([])
        axes.set_yticks([])
        # All points in one collection: making a collection per cluster for every plot cost more
        # than drawing them. Points are sorted by cluster, so later clusters still lie on top.
        self.points = axes.scatter([], [], s=POINT_SIZE, edgecolors=EDGE_COLOR, linewidths=EDGE_WIDTH)

        # The legend is a frame, one marker collection and a text per cluster, laid out in
        # pixels by _lay_out_legend: matplotlib's Legend, built anew for every plot, packs and
        # measures its boxes several times, which cost three times as much as this apart from
        # drawing the text itself.
        pixels = IdentityTransform()
        self.legend_frame = FancyBboxPatch(
            (0, 0), 0, 0, boxstyle=f"round,pad=0,rounding_size={_CORNER * _EM}",
            transform=pixels, facecolor="white", edgecolor="0.8", linewidth=1.0,
            zorder=5, clip_on=False, visible=False,
        )
        axes.add_artist(self.legend_frame)
        self.legend_markers = axes.scatter(
            [], [], s=POINT_SIZE, edgecolors=EDGE_COLOR, linewidths=EDGE_WIDTH,
            transform=pixels, zorder=5.1, clip_on=False,
        )
        self.legend_texts: list[Text] = []  # grown to the most clusters seen; extra ones hidden

    def draw(self, data: ScatterInput) -> np.ndarray:
        """Draw `data`; the canvas' RGBA pixels, valid until this plot is drawn again."""
        # Laying out and drawing the text must see the same setting, so it wraps both. The setting
        # is process-wide while it lasts: the lock keeps another thread's plot from starting or
        # ending it halfway through this one's.
        with _TEXT_SETTINGS_LOCK, matplotlib.rc_context(_TEXT_SETTINGS):
            return self._draw(data)

    def _draw(self, data: ScatterInput) -> np.ndarray:
        axes = self.axes
        clusters = np.array([p.cluster for p in data.points], dtype=int)
        xy = np.array([(p.x, p.y) for p in data.points], dtype=float).reshape(-1, 2)
        order = np.argsort(clusters, kind="stable")
        clusters, xy = clusters[order], xy[order]
        self.points.set_offsets(xy)
        self.points.set_facecolors(_cluster_colors(clusters))
        # A point with a NaN or infinite coordinate is not drawn, so it does not widen the axes.
        drawn = xy[np.isfinite(xy).all(axis=1)]
        axes.set_xlim(_limits(drawn[:, 0]))
        axes.set_ylim(_limits(drawn[:, 1]))

        for text, setter in ((data.x_label, axes.set_xlabel), (data.y_label, axes.set_ylabel)):
            setter(fonts.drawable_text(text), family=_family(text))
        # y=1.0 pins the title above the frame; left automatic, matplotlib measures every axis
        # decoration on each draw to find the same place.
        axes.set_title(fonts.drawable_text(data.title), family=_family(data.title), fontsize=14, y=1.0)

        numbers = sorted(set(clusters.tolist()))
        labels = [
            _shorten(fonts.drawable_text(data.legend.get(n, f"Cluster #{n}")), LEGEND_MAX_CHARS)
            for n in numbers
        ]
        legend_top = self._lay_out_legend(np.array(numbers, dtype=int), labels, _family(*data.legend.values()))
        # Fixed pixel margins, not a layout engine: those re-measure every text several times.
        bottom = max(legend_top, _OUTER_PAD * _EM) + X_LABEL_ROOM_PX
        axes.set_position((
            AXES_LEFT_PX / _WIDTH_PX, bottom / _HEIGHT_PX,
            _AXES_WIDTH_PX / _WIDTH_PX, (_HEIGHT_PX - TITLE_ROOM_PX - bottom) / _HEIGHT_PX,
        ))

        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())

    def _lay_out_legend(self, numbers: np.ndarray, labels: list[str], family: list[str]) -> float:
        """A framed table centred below the axes, in as many columns as fit their width, filled
        column by column: a marker in the cluster's colour, its label. Returns the frame's top in
        pixels from the figure's bottom (0 when there is no legend)."""
        while len(self.legend_texts) < len(labels):
            self.legend_texts.append(self.axes.text(
                0, 0, "", transform=IdentityTransform(), fontsize=LEGEND_FONT_SIZE,
                ha="left", va="center", zorder=5.2, clip_on=False,
            ))
        shown = self.legend_texts[: len(labels)]
        for text in self.legend_texts[len(labels):]:
            text.set_visible(False)
        self.legend_frame.set_visible(bool(labels))
        if not labels:
            self.legend_markers.set_offsets(np.empty((0, 2)))
            return 0.0
        for text, label in zip(shown, labels):
            text.set_text(label)
            text.set_fontfamily(family)
            text.set_visible(True)
        rows, columns, column_width, row_height = self._grid(shown)
        if rows > LEGEND_MAX_ROWS:
            for text, number in zip(shown, numbers.tolist()):
                text.set_text(f"Cluster #{number}")
            rows, columns, column_width, row_height = self._grid(shown)

        inner, marker_span, gap = _INNER_PAD * _EM, _MARKER_SPAN * _EM, _MARKER_TEXT_GAP * _EM
        row_gap, column_gap = _ROW_GAP * _EM, _COLUMN_GAP * _EM
        width = 2 * inner + columns * column_width + (columns - 1) * column_gap
        height = 2 * inner + rows * row_height + (rows - 1) * row_gap
        left = AXES_LEFT_PX + (_AXES_WIDTH_PX - width) / 2
        bottom = _OUTER_PAD * _EM
        self.legend_frame.set_bounds(left, bottom, width, height)
        index = np.arange(len(labels))
        column_x = left + inner + (index // rows) * (column_width + column_gap)
        rows_y = bottom + height - inner - row_height / 2 - (index % rows) * (row_height + row_gap)
        self.legend_markers.set_offsets(np.column_stack([column_x + marker_span / 2, rows_y]))
        self.legend_markers.set_facecolors(_cluster_colors(numbers))
        for text, x, y in zip(shown, (column_x + marker_span + gap).tolist(), rows_y.tolist()):
            text.set_position((x, y))
        return bottom + height

    def _grid(self, texts: list[Text]) -> tuple[int, int, float, float]:
        """(rows, columns, column width, row height) of the legend's table of `texts`, in pixels."""
        extents = [text.get_window_extent(self.canvas.get_renderer()) for text in texts]
        # An empty label has no height; a row is still at least a line of text high.
        row_height = max(max(e.height for e in extents), _EM)
        # Columns as wide as the widest label, so that they line up.
        column_width = (_MARKER_SPAN + _MARKER_TEXT_GAP) * _EM + max(e.width for e in extents)
        room, column_gap = _AXES_WIDTH_PX - 2 * _INNER_PAD * _EM, _COLUMN_GAP * _EM
        fitting = max(1, int((room + column_gap) // (column_width + column_gap)))
        rows = -(-len(texts) // fitting)
        columns = -(-len(texts) // rows)  # no empty last column: 4 labels in 2 x 2, not 3 + 1
        return rows, columns, column_width, row_height


_per_thread = threading.local()


def render_scatter(data: ScatterInput) -> bytes:
    """PNG bytes: the points coloured by cluster, a legend, axis labels and the playlist name."""
    return encode_up_filtered(render_scatter_pixels(data))


def render_scatter_pixels(data: ScatterInput) -> np.ndarray:
    """The plot's (600, 800, 4) RGBA pixels, a copy the caller owns."""
    plot = getattr(_per_thread, "plot", None)
    if plot is None:
        plot = _per_thread.plot = ScatterPlot()
    return plot.draw(data).copy()
