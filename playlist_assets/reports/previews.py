"""Inline previews of the plots, for the Dagster UI's metadata panel.

A preview is the plot at its own 800 x 600 px, reduced to 64 colours, as a Markdown image with a
data URI (about 12 KB of base64): large enough to read the legend, which at half size (400 px,
5 KB, 2.4 ms less a plot) could not be read. Every playlist's plot and report carry one in the
event log, so its size is paid in every run's writes: at 1,000 playlists full-colour previews
(about 47 MB) once made up three fifths of a full run's 76 MB of materialization events. The
scatter asset makes it next to the plot (in the worker processes that draw), and the overview
asset, which shows the same plot inside its report, finds it here.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from playlist_assets.reports.model import ScatterInput
from playlist_assets.reports.png import encode_up_filtered, image_of

# 1 = the plot's own size (2 halves it with a box filter, cheaper than a Lanczos thumbnail).
REDUCTION = 1
# A plot holds white, greys, up to ten cluster colours and their blends at the edges: 64 colours
# look the same at preview size. Measured on 30 plots: 6.8 KB of base64 where full colour took
# 23.7 KB, and 2.9 ms to make instead of 4.7 (fewer bytes to compress). Fast octree is
# deterministic: the same plot gives the same preview.
PREVIEW_COLOURS = 64


def png_preview_markdown(png: bytes, alt: str = "scatter") -> str:
    return f"![{alt}](data:image/png;base64,{_thumbnail_base64(png)})"


def remember(png: bytes, preview_base64: str) -> None:
    """Record a preview made elsewhere (a worker process), so this process does not redo it."""
    _previews[png] = preview_base64
    while len(_previews) > KEPT_PREVIEWS:
        del _previews[next(iter(_previews))]  # the oldest: dicts keep insertion order


def render_scatter_with_preview(scatter: ScatterInput) -> tuple[bytes, str]:
    """The plot's PNG and its preview (base64), made together where the plot is drawn.

    The preview is shrunk from the drawn pixels, not from the PNG: decoding the PNG again and
    encoding the preview at Pillow's default level cost three times as much (measured 17 ms vs 6).
    """
    # matplotlib is imported by the processes that draw, not by every one that loads the assets.
    from playlist_assets.reports.scatter import render_scatter_pixels

    pixels = render_scatter_pixels(scatter)
    # The plot as the Track Features plot is written (one row filter chosen in advance): 3.6 ms
    # a plot where Pillow's per-row choice took 8.5, for 39 KB instead of 34.
    return encode_up_filtered(pixels), _base64_png(image_of(pixels).reduce(REDUCTION))


# The overview of each plot, made later in the same run, finds its preview here; a run over
# 1,000 playlists keeps ~60 MB of plots and previews, and a larger one the latest 2,000.
KEPT_PREVIEWS = 2000
_previews: dict[bytes, str] = {}


def _thumbnail_base64(png: bytes) -> str:
    known = _previews.get(png)
    if known is not None:
        return known
    # As made beside the plot: from the pixels (RGB when opaque), whatever mode the file stores.
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    preview = _base64_png(image_of(pixels).reduce(REDUCTION))
    remember(png, preview)
    return preview


def _base64_png(image: Image.Image) -> str:
    reduced = image.quantize(PREVIEW_COLOURS, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    reduced.save(buffer, format="PNG")  # Pillow's default level: at this size it costs ~1 ms more than level 1
    return base64.b64encode(buffer.getvalue()).decode("ascii")
