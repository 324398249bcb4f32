"""Which installed fonts draw plot text, and which characters they can draw.

Playlist names mix scripts (Hebrew, Japanese, Chinese, Korean) and emoji, while matplotlib's
default font covers none of CJK or emoji. We build a fallback chain from whatever of the
families below is installed (Debian: fonts-noto-cjk, fonts-symbola), and drop - logging once -
characters that no installed font has, instead of drawing missing-glyph boxes.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

logger = logging.getLogger(__name__)

# Preference order: the first font that has a character draws it.
FALLBACK_FAMILIES: tuple[str, ...] = (
    "DejaVu Sans",  # ships with matplotlib: Latin, Greek, Cyrillic, Hebrew, Arabic
    "Noto Sans CJK JP",  # fonts-noto-cjk: Han, kana and Hangul in one face
    "WenQuanYi Micro Hei",  # fonts-wqy-microhei: a 1.6 MB CJK alternative to Noto
    "Noto Sans Hebrew",
    "Noto Sans Arabic",
    "Noto Sans Thai",
    "Noto Sans Devanagari",
    "Symbola",  # fonts-symbola: monochrome emoji that Agg can rasterise
    "Noto Emoji",  # monochrome Noto emoji, where installed
    "Noto Sans Symbols 2",
    "Noto Sans Symbols",
)
# Colour emoji fonts (CBDT bitmaps such as Noto Color Emoji) are left out: FreeType gives
# matplotlib no scalable outlines for them, so matplotlib does not list them at all.

# Invisible characters that the text shaper consumes (joiners, variation selectors, tags):
# emoji sequences need them and no font has to "have" them.
_SHAPING_ONLY = frozenset(
    {0x200C, 0x200D, 0x20E3, *range(0xFE00, 0xFE10), *range(0xE0020, 0xE0080)}
)

_setup_lock = threading.Lock()
_missing_logged = threading.Event()


def _known_paths() -> set[str]:
    return {entry.fname for entry in font_manager.fontManager.ttflist}


def _register_unlisted_system_fonts() -> None:
    """Make matplotlib see fonts installed after its font cache was written."""
    known = _known_paths()
    for path in sorted(font_manager.findSystemFonts()):
        if path in known:
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            logger.debug("matplotlib cannot read font file %s", path)


def _best_face(family: str) -> font_manager.FontPath | None:
    # matplotlib's font cache can outlive an uninstalled font: keep only files still there.
    faces = [
        e for e in font_manager.fontManager.ttflist if e.name == family and Path(e.fname).is_file()
    ]
    if not faces:
        return None
    # Regular upright weight when there is one. matplotlib's own copy first (DejaVu Sans), so
    # plots look the same on every machine; path and index make the choice deterministic.
    bundled = str(Path(matplotlib.get_data_path()).resolve())
    best = min(
        faces,
        key=lambda e: (e.style != "normal", abs(int(e.weight) - 400), e.stretch != "normal",
                       not str(Path(e.fname).resolve()).startswith(bundled), e.fname, e.index),
    )
    return font_manager.FontPath(best.fname, best.index)


@cache
def _installed() -> tuple[tuple[str, font_manager.FontPath], ...]:
    """(family, face) of each installed family of FALLBACK_FAMILIES. Resolved once per process."""
    with _setup_lock:
        names = set(font_manager.fontManager.get_font_names())
        if any(family not in names for family in FALLBACK_FAMILIES):
            _register_unlisted_system_fonts()
        found = ((family, _best_face(family)) for family in FALLBACK_FAMILIES)
        installed = tuple((family, face) for family, face in found if face is not None)
    if not installed:
        raise RuntimeError("matplotlib finds no font at all; is its mpl-data folder intact?")
    return installed


@cache
def font_chain() -> tuple[font_manager.FontPath, ...]:
    """Installed fallback fonts, best first."""
    return tuple(dict.fromkeys(face for _family, face in _installed()))


def installed_families() -> tuple[str, ...]:
    """Families of FALLBACK_FAMILIES that are installed, in preference order."""
    return tuple(family for family, _face in _installed())


@cache
def _coverage() -> frozenset[int]:
    covered: set[int] = set()
    for face in font_chain():
        covered.update(FT2Font(face.path, face_index=face.face_index).get_charmap())
    return frozenset(covered)


def _drawable(char: str, covered: frozenset[int]) -> bool:
    code = ord(char)
    return code in covered or code in _SHAPING_ONLY


def covers(text: str) -> bool:
    """True when every character of text can be drawn by an installed font."""
    covered = _coverage()
    return all(_drawable(char, covered) for char in text if not char.isspace())


def drawable_text(text: str) -> str:
    """text on one line, without the characters that no installed font can draw."""
    covered = _coverage()
    kept: list[str] = []
    dropped: list[str] = []
    for char in text:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif _drawable(char, covered):
            kept.append(char)
        else:
            dropped.append(char)
    if dropped:
        _report_missing(dropped)
    return " ".join("".join(kept).split())


def _report_missing(chars: list[str]) -> None:
    listed = " ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(chars))
    if _missing_logged.is_set():
        logger.debug("No installed font draws %s; left out of the plot", listed)
        return
    _missing_logged.set()
    logger.warning(
        "No installed font draws %s; such characters are left out of scatter plots "
        "(installed: %s). Installing fonts-noto-cjk and fonts-symbola covers CJK and emoji.",
        listed,
        ", ".join(installed_families()),
    )
