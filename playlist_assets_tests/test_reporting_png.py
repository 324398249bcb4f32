"""The PNG encoding: it decodes to exactly the pixels it was given, with no metadata."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from playlist_assets.reports.png import encode_rgba


def chunk_kinds(data: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        kinds.append(kind)
        at += 12 + length
    return kinds


def test_pixels_survive_a_round_trip_through_pillow() -> None:
    pixels = np.random.default_rng(7).integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    decoded = Image.open(io.BytesIO(encode_rgba(pixels)))
    decoded.load()  # a CRC or zlib error would raise here
    assert decoded.mode == "RGBA" and decoded.size == (53, 37)
    assert np.array_equal(np.asarray(decoded), pixels)


def test_no_metadata_so_the_same_pixels_give_the_same_bytes() -> None:
    pixels = np.full((4, 6, 4), 255, dtype=np.uint8)
    data = encode_rgba(pixels)
    assert data == encode_rgba(pixels.copy())
    assert set(chunk_kinds(data)) == {b"IHDR", b"IDAT", b"IEND"}


def test_rejects_what_is_not_an_rgba_image() -> None:
    with pytest.raises(ValueError):
        encode_rgba(np.zeros((4, 6, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        encode_rgba(np.zeros((4, 6, 4), dtype=np.float32))


def test_an_opaque_image_is_written_as_rgb_with_the_same_colours() -> None:
    pixels = np.random.default_rng(3).integers(0, 256, size=(20, 30, 4), dtype=np.uint8)
    pixels[:, :, 3] = 255
    decoded = Image.open(io.BytesIO(encode_rgba(pixels)))
    assert decoded.mode == "RGB"
    assert np.array_equal(np.asarray(decoded.convert("RGBA")), pixels)
