"""spotipy behind the retry policy: every call counted per endpoint, every failure classified."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import requests
import spotipy
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from playlist_assets.ingest.sources.spotify_auth import TokenRequestFailed
from playlist_assets.ingest.sources.spotify_http import (
    LOGIN_SENTENCE, HttpFailed, RetryPolicy, SpotifyError, raise_for_status,
)

# OAuth error codes that mean the stored login or the app credentials are no good; anything
# else from the accounts service (an HTML error page, server_error...) is worth a retry.
# (With the auth managers of spotify_auth, an error answer arrives as TokenRequestFailed, with
# its status; SpotifyOauthError is what other auth managers raise.)
_LOGIN_ERRORS = {"invalid_grant", "invalid_token", "unauthorized_client", "invalid_request"}
_APP_ERRORS = {"invalid_client"}


class SpotifyApi:
    """One spotipy client over one `requests.Session`, with spotipy's own retries disabled."""

    def __init__(self, auth_manager: Any, session: requests.Session, policy: RetryPolicy,
                 api_base: str, timeout_s: float) -> None:
        # Handing spotipy a ready Session keeps it from mounting its urllib3 Retry adapter.
        self.client = spotipy.Spotify(
            auth_manager=auth_manager, requests_session=session, requests_timeout=timeout_s,
            retries=0, status_retries=0,
        )
        self.client.prefix = api_base
        self.policy = policy

    def get(self, endpoint: str, call: Callable[[spotipy.Spotify], Any]) -> Any:
        """`call(client)` under the retry policy; `endpoint` names it in counts and messages."""
        return self.policy.call(endpoint, lambda: self._attempt(endpoint, call))

    def _attempt(self, endpoint: str, call: Callable[[spotipy.Spotify], Any]) -> Any:
        try:
            with warnings.catch_warnings():
                # spotipy flags audio_features as deprecated; we handle its 403 ourselves.
                warnings.simplefilter("ignore", DeprecationWarning)
                return call(self.client)
        except SpotifyException as error:
            if error.http_status == 401:
                raise SpotifyError(LOGIN_SENTENCE) from None
            reason = error.reason or ""
            raise_for_status(error.http_status, dict(error.headers or {}), endpoint, reason)
            raise
        except TokenRequestFailed as failed:
            # The token request spotipy sent before `endpoint` failed: name it, not `endpoint`.
            if failed.error_code in _LOGIN_ERRORS:
                raise SpotifyError(LOGIN_SENTENCE) from None
            if failed.retryable:
                raise HttpFailed(failed.status, failed.retry_after, give_up=failed.sentence()) from None
            raise SpotifyError(failed.sentence()) from None
        except SpotifyOauthError as error:
            code = error.error if isinstance(error.error, str) else None
            if code in _APP_ERRORS:
                raise SpotifyError(
                    "Spotify rejected the app credentials (invalid_client): check SPOTIFY_CLIENT_ID "
                    "and SPOTIFY_CLIENT_SECRET."
                ) from None
            if code in _LOGIN_ERRORS:
                raise SpotifyError(LOGIN_SENTENCE) from None
            raise HttpFailed(503) from None

    def pages(self, endpoint: str, first: Callable[[spotipy.Spotify], dict]) -> Iterator[dict]:
        """Every page of a paging object, following the absolute `next` links it carries."""
        return self.pages_from(endpoint, self.get(endpoint, first))

    def pages_from(self, endpoint: str, page: dict) -> Iterator[dict]:
        """`page` and the pages after it."""
        limit = max(1, int(page.get("limit") or 1))
        # A broken `next` (a server that keeps pointing to itself) must not loop forever.
        remaining = int(page.get("total") or 0) // limit + 2
        while True:
            yield page
            remaining -= 1
            if not page.get("next") or remaining <= 0:
                return
            page = self.get(endpoint, lambda client, current=page: client.next(current))


def paged_items(api: SpotifyApi, endpoint: str, first: Callable[[spotipy.Spotify], dict] | dict) -> list:
    """The items of every page; `first` is the first page itself or the call that reads it."""
    pages = api.pages_from(endpoint, first) if isinstance(first, dict) else api.pages(endpoint, first)
    return [item for page in pages for item in page.get("items") or []]
