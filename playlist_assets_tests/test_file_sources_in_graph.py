"""Real export files through the whole graph, and a bad path that leaves the warehouse alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from playlist_assets.runtime.pipeline import PipelineError, materialize_everything
from playlist_assets_tests.conftest import make_settings

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
EXPORTIFY = SAMPLES / "exportify_watsonbox_2020_instrumental.csv"

pytestmark = pytest.mark.skipif(not EXPORTIFY.is_file(), reason=f"sample exports not found in {SAMPLES}")


def test_an_exportify_file_becomes_a_report_with_its_own_audio_features(tmp_path):
    folder = tmp_path / "exportify"
    folder.mkdir()
    shutil.copy(EXPORTIFY, folder / "Instrumental.csv")
    settings = make_settings(tmp_path, source="exportify", source_path=str(folder))
    summary = materialize_everything(settings, echo=lambda _: None, instance=dg.DagsterInstance.ephemeral())
    assert summary.playlists == summary.clustered == 1
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        (provider, report_path), = conn.execute(
            "SELECT feature_providers, report_path FROM analytics.cluster_reports").fetchall()
    assert provider.startswith("exportify:")
    text = (settings.reports / report_path).read_text(encoding="utf-8")
    assert text.startswith("# Clusters in Instrumental\n") and "## Cluster #2" in text
    assert "| Score |" not in text  # Exportify files carry no listening data


def test_a_missing_export_folder_fails_in_one_sentence_and_keeps_the_warehouse(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        before = conn.execute("SELECT playlist_id, snapshot_id FROM raw.playlists ORDER BY 1").fetchall()
    broken = settings.with_(source="exportify", source_path=str(tmp_path / "nowhere"))
    with pytest.raises(PipelineError) as failure:
        materialize_everything(broken, echo=lambda _: None, instance=instance)
    assert str(tmp_path / "nowhere") in str(failure.value) and "Traceback" not in str(failure.value)
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT playlist_id, snapshot_id FROM raw.playlists ORDER BY 1").fetchall() == before
