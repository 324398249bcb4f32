"""The UI's preview of a plot: half its size, the same whether made beside the plot or later."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from playlist_assets.reports import previews
from playlist_assets.reports.model import ScatterInput, ScatterPoint


def plot() -> ScatterInput:
    points = tuple(ScatterPoint(x=float(i % 7), y=float(i % 5), cluster=1 + i % 3) for i in range(40))
    return ScatterInput(title="Preview test", x_label="+energy", y_label="-tempo", points=points,
                        legend={1: "Cluster #1: Calm", 2: "Cluster #2: Loud", 3: "Cluster #3: Fast"})


def test_the_preview_made_beside_the_plot_equals_one_made_from_its_file() -> None:
    png, preview = previews.render_scatter_with_preview(plot())
    previews._previews.clear()  # as in a later run, which only has the PNG file
    assert previews.png_preview_markdown(png, "x") == f"![x](data:image/png;base64,{preview})"
    image = Image.open(io.BytesIO(base64.b64decode(preview)))
    assert image.size == (800, 600)  # the plot's own size: its legend reads


def test_the_preview_keeps_every_cluster_colour_in_at_most_64_colours() -> None:
    from playlist_assets.reports.scatter import cluster_color

    _, preview = previews.render_scatter_with_preview(plot())
    image = Image.open(io.BytesIO(base64.b64decode(preview))).convert("RGB")
    colours = np.array([colour for _, colour in image.getcolors(maxcolors=800 * 600)])
    assert len(colours) <= previews.PREVIEW_COLOURS
    for cluster in (1, 2, 3):
        wanted = np.array(cluster_color(cluster)) * 255
        # The points' fill, within a few levels: the reduced palette may shift it slightly.
        assert np.abs(colours - wanted).max(axis=1).min() <= 6, f"cluster {cluster}'s colour is lost"
