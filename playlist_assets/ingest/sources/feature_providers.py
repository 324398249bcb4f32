"""Audio features from whichever provider has them, tried in the configured order.

spotify: GET /audio-features (apps registered after 2024-11-27 get 403: the provider is then
skipped for the run). reccobeats: a free API keyed by Spotify track IDs. csv:<path>: the user's
own file. A track no provider knows simply has no row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin

import polars as pl
import requests

from playlist_assets.warehouse import tables
from playlist_assets.ingest.sources.spotify_client import SpotifyApi
from playlist_assets.ingest.sources.spotify_http import HttpRefused, RetryPolicy, raise_for_status

FEATURE_NAMES = tuple(c.name for c in tables.AUDIO_FEATURE_COLUMNS)
_TRACK_ID = re.compile(r"(?:spotify:track:|/track/)?([0-9A-Za-z]{22})(?:[?#].*)?$")


class ProviderUnavailable(Exception):
    """The provider refuses this app: skip it for the rest of the run."""


class FeatureProvider(Protocol):
    name: str

    def features(self, track_ids: list[str]) -> dict[str, dict]:
        """Track ID -> feature values, for the IDs the provider knows."""


def _chunks(ids: list[str], size: int) -> Iterable[list[str]]:
    return (ids[i : i + size] for i in range(0, len(ids), size))


@dataclass
class SpotifyFeatures:
    api: SpotifyApi
    name: str = "spotify"
    batch_size: int = 100

    def features(self, track_ids: list[str]) -> dict[str, dict]:
        found = {}
        for chunk in _chunks(track_ids, self.batch_size):
            try:
                rows = self.api.get("GET /audio-features?ids=", lambda c, ids=chunk: c.audio_features(ids))
            except HttpRefused as refused:
                if refused.status in (401, 403, 404):
                    raise ProviderUnavailable(f"Spotify refuses /audio-features to this app (HTTP {refused.status})") from None
                raise
            found.update((row["id"], row) for row in rows or [] if row and row.get("id"))
        return found


@dataclass
class ReccoBeatsFeatures:
    """GET {base}audio-features?ids=<up to 40 Spotify IDs>; rows carry ReccoBeats' own `id` and
    the Spotify track URL in `href`, in no particular order; unknown IDs are left out."""

    session: requests.Session
    base: str
    policy: RetryPolicy
    timeout_s: float = 10.0
    name: str = "reccobeats"
    batch_size: int = 40

    def features(self, track_ids: list[str]) -> dict[str, dict]:
        found = {}
        for chunk in _chunks(track_ids, self.batch_size):
            for row in self._content(chunk):
                match = _TRACK_ID.search(str(row.get("href") or ""))
                if match and match.group(1) in chunk:
                    found[match.group(1)] = row
        return found

    def _content(self, chunk: list[str]) -> list[dict]:
        endpoint = "ReccoBeats GET /audio-features?ids="

        def attempt() -> list[dict]:
            response = self.session.get(urljoin(self.base, "audio-features"), params={"ids": ",".join(chunk)},
                                        timeout=self.timeout_s)
            raise_for_status(response.status_code, response.headers, endpoint)
            return response.json().get("content") or []

        try:
            return self.policy.call(endpoint, attempt)
        except HttpRefused as refused:
            if refused.status == 404:   # none of the IDs known
                return []
            raise ProviderUnavailable(f"ReccoBeats refused the request (HTTP {refused.status})") from None


@dataclass
class CsvFeatures:
    """A user's CSV: one column of track IDs, URIs or URLs, and columns named like the features
    (any case; spaces allowed, so Exportify's "Time Signature" works)."""

    path: Path
    name: str = ""

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser()
        self.name = self.name or self.path.name
        self._rows = {row["track_id"]: row for row in read_feature_csv(self.path).iter_rows(named=True)}

    def features(self, track_ids: list[str]) -> dict[str, dict]:
        return {i: self._rows[i] for i in track_ids if i in self._rows}


_ID_COLUMNS = ("track_id", "spotify_id", "id", "track_uri", "spotify_uri", "uri", "spotify_track_uri", "track_url")


def read_feature_csv(path: Path) -> pl.DataFrame:
    """The CSV's features as raw.audio_features rows (provider = the file name)."""
    path = Path(path)
    try:
        frame = pl.read_csv(path, infer_schema_length=0)   # all text: IDs must not become numbers
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ValueError(f"Cannot read the feature file {path} ({type(error).__name__}): check the path and that it is a CSV.") from None
    frame = frame.rename({c: re.sub(r"[\s-]+", "_", c.strip().lower()) for c in frame.columns})
    id_column = next((c for c in _ID_COLUMNS if c in frame.columns), None)
    present = [c for c in FEATURE_NAMES if c in frame.columns]
    if id_column is None or not present:
        raise ValueError(
            f"The feature file {path} needs a track ID/URI column ({', '.join(_ID_COLUMNS[:4])}, ...) and "
            f"feature columns ({', '.join(FEATURE_NAMES[:3])}, ...): rename its columns."
        )
    rows = frame.select(
        pl.col(id_column).str.strip_chars().str.extract(_TRACK_ID.pattern, 1).alias("track_id"),
        *(pl.col(c).str.strip_chars().cast(pl.Float64, strict=False).alias(c) for c in present),
    ).filter(pl.col("track_id").is_not_null())
    rows = rows.unique(subset=["track_id"], keep="first", maintain_order=True)
    return tables.RAW_AUDIO_FEATURES.conform(rows.with_columns(pl.lit(path.name).alias("provider")))


def providers_from_names(names: Sequence[str], *, spotify: SpotifyApi | None, session: requests.Session,
                         reccobeats_base: str, reccobeats_policy: RetryPolicy, timeout_s: float) -> list[FeatureProvider]:
    """Providers for the configured names: spotify, reccobeats, csv:<path>; none for no provider."""
    providers: list[FeatureProvider] = []
    for name in names:
        name = name.strip()
        if name == "spotify" and spotify is not None:
            providers.append(SpotifyFeatures(spotify))
        elif name == "reccobeats":
            providers.append(ReccoBeatsFeatures(session, reccobeats_base, reccobeats_policy, timeout_s))
        elif name.startswith("csv:"):
            providers.append(CsvFeatures(Path(name[4:])))
        elif name not in ("spotify", "none", ""):
            raise ValueError(
                f"Unknown audio-feature provider {name!r} (PLAYLIST_ASSETS_FEATURE_PROVIDERS): "
                "use spotify, reccobeats, csv:<path> or none."
            )
    return providers


def collect_features(track_ids: Sequence[str], providers: Sequence[FeatureProvider],
                     log: Callable[[str], None]) -> tuple[pl.DataFrame, dict[str, int]]:
    """Rows of raw.audio_features for `track_ids`, each from the first provider that has it,
    and how many rows each provider gave."""
    missing = list(dict.fromkeys(track_ids))
    rows: list[dict] = []
    counts: dict[str, int] = {}
    for provider in providers:
        if not missing:
            break
        try:
            found = provider.features(missing)
        except ProviderUnavailable as refused:
            log(f"Audio features: {refused}; trying the next provider.")
            continue
        rows += [{"track_id": i, **{n: found[i].get(n) for n in FEATURE_NAMES}, "provider": provider.name}
                 for i in missing if i in found]
        counts[provider.name] = len(found)
        missing = [i for i in missing if i not in found]
    if missing and track_ids:
        log(f"Audio features: no provider knew {len(missing)} of {len(track_ids)} track(s); they have none.")
    schema = tables.RAW_AUDIO_FEATURES.polars_schema
    return pl.DataFrame(rows, schema=schema, strict=False), counts
