"""Clusters saved as playlists in the user's Spotify account: names, plans and the write requests.

Spotify's 2026 rules for development-mode apps: a playlist is created with POST /me/playlists
(POST /users/{id}/playlists is refused); its items are replaced with PUT /playlists/{id}/items
(the first 100) and added with POST /playlists/{id}/items (the rest, 100 at a time), both with
the body {"uris": [...]}. Every request goes through the ingest's retry policy.

Saving is idempotent: a cluster saved before is updated in the playlist its save made, found
by the warehouse's record or, when that is gone (a rebuilt warehouse), by the marker the save
wrote into the playlist's description. Nothing here touches the warehouse: the caller records
each saved cluster as it is reported (`on_saved`), before the next one is sent.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from playlist_assets.reports.track_lists import track_uris
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig, api_session
from playlist_assets.ingest.sources.spotify_auth import (
    MODIFY_SCOPES, SAVE_LOGIN_HINT, SCOPES, require_credentials, token_cache, user_auth,
)
from playlist_assets.ingest.sources.spotify_client import SpotifyApi, paged_items
from playlist_assets.ingest.sources.spotify_http import LOGIN_SENTENCE, HttpRefused, SpotifyError

NAME_LIMIT = 100  # characters of a playlist name Spotify accepts
DESCRIPTION_LIMIT = 300  # and of its description
BATCH = 100  # URIs per items request, Spotify's maximum
SEPARATOR = " · "
SHORTEST_SOURCE = 30  # a long playlist name is cut to this before the cluster's words are cut
PLAYLIST_URL = "https://open.spotify.com/playlist/{id}"
SAVE_LOGIN_SENTENCE = f"Spotify rejected the login (401): {SAVE_LOGIN_HINT} again."
_MARKER = re.compile(r"\[playlist-assets [^\]\s]+ #\d+\]")


@dataclass(frozen=True)
class ClusterTracks:
    """One cluster as its report shows it."""

    playlist_id: str
    playlist_name: str
    snapshot_id: str | None  # the snapshot that was clustered
    cluster: int
    description: str
    track_ids: tuple[str, ...]  # nearest the centre first, then by track_id: the report's order


@dataclass(frozen=True)
class SavedPlaylist:
    """Where an earlier save put a cluster (a row of analytics.saved_clusters)."""

    spotify_playlist_id: str
    name: str
    public: bool


@dataclass(frozen=True)
class SavePlan:
    """What saving one cluster sends: a new playlist, or the tracks of the one saved before."""

    cluster: ClusterTracks
    name: str
    description: str
    public: bool
    uris: tuple[str, ...]
    previous: SavedPlaylist | None

    @property
    def marker(self) -> str:
        return marker(self.cluster.playlist_id, self.cluster.cluster)

    def preview(self) -> str:
        """The dry run's line for this cluster."""
        what = f"{_tracks(len(self.uris))}, {'public' if self.public else 'private'}"
        if self.previous is None:
            return f"Would create '{self.name}' ({what})."
        url = PLAYLIST_URL.format(id=self.previous.spotify_playlist_id)
        return f"Would update '{self.name}' ({what}; its tracks replaced): {url}"


@dataclass(frozen=True)
class SaveResult:
    plan: SavePlan
    spotify_playlist_id: str
    spotify_url: str
    created: bool

    def line(self) -> str:
        verb = "Created" if self.created else "Updated"
        what = f"{_tracks(len(self.plan.uris))}, {'public' if self.plan.public else 'private'}"
        return f"{verb} '{self.plan.name}' ({what}): {self.spotify_url}"


def _tracks(n: int) -> str:
    return "1 track" if n == 1 else f"{n} tracks"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def playlist_name(source: str, cluster: int, description: str) -> str:
    """'<source> · Cluster #N: <description>', within Spotify's 100 characters.

    The cluster number always survives: a long source name is cut first (to 30 characters at
    the shortest), then the description.
    """
    source = _one_line(source) or "Untitled playlist"
    words = _one_line(description)
    tail = f"Cluster #{int(cluster)}" + (f": {words}" if words else "")
    name = f"{source}{SEPARATOR}{tail}"
    if len(name) <= NAME_LIMIT:
        return name
    room = NAME_LIMIT - len(SEPARATOR) - len(tail)
    if room >= SHORTEST_SOURCE:
        return f"{_cut(source, room)}{SEPARATOR}{tail}"
    source = _cut(source, SHORTEST_SOURCE)
    return f"{source}{SEPARATOR}{_cut(tail, NAME_LIMIT - len(source) - len(SEPARATOR))}"


def marker(playlist_id: str, cluster: int) -> str:
    """Written at the end of a saved playlist's description: it finds the playlist again when
    the warehouse no longer knows it."""
    return f"[playlist-assets {_one_line(playlist_id).replace(']', '')} #{int(cluster)}]"


def playlist_description(cluster: ClusterTracks) -> str:
    tag = marker(cluster.playlist_id, cluster.cluster)
    words = _one_line(cluster.description)
    text = f"Cluster #{cluster.cluster} of {_one_line(cluster.playlist_name) or 'a playlist'}" + (
        f": {words}" if words else ""
    )
    return f"{_cut(text, DESCRIPTION_LIMIT - len(tag) - 1)} {tag}"


def plan_saves(
    clusters: Sequence[ClusterTracks],
    previous: Mapping[tuple[str, int], SavedPlaylist],
    public: bool = False,
) -> list[SavePlan]:
    """One plan per cluster, in the given order; `previous` by (playlist_id, cluster)."""
    return [
        SavePlan(
            cluster=c,
            name=playlist_name(c.playlist_name, c.cluster, c.description),
            description=playlist_description(c),
            public=public,
            uris=tuple(track_uris(c.track_ids)),
            previous=previous.get((c.playlist_id, c.cluster)),
        )
        for c in clusters
    ]


def batches(uris: Sequence[str], size: int = BATCH) -> Iterator[list[str]]:
    """`uris` in lists of at most `size`; one empty list for no URIs (a replace then empties)."""
    if not uris:
        yield []
    for start in range(0, len(uris), size):
        yield list(uris[start : start + size])


def require_save_login(config: SpotifyConfig) -> None:
    """Fail before any request when the stored login may not change playlists."""
    require_credentials(config)
    cache = token_cache(config)
    token = cache.get_cached_token()
    if token is None:
        raise SpotifyError(
            f"No Spotify login in {cache.path}: {SAVE_LOGIN_HINT} first, to let this app create and "
            "change your playlists."
        )
    granted = set(str(token.get("scope") or "").split())
    missing = [scope for scope in MODIFY_SCOPES if scope not in granted]
    if missing:
        raise SpotifyError(
            f"The Spotify login in {cache.path} may read your library but not change playlists "
            f"(it lacks {' and '.join(missing)}): {SAVE_LOGIN_HINT} again to allow saving clusters."
        )


def save_clusters(
    config: SpotifyConfig,
    plans: Sequence[SavePlan],
    *,
    on_saved: Callable[[SaveResult], None] = lambda result: None,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> list[SaveResult]:
    """Save every plan in order, calling `on_saved` after each; raises SpotifyError (one
    sentence saying what to do) when Spotify refuses or the login does not allow it."""
    require_save_login(config)
    auth = partial(user_auth, scopes=SCOPES + MODIFY_SCOPES, hint=SAVE_LOGIN_HINT)
    results = []
    try:
        with api_session(config, auth, sleep) as (api, *_):
            writer = _Writer(api, log)
            for plan in plans:
                try:
                    result = writer.save(plan)
                except HttpRefused as refused:
                    raise SpotifyError(_refusal(refused, plan)) from None
                on_saved(result)
                results.append(result)
    except SpotifyError as error:
        if str(error) == LOGIN_SENTENCE:  # `login` alone would ask for the read scopes only
            raise SpotifyError(SAVE_LOGIN_SENTENCE) from None
        raise
    return results


def _refusal(refused: HttpRefused, plan: SavePlan) -> str:
    what = f"Spotify refused {refused.endpoint} (HTTP {refused.status}) while saving '{plan.name}'"
    if refused.status == 403:
        return (
            f"{what}: {SAVE_LOGIN_HINT} again as the account that owns the playlist, and check that this "
            "account is among the app's users in the Spotify developer dashboard."
        )
    if refused.status == 404:
        return f"{what}: check SPOTIFY_API_BASE, which should name Spotify's Web API."
    return f"{what}: try again later, or report the cluster's playlist if it keeps happening."


class _Writer:
    """The requests of saving, one cluster at a time."""

    def __init__(self, api: SpotifyApi, log: Callable[[str], None]) -> None:
        self.api = api
        self.log = log
        self._made: dict[str, dict] | None = None  # marker -> playlist object, read once

    def save(self, plan: SavePlan) -> SaveResult:
        previous = plan.previous
        if previous is not None:
            try:
                self._fill(previous.spotify_playlist_id, plan.uris)
            except HttpRefused as refused:
                if refused.status != 404:
                    raise
                self.log(f"The playlist saved earlier as '{previous.name}' is gone from Spotify: creating it again.")
            else:
                self._details(previous.spotify_playlist_id, plan, previous.name, previous.public)
                return _result(plan, {"id": previous.spotify_playlist_id}, created=False)
        found = self._made_earlier(plan.marker)
        if found is not None:
            self._fill(found["id"], plan.uris)
            self._details(found["id"], plan, found.get("name"), found.get("public"))
            return _result(plan, found, created=False)
        made = self._create(plan)
        self._fill(made["id"], plan.uris)
        return _result(plan, made, created=True)

    def _made_earlier(self, tag: str, again: bool = False) -> dict | None:
        """The user's own playlist whose description carries `tag`, if any."""
        if self._made is None or again:
            me = self.api.get("GET /me", lambda client: client.current_user()).get("id")
            listed = paged_items(self.api, "GET /me/playlists", lambda client: client.current_user_playlists(limit=50))
            self._made = {}
            for playlist in listed:
                if not playlist or not playlist.get("id") or (playlist.get("owner") or {}).get("id") != me:
                    continue
                found = _MARKER.search(html.unescape(playlist.get("description") or ""))
                if found:
                    self._made.setdefault(found.group(0), playlist)
        return self._made.get(tag)

    def _create(self, plan: SavePlan) -> dict:
        body = {"name": plan.name, "public": plan.public, "description": plan.description}
        sent = False

        def attempt(client):
            nonlocal sent
            # An error answer, or none, does not prove the playlist was not made: look for it
            # before making another.
            if sent and (found := self._made_earlier(plan.marker, again=True)) is not None:
                return found
            sent = True
            return client._post("me/playlists", payload=body)

        made = self.api.get("POST /me/playlists", attempt)
        if not isinstance(made, dict) or not made.get("id"):
            raise SpotifyError(
                f"Spotify answered POST /me/playlists for '{plan.name}' without the new playlist's ID: "
                "try again later."
            )
        return made

    def _fill(self, playlist_id: str, uris: Sequence[str]) -> None:
        """The playlist holds exactly `uris`, in order."""
        first, *rest = batches(uris)
        self.api.get(
            "PUT /playlists/{id}/items",
            lambda client: client._put(f"playlists/{playlist_id}/items", payload={"uris": first}),
        )
        held = len(first)
        for batch in rest:
            self._add(playlist_id, batch, held)
            held += len(batch)

    def _add(self, playlist_id: str, batch: list[str], held: int) -> None:
        sent = False

        def attempt(client):
            nonlocal sent
            # An error answer may come after the tracks were added: count them before
            # sending them a second time.
            if sent and _item_count(client, playlist_id) == held + len(batch):
                return None
            sent = True
            return client._post(f"playlists/{playlist_id}/items", payload={"uris": batch})

        self.api.get("POST /playlists/{id}/items", attempt)

    def _details(self, playlist_id: str, plan: SavePlan, name: str | None, public: bool | None) -> None:
        """Rename (or change the visibility of) a playlist saved before, when the plan differs."""
        if (name, public) == (plan.name, plan.public):
            return
        body = {"name": plan.name, "public": plan.public, "description": plan.description}
        self.api.get("PUT /playlists/{id}", lambda client: client._put(f"playlists/{playlist_id}", payload=body))


def _item_count(client, playlist_id: str) -> int:
    page = client._get(f"playlists/{playlist_id}/items", limit=1, fields="total") or {}
    return int(page.get("total") or 0)


def _result(plan: SavePlan, playlist: dict, created: bool) -> SaveResult:
    playlist_id = playlist["id"]
    # The address is made from the ID rather than taken from the answer: it goes into reports.
    return SaveResult(plan, playlist_id, PLAYLIST_URL.format(id=playlist_id), created)
