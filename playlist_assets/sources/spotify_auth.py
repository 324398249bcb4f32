"""Logging in to Spotify: the OAuth login (no browser needed), Client Credentials for public
playlists, and a token cache that only its owner can read."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import requests
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOAuth

from playlist_assets.sources.spotify_http import SpotifyError, install_log_filter

if TYPE_CHECKING:
    from playlist_assets.sources.spotify_api import SpotifyConfig

SCOPES = ("playlist-read-private", "playlist-read-collaborative", "user-library-read", "user-top-read")
LOGIN_HINT = "run `playlist-assets login`"
_REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class PrivateTokenCache(CacheHandler):
    """spotipy's CacheFileHandler writes the file first and narrows its mode after, so for a
    moment the refresh token is readable by anyone; this one creates the file as 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()

    def get_cached_token(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)   # a copy restored from a backup may have lost its mode
        try:
            token = json.loads(text)
        except json.JSONDecodeError:
            return None
        return token if isinstance(token, dict) else None

    def save_token_to_cache(self, token_info: dict) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0600; the rename makes the new token appear all at once.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".spotify-token-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(token_info, file)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class _StoredLoginOnly(SpotifyOAuth):
    """An ingest must never stop to ask for a login (it may run inside Dagster, with nobody
    at the keyboard); without a usable stored login it says how to log in instead."""

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise SpotifyError(
            f"No usable Spotify login in {self.cache_handler.path}: {LOGIN_HINT} first."
        )


def require_credentials(config: SpotifyConfig) -> None:
    if not config.client_id or not config.client_secret:
        raise SpotifyError(
            "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are not set: create an app at "
            "https://developer.spotify.com/dashboard and set both."
        )


def token_cache(config: SpotifyConfig) -> PrivateTokenCache:
    path = Path(config.token_cache).expanduser().resolve()
    if path.is_relative_to(_REPOSITORY_ROOT):
        raise SpotifyError(
            f"The Spotify token cache {path} is inside the repository, where it could be committed: "
            "set PLAYLIST_ASSETS_SPOTIFY_TOKEN_CACHE to a path outside it."
        )
    return PrivateTokenCache(path)


def _accounts_urls(manager: SpotifyOAuth | SpotifyClientCredentials, config: SpotifyConfig) -> None:
    # spotipy reads these as class attributes; instance attributes shadow them per manager.
    manager.OAUTH_TOKEN_URL = urljoin(config.accounts_base, "api/token")
    if isinstance(manager, SpotifyOAuth):
        manager.OAUTH_AUTHORIZE_URL = urljoin(config.accounts_base, "authorize")


def user_auth(config: SpotifyConfig, session: requests.Session) -> SpotifyOAuth:
    """The stored user login (refreshed when it expires), for the /me endpoints."""
    require_credentials(config)
    manager = _StoredLoginOnly(
        client_id=config.client_id, client_secret=config.client_secret, redirect_uri=config.redirect_uri,
        scope=list(SCOPES), open_browser=False, cache_handler=token_cache(config),
        requests_session=session, requests_timeout=config.requests_timeout_s,
    )
    _accounts_urls(manager, config)
    return manager


def app_auth(config: SpotifyConfig, session: requests.Session) -> SpotifyClientCredentials:
    """An app-only token for public playlists; kept in memory (it costs one request to renew)."""
    require_credentials(config)
    manager = SpotifyClientCredentials(
        client_id=config.client_id, client_secret=config.client_secret, cache_handler=MemoryCacheHandler(),
        requests_session=session, requests_timeout=config.requests_timeout_s,
    )
    _accounts_urls(manager, config)
    return manager


def login(
    config: SpotifyConfig,
    *,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
    session: requests.Session | None = None,
) -> Path:
    """Interactive login that works on a machine without a browser: print the authorize URL,
    read back the address Spotify redirected to, store the token. Returns the cache path."""
    require_credentials(config)
    install_log_filter()
    cache = token_cache(config)
    state = secrets.token_urlsafe(16)
    manager = SpotifyOAuth(
        client_id=config.client_id, client_secret=config.client_secret, redirect_uri=config.redirect_uri,
        scope=list(SCOPES), state=state, open_browser=False, cache_handler=cache,
        requests_session=session or requests.Session(), requests_timeout=config.requests_timeout_s,
    )
    _accounts_urls(manager, config)
    say("Open this address in any browser, approve, then paste the address it sends you to "
        f"(it starts with {config.redirect_uri}):\n{manager.get_authorize_url()}")
    pasted = ask("Address after approving: ").strip()
    try:
        returned_state, code = SpotifyOAuth.parse_auth_response_url(pasted)
    except SpotifyOauthError as refused:
        raise SpotifyError(f"Spotify did not grant access ({refused.error}): {LOGIN_HINT} again and approve.") from None
    if not code:
        raise SpotifyError(f"The pasted address has no `code=` part: {LOGIN_HINT} again and paste the whole address.")
    if returned_state != state:
        raise SpotifyError(f"The pasted address belongs to another login attempt: {LOGIN_HINT} again.")
    try:
        manager.get_access_token(code=code, as_dict=False, check_cache=False)
    except SpotifyOauthError as refused:
        raise SpotifyError(f"Spotify refused the login code ({refused.error}): {LOGIN_HINT} again.") from None
    say(f"Logged in; the token is stored in {cache.path} (readable only by you).")
    return cache.path
