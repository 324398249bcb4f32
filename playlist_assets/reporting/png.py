"""Encode an RGBA pixel array as PNG bytes with Pillow, the writer matplotlib's savefig uses.

The plot is drawn once on the Agg canvas and its buffer handed here directly: savefig would
draw the figure a second time. Compress level 1: a plot is mostly flat background with a few
colours, so the file is barely larger than at the default level and takes less time. Pillow
writes no date or software name unless asked, so the same pixels always give the same bytes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

COMPRESS_LEVEL = 1


def encode_rgba(pixels: np.ndarray) -> bytes:
    """PNG bytes of a (height, width, 4) uint8 array, rows top to bottom (not premultiplied)."""
    if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
        raise ValueError(f"expected a (height, width, 4) uint8 array, got {pixels.shape} {pixels.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=COMPRESS_LEVEL)
    return buffer.getvalue()
