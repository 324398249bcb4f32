"""The PNG of a Track Features page: 900 x 600 px of small multiples, one histogram per feature,
the share of this playlist's tracks in each range (blue) over the library's (grey).

Text is most of what a matplotlib figure costs to draw (all nine panels drawn in full took about
75 ms), and all of it but the title is the same for every playlist of a library: frames, panel
titles, ticks and legend. So each thread keeps a figure per layout, draws those once and keeps
the pixels; each playlist then restores them and draws only its bars and its title on top
(blitting). The kept pixels depend on the layout alone and replace the whole canvas,
so the same input gives the same pixels whatever was drawn before. The y axes have no ticks: a
panel's height is scaled to its tallest bar, so nothing kept depends on the playlist.
"""

from __future__ import annotations

import threading

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import TABLEAU_COLORS, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import IdentityTransform

from playlist_assets.reports import fonts
from playlist_assets.reports.feature_page import PlotInput
from playlist_assets.reports.png import encode_up_filtered

# One process-wide text setting (no hinting), so the scatter plot's lock guards it here too.
from playlist_assets.reports.scatter import _TEXT_SETTINGS, _TEXT_SETTINGS_LOCK

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 6.0, 100
_WIDTH_PX, _HEIGHT_PX = WIDTH_IN * DPI, HEIGHT_IN * DPI
PLAYLIST_COLOUR = to_rgb(TABLEAU_COLORS["tab:blue"])
LIBRARY_COLOUR = to_rgb("0.80")
PLAYLIST_FILL_ALPHA = 0.35
# Room in pixels: the title and legend above the panels, each panel's title above it and its
# tick labels below it, the margins and the gaps between columns.
TOP_PX, BOTTOM_PX, SIDE_PX, COLUMN_GAP_PX = 52, 6, 24, 28
PANEL_TITLE_PX, TICKS_PX = 22, 24
HEADROOM = 1.08  # the tallest bar stops short of the panel's top
TITLE_MAX_CHARS = 60
TITLE_FONT_SIZE, PANEL_FONT_SIZE, TICK_FONT_SIZE = 13, 10, 8
# Figures kept per thread, one per layout (the audio and the metadata panels of a library).
KEPT_LAYOUTS = 4


def _grid(panels: int) -> tuple[int, int]:
    """(rows, columns): three columns, but 2 x 2 for four panels."""
    columns = 2 if panels == 4 else min(3, panels)
    return -(-panels // columns), columns


def _layout_key(data: PlotInput) -> tuple:
    """Everything the kept pixels show: the same key, the same background."""
    return data.legend, tuple((p.label, p.edges, p.ticks) for p in data.panels)


def _family(text: str) -> list[str]:
    # Laying text out over a chain of fonts costs more than over one, as in the scatter plot.
    families = list(fonts.installed_families())
    return families if not text.isascii() else families[:1]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class FeaturePlot:
    """One layout's figure, its kept background, and the artists drawn again for each playlist."""

    def __init__(self, data: PlotInput) -> None:
        self.figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        rows, columns = _grid(len(data.panels))
        width = (_WIDTH_PX - 2 * SIDE_PX - (columns - 1) * COLUMN_GAP_PX) / columns
        row_height = (_HEIGHT_PX - TOP_PX - BOTTOM_PX) / rows
        height = row_height - PANEL_TITLE_PX - TICKS_PX
        self.axes = []
        for index, panel in enumerate(data.panels):
            row, column = divmod(index, columns)
            left = SIDE_PX + column * (width + COLUMN_GAP_PX)
            bottom = _HEIGHT_PX - TOP_PX - (row + 1) * row_height + TICKS_PX
            axes = self.figure.add_axes(
                (left / _WIDTH_PX, bottom / _HEIGHT_PX, width / _WIDTH_PX, height / _HEIGHT_PX)
            )
            self._frame(axes, panel)
            self.axes.append(axes)
        # Every panel's bars in one collection per colour, in pixels: one draw each, where a
        # histogram artist per panel cost ten times as much. Animated artists are left out of
        # the full draw that makes the background.
        pixels = IdentityTransform()
        self.library_bars = PolyCollection(
            [], transform=pixels, facecolors=[LIBRARY_COLOUR], edgecolors="none", linewidths=0, animated=True
        )
        self.playlist_bars = PolyCollection(
            [], transform=pixels, facecolors=[(*PLAYLIST_COLOUR, PLAYLIST_FILL_ALPHA)],
            edgecolors=[PLAYLIST_COLOUR], linewidths=1.2, animated=True,
        )
        for bars in (self.library_bars, self.playlist_bars):
            self.figure.add_artist(bars)
        self.title = self.figure.text(
            SIDE_PX / _WIDTH_PX, 1 - 10 / _HEIGHT_PX, "", fontsize=TITLE_FONT_SIZE,
            ha="left", va="top", animated=True,
        )
        self._legend(data.legend)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        # Where each panel's axes are drawn, in pixels from the bottom left, as the ticks were placed.
        self.boxes = [axes.bbox.bounds for axes in self.axes]

    @staticmethod
    def _frame(axes, panel) -> None:
        axes.set_xlim(panel.edges[0], panel.edges[-1])
        axes.set_yticks([])
        positions = [x for x, _ in panel.ticks]
        axes.set_xticks(positions, [label for _, label in panel.ticks], fontsize=TICK_FONT_SIZE)
        labels = axes.get_xticklabels()
        # The end labels lean inwards, so that they do not run into the next panel's.
        labels[0].set_horizontalalignment("left")
        labels[-1].set_horizontalalignment("right")
        axes.tick_params(axis="x", length=3, pad=2)
        for side in ("left", "right", "top"):
            axes.spines[side].set_visible(False)
        axes.set_title(panel.label, fontsize=PANEL_FONT_SIZE, loc="left", pad=4)

    def _legend(self, library: str) -> None:
        """Two swatches and their names, right-aligned on the title's line."""
        y = _HEIGHT_PX - 26
        x = _WIDTH_PX - SIDE_PX
        for label, face, edge in (
            (library, LIBRARY_COLOUR, LIBRARY_COLOUR),
            ("This playlist", (*PLAYLIST_COLOUR, PLAYLIST_FILL_ALPHA), PLAYLIST_COLOUR),
        ):
            text = self.figure.text(x / _WIDTH_PX, y / _HEIGHT_PX, label, fontsize=PANEL_FONT_SIZE,
                                    ha="right", va="center")
            extent = text.get_window_extent(self.canvas.get_renderer())
            x = extent.x0 - 20
            self.figure.add_artist(Rectangle(
                (x / _WIDTH_PX, (y - 5) / _HEIGHT_PX), 12 / _WIDTH_PX, 10 / _HEIGHT_PX,
                transform=self.figure.transFigure, facecolor=face, edgecolor=edge, linewidth=1.0,
            ))
            x -= 16

    def draw(self, data: PlotInput) -> np.ndarray:
        """Draw `data` (of this plot's layout); the canvas' RGBA pixels, valid until the next draw."""
        with _TEXT_SETTINGS_LOCK, matplotlib.rc_context(_TEXT_SETTINGS):
            self.canvas.restore_region(self.background)
            library, playlist = [], []
            for (left, bottom, width, height), panel in zip(self.boxes, data.panels):
                edges = np.asarray(panel.edges)
                xs = left + (edges - edges[0]) * (width / (edges[-1] - edges[0]))
                tallest = max(max(panel.library, default=0.0), max(panel.playlist, default=0.0))
                scale = height / ((tallest or 1.0) * HEADROOM)
                library.append(_steps(xs, bottom, np.asarray(panel.library) * scale))
                playlist.append(_steps(xs, bottom, np.asarray(panel.playlist) * scale))
            self.library_bars.set_verts(library)
            self.playlist_bars.set_verts(playlist)
            self.figure.draw_artist(self.library_bars)
            self.figure.draw_artist(self.playlist_bars)
            for axes in self.axes:
                axes.draw_artist(axes.spines["bottom"])  # the bars were drawn over it
            title = _shorten(fonts.drawable_text(data.title), TITLE_MAX_CHARS)
            self.title.set_text(title)
            self.title.set_fontfamily(_family(title))
            self.figure.draw_artist(self.title)
            return np.asarray(self.canvas.buffer_rgba())


def _steps(xs: np.ndarray, bottom: float, heights: np.ndarray) -> np.ndarray:
    """The outline of a histogram with bin edges `xs` and bar `heights` above `bottom`, in pixels."""
    x = np.repeat(xs, 2)  # each edge twice: up (or down) to the next bar's height
    y = np.concatenate(([0.0], np.repeat(heights, 2), [0.0])) + bottom
    return np.column_stack((x, y))


_per_thread = threading.local()


def _plot_for(data: PlotInput) -> FeaturePlot:
    plots: dict[tuple, FeaturePlot] = getattr(_per_thread, "plots", None)
    if plots is None:
        plots = _per_thread.plots = {}
    key = _layout_key(data)
    plot = plots.get(key)
    if plot is None:
        with _TEXT_SETTINGS_LOCK, matplotlib.rc_context(_TEXT_SETTINGS):
            plot = plots[key] = FeaturePlot(data)
        while len(plots) > KEPT_LAYOUTS:
            del plots[next(iter(plots))]  # the oldest: dicts keep insertion order
    return plot


def render_pixels(data: PlotInput) -> np.ndarray:
    """The plot's (600, 900, 4) RGBA pixels, a copy the caller owns."""
    return _plot_for(data).draw(data).copy()


def render_png(data: PlotInput) -> bytes:
    """PNG bytes of the page's histograms."""
    return encode_up_filtered(_plot_for(data).draw(data))
