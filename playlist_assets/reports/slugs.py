"""Folder names for playlists: readable, safe on every filesystem, unique per playlist."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

MAX_SLUG_LENGTH = 64
HASH_SUFFIX_HEX = 8
# Leaves room for "_" + the hash suffix so that a suffixed slug stays within MAX_SLUG_LENGTH.
MAX_BASE_LENGTH = MAX_SLUG_LENGTH - 1 - HASH_SUFFIX_HEX
FALLBACK_SLUG = "playlist"

# Device names that Windows refuses as file or folder names, whatever the case or extension.
WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
_NOT_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


def base_slug(name: str) -> str:
    """The slug a name gets when no other playlist shares it: "Retro Kpop" -> "retro_kpop"."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG_CHARS.sub("_", folded.lower()).strip("_")
    slug = slug[:MAX_BASE_LENGTH].rstrip("_")
    if not slug:
        return FALLBACK_SLUG
    if slug in WINDOWS_RESERVED:
        return f"{slug}_{FALLBACK_SLUG}"
    return slug


def is_safe_slug(slug: str) -> bool:
    """True when the slug can only ever name one folder inside the reports tree."""
    return (
        len(slug) <= MAX_SLUG_LENGTH
        and SLUG_PATTERN.fullmatch(slug) is not None
        and slug not in WINDOWS_RESERVED
    )


def _id_hash(playlist_id: str, hex_digits: int) -> str:
    return hashlib.sha256(playlist_id.encode("utf-8")).hexdigest()[:hex_digits]


def _suffixed(base: str, playlist_id: str, hex_digits: int) -> str:
    keep = MAX_SLUG_LENGTH - 1 - hex_digits
    return f"{base[:keep].rstrip('_')}_{_id_hash(playlist_id, hex_digits)}"


def assign_slugs(playlists: list[tuple[str, str]]) -> dict[str, str]:
    """Map playlist_id -> slug for (playlist_id, name) pairs.

    Every member of a group of playlists whose names give the same slug gets "_" plus the first
    8 hex digits of sha256(playlist_id), so the result depends only on the set of pairs, never on
    their order. Raises ValueError when one playlist_id comes with two different names.
    """
    names: dict[str, str] = {}
    for playlist_id, name in playlists:
        if names.setdefault(playlist_id, name) != name:
            raise ValueError(f"playlist_id {playlist_id!r} is listed with two different names")

    bases = {playlist_id: base_slug(name) for playlist_id, name in names.items()}
    base_counts = Counter(bases.values())
    slugs = {
        pid: base if base_counts[base] == 1 else _suffixed(base, pid, HASH_SUFFIX_HEX)
        for pid, base in bases.items()
    }

    # A suffixed slug can still meet another playlist's plain slug (a playlist literally named
    # "mix 1a2b3c4d") or, very rarely, another hash prefix: lengthen the hash until all differ.
    hex_digits = HASH_SUFFIX_HEX
    while True:
        slug_counts = Counter(slugs.values())
        clashing = sorted(pid for pid, slug in slugs.items() if slug_counts[slug] > 1)
        if not clashing:
            return slugs
        hex_digits = min(hex_digits * 2, 48)
        for playlist_id in clashing:
            slugs[playlist_id] = _suffixed(bases[playlist_id], playlist_id, hex_digits)
        if hex_digits == 48:
            # Distinct ids cannot share 192 bits of sha256 in practice; fail loudly if they do.
            if len(set(slugs.values())) != len(slugs):
                raise ValueError("could not make playlist slugs unique")
            return slugs
