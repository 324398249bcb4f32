"""Offline libraries read ahead in another process are the libraries read here."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from playlist_assets.definitions import resources_for
from playlist_assets.ingest.sources import offline
from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.offline import OfflineLibrary, read_offline, read_offline_or_ahead, reading_ahead
from playlist_assets_tests.conftest import make_settings

LATER = datetime(2030, 1, 1, tzinfo=timezone.utc)


def frames(library) -> dict:
    return library.by_table()


def test_a_library_read_ahead_is_the_one_read_here_and_is_taken_once(tmp_path):
    wanted = OfflineLibrary("demo", demo_playlists=5, demo_tracks=20, demo_edits=1)
    with reading_ahead(wanted):
        ahead = read_offline_or_ahead(wanted, LATER)
    here = read_offline(wanted, LATER)
    for table, frame in frames(here).items():
        # Stamped with when the read began (just now), not with the time the landing asked.
        compared = [c for c in frame.columns if c != "fetched_at"]
        assert frames(ahead)[table].select(compared).equals(frame.select(compared)), table.name
    assert ahead.playlists["fetched_at"].max() < LATER
    assert wanted not in offline._ahead  # taken: the next landing reads afresh


def test_another_library_than_the_one_read_ahead_is_read_here(tmp_path):
    with reading_ahead(OfflineLibrary("demo", demo_playlists=3, demo_tracks=10)):
        other = read_offline_or_ahead(OfflineLibrary("demo", demo_playlists=4, demo_tracks=10), LATER)
    assert other.playlists.height == 4
    assert other.playlists["fetched_at"].max() == LATER


def test_a_read_that_failed_ahead_fails_here_with_its_message(tmp_path):
    missing = OfflineLibrary("exportify", path=str(tmp_path / "no such folder"))
    with reading_ahead(missing), pytest.raises(SourceError, match="no such folder"):
        read_offline_or_ahead(missing, LATER)


def test_leaving_the_block_stops_a_read_nobody_took():
    # A run that fails before landing (a bad warehouse file) must not wait for the read.
    wanted = OfflineLibrary("demo", demo_playlists=3000, demo_tracks=100)
    started = time.monotonic()
    with reading_ahead(wanted):
        process = offline._ahead[wanted].process
    assert not process.is_alive()
    assert time.monotonic() - started < 10  # reading all 3,000 playlists takes far longer
    assert wanted not in offline._ahead


def test_the_cli_reads_ahead_the_library_the_landing_asks_for(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="30", demo_tracks="15", demo_edits="2", demo_seed="3")
    assert resources_for(settings)["source"].offline_library() == settings.offline_library()
