"""The embedded demo library: a seeded Spotify library, shaped exactly like the Web API's JSON.

`demo_payload` returns the API objects (a fake Spotify server can serve them verbatim);
`demo_library` normalizes them like any Spotify payload. The same arguments always give the same
library. The first twelve playlists are hand-written and carry every awkward case of real
libraries (see `demo_catalog.PLAYLIST_ROLES`); further playlists are drawn at random with the
same code, so `demo_library(1000, 100, 7)` is a realistic benchmark library of ~50,000 tracks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from playlist_assets.ingest.sources import demo_objects as objects
from playlist_assets.ingest.sources.demo_catalog import (
    GENRES, LOCAL_FILE, PLAYLIST_ADJECTIVES, PLAYLIST_NOUNS, PLAYLIST_ROLES, PODCAST, PlaylistRole,
)
from playlist_assets.ingest.sources.demo_pool import Pool, build_pool
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload, entry_item, gc_paused, library_from_payload

DEMO_FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)
DEMO_USER = ("demo_listener", "Demo Listener")
DEMO_FRIEND = ("alex.k", "Alex")

# Distinct catalog tracks per playlist entry: tuned so that playlists share tracks and
# demo_library(1000, 100, seed) references about 50,000 distinct tracks.
_POOL_PER_ENTRY = 0.6
_MIN_POOL = 200
# How often a drawn (not hand-written) playlist carries each awkward case.
_DRAWN_ODDITY_SHARE = {"duplicate": 0.08, "removed": 0.03, "local": 0.02, "episode": 0.02}
_TOP_LIST_LENGTH = 50          # the API's maximum page of top tracks
_LIKED_SHARE = 0.25            # share of playlist tracks that are also liked
_HISTORY_START = np.datetime64("2016-01-01T00:00:00", "s")
_HISTORY_END = np.datetime64("2025-12-20T00:00:00", "s")
_EDITS_START = np.datetime64("2026-01-02T00:00:00", "s")   # edits happen after the demo's fetch
_EDITS_END = np.datetime64("2026-02-01T00:00:00", "s")


def demo_payload(n_playlists: int, tracks_per_playlist: int, seed: int) -> SpotifyPayload:
    """The demo library as Spotify API objects: `n_playlists` playlists of about
    `tracks_per_playlist` entries (the hand-written ones vary), liked songs and top tracks."""
    if min(n_playlists, tracks_per_playlist, seed) < 0:
        raise ValueError("demo_payload: n_playlists, tracks_per_playlist and seed must be zero or more")
    pool_size = max(_MIN_POOL, 8 * tracks_per_playlist, round(_POOL_PER_ENTRY * n_playlists * tracks_per_playlist))
    with gc_paused():
        return _LibraryBuilder(build_pool(pool_size, seed), seed).build(n_playlists, tracks_per_playlist)


def demo_library(n_playlists: int, tracks_per_playlist: int, seed: int,
                 fetched_at: datetime = DEMO_FETCHED_AT) -> RawLibrary:
    """The demo library as raw tables (see `demo_payload`)."""
    # One pause for both steps: each re-enabling makes the collector rescan every new object.
    with gc_paused():
        payload = demo_payload(n_playlists, tracks_per_playlist, seed)
        return library_from_payload(payload, source="demo", fetched_at=fetched_at)


def edited_demo_library(
    n_playlists: int, tracks_per_playlist: int, seed: int, n_edits: int, fetched_at: datetime = DEMO_FETCHED_AT
) -> RawLibrary:
    """The demo library after its owner edited `n_edits` playlists spread evenly over the library.

    Lets a user (and the benchmarks) watch an incremental refresh: only the edited playlists get
    a new snapshot_id.
    """
    # One pause for all three steps, as in demo_library.
    with gc_paused():
        payload = edited_demo_payload(n_playlists, tracks_per_playlist, seed, n_edits)
        return library_from_payload(payload, source="demo", fetched_at=fetched_at)


def edited_demo_payload(n_playlists: int, tracks_per_playlist: int, seed: int, n_edits: int) -> SpotifyPayload:
    """The API objects of `edited_demo_library`."""
    with gc_paused():
        payload = demo_payload(n_playlists, tracks_per_playlist, seed)
        if n_edits > 0:
            ids = [p["id"] for p in payload.playlists]
            step = max(1, len(ids) // n_edits)
            payload = edit_playlists(payload, ids[step - 1 :: step][:n_edits], seed)
        return payload


def edit_playlists(payload: SpotifyPayload, playlist_ids: Iterable[str], seed: int) -> SpotifyPayload:
    """A copy of `payload` where each named playlist lost up to three entries and gained one to
    three tracks from elsewhere in the library, with a new snapshot_id; the rest is untouched
    (the objects are shared with `payload`, which is not modified)."""
    wanted = list(dict.fromkeys(playlist_ids))
    index_by_id = {p["id"]: i for i, p in enumerate(payload.playlists)}
    unknown = [pid for pid in wanted if pid not in index_by_id]
    if unknown:
        raise KeyError(f"edit_playlists: no playlist with id {unknown} in the payload")
    candidates = _library_tracks(payload)
    if not candidates:
        raise ValueError("edit_playlists: the payload has no tracks to add to a playlist")
    playlists = list(payload.playlists)
    items_by_id = dict(payload.playlist_items)
    for playlist_id in wanted:
        rng = random.Random(f"{seed}:edit:{playlist_id}")
        playlist = playlists[index_by_id[playlist_id]]
        before = items_by_id.get(playlist_id, [])
        entries = list(before)
        for _ in range(rng.randint(0, min(3, len(entries)))):
            entries.pop(rng.randrange(len(entries)))
        owner = {k: v for k, v in playlist["owner"].items() if k != "display_name"}
        added = _timestamps(np.random.default_rng(rng.getrandbits(64)), 3, _EDITS_START, _EDITS_END)
        for added_at in added[: rng.randint(1, 3)]:
            entries.append(objects.playlist_entry(added_at, owner, rng.choice(candidates)))
        while _uris(entries) == _uris(before):  # the edit must show: a new snapshot_id
            entries.append(objects.playlist_entry(added[-1], owner, rng.choice(candidates)))
        items_by_id[playlist_id] = entries
        playlists[index_by_id[playlist_id]] = _with_entries(playlist, entries)
    return replace(payload, playlists=playlists, playlist_items=items_by_id)


def _uris(entries: list[dict]) -> list[str | None]:
    return [(entry_item(e) or {}).get("uri") for e in entries]


def _with_entries(playlist: dict, entries: list[dict]) -> dict:
    """`playlist` described anew for `entries`: snapshot id, totals and cover mosaic."""
    total = len(entries)
    covers = []
    for entry in entries:
        images = ((entry_item(entry) or {}).get("album") or {}).get("images")
        if images and images not in covers:
            covers.append(images)
            if len(covers) == 4:
                break
    return {
        **playlist,
        "images": objects.playlist_images(covers),
        "snapshot_id": objects.snapshot_id(playlist["id"], _uris(entries)),
        "items": {**playlist["items"], "total": total},
        "tracks": {**playlist["tracks"], "total": total},
    }


def _library_tracks(payload: SpotifyPayload) -> list[dict]:
    """Every real track the payload's playlists mention, by id so the order is reproducible."""
    tracks = {}
    for entries in payload.playlist_items.values():
        for entry in entries:
            item = entry_item(entry)
            if item and item.get("type") == "track" and item.get("id") and not item.get("is_local"):
                tracks[item["id"]] = item
    return [tracks[track_id] for track_id in sorted(tracks)]


def _timestamps(np_rng: np.random.Generator, n: int, start: np.datetime64, end: np.datetime64) -> list[str]:
    """`n` ascending ISO-8601 UTC times in [start, end), as the API writes them."""
    offsets = np.sort(np_rng.integers(0, int((end - start) / np.timedelta64(1, "s")), n))
    return np.datetime_as_string(start + offsets.astype("timedelta64[s]"), unit="s", timezone="UTC").tolist()


class _LibraryBuilder:
    def __init__(self, pool: Pool, seed: int) -> None:
        self.pool = pool
        self.rng = random.Random(f"{seed}:library")
        self.np_rng = np.random.default_rng([seed, 2])
        self.ids = objects.SpotifyIds(seed, 3)
        # As `added_by` gives them: the API leaves display_name out there.
        self.me = objects.public_user(DEMO_USER[0])
        self.friend = objects.public_user(DEMO_FRIEND[0])
        self.local_file = objects.local_track(**LOCAL_FILE)
        self.episode = objects.episode(self.ids(), self.ids(), PODCAST["episode"], PODCAST["show"],
                                       PODCAST["publisher"])
        self.genre_tracks = {g.name: np.asarray(pool.tracks_by_genre[i], dtype=np.int64) for i, g in enumerate(GENRES)}

    def build(self, n_playlists: int, tracks_per_playlist: int) -> SpotifyPayload:
        playlists, playlist_items = [], {}
        in_playlists: dict[int, None] = {}   # track indexes in order of first appearance
        for number in range(n_playlists):
            role = PLAYLIST_ROLES[number] if number < len(PLAYLIST_ROLES) else self._drawn_role(number)
            tracks = self._pick_tracks(role, tracks_per_playlist if role.size is None else role.size)
            in_playlists.update(dict.fromkeys(tracks))
            playlist, entries = self._playlist(role, tracks)
            playlists.append(playlist)
            playlist_items[playlist["id"]] = entries
        liked = self._liked(list(in_playlists))
        top = self._top(list(in_playlists) or liked)
        referenced = sorted(set(in_playlists) | set(liked) | {i for ranked in top.values() for i in ranked})
        return SpotifyPayload(
            user=objects.private_user(*DEMO_USER),
            playlists=playlists,
            playlist_items=playlist_items,
            **self._referenced_objects(referenced),
            saved_tracks=self._saved(liked),
            top_tracks={term: [self.pool.tracks[i] for i in ranked] for term, ranked in top.items()},
        )

    def _drawn_role(self, number: int) -> PlaylistRole:
        rng = self.rng
        k = number - len(PLAYLIST_ROLES)
        adjective, rest = PLAYLIST_ADJECTIVES[k % len(PLAYLIST_ADJECTIVES)], k // len(PLAYLIST_ADJECTIVES)
        name = f"{adjective} {PLAYLIST_NOUNS[rest % len(PLAYLIST_NOUNS)]}"
        round_ = rest // len(PLAYLIST_NOUNS)   # names repeat after every combination was used
        genres = tuple(rng.sample([g.name for g in GENRES], rng.randint(2, 4)))
        oddities = frozenset(o for o, share in _DRAWN_ODDITY_SHARE.items() if rng.random() < share)
        return PlaylistRole(name + (f" {round_ + 1}" if round_ else ""), genres,
                            f"{', '.join(genres[:-1])} and {genres[-1]}", oddities=oddities)

    def _pick_tracks(self, role: PlaylistRole, size: int) -> list[int]:
        """`size` distinct tracks (fewer if the catalog runs out) mixing the role's genres."""
        if size == 0:
            return []
        featured = [i for a in role.awkward_artists for i in self.pool.awkward_tracks[a]]
        genres = role.genres or tuple(g.name for g in GENRES)
        weights = self.np_rng.random(len(genres)) + 0.3
        counts = np.floor(size * weights / weights.sum()).astype(int)
        counts[: size - counts.sum()] += 1
        drawn: list[int] = []
        for genre, count in zip(genres, counts.tolist()):
            by_genre = self.genre_tracks[genre]
            drawn += self.np_rng.choice(by_genre, min(count, by_genre.size), replace=False).tolist()
        # Featured tracks first so the cut to `size` keeps them; a draw may repeat one.
        tracks = list(dict.fromkeys(featured + drawn))[:size]
        return [tracks[i] for i in self.np_rng.permutation(len(tracks)).tolist()]

    def _playlist(self, role: PlaylistRole, tracks: list[int]) -> tuple[dict, list[dict]]:
        items: list[dict | None] = [self.pool.tracks[i] for i in tracks]
        # Oddities go in at fixed fractions of the playlist so they are easy to find by eye.
        if "duplicate" in role.oddities and items:
            items.insert(len(items) * 2 // 3, items[min(2, len(items) - 1)])
        if "local" in role.oddities:
            items.insert(len(items) // 3, self.local_file)
        if "episode" in role.oddities:
            items.insert(len(items) // 2, self.episode)
        if "removed" in role.oddities:
            items.insert(len(items) // 4, None)
        owner, (owner_id, owner_name) = (self.friend, DEMO_FRIEND) if role.owned_by_friend else (self.me, DEMO_USER)
        created = _HISTORY_START + np.timedelta64(int(self.np_rng.integers(0, 3000)), "D")
        times = _timestamps(self.np_rng, len(items), created, _HISTORY_END)
        adders = [owner] * len(items)
        if role.collaborative:
            adders = [self.friend if u < 0.4 else owner for u in self.np_rng.random(len(items)).tolist()]
        entries = [objects.playlist_entry(t, by, item) for t, by, item in zip(times, adders, items)]
        playlist = objects.playlist(self.ids(), role.name, role.description, objects.public_user(owner_id, owner_name),
                                    role.collaborative, snapshot="", total=0, images=[])
        return _with_entries(playlist, entries), entries

    def _liked(self, in_playlists: list[int]) -> list[int]:
        """Every awkward track (so their names exist at any size), a share of the playlist
        tracks and a few tracks that are in no playlist at all."""
        rng = self.rng
        members = set(in_playlists)
        outside = [i for i in range(len(self.pool.tracks)) if i not in members]
        liked = [i for tracks in self.pool.awkward_tracks for i in tracks]
        liked += rng.sample(in_playlists, int(len(in_playlists) * _LIKED_SHARE))
        liked += rng.sample(outside, min(len(outside), max(3, len(self.pool.tracks) // 100)))
        liked = list(dict.fromkeys(liked))
        rng.shuffle(liked)
        return liked

    def _saved(self, liked: list[int]) -> list[dict]:
        # GET /me/tracks lists the most recently liked first.
        times = _timestamps(self.np_rng, len(liked), _HISTORY_START, _HISTORY_END)[::-1]
        return [{"added_at": t, "track": self.pool.tracks[i]} for t, i in zip(times, liked)]

    def _top(self, candidates: list[int]) -> dict[str, list[int]]:
        """Three overlapping ranked lists, as a listener's favourites drift over time."""
        rng, n = self.rng, _TOP_LIST_LENGTH
        picked = rng.sample(candidates, min(len(candidates), 2 * n))
        short = picked[:n]
        medium = picked[n // 2 : n // 2 + n]
        long = picked[n : 2 * n] + picked[: n // 5]
        for ranked in (medium, long):
            rng.shuffle(ranked)
        return {"short_term": short, "medium_term": medium, "long_term": long[:n]}

    def _referenced_objects(self, referenced: list[int]) -> dict[str, dict]:
        """Albums, artists and features of the tracks the library mentions, as the real
        source would fetch them: nothing for tracks it never sees."""
        albums, artists, features = {}, {}, {}
        for index in referenced:
            track = self.pool.tracks[index]
            album = self.pool.albums[track["album"]["id"]]
            albums[album["id"]] = album
            for credit in track["artists"] + album["artists"]:
                artists[credit["id"]] = self.pool.artists[credit["id"]]
            if track["id"] in self.pool.features:
                features[track["id"]] = self.pool.features[track["id"]]
        return {"albums": albums, "artists": artists, "audio_features": features}
