"""Reading the parts of a library from the Web API: playlists, their entries, liked and top tracks.

Only the fields the normalizer reads are requested (`fields=`), which roughly halves the bytes
of a playlist page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from playlist_assets.ingest.sources.spotify_client import SpotifyApi, paged_items
from playlist_assets.ingest.sources.spotify_http import HttpRefused, SpotifyError
from playlist_assets.ingest.sources.spotify_objects import TERM_WEIGHTS

PLAYLIST_FIELDS = "id,name,description,owner(id,display_name),collaborative,snapshot_id,items(total),tracks(total)"
_ITEM_FIELDS = (
    "id,type,uri,name,is_local,is_playable,duration_ms,explicit,popularity,external_ids(isrc),"
    "album(id,name,album_type,release_date,release_date_precision,images),artists(id,name),show(name)"
)
# `item` is the 2026 name of the entry's track or episode, `track` the older one: ask for both.
ENTRY_FIELDS = (
    f"limit,offset,next,total,items(added_at,added_by(id),is_local,item({_ITEM_FIELDS}),track({_ITEM_FIELDS}))"
)
ENTRY_PAGE = 100
PAGE = 50

# Spotify's answer for a playlist the user neither owns nor collaborates on; such a skip is
# kept while the playlist's snapshot is unchanged (asking again would get the same answer).
FORBIDDEN_REASON = "Spotify does not give apps the entries of playlists you neither own nor collaborate on (403)"
_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_REF = re.compile(r"(?:spotify:playlist:|open\.spotify\.com/(?:intl-[\w-]+/)?playlist/)([0-9A-Za-z]+)")


def playlist_id_of(ref: str) -> str:
    """The ID in a playlist URL, URI or bare ID."""
    ref = ref.strip()
    match = _REF.search(ref)
    playlist_id = match.group(1) if match else ref
    if not _ID.match(playlist_id):
        raise SpotifyError(
            f"{ref!r} is not a Spotify playlist URL, URI or ID: fix PLAYLIST_ASSETS_SPOTIFY_PLAYLISTS."
        )
    return playlist_id


def my_playlists(api: SpotifyApi) -> list[dict]:
    return paged_items(api, "GET /me/playlists", lambda c: c.current_user_playlists(limit=PAGE))


def public_playlists(api: SpotifyApi, refs: tuple[str, ...]) -> list[dict]:
    playlists = []
    for playlist_id in dict.fromkeys(playlist_id_of(ref) for ref in refs):
        try:
            playlists.append(api.get("GET /playlists/{id}",
                                     lambda c, pid=playlist_id: c.playlist(pid, fields=PLAYLIST_FIELDS)))
        except HttpRefused as refused:
            raise SpotifyError(
                f"Spotify cannot show playlist {playlist_id} (HTTP {refused.status}): check that it is "
                "public and that PLAYLIST_ASSETS_SPOTIFY_PLAYLISTS names it correctly."
            ) from None
    return playlists


def playlist_entries(api: SpotifyApi, playlist_id: str, market: str | None) -> list[dict]:
    """Every entry of a playlist, in order; raises HttpRefused (403) for others' playlists."""
    return paged_items(api, "GET /playlists/{id}/items", lambda c: c.playlist_items(
        playlist_id, fields=ENTRY_FIELDS, limit=ENTRY_PAGE, market=market,
        additional_types=("track", "episode"),
    ))


def liked_tracks(api: SpotifyApi, previous: pl.DataFrame | None, market: str | None) -> list[dict] | None:
    """The saved tracks, or None when the first page proves they equal `previous`.

    /me/tracks lists the most recent first, so any new like shows on page one; with no new
    like, an unchanged total means nothing was unliked either.
    """
    first = api.get("GET /me/tracks", lambda c: c.current_user_saved_tracks(limit=PAGE, market=market))
    if previous is not None and _same_liked(first, previous):
        return None
    return paged_items(api, "GET /me/tracks", first)


def _same_liked(first: dict, previous: pl.DataFrame) -> bool:
    if first.get("total") != previous.height:
        return False
    known = set(zip(previous["track_id"].to_list(), map(_iso, previous["added_at"].to_list())))
    page = [((s.get("track") or {}).get("id"), s.get("added_at")) for s in first.get("items") or []]
    return all(entry in known for entry in page)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def top_tracks(api: SpotifyApi) -> dict[str, list[dict]]:
    """The three top-tracks lists; one page each, 50 being the most the API ranks."""
    return {
        term: api.get("GET /me/top/tracks",
                      lambda c, t=term: c.current_user_top_tracks(limit=PAGE, time_range=t)).get("items") or []
        for term in TERM_WEIGHTS
    }
