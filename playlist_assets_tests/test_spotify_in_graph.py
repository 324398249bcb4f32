"""The Spotify source through the whole graph, against a fake Spotify on 127.0.0.1."""

from __future__ import annotations

import dagster as dg
import duckdb

from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets.ingest.sources.demo import demo_payload
from playlist_assets_tests.conftest import make_settings
from playlist_assets_tests.fakes import CLIENT_ID, CLIENT_SECRET, FakeSpotify
from playlist_assets_tests.test_spotify_source import logged_in


def test_a_spotify_library_lands_reports_and_refreshes_with_list_requests_only(tmp_path, monkeypatch):
    payload = demo_payload(12, 40, 7)
    with FakeSpotify(payload) as fake:
        cache = logged_in(fake, tmp_path)
        for var, value in {
            "SPOTIFY_CLIENT_ID": CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
            "SPOTIFY_API_BASE": fake.api_base,
            "SPOTIFY_ACCOUNTS_BASE": fake.accounts_base,
            "PLAYLIST_ASSETS_SPOTIFY_TOKEN_CACHE": str(cache),
            "PLAYLIST_ASSETS_FEATURE_PROVIDERS": "spotify",
        }.items():
            monkeypatch.setenv(var, value)
        settings = make_settings(tmp_path, source="spotify")
        instance = dg.DagsterInstance.ephemeral()
        first = materialize_everything(settings, echo=lambda _: None, instance=instance)
        reports = {p: p.read_bytes() for p in settings.reports.rglob("*.md")}
        fake.requests.clear()
        materialize_everything(settings, echo=lambda _: None, instance=instance)
        second_requests = dict(fake.requests)

    assert first.playlists == 12 and first.clustered >= 8
    assert not any("/items" in endpoint for endpoint in second_requests), second_requests
    assert {p: p.read_bytes() for p in settings.reports.rglob("*.md")} == reports
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT source FROM raw.playlists").fetchall() == [("spotify",)]
        dumped = conn.execute("SELECT * FROM raw.playlists").fetchall()
    # The client secret never reaches the warehouse, the reports or the run metadata.
    assert CLIENT_SECRET not in repr(dumped)
    assert all(CLIENT_SECRET not in p.read_text(encoding="utf-8") for p in settings.reports.rglob("*.md"))
    # Nor any event of any run: materializations, their metadata, and every log line.
    events = [event for run in instance.get_runs() for event in instance.all_logs(run.run_id)]
    assert any(e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION for e in events)
    assert all(CLIENT_SECRET not in repr(event) for event in events)
