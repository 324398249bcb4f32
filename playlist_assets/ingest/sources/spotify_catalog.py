"""Full album (label) and artist (genres) objects: in batches where the app may, one by one
where it may not, and only for those not already known and fresh."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from playlist_assets.ingest.sources.spotify_client import SpotifyApi
from playlist_assets.ingest.sources.spotify_http import HttpRefused


@dataclass(frozen=True)
class CatalogKind:
    name: str            # albums / artists: also the key of the batch answer
    key: str             # album_id / artist_id
    batch_size: int      # the most IDs the batch endpoint takes

    def batch(self, client, ids: list[str]) -> dict:
        return client.albums(ids) if self.name == "albums" else client.artists(ids)

    def single(self, client, object_id: str) -> dict:
        return client.album(object_id) if self.name == "albums" else client.artist(object_id)


ALBUMS = CatalogKind("albums", "album_id", 20)
ARTISTS = CatalogKind("artists", "artist_id", 50)


def due_ids(needed: Iterable[str], previous: pl.DataFrame | None, key: str, now: datetime,
            refresh_after_days: int) -> list[str]:
    """IDs to read: unknown to `previous`, or known from longer ago than `refresh_after_days`.

    Age comes from a `fetched_at` column when `previous` has one (null counts as old); without
    the column the age is unknown and known rows are kept as they are.
    """
    wanted = [i for i in dict.fromkeys(needed) if i]
    if previous is None or previous.is_empty():
        return wanted
    known = previous
    if "fetched_at" in previous.columns:
        cutoff = now - timedelta(days=refresh_after_days)
        known = previous.filter(pl.col("fetched_at").is_not_null() & (pl.col("fetched_at") >= cutoff))
    fresh = set(known[key].to_list())
    return [i for i in wanted if i not in fresh]


@dataclass
class CatalogReader:
    """Reads full objects; remembers for the rest of the run that a batch endpoint is refused."""

    api: SpotifyApi
    log: Callable[[str], None]
    batch_refused: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)
    missing: dict[str, int] = field(default_factory=dict)   # kind -> IDs the API did not know

    def read(self, kind: CatalogKind, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for start in range(0, len(ids), kind.batch_size):
            if kind.name in self.unavailable:
                break
            chunk = ids[start : start + kind.batch_size]
            objects = self._batch(kind, chunk) if kind.name not in self.batch_refused else None
            if objects is None:
                objects = self._one_by_one(kind, chunk)
            found.update((o["id"], o) for o in objects if o and o.get("id"))
        self.missing[kind.name] = self.missing.get(kind.name, 0) + sum(1 for i in ids if i not in found)
        return found

    def _batch(self, kind: CatalogKind, chunk: list[str]) -> list[dict] | None:
        try:
            answer = self.api.get(f"GET /{kind.name}?ids=", lambda c: kind.batch(c, chunk))
        except HttpRefused as refused:
            if refused.status not in (403, 404):
                raise
            self.batch_refused.add(kind.name)
            self.log(f"Spotify refused GET /{kind.name}?ids= (HTTP {refused.status}); "
                     f"reading {kind.name} one at a time for the rest of this run.")
            return None
        return answer.get(kind.name) or []

    def _one_by_one(self, kind: CatalogKind, chunk: list[str]) -> list[dict]:
        objects = []
        for object_id in chunk:
            try:
                objects.append(self.api.get(f"GET /{kind.name}/{{id}}",
                                            lambda c, i=object_id: kind.single(c, i)))
            except HttpRefused as refused:
                if refused.status == 403:
                    self.unavailable.add(kind.name)
                    self.log(f"Spotify refused GET /{kind.name}/{{id}} (HTTP 403); the remaining "
                             f"{kind.name} keep what the tracks say about them.")
                    break
                if refused.status not in (400, 404):
                    raise
        return objects
