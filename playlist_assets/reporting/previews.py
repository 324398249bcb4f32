"""Small inline previews of the plots, for the Dagster UI's metadata panel.

A preview is the plot halved to 400 x 300 px, as a Markdown image with a data URI, so the event
log stays small. The scatter asset makes it next to the plot (in the worker processes that
draw), and the overview asset, which shows the same plot inside its report, finds it here.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from playlist_assets.reporting.model import ScatterInput
from playlist_assets.reporting.scatter import render_scatter

# Halving with a box filter: as readable as a Lanczos thumbnail at this size, and cheaper.
REDUCTION = 2


def png_preview_markdown(png: bytes, alt: str = "scatter") -> str:
    return f"![{alt}](data:image/png;base64,{_thumbnail_base64(png)})"


def remember(png: bytes, preview_base64: str) -> None:
    """Record a preview made elsewhere (a worker process), so this process does not redo it."""
    _previews[png] = preview_base64
    while len(_previews) > KEPT_PREVIEWS:
        del _previews[next(iter(_previews))]  # the oldest: dicts keep insertion order


def render_scatter_with_preview(scatter: ScatterInput) -> tuple[bytes, str]:
    """The plot's PNG and its preview (base64), made together where the plot is drawn."""
    png = render_scatter(scatter)
    return png, _thumbnail_base64(png)


# The overview of each plot, made later in the same run, finds its preview here; a run over
# 1,000 playlists keeps ~60 MB of plots and previews, and a larger one the latest 2,000.
KEPT_PREVIEWS = 2000
_previews: dict[bytes, str] = {}


def _thumbnail_base64(png: bytes) -> str:
    known = _previews.get(png)
    if known is not None:
        return known
    image = Image.open(io.BytesIO(png)).reduce(REDUCTION)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    preview = base64.b64encode(buffer.getvalue()).decode("ascii")
    remember(png, preview)
    return preview
