"""Logging in to Spotify: the OAuth login (no browser needed), Client Credentials for public
playlists, and a token cache that only its owner can read."""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOAuth

from playlist_assets.ingest.sources.spotify_http import SpotifyError, install_log_filter

if TYPE_CHECKING:
    from playlist_assets.ingest.sources.spotify_api import SpotifyConfig

SCOPES = ("playlist-read-private", "playlist-read-collaborative", "user-library-read", "user-top-read")
# Asked for only by `playlist-assets login --save`: reading the library never needs them.
MODIFY_SCOPES = ("playlist-modify-private", "playlist-modify-public")
LOGIN_HINT = "run `playlist-assets login`"
SAVE_LOGIN_HINT = "run `playlist-assets login --save`"
_REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class TokenRequestFailed(Exception):
    """The accounts service answered a token request (POST /api/token) with an error status.

    Raised from inside spotipy's request (see `_TokenFailures`), because the SpotifyOauthError
    spotipy raises instead carries no HTTP status: a wrong secret, which no retry mends, could
    not be told from an outage, which one may. Only the status, the URL without credentials and
    the OAuth error code are kept, never the request, so no secret can reach a message.
    """

    def __init__(self, status: int, url: str, error_code: str | None, retry_after: str | None) -> None:
        super().__init__(f"POST {url} answered HTTP {status}{' ' + error_code if error_code else ''}")
        self.status = status
        self.url = url
        self.error_code = error_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500

    def sentence(self) -> str:
        """What failed and what to do, for when it is not retried (or no longer)."""
        answer = f"HTTP {self.status}{' ' + self.error_code if self.error_code else ''}"
        if self.status >= 500:
            return (
                f"The Spotify token request (POST {self.url}) kept failing with {answer}: "
                "Spotify's accounts service is failing; try again later."
            )
        if self.status == 429:
            return (
                f"The Spotify token request (POST {self.url}) kept being rate-limited ({answer}): "
                "try again later."
            )
        if self.status in (404, 405):
            fix = "check SPOTIFY_ACCOUNTS_BASE, which should name Spotify's accounts service"
        else:
            fix = "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
        return f"Spotify's accounts service refused the token request (POST {self.url}, {answer}): {fix}."


# An OAuth error code is a short identifier (RFC 6749 5.2); anything else in the body is not
# repeated, as a server at a mistyped address might echo the request's credentials back.
_OAUTH_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class _TokenFailures:
    """A `requests` response hook raising TokenRequestFailed for an error answer to `token_url`."""

    token_url: str

    def __call__(self, response: requests.Response, *args, **kwargs) -> requests.Response:
        request = response.request
        if response.status_code < 400 or request.method != "POST" or _without_query(request.url) != self.token_url:
            return response
        try:
            body = response.json()   # reading the body also frees the connection for the next request
        except ValueError:
            body = None
        code = body.get("error") if isinstance(body, dict) else None
        code = code if isinstance(code, str) and _OAUTH_ERROR_CODE.fullmatch(code) else None
        raise TokenRequestFailed(
            response.status_code, _public_url(self.token_url), code, response.headers.get("Retry-After")
        )


def _without_query(url: str | None) -> str:
    return (url or "").split("?", 1)[0].split("#", 1)[0]


def _public_url(url: str) -> str:
    """`url` without user:password@, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host   # an IPv6 address keeps its brackets
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


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

    login_hint = LOGIN_HINT

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise SpotifyError(
            f"No usable Spotify login in {self.cache_handler.path}: {self.login_hint} first."
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


def _report_token_failures(manager: SpotifyOAuth | SpotifyClientCredentials, session: requests.Session) -> None:
    """Make a refused token request on `session` raise TokenRequestFailed (see there)."""
    # Compared as requests prepares it, so a URL it normalises still matches.
    token_url = _without_query(requests.Request("POST", manager.OAUTH_TOKEN_URL).prepare().url)
    hook = _TokenFailures(token_url)
    if hook not in session.hooks["response"]:
        session.hooks["response"].append(hook)


def _kept_scopes(cache: PrivateTokenCache, wanted: tuple[str, ...]) -> list[str]:
    """`wanted`, plus what the stored login was granted beyond it.

    spotipy stores a refreshed token with the scopes its manager asked for, not those granted:
    an ingest asking for the read scopes only would silently drop what `login --save` granted.
    """
    token = cache.get_cached_token() or {}
    granted = set(str(token.get("scope") or "").split())
    return sorted(granted | set(wanted)) if granted >= set(wanted) else list(wanted)


def user_auth(
    config: SpotifyConfig,
    session: requests.Session,
    scopes: tuple[str, ...] = SCOPES,
    hint: str = LOGIN_HINT,
) -> SpotifyOAuth:
    """The stored user login (refreshed when it expires), for the /me endpoints; without one
    granting `scopes`, a sentence ending in `hint` says how to log in."""
    require_credentials(config)
    cache = token_cache(config)
    manager = _StoredLoginOnly(
        client_id=config.client_id, client_secret=config.client_secret, redirect_uri=config.redirect_uri,
        scope=_kept_scopes(cache, scopes), open_browser=False, cache_handler=cache,
        requests_session=session, requests_timeout=config.requests_timeout_s,
    )
    manager.login_hint = hint
    _accounts_urls(manager, config)
    _report_token_failures(manager, session)
    return manager


def app_auth(config: SpotifyConfig, session: requests.Session) -> SpotifyClientCredentials:
    """An app-only token for public playlists; kept in memory (it costs one request to renew)."""
    require_credentials(config)
    manager = SpotifyClientCredentials(
        client_id=config.client_id, client_secret=config.client_secret, cache_handler=MemoryCacheHandler(),
        requests_session=session, requests_timeout=config.requests_timeout_s,
    )
    _accounts_urls(manager, config)
    _report_token_failures(manager, session)
    return manager


def login(
    config: SpotifyConfig,
    *,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
    session: requests.Session | None = None,
    scopes: tuple[str, ...] = SCOPES,
) -> Path:
    """Interactive login that works on a machine without a browser: print the authorize URL,
    read back the address Spotify redirected to, store the token. Returns the cache path.

    `scopes` are what Spotify is asked to allow: SCOPES reads the library; `login --save`
    adds MODIFY_SCOPES, for saving clusters as playlists."""
    require_credentials(config)
    install_log_filter()
    # Whoever asked for the save scopes is told to ask for them again.
    hint = SAVE_LOGIN_HINT if set(MODIFY_SCOPES) <= set(scopes) else LOGIN_HINT
    cache = token_cache(config)
    state = secrets.token_urlsafe(16)
    manager = SpotifyOAuth(
        client_id=config.client_id, client_secret=config.client_secret, redirect_uri=config.redirect_uri,
        scope=list(scopes), state=state, open_browser=False, cache_handler=cache,
        requests_session=session or requests.Session(), requests_timeout=config.requests_timeout_s,
    )
    _accounts_urls(manager, config)
    say("Open this address in any browser, approve, then paste the address it sends you to "
        f"(it starts with {config.redirect_uri}):\n{manager.get_authorize_url()}")
    pasted = ask("Address after approving: ").strip()
    try:
        returned_state, code = SpotifyOAuth.parse_auth_response_url(pasted)
    except SpotifyOauthError as refused:
        raise SpotifyError(f"Spotify did not grant access ({refused.error}): {hint} again and approve.") from None
    if not code:
        raise SpotifyError(f"The pasted address has no `code=` part: {hint} again and paste the whole address.")
    if returned_state != state:
        raise SpotifyError(f"The pasted address belongs to another login attempt: {hint} again.")
    try:
        manager.get_access_token(code=code, as_dict=False, check_cache=False)
    except SpotifyOauthError as refused:
        raise SpotifyError(f"Spotify refused the login code ({refused.error}): {hint} again.") from None
    say(f"Logged in; the token is stored in {cache.path} (readable only by you).")
    return cache.path
