"""The retry policy every Spotify and ReccoBeats request goes through, and the errors it raises.

spotipy's own retries are switched off (it is handed a plain `requests.Session`): urllib3 honours
any Retry-After, so a rate limit of an hour would silently stall an ingest for an hour.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests

T = TypeVar("T")

MAX_RETRY_AFTER_ENV = "PLAYLIST_ASSETS_MAX_RETRY_AFTER_S"
LOGIN_SENTENCE = "Spotify rejected the login (401): run `playlist-assets login` again."

# Failures that say nothing about the request itself: a retry may well succeed.
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class SpotifyError(RuntimeError):
    """A failure the user can act on, worded as one sentence that says what to do."""


class HttpRefused(Exception):
    """A 4xx answer that retrying will not change (403, 404, 400...): the caller decides."""

    def __init__(self, status: int, endpoint: str, message: str = "") -> None:
        super().__init__(f"{endpoint} answered HTTP {status}{': ' + message if message else ''}")
        self.status = status
        self.endpoint = endpoint


class HttpFailed(Exception):
    """One attempt's retryable failure (429 or 5xx), as the request function reports it.

    `give_up` is the sentence to raise when the policy stops retrying, for a failure of another
    request than the one retried (the token request spotipy sends first): the policy's own
    sentence would blame the request it was asked to make.
    """

    def __init__(self, status: int, retry_after: str | None = None, give_up: str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.give_up = give_up


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; None when absent or not a number of seconds."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


@dataclass
class RetryPolicy:
    """Bounded retries: 429 waits Retry-After up to a cap, 5xx and dropped connections back off
    exponentially. `sleep` is injectable so tests never wait."""

    service: str = "Spotify"
    max_retry_after_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    max_attempts: int = 6          # per request, for 5xx and transport errors
    max_rate_limited: int = 10     # 429s in a row on one request before giving up
    backoff_s: float = 0.5
    backoff_cap_s: float = 30.0
    requests: Counter[str] = field(default_factory=Counter)   # endpoint -> HTTP requests sent
    retries: int = 0
    waited_s: float = 0.0

    def call(self, endpoint: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it succeeds, raises `HttpRefused`, or the policy gives up."""
        failures = rate_limited = 0
        while True:
            self.requests[endpoint] += 1
            try:
                return attempt()
            except HttpFailed as failed:
                if failed.status == 429:
                    rate_limited += 1
                    delay = self._rate_limit_delay(endpoint, failed, rate_limited)
                else:
                    failures += 1
                    delay = self._failure_delay(endpoint, f"HTTP {failed.status}", failures, failed.give_up)
            except _TRANSPORT_ERRORS as error:
                failures += 1
                delay = self._failure_delay(endpoint, _transport_reason(error), failures, None)
            self.retries += 1
            self.waited_s += delay
            self.sleep(delay)

    def _rate_limit_delay(self, endpoint: str, failed: HttpFailed, count: int) -> float:
        asked = parse_retry_after(failed.retry_after)
        if asked is not None and asked > self.max_retry_after_s:
            raise SpotifyError(
                f"{self.service} asked us to wait {asked:g} s (rate limit); the cap is "
                f"{self.max_retry_after_s:g} s ({MAX_RETRY_AFTER_ENV}): try again later."
            )
        if count >= self.max_rate_limited:
            raise SpotifyError(
                failed.give_up
                or f"{self.service} kept rate-limiting {endpoint} ({count} times in a row): try again later."
            )
        return asked if asked is not None else self._backoff(count)

    def _failure_delay(self, endpoint: str, reason: str, count: int, give_up: str | None) -> float:
        if count >= self.max_attempts:
            raise SpotifyError(
                give_up
                or f"{self.service} kept failing on {endpoint} ({reason}, {count} attempts): "
                "check the connection or try again later."
            )
        return self._backoff(count)

    def _backoff(self, count: int) -> float:
        return min(self.backoff_cap_s, self.backoff_s * 2 ** (count - 1))


def _transport_reason(error: Exception) -> str:
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    return "connection dropped"


def raise_for_status(status: int, headers: dict | None, endpoint: str, message: str = "") -> None:
    """Turns a non-2xx status into the exception the policy expects."""
    if status < 400:
        return
    if status == 429 or status >= 500:
        raise HttpFailed(status, (headers or {}).get("Retry-After"))
    raise HttpRefused(status, endpoint, message)


# Bearer/Basic credentials, and token-looking fields in logged request bodies.
_SECRET_PATTERNS = (
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"('(?:access_token|refresh_token|code|client_secret)'\s*:\s*)'[^']*'"), r"\1'[redacted]'"),
)


class SpotipyLogFilter(logging.Filter):
    """spotipy logs request headers and token bodies at DEBUG: those are redacted. It also logs
    every 4xx/5xx at ERROR, though the policy here retries or reports them: those are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(("HTTP Error for ", "Max Retries reached")):
            return False
        redacted = message
        for pattern, replacement in _SECRET_PATTERNS:
            redacted = pattern.sub(replacement, redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_filter() -> None:
    """Idempotently attach `SpotipyLogFilter` to spotipy's loggers."""
    for name in ("spotipy.client", "spotipy.oauth2", "spotipy.cache_handler"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SpotipyLogFilter) for f in logger.filters):
            logger.addFilter(SpotipyLogFilter())
