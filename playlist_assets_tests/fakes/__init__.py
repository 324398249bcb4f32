"""Fake Spotify and ReccoBeats servers: real HTTP on 127.0.0.1, for tests and benchmarks."""

from playlist_assets_tests.fakes.http_fake import DROPPED, RATE_LIMITED, SERVER_ERROR, UNAVAILABLE, Fault, FaultPlan
from playlist_assets_tests.fakes.reccobeats_server import FakeReccoBeats
from playlist_assets_tests.fakes.spotify_server import CLIENT_ID, CLIENT_SECRET, FakeSpotify, api_only

__all__ = [
    "CLIENT_ID", "CLIENT_SECRET", "DROPPED", "RATE_LIMITED", "SERVER_ERROR", "UNAVAILABLE",
    "FakeReccoBeats", "FakeSpotify", "Fault", "FaultPlan", "api_only",
]
