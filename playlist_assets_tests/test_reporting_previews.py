"""The UI's preview of a plot: half its size, the same whether made beside the plot or later."""

from __future__ import annotations

import base64
import io

from PIL import Image

from playlist_assets.reporting import previews
from playlist_assets.reporting.model import ScatterInput, ScatterPoint


def plot() -> ScatterInput:
    points = tuple(ScatterPoint(x=float(i % 7), y=float(i % 5), cluster=1 + i % 3) for i in range(40))
    return ScatterInput(title="Preview test", x_label="+energy", y_label="-tempo", points=points,
                        legend={1: "Cluster #1: Calm", 2: "Cluster #2: Loud", 3: "Cluster #3: Fast"})


def test_the_preview_made_beside_the_plot_equals_one_made_from_its_file() -> None:
    png, preview = previews.render_scatter_with_preview(plot())
    previews._previews.clear()  # as in a later run, which only has the PNG file
    assert previews.png_preview_markdown(png, "x") == f"![x](data:image/png;base64,{preview})"
    image = Image.open(io.BytesIO(base64.b64decode(preview)))
    assert image.size == (400, 300)
