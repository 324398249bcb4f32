"""A setting out of range is refused at start, in one sentence, before anything is created."""

from __future__ import annotations

import subprocess
import sys

import pytest

from playlist_assets.runtime.cli import main
from playlist_assets.runtime.settings import Settings, check_source_settings

BAD_VALUES = [
    # (variable, value, words the sentence must hold besides the variable and the value)
    ("PLAYLIST_ASSETS_WORKERS", "-3", "0 or more"),
    ("PLAYLIST_ASSETS_DEMO_PLAYLISTS", "-1", "from 1 to 20,000"),
    ("PLAYLIST_ASSETS_DEMO_PLAYLISTS", "10000000", "from 1 to 20,000"),
    ("PLAYLIST_ASSETS_DEMO_PLAYLISTS", "0", "from 1 to 20,000"),
    ("PLAYLIST_ASSETS_DEMO_TRACKS", "20000", "from 1 to 10,000"),
    ("PLAYLIST_ASSETS_DEMO_SEED", "-7", "0 or more"),
    ("PLAYLIST_ASSETS_DEMO_EDITS", "-2", "0 or more"),
    ("PLAYLIST_ASSETS_LOCK_WAIT_S", "-1", "0 or more"),
    ("PLAYLIST_ASSETS_LOCK_WAIT_S", "nan", "0 or more"),
    ("PLAYLIST_ASSETS_FEATURE_PROVIDERS", "bogus", "spotify, reccobeats, csv:PATH or none"),
    ("PLAYLIST_ASSETS_FEATURE_PROVIDERS", "spotify,Reccobeats", "spotify, reccobeats, csv:PATH or none"),
    ("PLAYLIST_ASSETS_FEATURE_PROVIDERS", "csv:", "spotify, reccobeats, csv:PATH or none"),
    ("PLAYLIST_ASSETS_MAX_RETRY_AFTER_S", "abc", "a number of seconds, 0 or more"),
    ("PLAYLIST_ASSETS_MAX_RETRY_AFTER_S", "-5", "a number of seconds, 0 or more"),
    ("PLAYLIST_ASSETS_MAX_RETRY_AFTER_S", "inf", "a number of seconds, 0 or more"),
    ("PLAYLIST_ASSETS_REFRESH_AFTER_DAYS", "1.5", "a whole number of days, 0 or more"),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No setting of the developer's own shell leaks into these runs."""
    import os

    for var in list(os.environ):
        if var.startswith("PLAYLIST_ASSETS_"):
            monkeypatch.delenv(var)


@pytest.mark.parametrize(("var", "value", "allowed"), BAD_VALUES)
def test_materialize_refuses_the_value_before_creating_anything(tmp_path, monkeypatch, capsys, var, value, allowed):
    monkeypatch.setenv(var, value)
    warehouse, home, reports = tmp_path / "w" / "w.duckdb", tmp_path / "dagster", tmp_path / "reports"

    code = main([
        "materialize", "--warehouse", str(warehouse), "--dagster-home", str(home), "--reports", str(reports),
    ])

    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("playlist-assets: "), err
    assert var in err and repr(value) in err and allowed in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("option", "value"), [("--workers", "-3"), ("--demo-playlists", "10000000")])
def test_a_command_line_option_is_checked_the_same_way(tmp_path, capsys, option, value):
    code = main(["materialize", option, value, "--warehouse", str(tmp_path / "w.duckdb"),
                 "--dagster-home", str(tmp_path / "dagster"), "--reports", str(tmp_path / "reports")])
    assert code == 2
    assert f"(or {option}) must be a whole number" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_source_settings_are_checked_whatever_the_source(tmp_path):
    env = {"PLAYLIST_ASSETS_SOURCE": "exportify", "PLAYLIST_ASSETS_FEATURE_PROVIDERS": "bogus"}
    with pytest.raises(ValueError, match="PLAYLIST_ASSETS_FEATURE_PROVIDERS must list"):
        Settings.from_env(env=env)


@pytest.mark.parametrize(
    "providers", ["spotify,reccobeats", "reccobeats csv:/tmp/f.csv", "none", "spotify, none", ""]
)
def test_good_provider_lists_pass(providers):
    check_source_settings({"PLAYLIST_ASSETS_FEATURE_PROVIDERS": providers,
                           "PLAYLIST_ASSETS_MAX_RETRY_AFTER_S": "0", "PLAYLIST_ASSETS_REFRESH_AFTER_DAYS": "30"})


def test_the_defaults_and_the_bounds_themselves_pass():
    Settings.from_env(env={})
    Settings.from_env(env={}, demo_playlists="20000", demo_tracks="1", workers="0", lock_wait_s="0", demo_edits="0")


def test_the_spotify_config_refuses_the_same_values():
    from playlist_assets.ingest.sources.spotify_api import SpotifyConfig

    with pytest.raises(ValueError, match="PLAYLIST_ASSETS_REFRESH_AFTER_DAYS must be a whole number of days"):
        SpotifyConfig.from_env({"PLAYLIST_ASSETS_REFRESH_AFTER_DAYS": "-1"})


def test_the_dagster_definitions_fail_to_load_with_the_sentence(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYLIST_ASSETS_")}
    env.update(PLAYLIST_ASSETS_WORKERS="-3", DAGSTER_HOME=str(tmp_path / "dagster"))
    done = subprocess.run([sys.executable, "-c", "import playlist_assets.definitions"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == "ValueError: PLAYLIST_ASSETS_WORKERS (or --workers) must be a whole number of 0 or more, not '-3'."
