"""A fake Spotify (Web API under /v1 and the accounts service's /api/token) serving a
`SpotifyPayload` in the real response shapes, with the 2026 development-mode restrictions
available as switches. Playlists can be created (POST /me/playlists; POST /users/{id}/playlists
is refused with 403, as to development-mode apps) and their items written, and every write
request is kept in `writes`."""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
from urllib.parse import parse_qsl

from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload
from playlist_assets_tests.fakes.http_fake import Answer, FakeHttpServer, FaultPlan, Request, error_body
from playlist_assets_tests.fakes.spotify_shapes import apply_fields, paging, parse_fields
from playlist_assets_tests.demo_defaults import default_demo_payload

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-do-not-log"
TERMS = ("short_term", "medium_term", "long_term")

# path pattern -> endpoint name used in the counts (the IDs folded into {id})
_ROUTES = (
    (re.compile(r"^/v1/me$"), "GET /v1/me", "_me"),
    (re.compile(r"^/v1/me/playlists$"), "GET /v1/me/playlists", "_my_playlists"),
    (re.compile(r"^/v1/me/tracks$"), "GET /v1/me/tracks", "_liked"),
    (re.compile(r"^/v1/me/top/tracks$"), "GET /v1/me/top/tracks", "_top"),
    (re.compile(r"^/v1/playlists/(?P<id>[^/]+)$"), "GET /v1/playlists/{id}", "_playlist_object"),
    (re.compile(r"^/v1/playlists/(?P<id>[^/]+)/(?P<kind>items|tracks)$"), "GET /v1/playlists/{id}/items", "_entries"),
    (re.compile(r"^/v1/albums$"), "GET /v1/albums?ids=", "_albums"),
    (re.compile(r"^/v1/albums/(?P<id>[^/]+)$"), "GET /v1/albums/{id}", "_album"),
    (re.compile(r"^/v1/artists$"), "GET /v1/artists?ids=", "_artists"),
    (re.compile(r"^/v1/artists/(?P<id>[^/]+)$"), "GET /v1/artists/{id}", "_artist"),
    (re.compile(r"^/v1/audio-features$"), "GET /v1/audio-features?ids=", "_audio_features"),
    (re.compile(r"^/v1/tracks$"), "GET /v1/tracks?ids=", "_tracks"),
    (re.compile(r"^/v1/tracks/(?P<id>[^/]+)$"), "GET /v1/tracks/{id}", "_track"),
    (re.compile(r"^/api/token$"), "POST /api/token", "_token"),
    (re.compile(r"^/v1/me/playlists$"), "POST /v1/me/playlists", "_create_playlist"),
    (re.compile(r"^/v1/users/(?P<id>[^/]+)/playlists$"), "POST /v1/users/{id}/playlists", "_refuse_user_playlists"),
    (re.compile(r"^/v1/playlists/(?P<id>[^/]+)$"), "PUT /v1/playlists/{id}", "_change_details"),
    (re.compile(r"^/v1/playlists/(?P<id>[^/]+)/items$"), "PUT /v1/playlists/{id}/items", "_replace_items"),
    (re.compile(r"^/v1/playlists/(?P<id>[^/]+)/items$"), "POST /v1/playlists/{id}/items", "_add_items"),
)
READ_SCOPE = "playlist-read-collaborative playlist-read-private user-library-read user-top-read"
SAVE_SCOPE = f"{READ_SCOPE} playlist-modify-private playlist-modify-public"
MAX_ITEMS_PER_WRITE = 100


def api_only(endpoint: str) -> bool:
    """Random faults hit the Web API, not the accounts service (scripted ones can hit both)."""
    return not endpoint.startswith("POST /api/token")


class FakeSpotify(FakeHttpServer):
    """Use as a context manager; `api_base` and `accounts_base` go into SpotifyConfig."""

    def __init__(
        self,
        payload: SpotifyPayload | None = None,
        *,
        faults: FaultPlan | None = None,
        audio_features_forbidden: bool = False,    # apps registered after 2024-11-27
        batch_endpoints_missing: bool = False,     # /albums?ids=, /artists?ids=, /tracks?ids= answer 404
        forbid_unowned_playlists: bool = False,    # development mode: others' playlists answer 403
        legacy_entries: bool = False,              # entries carry `track`, as before 2026
    ) -> None:
        super().__init__(faults or FaultPlan(applies_to=api_only))
        self.payload = payload or default_demo_payload()
        self.audio_features_forbidden = audio_features_forbidden
        self.batch_endpoints_missing = batch_endpoints_missing
        self.forbid_unowned_playlists = forbid_unowned_playlists
        self.legacy_entries = legacy_entries
        self.access_tokens: dict[str, str] = {}   # token -> "user" or "app"
        self.refresh_tokens: set[str] = set()
        self.codes: set[str] = set()
        self._token_lock = threading.Lock()
        self.created: dict[str, dict] = {}     # playlists made through POST /me/playlists, by ID
        self.held: dict[str, list[str]] = {}   # their items, as URIs
        self.writes: list[tuple[str, str, object]] = []   # (method, path, JSON body) of each write answered
        self._playlists_lock = threading.Lock()

    @property
    def api_base(self) -> str:
        return self.base_url + "v1/"

    @property
    def accounts_base(self) -> str:
        return self.base_url

    # -- tokens ------------------------------------------------------------------------------
    def _mint(self, kind: str) -> str:
        token = f"fake-{kind}-token-{secrets.token_hex(12)}"
        with self._token_lock:
            self.access_tokens[token] = kind
        return token

    def user_token(self, expires_in: int = 3600, scope: str = READ_SCOPE) -> dict:
        """A token_info as a finished login stores it (what spotipy caches); `scope` as
        `login` grants it, SAVE_SCOPE as `login --save` does."""
        refresh = f"fake-refresh-{secrets.token_hex(12)}"
        with self._token_lock:
            self.refresh_tokens.add(refresh)
        return {"access_token": self._mint("user"), "token_type": "Bearer", "expires_in": expires_in,
                "refresh_token": refresh, "scope": scope}

    def authorization_code(self) -> str:
        code = f"fake-code-{secrets.token_hex(8)}"
        with self._token_lock:
            self.codes.add(code)
        return code

    def revoke_all_tokens(self) -> None:
        with self._token_lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    # -- routing ----------------------------------------------------------------------------
    def endpoint(self, request: Request) -> str:
        for pattern, name, _ in _ROUTES:
            if name.startswith(request.method + " ") and pattern.match(request.path):
                return name
        return f"{request.method} {request.path}"

    def answer(self, request: Request) -> Answer:
        if request.path == "/api/token" and request.method == "POST":
            return self._token(request)
        caller = self._caller(request)
        if caller is None:
            return Answer(401, error_body(401, "Invalid access token"))
        if request.method != "GET":
            with self._playlists_lock:
                self.writes.append((request.method, request.path, _json(request.body)))
        for pattern, name, handler in _ROUTES:
            match = pattern.match(request.path)
            if match and name.startswith(request.method + " "):
                return getattr(self, handler)(request, caller, **match.groupdict())
        return Answer(404, error_body(404, "Service not found"))

    def _caller(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._token_lock:
            return self.access_tokens.get(token)

    def _token(self, request: Request) -> Answer:
        form = dict(parse_qsl(request.body.decode()))
        basic = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != expected:
            return Answer(400, {"error": "invalid_client", "error_description": "Invalid client"})
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return Answer(200, {"access_token": self._mint("app"), "token_type": "Bearer", "expires_in": 3600})
        with self._token_lock:
            known = (form.get("refresh_token") in self.refresh_tokens if grant == "refresh_token"
                     else form.get("code") in self.codes if grant == "authorization_code" else False)
            if grant == "authorization_code" and known:
                self.codes.discard(form["code"])
        if not known:
            return Answer(400, {"error": "invalid_grant", "error_description": "Invalid grant"})
        if grant == "refresh_token":   # Spotify usually keeps the refresh token
            return Answer(200, {"access_token": self._mint("user"), "token_type": "Bearer", "expires_in": 3600,
                                "scope": "playlist-read-private"})
        return Answer(200, self.user_token())

    # -- paging helpers -----------------------------------------------------------------------
    def _page(self, request: Request, items: list, max_limit: int, default_limit: int = 20) -> Answer:
        try:
            limit = int(request.query.get("limit", default_limit))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            return Answer(400, error_body(400, "Invalid limit or offset"))
        if not 1 <= limit <= max_limit or offset < 0:
            return Answer(400, error_body(400, f"Invalid limit: must be 1 to {max_limit}"))
        query = {k: v for k, v in request.query.items() if k not in ("limit", "offset")}
        body = paging(items, base_url=self.base_url, path=request.path, query=query, offset=offset, limit=limit)
        return Answer(200, self._fields(request, body))

    @staticmethod
    def _fields(request: Request, body: object) -> object:
        spec = request.query.get("fields")
        return apply_fields(body, parse_fields(spec)) if spec else body

    def _ids(self, request: Request, max_ids: int) -> list[str] | Answer:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not ids or len(ids) > max_ids:
            return Answer(400, error_body(400, f"Between 1 and {max_ids} ids"))
        return ids

    # -- endpoints ------------------------------------------------------------------------------
    def _me(self, request: Request, caller: str) -> Answer:
        return Answer(200, self.payload.user)

    def _my_playlists(self, request: Request, caller: str) -> Answer:
        with self._playlists_lock:
            created = list(self.created.values())
        return self._page(request, self.payload.playlists + created, 50)

    def _liked(self, request: Request, caller: str) -> Answer:
        return self._page(request, self.payload.saved_tracks, 50)

    def _top(self, request: Request, caller: str) -> Answer:
        term = request.query.get("time_range", "medium_term")
        if term not in TERMS:
            return Answer(400, error_body(400, "Invalid time range"))
        return self._page(request, self.payload.top_tracks.get(term, []), 50)

    def _playlist(self, playlist_id: str) -> dict | None:
        with self._playlists_lock:
            if playlist_id in self.created:
                return self.created[playlist_id]
        return next((p for p in self.payload.playlists if p["id"] == playlist_id), None)

    def _playlist_object(self, request: Request, caller: str, id: str) -> Answer:
        playlist = self._playlist(id)
        if playlist is None:
            return Answer(404, error_body(404, "Resource not found"))
        return Answer(200, self._fields(request, playlist))

    def _entries(self, request: Request, caller: str, id: str, kind: str) -> Answer:
        playlist = self._playlist(id)
        if playlist is None:
            return Answer(404, error_body(404, "Resource not found"))
        mine = playlist["owner"]["id"] == self.payload.user.get("id") or playlist.get("collaborative")
        if self.forbid_unowned_playlists and (caller == "app" or not mine):
            return Answer(403, error_body(403, "Forbidden"))
        entries = self.payload.playlist_items.get(id, [])
        if id in self.created:
            with self._playlists_lock:
                entries = [{"item": {"id": uri.split(":")[-1], "uri": uri, "type": "track"}} for uri in self.held[id]]
        if self.legacy_entries or kind == "tracks":
            entries = [{("track" if k == "item" else k): v for k, v in e.items()} for e in entries]
        return self._page(request, entries, 100)

    def _catalog(self, request: Request, objects: dict[str, dict], key: str, max_ids: int) -> Answer:
        if self.batch_endpoints_missing:
            return Answer(404, error_body(404, "Service not found"))
        ids = self._ids(request, max_ids)
        if isinstance(ids, Answer):
            return ids
        return Answer(200, {key: [objects.get(i) for i in ids]})

    def _albums(self, request: Request, caller: str) -> Answer:
        return self._catalog(request, self.payload.albums, "albums", 20)

    def _artists(self, request: Request, caller: str) -> Answer:
        return self._catalog(request, self.payload.artists, "artists", 50)

    def _album(self, request: Request, caller: str, id: str) -> Answer:
        album = self.payload.albums.get(id)
        return Answer(200, album) if album else Answer(404, error_body(404, "Resource not found"))

    def _artist(self, request: Request, caller: str, id: str) -> Answer:
        artist = self.payload.artists.get(id)
        return Answer(200, artist) if artist else Answer(404, error_body(404, "Resource not found"))

    def _audio_features(self, request: Request, caller: str) -> Answer:
        if self.audio_features_forbidden:
            return Answer(403, error_body(403, "Forbidden"))
        ids = self._ids(request, 100)
        if isinstance(ids, Answer):
            return ids
        return Answer(200, {"audio_features": [self.payload.audio_features.get(i) for i in ids]})

    # -- full track objects (GET /tracks), for sources that know only track IDs ----------------
    def full_tracks(self) -> dict[str, dict]:
        """The payload's track objects by ID: those of the entries, liked and top lists."""
        streams = (
            [entry.get("item") or entry.get("track")
             for items in self.payload.playlist_items.values() for entry in items],
            [saved.get("track") for saved in self.payload.saved_tracks],
            [track for ranked in self.payload.top_tracks.values() for track in ranked],
        )
        found: dict[str, dict] = {}
        for stream in streams:
            for track in stream:
                if track and track.get("id") and track.get("type", "track") == "track" and not track.get("is_local"):
                    found.setdefault(track["id"], track)
        return found

    def _tracks(self, request: Request, caller: str) -> Answer:
        return self._catalog(request, self.full_tracks(), "tracks", 50)

    def _track(self, request: Request, caller: str, id: str) -> Answer:
        track = self.full_tracks().get(id)
        return Answer(200, track) if track else Answer(404, error_body(404, "Resource not found"))

    # -- writing playlists (saving clusters) ----------------------------------------------------
    def created_playlists(self) -> list[dict]:
        """The playlists made so far, each with its items as `uris`, in creation order."""
        with self._playlists_lock:
            return [{**p, "uris": list(self.held[p["id"]])} for p in self.created.values()]

    def _create_playlist(self, request: Request, caller: str) -> Answer:
        if caller != "user":
            return Answer(403, error_body(403, "Forbidden"))
        body = _json(request.body)
        name = body.get("name") if isinstance(body, dict) else None
        description = body.get("description", "") if isinstance(body, dict) else ""
        if not isinstance(name, str) or not name or len(name) > 100 or len(description or "") > 300:
            return Answer(400, error_body(400, "Invalid playlist name or description"))
        with self._playlists_lock:
            playlist_id = f"savedplaylist{len(self.created) + 1:09d}"
            playlist = {
                "id": playlist_id, "name": name, "public": bool(body.get("public", True)), "collaborative": False,
                # Spotify answers descriptions with HTML entities for some characters.
                "description": html.escape(description or ""),
                "owner": {"id": self.payload.user.get("id"), "display_name": self.payload.user.get("display_name"),
                          "type": "user"},
                "type": "playlist", "uri": f"spotify:playlist:{playlist_id}", "snapshot_id": "snapshot-1",
                "external_urls": {"spotify": f"https://open.spotify.com/playlist/{playlist_id}"},
                "items": {"total": 0},
            }
            self.created[playlist_id] = playlist
            self.held[playlist_id] = []
        return Answer(201, playlist)

    def _refuse_user_playlists(self, request: Request, caller: str, id: str) -> Answer:
        return Answer(403, error_body(403, "Forbidden: development mode apps create playlists with POST /me/playlists"))

    def _writable(self, playlist_id: str) -> Answer | None:
        if playlist_id in self.created:
            return None
        if any(p["id"] == playlist_id for p in self.payload.playlists):
            return Answer(403, error_body(403, "Forbidden"))
        return Answer(404, error_body(404, "Resource not found"))

    def _uris(self, request: Request) -> list[str] | Answer:
        body = _json(request.body)
        uris = body.get("uris") if isinstance(body, dict) else None
        if (not isinstance(uris, list) or len(uris) > MAX_ITEMS_PER_WRITE
                or not all(isinstance(u, str) and u.startswith("spotify:track:") for u in uris)):
            return Answer(400, error_body(400, f'Expected {{"uris": [...]}} with at most {MAX_ITEMS_PER_WRITE} track URIs'))
        return uris

    def _replace_items(self, request: Request, caller: str, id: str) -> Answer:
        uris = self._uris(request)
        with self._playlists_lock:
            refused = self._writable(id) or (uris if isinstance(uris, Answer) else None)
            if refused:
                return refused
            self.held[id] = list(uris)
            self.created[id]["items"] = {"total": len(uris)}
        return Answer(200, {"snapshot_id": f"snapshot-{len(self.writes)}"})

    def _add_items(self, request: Request, caller: str, id: str) -> Answer:
        uris = self._uris(request)
        with self._playlists_lock:
            refused = self._writable(id) or (uris if isinstance(uris, Answer) else None)
            if refused:
                return refused
            self.held[id].extend(uris)
            self.created[id]["items"] = {"total": len(self.held[id])}
        return Answer(201, {"snapshot_id": f"snapshot-{len(self.writes)}"})

    def _change_details(self, request: Request, caller: str, id: str) -> Answer:
        body = _json(request.body)
        with self._playlists_lock:
            refused = self._writable(id)
            if refused:
                return refused
            if not isinstance(body, dict):
                return Answer(400, error_body(400, "Expected a JSON object"))
            playlist = self.created[id]
            for key in ("name", "public", "description"):
                if key in body:
                    playlist[key] = html.escape(body[key]) if key == "description" else body[key]
        return Answer(200, {})


def _json(body: bytes) -> object:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None
