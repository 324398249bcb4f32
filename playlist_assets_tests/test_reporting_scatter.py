"""The scatter PNG: a valid ~800 px image, deterministic, all scripts drawn without warnings."""

from __future__ import annotations

import logging
import io
import struct
import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from playlist_assets.reports import fonts
from playlist_assets.reports.model import ScatterInput, ScatterPoint
from playlist_assets.reports.scatter import POINT_SIZE, ScatterPlot, cluster_color, render_scatter

WORLD_TITLE = "שלום עולם · 東京の夜 · 北京欢迎你 · 안녕하세요 · 💚🔥🎵 👍🏽"
UNDRAWABLE = "\U0010fffd"  # private use: no font has it


def sample(title: str = "Retro Kpop", points: int = 100, k: int = 4) -> ScatterInput:
    rng = np.random.default_rng(3)
    xs, ys = rng.normal(size=points), rng.normal(size=points)
    clusters = rng.integers(1, k + 1, size=points)
    rows = zip(xs, ys, clusters, strict=True)
    return ScatterInput(
        title=title, x_label="energy + danceability", y_label="acousticness",
        points=tuple(ScatterPoint(float(x), float(y), int(c)) for x, y, c in rows),
        legend={c: f"Cluster #{c}: Energetic, danceable" for c in range(k, 0, -1)},
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def decode_rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "glyph" in str(w.message).lower()]


def test_render_returns_an_800_px_png() -> None:
    data = render_scatter(sample())
    assert png_size(data) == (800, 600)
    pixels = decode_rgba(data)
    # The clusters' colours are on the image.
    for number in (1, 2, 3, 4):
        rgb = np.round(np.array(cluster_color(number)) * 255).astype(int)
        assert (np.abs(pixels[..., :3].astype(int) - rgb).sum(axis=2) < 6).any()
    assert not (np.abs(pixels[..., :3].astype(int) - np.round(np.array(cluster_color(5)) * 255)).sum(axis=2) < 6).any()


def test_render_is_deterministic_and_thread_safe() -> None:
    first = render_scatter(sample())
    assert render_scatter(sample()) == first
    results: list[bytes] = []

    def render() -> None:
        results.append(render_scatter(sample(WORLD_TITLE)))

    threads = [threading.Thread(target=render) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(set(results)) == 1


def test_same_input_gives_the_same_bytes_whatever_was_drawn_before() -> None:
    # Plots are redrawn on one figure per thread: nothing of an earlier plot may show in a later one.
    first = render_scatter(sample())
    render_scatter(sample(WORLD_TITLE, points=300, k=7))
    render_scatter(ScatterInput(title="", x_label="", y_label="", points=(), legend={}))
    assert render_scatter(sample()) == first
    in_a_new_thread: list[bytes] = []
    thread = threading.Thread(target=lambda: in_a_new_thread.append(render_scatter(sample())))
    thread.start()
    thread.join()
    assert in_a_new_thread == [first]


def has_color(pixels: np.ndarray, number: int) -> bool:
    rgb = np.round(np.array(cluster_color(number)) * 255).astype(int)
    return bool((np.abs(pixels[..., :3].astype(int) - rgb).sum(axis=2) < 6).any())


def test_every_cluster_has_a_legend_entry_in_its_colour() -> None:
    k = 5
    points = tuple(ScatterPoint(float(i), float(-i), 1 + i % k) for i in range(60))
    # Cluster 5 has no description: it is still listed, by its number.
    legend = {c: f"Cluster #{c}: Energetic, danceable" for c in range(1, k)}
    data = ScatterInput("Diagonal", "x", "y", points, legend)
    plot = ScatterPlot()
    pixels = plot.draw(data)
    frame = plot.legend_frame.get_window_extent()
    # Display coordinates count from the bottom, pixel rows from the top.
    height = pixels.shape[0]
    in_legend = pixels[height - int(frame.y1) : height - int(frame.y0), int(frame.x0) : int(frame.x1)]
    assert all(has_color(in_legend, number) for number in range(1, k + 1))
    assert not has_color(in_legend, k + 1)
    assert np.array_equal(decode_rgba(render_scatter(data)), pixels)
    without_points = ScatterInput("Diagonal", "x", "y", (), legend)
    assert not any(has_color(decode_rgba(render_scatter(without_points)), n) for n in range(1, k + 1))


def spread_over_the_whole_axes(k: int, label: str) -> ScatterInput:
    """A grid of points from corner to corner of the axes, every cluster everywhere."""
    grid = [(x, y) for x in np.linspace(0, 1, 25) for y in np.linspace(0, 1, 25)]
    points = tuple(ScatterPoint(float(x), float(y), 1 + i % k) for i, (x, y) in enumerate(grid))
    return ScatterInput("Everywhere", "energy + danceability", "acousticness", points,
                        {c: f"Cluster #{c}: {label}" for c in range(1, k + 1)})


@pytest.mark.parametrize(("k", "label"), [
    (2, "Calm"), (6, "Energetic, danceable, happy"), (10, "Energetic, danceable, happy, loud and fast"),
    (29, "more clusters than the clustering makes, so only their numbers are listed"),
])
def test_the_legend_covers_no_point_and_no_label(k: int, label: str) -> None:
    plot = ScatterPlot()
    plot.draw(spread_over_the_whole_axes(k, label))
    renderer = plot.canvas.get_renderer()
    frame = plot.legend_frame.get_window_extent()
    width, height = plot.canvas.get_width_height()
    assert plot.legend_frame.get_visible()
    assert 0 <= frame.x0 and frame.x1 <= width and 0 <= frame.y0 and frame.y1 <= height
    # The frame holds every entry, so what it does not cover, the legend does not cover.
    entries = [t.get_window_extent(renderer) for t in plot.legend_texts if t.get_visible()]
    assert len(entries) == k
    assert all(frame.x0 <= e.x0 and e.x1 <= frame.x1 and frame.y0 <= e.y0 and e.y1 <= frame.y1 for e in entries)
    markers = plot.legend_markers.get_offsets()
    assert len(markers) == k and all(frame.contains(x, y) for x, y in markers)

    assert not frame.overlaps(plot.axes.bbox)
    assert not frame.overlaps(plot.axes.xaxis.label.get_window_extent(renderer))
    radius = np.sqrt(POINT_SIZE) / 2 * plot.figure.dpi / 72  # a marker's radius in pixels
    centres = plot.axes.transData.transform(plot.points.get_offsets())
    assert len(centres) == 625
    # The corners of the axes are drawn: the points reach every side of them.
    assert centres[:, 0].min() < plot.axes.bbox.x0 + 50 and centres[:, 1].max() > plot.axes.bbox.y1 - 50
    inside = ((centres[:, 0] + radius > frame.x0) & (centres[:, 0] - radius < frame.x1)
              & (centres[:, 1] + radius > frame.y0) & (centres[:, 1] - radius < frame.y1))
    assert not inside.any(), f"{inside.sum()} points under the legend"


def test_odd_input_still_renders() -> None:
    empty = ScatterInput(title="", x_label="", y_label="", points=(), legend={})
    assert png_size(render_scatter(empty)) == (800, 600)
    odd_points = (ScatterPoint(float("nan"), 1.0, 1), ScatterPoint(1.0, 1.0, 1),
                  ScatterPoint(1.0, 1.0, 12), ScatterPoint(float("inf"), 0.0, 2))
    many = {c: f"Cluster #{c}: a very long description that must be wrapped and cut"
            for c in range(1, 30)}
    long_title = "A very long playlist name " * 10
    data = ScatterInput(long_title, "x" * 300, "$y$ \\mathrm{x}", odd_points, many)
    assert png_size(render_scatter(data)) == (800, 600)


@pytest.mark.skipif(
    not fonts.covers(WORLD_TITLE),
    reason=f"fonts for Hebrew/CJK/emoji are not installed (have {fonts.installed_families()}); "
    "install Debian's fonts-noto-cjk and fonts-symbola",
)
def test_world_scripts_render_without_glyph_warnings(caplog: pytest.LogCaptureFixture) -> None:
    data = sample(WORLD_TITLE)
    data = ScatterInput(data.title, "énergie ⟶", "תחושה", data.points,
                        {1: "Cluster #1: 한국 🎵", 2: "Cluster #2: שלום", 3: "Cluster #3: 東京"})
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG):
        warnings.simplefilter("always")
        render_scatter(data)
    assert glyph_warnings(caught) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert fonts.drawable_text(WORLD_TITLE) == WORLD_TITLE


def test_characters_no_font_has_are_dropped_and_logged_at_most_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        assert fonts.drawable_text(f"a{UNDRAWABLE}b") == "ab"
        render_scatter(sample(f"Mix {UNDRAWABLE}"))
        render_scatter(sample(f"Mix {UNDRAWABLE * 2}"))
    assert glyph_warnings(caught) == []
    assert len([r for r in caplog.records if r.name == fonts.__name__]) <= 1


def test_fallback_chain_starts_with_matplotlibs_own_font() -> None:
    assert fonts.installed_families()[0] == "DejaVu Sans"
    assert "DejaVuSans.ttf" in fonts.font_chain()[0].path
