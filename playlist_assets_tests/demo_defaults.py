"""The demo library a new user gets from `make demo`: its size and seed are the settings'
defaults, declared once (runtime.settings.SETTINGS_DOC); the demo's own functions have none."""

from playlist_assets.ingest.sources.demo import demo_payload
from playlist_assets.ingest.sources.spotify_objects import SpotifyPayload
from playlist_assets.runtime.settings import Settings


def default_demo_args() -> tuple[int, int, int]:
    """(playlists, entries per playlist, seed) of the default demo library."""
    wanted = Settings.from_env(env={}).offline_library()
    return wanted.demo_playlists, wanted.demo_tracks, wanted.demo_seed


def default_demo_payload() -> SpotifyPayload:
    return demo_payload(*default_demo_args())
