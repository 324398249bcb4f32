"""The PNG scatter plot of a playlist's clusters: about 800 x 600 px, one colour per cluster.

Plain matplotlib on the Agg canvas, never pyplot: every call owns its Figure, so there is no
global state and plots can be drawn side by side. Text uses the installed fallback fonts of
`fonts`, so Hebrew, CJK and emoji names render without missing-glyph boxes.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TABLEAU_COLORS, to_rgb
from matplotlib.figure import Figure

from playlist_assets.reporting import fonts
from playlist_assets.reporting.model import ScatterInput

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 6.0, 100
POINT_SIZE = 28
LEGEND_MAX_CHARS = 48

# The "tab10" qualitative palette: neighbouring cluster numbers stay easy to tell apart.
_PALETTE = tuple(to_rgb(color) for color in TABLEAU_COLORS.values())


def cluster_color(number: int) -> tuple[float, float, float]:
    """The same cluster number gets the same colour in every plot."""
    return _PALETTE[(number - 1) % len(_PALETTE)]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _family(*texts: str) -> list[str]:
    # Laying text out over a chain of fonts costs several times more than over one, so the chain
    # is used only for text that leaves the first font's (DejaVu Sans') alphabet.
    families = list(fonts.installed_families())
    return families if not all(t.isascii() for t in texts) else families[:1]


def render_scatter(data: ScatterInput) -> bytes:
    """PNG bytes: the points coloured by cluster, a legend, axis labels and the playlist name."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    # Fixed margins: automatic layout engines re-measure every text several times.
    figure.subplots_adjust(left=0.05, right=0.98, bottom=0.06, top=0.93)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    clusters = np.array([p.cluster for p in data.points])
    xs = np.array([p.x for p in data.points], dtype=float)
    ys = np.array([p.y for p in data.points], dtype=float)
    for number in sorted(set(clusters.tolist())):
        mine = clusters == number
        label = fonts.drawable_text(data.legend.get(number, f"Cluster #{number}"))
        axes.scatter(
            xs[mine], ys[mine], s=POINT_SIZE, color=cluster_color(number),
            edgecolors="white", linewidths=0.4, label=_shorten(label, LEGEND_MAX_CHARS),
        )
    # The projected coordinates have no unit: the axis labels carry the meaning, ticks would not.
    axes.set_xticks([])
    axes.set_yticks([])
    for text, setter in ((data.x_label, axes.set_xlabel), (data.y_label, axes.set_ylabel)):
        setter(fonts.drawable_text(text), family=_family(text))
    axes.set_title(fonts.drawable_text(data.title), family=_family(data.title), fontsize=14)
    if data.points:
        family = _family(*data.legend.values())
        axes.legend(loc="upper right", prop={"family": family, "size": 9}, framealpha=0.85)
    buffer = io.BytesIO()
    # No metadata: the same input gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()
