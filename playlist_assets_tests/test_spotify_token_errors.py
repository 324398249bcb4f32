"""A refused or failing token request is reported as itself (POST /api/token at the accounts
service, its status, what to do), not as the API call that was waiting for the token."""

from __future__ import annotations

import base64
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playlist_assets.ingest.sources.spotify_api import SpotifyConfig, fetch_library
from playlist_assets.ingest.sources.spotify_auth import PrivateTokenCache
from playlist_assets.ingest.sources.spotify_http import SpotifyError
from playlist_assets_tests.fakes import CLIENT_ID, CLIENT_SECRET, FakeSpotify, Fault, FaultPlan, api_only
from playlist_assets_tests.demo_defaults import default_demo_payload

TOKEN = "POST /api/token"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def payload():
    return default_demo_payload()


def public_config(fake: FakeSpotify, folder: Path, secret: str = CLIENT_SECRET) -> SpotifyConfig:
    """Public playlists: Client Credentials, so the first API call waits for a token request."""
    return SpotifyConfig(
        CLIENT_ID, secret, api_base=fake.api_base, accounts_base=fake.accounts_base,
        token_cache=folder / "unused.json", feature_providers=(),
        playlist_refs=(fake.payload.playlists[0]["id"],),
    )


def fetch(config: SpotifyConfig):
    return fetch_library(config, previous=None, fetched_at=T0, sleep=lambda s: None, log=lambda line: None)


def refused_token(payload, tmp_path, *faults: Fault, secret: str = CLIENT_SECRET) -> tuple[str, FakeSpotify]:
    with FakeSpotify(payload, faults=FaultPlan(applies_to=api_only).script(TOKEN, *faults)) as fake:
        with pytest.raises(SpotifyError) as error:
            fetch(public_config(fake, tmp_path, secret))
    return str(error.value), fake


def assert_no_secret(message: str, fake: FakeSpotify, secret: str = CLIENT_SECRET) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    for value in (secret, basic, *fake.access_tokens, *fake.refresh_tokens):
        assert value not in message


def test_a_401_names_the_token_request_and_the_credentials_at_once(payload, tmp_path):
    message, fake = refused_token(payload, tmp_path, Fault(401))
    assert message == (
        f"Spotify's accounts service refused the token request (POST {fake.accounts_base}api/token, HTTP 401): "
        "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET."
    )
    assert fake.requests[TOKEN] == 1 and "GET /v1/playlists/{id}" not in fake.requests   # not retried
    assert_no_secret(message, fake)


def test_a_wrong_secret_is_a_400_invalid_client_without_the_secret(payload, tmp_path):
    wrong = "wrong-secret-that-must-not-show"
    message, fake = refused_token(payload, tmp_path, secret=wrong)
    assert message == (
        f"Spotify's accounts service refused the token request (POST {fake.accounts_base}api/token, "
        "HTTP 400 invalid_client): check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET."
    )
    assert fake.requests[TOKEN] == 1
    assert_no_secret(message, fake, wrong)


def test_a_failing_accounts_service_is_retried_then_named(payload, tmp_path):
    message, fake = refused_token(payload, tmp_path, *[Fault(503)] * 10)
    assert message == (
        f"The Spotify token request (POST {fake.accounts_base}api/token) kept failing with HTTP 503: "
        "Spotify's accounts service is failing; try again later."
    )
    assert fake.requests[TOKEN] == 6 and "GET /v1/playlists/{id}" not in fake.requests
    assert_no_secret(message, fake)


def test_one_failed_token_request_is_retried_and_the_fetch_completes(payload, tmp_path):
    faults = FaultPlan(applies_to=api_only).script(TOKEN, Fault(502))
    with FakeSpotify(payload, faults=faults) as fake:
        library, _ = fetch(public_config(fake, tmp_path))
    assert fake.requests[TOKEN] == 2 and library.playlists.height == 1


def test_a_refused_refresh_of_the_user_login_names_the_token_request(payload, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeSpotify(payload, faults=FaultPlan(applies_to=api_only).script(TOKEN, Fault(401))) as fake:
        token = fake.user_token(expires_in=-10)   # expired: the first API call refreshes it
        token["expires_at"] = int(time.time()) - 10
        cache = PrivateTokenCache(tmp_path / "token.json")
        cache.save_token_to_cache(token)
        config = SpotifyConfig(CLIENT_ID, CLIENT_SECRET, api_base=fake.api_base, accounts_base=fake.accounts_base,
                               token_cache=cache.path, feature_providers=())
        with pytest.raises(SpotifyError) as error:
            fetch(config)
    message = str(error.value)
    assert message.startswith(f"Spotify's accounts service refused the token request (POST {fake.accounts_base}")
    assert "HTTP 401" in message and "SPOTIFY_CLIENT_SECRET" in message and "GET /me" not in message
    assert fake.requests[TOKEN] == 1
    assert_no_secret(message + caplog.text, fake)


def test_credentials_in_the_accounts_address_stay_out_of_the_message(payload, tmp_path):
    with FakeSpotify(payload, faults=FaultPlan(applies_to=api_only).script(TOKEN, Fault(401))) as fake:
        base = fake.accounts_base.replace("http://", "http://someone:hunter2@")
        config = SpotifyConfig(CLIENT_ID, CLIENT_SECRET, api_base=fake.api_base, accounts_base=base,
                               token_cache=tmp_path / "unused.json", feature_providers=(),
                               playlist_refs=(payload.playlists[0]["id"],))
        with pytest.raises(SpotifyError) as error:
            fetch(config)
    assert f"(POST {fake.accounts_base}api/token, HTTP 401)" in str(error.value)
    assert "hunter2" not in str(error.value)
