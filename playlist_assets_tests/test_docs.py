"""The README documents every setting a user can change."""

from pathlib import Path

from playlist_assets.runtime.settings import SETTINGS_DOC
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_environment_variable_is_in_the_readme():
    variables = [var for _, var, _, _ in SETTINGS_DOC] + [var for _, var in SpotifyConfig.ENV]
    missing = [var for var in variables if f"`{var}`" not in README]
    assert not missing, f"README lacks {missing}"


def test_the_first_screen_gives_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:25])
    assert "make demo" in first_screen and "make test" in first_screen
