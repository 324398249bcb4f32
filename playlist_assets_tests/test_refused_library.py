"""A library that breaks the raw tables' rules is refused before it lands, in one sentence,
and every raw.* table keeps the previous library."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from playlist_assets.warehouse import quality, tables
from playlist_assets.runtime.pipeline import PipelineError, materialize_everything
from playlist_assets.ingest.sources.library import RawLibrary
from playlist_assets_tests.conftest import make_settings

# Exportify's Nov-2020 layout (see shared/samples/README.md), with only the columns it needs.
HEADER = [
    "Track URI", "Track Name", "Artist URI", "Artist Name", "Album URI", "Album Name", "Album Release Date",
    "Track Duration (ms)", "Danceability", "Energy", "Key", "Loudness", "Mode", "Speechiness", "Acousticness",
    "Instrumentalness", "Liveness", "Valence", "Tempo", "Time Signature",
]


def tid(n: int) -> str:
    return f"T{n:021d}"


def exportify_row(n: int, energy: str) -> list[str]:
    return [
        f"spotify:track:{tid(n)}", f"Song {n}", f"spotify:artist:A{n:021d}", f"Artist {n}",
        f"spotify:album:B{n:021d}", f"Album {n}", "2019-05-01", "201000",
        "0.5", energy, "5", "-7.5", "1", "0.04", "0.1", "0.0", "0.12", "0.7", "120.0", "4",
    ]


def write_exportify(folder: Path, energies: list[str]) -> Path:
    folder.mkdir()
    rows = [HEADER] + [exportify_row(n, e) for n, e in enumerate(energies, start=1)]
    (folder / "Percent Scale.csv").write_text(
        "\n".join(",".join(f'"{cell}"' for cell in row) for row in rows) + "\n", encoding="utf-8"
    )
    return folder


def raw_snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {
            t.qualified_name: conn.execute(f"SELECT * FROM {t.qualified_name} ORDER BY ALL").fetchall()
            for t in tables.RAW_TABLES
        }


def test_out_of_range_features_are_refused_and_every_raw_table_is_kept(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="4", demo_tracks="20")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    before = raw_snapshot(settings.warehouse)
    assert before["raw.playlists"] and before["raw.audio_features"]

    # A spreadsheet re-save that turned Energy into percentages.
    folder = write_exportify(tmp_path / "exportify", ["57", "0.4", "83"])
    refused = settings.with_(source="exportify", source_path=str(folder))
    with pytest.raises(PipelineError) as failure:
        materialize_everything(refused, echo=lambda _: None, instance=instance)

    assert raw_snapshot(settings.warehouse) == before
    message = str(failure.value)
    # The file is refused while it is read (its folder's other files would still land).
    assert "Percent Scale.csv has 2 of 3 'Energy' values that are not numbers from 0 to 1" in message
    assert f"e.g. '57' for spotify:track:{tid(1)}" in message and "left as it was" in message
    assert "divided by 100" in message and "Traceback" not in message


def library(**frames: pl.DataFrame) -> dict[tables.Table, pl.DataFrame]:
    return RawLibrary.from_frames(**frames).by_table()


def test_a_valid_library_has_no_refusals():
    from playlist_assets.ingest.sources.demo import edited_demo_library

    demo = edited_demo_library(4, 20, 7, 0, fetched_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert quality.landing_refusals(demo.by_table()) == []


def test_each_out_of_range_column_gets_its_own_sentence_and_missing_values_pass():
    frames = library(audio_features=pl.DataFrame({
        "track_id": ["a", "b", "c"],
        "energy": [0.5, None, 0.2],
        "tempo": [9000.0, 120.0, float("nan")],
        "key": [12, 3, -1],
        "provider": ["reccobeats", "reccobeats", "reccobeats"],
    }))
    refusals = quality.landing_refusals(frames)
    assert len(refusals) == 2
    key, tempo = sorted(refusals)
    assert key.startswith("raw.audio_features.key has 1 of 3 rows outside its range -1 to 11, e.g. track a")
    assert tempo.startswith("raw.audio_features.tempo has 2 of 3 rows outside its range 0 to 300, e.g. track a "
                            "with tempo = 9000 (from reccobeats)")
    # A service's values cannot be fixed in a file: the way out is not to ask it.
    assert "leave reccobeats out of PLAYLIST_ASSETS_FEATURE_PROVIDERS" in tempo


def test_repeated_and_missing_keys_are_refused_with_an_example():
    frames = library(
        tracks=pl.DataFrame({"track_id": ["x", "x", None, "y"], "name": ["1", "2", "3", "4"]}),
        playlist_tracks=pl.DataFrame({"playlist_id": ["p", "p"], "position": [0, 1]}),
    )
    (refusal,) = quality.landing_refusals(frames)
    assert refusal.startswith(
        "raw.tracks has 2 rows whose key (track_id) another row has too, e.g. 'x', and 1 row without a track_id"
    )
