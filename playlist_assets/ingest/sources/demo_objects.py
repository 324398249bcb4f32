"""Builders of Spotify Web API JSON objects for the demo library, field for field as the API
returns them (with `market=from_token`, hence `is_playable` and no `available_markets`).

A fake Spotify server serves these dicts verbatim, so shapes matter more than values here.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote_plus

import numpy as np

API = "https://api.spotify.com/v1"
OPEN = "https://open.spotify.com"
_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


class SpotifyIds:
    """Deterministic 22-character base62 ids, drawn in vectorised batches (fast at 100k ids)."""

    def __init__(self, seed: int, stream: int, batch: int = 4096) -> None:
        self._rng = np.random.default_rng([seed, stream])
        self._batch = batch
        self._ready: list[str] = []

    def __call__(self) -> str:
        if not self._ready:
            codes = self._rng.integers(0, 62, size=(self._batch, 22), dtype=np.uint8)
            text = _BASE62[codes].tobytes().decode("ascii")
            self._ready = [text[i : i + 22] for i in range(0, len(text), 22)]
            self._ready.reverse()
        return self._ready.pop()


def content_hash(text: str, n_bytes: int = 12) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=n_bytes).digest()


def snapshot_id(playlist_id: str, item_uris: list[str | None]) -> str:
    """Spotify-looking snapshot id that changes exactly when the entries change."""
    digest = content_hash(playlist_id + "\n" + "\n".join(uri or "<removed>" for uri in item_uris), 21)
    return base64.b64encode(digest).decode("ascii")


def _images(key: str, prefixes: tuple[tuple[str, int], ...]) -> list[dict]:
    digest = content_hash(key).hex()
    return [{"url": f"https://i.scdn.co/image/{prefix}{digest}", "height": size, "width": size}
            for prefix, size in prefixes]


def album_images(album_id: str) -> list[dict]:
    return _images(album_id, (("ab67616d0000b273", 640), ("ab67616d00001e02", 300), ("ab67616d00004851", 64)))


def artist_images(artist_id: str) -> list[dict]:
    return _images(artist_id, (("ab6761610000e5eb", 640), ("ab67616100005174", 320), ("ab6761610000f178", 160)))


def playlist_images(first_album_images: list[list[dict]]) -> list[dict]:
    """A mosaic of the first four albums, the cover of the only album, or none when empty."""
    if not first_album_images:
        return []
    if len(first_album_images) < 4:
        return [first_album_images[0][0]]
    tiles = "".join(images[0]["url"].rsplit("/", 1)[1] for images in first_album_images[:4])
    return [{"url": f"https://mosaic.scdn.co/{size}/{tiles}", "height": size, "width": size} for size in (640, 300, 60)]


def _links(kind: str, object_id: str, collection: str | None = None) -> dict:
    return {
        "external_urls": {"spotify": f"{OPEN}/{kind}/{object_id}"},
        "href": f"{API}/{collection or kind + 's'}/{object_id}",
        "id": object_id,
        "type": kind,
        "uri": f"spotify:{kind}:{object_id}",
    }


def public_user(user_id: str, display_name: str | None = None) -> dict:
    user = _links("user", user_id)
    if display_name is not None:
        user["display_name"] = display_name
    return user


def private_user(user_id: str, display_name: str) -> dict:
    """GET /me"""
    return {
        **public_user(user_id, display_name),
        "country": "DE",
        "email": f"{user_id}@example.com",
        "explicit_content": {"filter_enabled": False, "filter_locked": False},
        "followers": {"href": None, "total": 3},
        "images": [],
        "product": "premium",
    }


def simplified_artist(artist_id: str, name: str) -> dict:
    return {**_links("artist", artist_id), "name": name}


def full_artist(simplified: dict, genres: list[str], popularity: int, followers: int) -> dict:
    return {
        **simplified,
        "followers": {"href": None, "total": followers},
        "genres": genres,
        "images": artist_images(simplified["id"]),
        "popularity": popularity,
    }


def simplified_album(album_id: str, name: str, album_type: str, release_date: str, precision: str,
                     total_tracks: int, artists: list[dict]) -> dict:
    return {
        "album_type": album_type,
        "total_tracks": total_tracks,
        **_links("album", album_id),
        "images": album_images(album_id),
        "name": name,
        "release_date": release_date,
        "release_date_precision": precision,
        "artists": artists,
        "is_playable": True,
    }


def full_album(simplified: dict, label: str | None, tracks: list[dict], popularity: int, upc: str) -> dict:
    """GET /albums/{id}; `tracks` are simplified track objects."""
    year = simplified["release_date"][:4]
    page = tracks[:50]
    album_id = simplified["id"]
    return {
        **simplified,
        "tracks": {
            "href": f"{API}/albums/{album_id}/tracks?offset=0&limit=50",
            "items": page,
            "limit": 50,
            "next": f"{API}/albums/{album_id}/tracks?offset=50&limit=50" if len(tracks) > 50 else None,
            "offset": 0,
            "previous": None,
            "total": len(tracks),
        },
        "copyrights": [{"text": f"© {year} {label or ''}".strip(), "type": "C"},
                       {"text": f"℗ {year} {label or ''}".strip(), "type": "P"}],
        "external_ids": {"upc": upc},
        "genres": [],
        # The API answers an empty string, not null, for an album without a label.
        "label": label or "",
        "popularity": popularity,
    }


def simplified_track(track_id: str, name: str, artists: list[dict], duration_ms: int, explicit: bool,
                     track_number: int, is_playable: bool) -> dict:
    """A track as an album's track list gives it."""
    return {
        "artists": artists,
        "disc_number": 1,
        "duration_ms": duration_ms,
        "explicit": explicit,
        **_links("track", track_id),
        "is_local": False,
        "is_playable": is_playable,
        "name": name,
        "preview_url": None,
        "track_number": track_number,
    }


def full_track(simplified: dict, album: dict, isrc: str, popularity: int) -> dict:
    return {"album": album, **simplified, "external_ids": {"isrc": isrc}, "popularity": popularity}


def audio_features(track_id: str, duration_ms: int, values: dict) -> dict:
    """GET /audio-features/{id}; `values` holds the twelve feature values."""
    return {
        **values,
        "type": "audio_features",
        "id": track_id,
        "uri": f"spotify:track:{track_id}",
        "track_href": f"{API}/tracks/{track_id}",
        "analysis_url": f"{API}/audio-analysis/{track_id}",
        "duration_ms": duration_ms,
    }


def local_track(artist: str, album: str, title: str, duration_s: int) -> dict:
    """A file the user added from disk: a track object with no ids, only a spotify:local URI."""
    uri = ":".join(("spotify:local", quote_plus(artist), quote_plus(album), quote_plus(title), str(duration_s)))
    nothing = {"external_urls": {}, "href": None, "id": None, "uri": None}
    return {
        "album": {**nothing, "album_type": None, "artists": [], "images": [], "name": album, "release_date": None,
                  "release_date_precision": None, "type": "album"},
        "artists": [{**nothing, "name": artist, "type": "artist"}],
        "disc_number": 0,
        "duration_ms": duration_s * 1000,
        "explicit": False,
        "external_ids": {},
        **nothing,
        "is_local": True,
        "name": title,
        "popularity": 0,
        "preview_url": None,
        "track_number": 0,
        "type": "track",
        "uri": uri,
    }


def episode(episode_id: str, show_id: str, name: str, show_name: str, publisher: str) -> dict:
    show = {
        **_links("show", show_id),
        "name": show_name,
        "publisher": publisher,
        "description": f"{show_name}, every week.",
        "media_type": "audio",
        "total_episodes": 120,
        "images": _images(show_id, (("ab6765630000ba8a", 640), ("ab67656300005f1f", 300), ("ab6765630000f68d", 64))),
    }
    return {
        **_links("episode", episode_id),
        "name": name,
        "description": f"{name}. Notes at example.com.",
        "duration_ms": 2_712_000,
        "explicit": False,
        "is_playable": True,
        "language": "en",
        "release_date": "2025-03-14",
        "release_date_precision": "day",
        "images": show["images"],
        "show": show,
    }


def playlist(playlist_id: str, name: str, description: str, owner: dict, collaborative: bool,
             snapshot: str, total: int, images: list[dict]) -> dict:
    """A simplified playlist object as in GET /me/playlists."""
    return {
        "collaborative": collaborative,
        "description": description,
        **_links("playlist", playlist_id),
        "images": images,
        "name": name,
        "owner": owner,
        "primary_color": None,
        # Spotify refuses collaborative playlists that are public.
        "public": not collaborative,
        "snapshot_id": snapshot,
        "items": {"href": f"{API}/playlists/{playlist_id}/items", "total": total},
        "tracks": {"href": f"{API}/playlists/{playlist_id}/tracks", "total": total},
    }


def playlist_entry(added_at: str, added_by: dict, item: dict | None) -> dict:
    """One entry of GET /playlists/{id}/items (2026 shape: the track or episode is under `item`)."""
    return {
        "added_at": added_at,
        "added_by": added_by,
        "is_local": bool(item and item.get("is_local")),
        "primary_color": None,
        "video_thumbnail": {"url": None},
        "item": item,
    }
