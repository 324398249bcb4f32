"""Each cluster's tracks as Spotify track URIs, in the report's order.

The same list is written next to the report as `cluster_<N>_tracks.txt` (one URI a line: pasted
into a playlist in the Spotify desktop app, the lines become its tracks, no login needed) and
saved by `playlist-assets save-clusters`, so the file and the saved playlist always agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from playlist_assets.reports import escape

FILE_GLOB = "cluster_*_tracks.txt"


def file_name(cluster: int) -> str:
    """The cluster's track list, relative to the report's folder."""
    return f"cluster_{int(cluster)}_tracks.txt"


def track_uris(track_ids: Iterable[str | None]) -> list[str]:
    """`spotify:track:<id>` for each ID, in the given order; an ID that is not a plain Spotify ID
    (base62) is left out, as the report gives it no link either."""
    return [f"spotify:track:{track_id}" for track_id in track_ids if escape.spotify_id(track_id)]


def file_text(track_ids: Iterable[str | None]) -> str:
    uris = track_uris(track_ids)
    return "".join(f"{uri}\n" for uri in uris)
