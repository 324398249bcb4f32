"""Offline libraries read ahead in another process are the libraries read here."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone

import pytest

from playlist_assets.definitions import resources_for
from playlist_assets.ingest.sources import offline
from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.offline import OfflineLibrary, read_offline, read_offline_or_ahead, reading_ahead
from playlist_assets.runtime.resources import LibrarySource
from playlist_assets.runtime.settings import LIBRARY_SETTINGS, SETTINGS_DOC, Settings
from playlist_assets_tests.conftest import make_settings

LATER = datetime(2030, 1, 1, tzinfo=timezone.utc)


def library(**settings) -> OfflineLibrary:
    """The library these settings name, the others at their defaults (the settings' own)."""
    return Settings.from_env(env={}, **settings).offline_library()


def frames(library) -> dict:
    return library.by_table()


def test_a_library_read_ahead_is_the_one_read_here_and_is_taken_once(tmp_path):
    wanted = library(demo_playlists="5", demo_tracks="20", demo_edits="1")
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
    with reading_ahead(library(demo_playlists="3", demo_tracks="10")):
        other = read_offline_or_ahead(library(demo_playlists="4", demo_tracks="10"), LATER)
    assert other.playlists.height == 4
    assert other.playlists["fetched_at"].max() == LATER


def test_a_read_that_failed_ahead_fails_here_with_its_message(tmp_path):
    missing = library(source="exportify", source_path=str(tmp_path / "no such folder"))
    with reading_ahead(missing), pytest.raises(SourceError, match="no such folder"):
        read_offline_or_ahead(missing, LATER)


def test_leaving_the_block_stops_a_read_nobody_took():
    # A run that fails before landing (a bad warehouse file) must not wait for the read.
    wanted = library(demo_playlists="3000", demo_tracks="100")
    started = time.monotonic()
    with reading_ahead(wanted):
        process = offline._ahead[wanted].process
    assert not process.is_alive()
    assert time.monotonic() - started < 10  # reading all 3,000 playlists takes far longer
    assert wanted not in offline._ahead


def test_the_cli_reads_ahead_the_library_the_landing_asks_for(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="30", demo_tracks="15", demo_edits="2", demo_seed="3")
    assert resources_for(settings)["source"].offline_library() == settings.offline_library()


def test_the_library_resource_takes_its_fields_and_defaults_from_one_declaration():
    # OfflineLibrary declares the fields, with no defaults; the settings give every value.
    assert all(field.default is dataclasses.MISSING for field in dataclasses.fields(OfflineLibrary))
    defaults = library()
    doc = {name: (var, default) for name, var, default, _ in SETTINGS_DOC}
    values = dataclasses.asdict(defaults)
    assert values == {field: type(values[field])(doc[setting][1]) for field, setting in LIBRARY_SETTINGS.items()}
    # The resource's config fields are OfflineLibrary's, each required and described by its setting.
    config = LibrarySource.to_config_schema().as_field().config_type.fields
    assert list(config) == [field.name for field in dataclasses.fields(OfflineLibrary)]
    assert all(field.is_required for field in config.values())
    assert doc["demo_seed"][0] in config["demo_seed"].description
    assert LibrarySource.of(defaults).offline_library() == defaults
