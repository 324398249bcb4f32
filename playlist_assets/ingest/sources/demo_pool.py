"""The catalog the demo library draws from: artists, their albums, the albums' tracks and the
tracks' audio features, as Spotify JSON objects. Playlists pick tracks out of it by genre.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from playlist_assets.ingest.sources import demo_objects as objects
from playlist_assets.ingest.sources.demo_catalog import AWKWARD_ARTISTS, GENRES, AwkwardArtist, Genre

_FEATURELESS_SHARE = 0.03   # tracks the audio-features endpoint has no analysis of
_UNPLAYABLE_SHARE = 0.01    # tracks no longer available in the user's market
_FEAT_SHARE = 0.12          # tracks crediting a second artist
_MAX_ALBUM_TRACKS = 14
_ISRC_COUNTRY = {"k-pop": "KR", "classical": "DE", "metal": "SE", "lo-fi": "NL", "hip-hop": "US",
                 "country": "US", "edm": "GB", "jazz": "FR"}


@dataclass
class Pool:
    """Every catalog object, plus indexes into `tracks` by genre and by awkward artist."""

    tracks: list[dict] = field(default_factory=list)              # full track objects
    tracks_by_genre: list[list[int]] = field(default_factory=list)
    awkward_tracks: list[list[int]] = field(default_factory=list)  # per AWKWARD_ARTISTS entry
    albums: dict[str, dict] = field(default_factory=dict)          # album id -> full album
    artists: dict[str, dict] = field(default_factory=dict)         # artist id -> full artist
    features: dict[str, dict] = field(default_factory=dict)        # track id -> audio features


class _PoolBuilder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}:pool")
        self.np_rng = np.random.default_rng([seed, 0])
        self.ids = objects.SpotifyIds(seed, 1)
        self.pool = Pool(tracks_by_genre=[[] for _ in GENRES], awkward_tracks=[[] for _ in AWKWARD_ARTISTS])
        self.featureless: set[int] = set()
        # One row of random numbers per track (see `_add_album` for the columns).
        self._noise: list[list[float]] = []

    def build(self, size: int) -> Pool:
        per_genre = max(1, math.ceil(size / len(GENRES)))
        # Per-track random numbers drawn up front in one vectorised call: drawing them one by
        # one is most of the build time at 50,000 tracks. A genre overshoots by < 3 albums.
        capacity = len(GENRES) * (per_genre + 3 * _MAX_ALBUM_TRACKS) + sum(len(a.tracks) for a in AWKWARD_ARTISTS)
        noise = self.np_rng.random((capacity, 8))
        noise[:, 0] = self.np_rng.standard_normal(capacity)
        self._noise = noise.tolist()
        for genre_index, genre in enumerate(GENRES):
            genre_artists: list[dict] = []
            for awkward_index, awkward in enumerate(AWKWARD_ARTISTS):
                if awkward.genre == genre.name:
                    self._add_awkward_artist(genre_index, genre, genre_artists, awkward_index, awkward)
            while len(self.pool.tracks_by_genre[genre_index]) < per_genre:
                self._add_artist(genre_index, genre, genre_artists)
        self._add_features()
        return self.pool

    def _new_artist(self, name: str, genres: list[str]) -> dict:
        popularity = self.rng.randint(3, 88)
        followers = int(popularity**3 * self.rng.uniform(4, 40))
        artist = objects.full_artist(objects.simplified_artist(self.ids(), name), genres, popularity, followers)
        self.pool.artists[artist["id"]] = artist
        return artist

    def _add_artist(self, genre_index: int, genre: Genre, genre_artists: list[dict]) -> None:
        first, last = genre.artist_words
        artist = self._new_artist(f"{self.rng.choice(first)} {self.rng.choice(last)}", list(genre.artist_genres))
        for _ in range(self.rng.randint(1, 3)):
            n_tracks = self.rng.randint(1, 3) if self.rng.random() < 0.25 else self.rng.randint(6, _MAX_ALBUM_TRACKS)
            next_track = len(self.pool.tracks)
            titles = [self._title(genre, *self._noise[i][6:]) for i in range(next_track, next_track + n_tracks)]
            album_name = titles[0] if n_tracks <= 3 else self._title(genre, self.rng.random(), self.rng.random())
            self._add_album(genre_index, genre, artist, genre_artists, album_name, titles,
                            self.rng.choice(genre.labels))
        genre_artists.append(artist)

    def _add_awkward_artist(self, genre_index: int, genre: Genre, genre_artists: list[dict],
                            awkward_index: int, awkward: AwkwardArtist) -> None:
        genres = list(genre.artist_genres) if awkward.has_genres else []
        artist = self._new_artist(awkward.name, genres)
        first = len(self.pool.tracks)
        self._add_album(genre_index, genre, artist, [], awkward.album, list(awkward.tracks), awkward.label)
        self.pool.awkward_tracks[awkward_index] = list(range(first, len(self.pool.tracks)))
        if awkward.featureless_track is not None:
            self.featureless.add(first + awkward.featureless_track)
        genre_artists.append(artist)

    @staticmethod
    def _title(genre: Genre, u_first: float, u_second: float) -> str:
        first, second = genre.title_words
        return f"{first[int(u_first * len(first))]} {second[int(u_second * len(second))]}"

    def _add_album(self, genre_index: int, genre: Genre, artist: dict, genre_artists: list[dict],
                   name: str, titles: list[str], label: str | None) -> None:
        rng = self.rng
        year = rng.randint(genre.first_year, 2025)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        precision = rng.choices(("day", "month", "year"), weights=(85, 5, 10))[0]
        date = {"day": f"{year}-{month:02d}-{day:02d}", "month": f"{year}-{month:02d}", "year": str(year)}[precision]
        album_type = "single" if len(titles) <= 3 else "album"
        credit = {k: artist[k] for k in ("external_urls", "href", "id", "name", "type", "uri")}
        album = objects.simplified_album(self.ids(), name, album_type, date, precision, len(titles), [credit])
        isrc_prefix = f"{_ISRC_COUNTRY[genre.name]}D{genre_index:02d}{year % 100:02d}"
        duration = genre.duration_s
        pool_tracks, by_genre, ids = self.pool.tracks, self.pool.tracks_by_genre[genre_index], self.ids
        tracks = []
        for number, title in enumerate(titles, start=1):
            index = len(pool_tracks)
            z_duration, u_explicit, u_popularity, u_playable, u_features, u_guest, _, _ = self._noise[index]
            credits = [credit]
            if genre_artists and u_guest < _FEAT_SHARE:
                guest = genre_artists[int(u_guest / _FEAT_SHARE * len(genre_artists))]
                credits = [credit, {k: guest[k] for k in credit}]
            seconds = min(duration.high, max(duration.low, duration.mean + duration.sd * z_duration))
            simplified = objects.simplified_track(
                ids(), title, credits,
                duration_ms=int(seconds * 1000),
                explicit=u_explicit < genre.explicit_share,
                track_number=number,
                is_playable=u_playable >= _UNPLAYABLE_SHARE,
            )
            pool_tracks.append(objects.full_track(
                simplified, album,
                isrc=f"{isrc_prefix}{index % 100_000:05d}",
                popularity=max(0, min(100, artist["popularity"] + int(u_popularity * 25) - 15)),
            ))
            if u_features < _FEATURELESS_SHARE:
                self.featureless.add(index)
            by_genre.append(index)
            tracks.append(simplified)
        upc = f"8{len(self.pool.albums):011d}"
        self.pool.albums[album["id"]] = objects.full_album(album, label, tracks, artist["popularity"], upc)

    def _add_features(self) -> None:
        """Draw every genre's features at once: one vectorised draw per feature and genre."""
        for genre_index, genre in enumerate(GENRES):
            indexes = self.pool.tracks_by_genre[genre_index]
            n = len(indexes)
            columns: dict[str, list] = {
                name: np.clip(self.np_rng.normal(s.mean, s.sd, n), s.low, s.high).round(3).tolist()
                for name, s in genre.features.items()
            }
            keys = self.np_rng.integers(0, 12, n)
            keys[self.np_rng.random(n) < 0.01] = -1    # no key detected (drums, speech)
            columns["key"] = keys.tolist()
            columns["mode"] = (self.np_rng.random(n) < genre.major_share).astype(int).tolist()
            columns["time_signature"] = np.where(self.np_rng.random(n) < genre.waltz_share, 3, 4).tolist()
            names = list(columns)
            tracks = self.pool.tracks
            for index, values in zip(indexes, zip(*columns.values())):
                if index not in self.featureless:
                    track = tracks[index]
                    self.pool.features[track["id"]] = objects.audio_features(
                        track["id"], track["duration_ms"], dict(zip(names, values)))


def build_pool(size: int, seed: int) -> Pool:
    """About `size` tracks spread evenly over the genres, plus every awkward artist's tracks."""
    return _PoolBuilder(seed).build(size)
