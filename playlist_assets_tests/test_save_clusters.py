"""A cluster becomes a playlist: `playlist-assets save-clusters`, the `save_clusters_to_spotify`
job and the track lists beside each report, against the fake Spotify speaking real HTTP."""

from __future__ import annotations

import base64
import logging
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from playlist_assets.reports import report_data, saved_clusters
from playlist_assets.warehouse import database, queries, tables
from playlist_assets.runtime.cli import main
from playlist_assets.reports import escape
from playlist_assets.reports.markdown import render_report
from playlist_assets.reports.slugs import assign_slugs
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig, fetch_library
from playlist_assets.ingest.sources.spotify_auth import MODIFY_SCOPES, SCOPES, PrivateTokenCache, login
from playlist_assets.ingest.sources.spotify_http import SpotifyError
from playlist_assets.ingest.sources.spotify_save import (
    NAME_LIMIT, ClusterTracks, playlist_name, plan_saves, save_clusters,
)
from playlist_assets_tests.conftest import make_settings
from playlist_assets_tests.fakes import CLIENT_ID, CLIENT_SECRET, FakeSpotify, Fault, FaultPlan, api_only
from playlist_assets_tests.fakes.spotify_server import SAVE_SCOPE
from playlist_assets_tests.demo_defaults import default_demo_payload

NOT_SCOPED = (
    "The Spotify login in {cache} may read your library but not change playlists (it lacks "
    "playlist-modify-private and playlist-modify-public): run `playlist-assets login --save` again to "
    "allow saving clusters."
)


@pytest.fixture(scope="module")
def payload():
    return default_demo_payload()


@pytest.fixture
def library(demo_build, tmp_path):
    """A copy of the demo warehouse (saving writes to it) and the playlist to save from."""
    settings = make_settings(tmp_path)
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copy(demo_build[0].warehouse, settings.warehouse)
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        playlist_id, name = conn.execute(
            """SELECT p.playlist_id, p.name FROM raw.playlists p JOIN analytics.playlist_clusterings c USING (playlist_id)
               WHERE c.clustered AND c.k >= 2
                 AND (SELECT count(*) FROM raw.playlists o WHERE lower(o.name) = lower(p.name)) = 1
               ORDER BY p.playlist_id LIMIT 1"""
        ).fetchone()
    return settings, playlist_id, name


def report_order(warehouse_path: Path, playlist_id: str, cluster: int) -> list[str]:
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT track_id FROM analytics.playlist_clusters WHERE playlist_id = ? AND cluster = ? "
            "ORDER BY distance_to_centre, track_id",
            [playlist_id, cluster],
        ).fetchall()
    return [f"spotify:track:{track_id}" for (track_id,) in rows]


def logged_in(fake: FakeSpotify, folder: Path, scope: str = SAVE_SCOPE, expires_in: int = 3600) -> Path:
    """A token cache as `playlist-assets login --save` (or plain `login`) leaves it."""
    token = fake.user_token(expires_in, scope=scope)
    token["expires_at"] = int(time.time()) + expires_in
    cache = folder / "token" / "spotify-token.json"
    PrivateTokenCache(cache).save_token_to_cache(token)
    return cache


def spotify_env(monkeypatch, fake: FakeSpotify, cache: Path) -> None:
    for var, value in (
        ("SPOTIFY_CLIENT_ID", CLIENT_ID), ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET),
        ("SPOTIFY_API_BASE", fake.api_base), ("SPOTIFY_ACCOUNTS_BASE", fake.accounts_base),
        ("PLAYLIST_ASSETS_SPOTIFY_TOKEN_CACHE", str(cache)),
    ):
        monkeypatch.setenv(var, value)


def config_for(fake: FakeSpotify, cache: Path) -> SpotifyConfig:
    return SpotifyConfig(CLIENT_ID, CLIENT_SECRET, api_base=fake.api_base, accounts_base=fake.accounts_base,
                         token_cache=cache, feature_providers=())


def save_command(settings, *args: str) -> list[str]:
    return ["save-clusters", *args, "--warehouse", str(settings.warehouse)]


def reports_of(conn, playlist_id: str):
    """The playlist's report as the overview asset builds it, from the warehouse as it is now."""
    inputs = queries.report_inputs(conn, [playlist_id])
    slugs = assign_slugs(queries.all_playlists(conn).rows())
    return [report for report, _ in report_data.build_reports(inputs, slugs, "test")]


def writes(fake: FakeSpotify) -> dict[str, int]:
    """Requests that could change something, faulted ones included."""
    return {k: v for k, v in fake.requests.items() if not k.startswith("GET ") and k != "POST /api/token"}


def test_saving_a_cluster_twice_leaves_one_playlist_holding_it_in_report_order(library, payload, monkeypatch, capsys):
    settings, playlist_id, name = library
    with FakeSpotify(payload) as fake:
        spotify_env(monkeypatch, fake, logged_in(fake, settings.warehouse.parent.parent))
        assert main(save_command(settings, name, "--cluster", "2")) == 0
        first = capsys.readouterr().out
        # By id this time, and the name in another case would do as well.
        assert main(save_command(settings, playlist_id, "--cluster", "2")) == 0
        second = capsys.readouterr().out
        # The form Spotify refuses to development-mode apps since 2026 (so the save never uses it).
        user = next(token for token, kind in fake.access_tokens.items() if kind == "user")
        refused = requests.post(f"{fake.api_base}users/{payload.user['id']}/playlists", json={"name": "x"},
                                headers={"Authorization": f"Bearer {user}"}, timeout=5)
        assert refused.status_code == 403 and fake.requests["POST /v1/users/{id}/playlists"] == 1
    [made] = fake.created_playlists()
    assert made["uris"] == report_order(settings.warehouse, playlist_id, 2)
    assert made["name"].startswith(f"{name} · Cluster #2") and len(made["name"]) <= NAME_LIMIT
    assert made["public"] is False
    assert first.startswith(f"Created '{made['name']}' ({len(made['uris'])} tracks, private): ")
    assert second.startswith(f"Updated '{made['name']}'")
    assert fake.requests["POST /v1/me/playlists"] == 1
    # Items go as {"uris": [...]}: the second save replaced them (PUT), adding none.
    item_writes = [(method, body) for method, path, body in fake.writes if path.endswith("/items")]
    assert [method for method, _ in item_writes] == ["PUT", "PUT"]
    assert all(set(body) == {"uris"} for _, body in item_writes)
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        rows = conn.execute(
            "SELECT playlist_id, cluster, spotify_playlist_id, spotify_url, name, public, n_tracks "
            "FROM analytics.saved_clusters"
        ).fetchall()
    assert rows == [(playlist_id, 2, made["id"], f"https://open.spotify.com/playlist/{made['id']}",
                     made["name"], False, len(made["uris"]))]


def test_a_long_cluster_is_sent_100_tracks_at_a_time_and_replaced_when_saved_again(payload, tmp_path):
    track_ids = tuple(f"{i:022d}" for i in range(250))
    cluster = ClusterTracks("p1", "Everything", "s1", 1, "loud", track_ids)
    with FakeSpotify(payload) as fake:
        config = config_for(fake, logged_in(fake, tmp_path))
        [first] = save_clusters(config, plan_saves([cluster], {}), sleep=lambda s: None, log=lambda line: None)
        shorter = ClusterTracks("p1", "Everything", "s2", 1, "loud", track_ids[:120])
        # The warehouse's record is gone (a rebuilt warehouse): the playlist is found by its description.
        [again] = save_clusters(config, plan_saves([shorter], {}), sleep=lambda s: None, log=lambda line: None)
    [made] = fake.created_playlists()
    assert (first.created, again.created, again.spotify_playlist_id) == (True, False, made["id"])
    assert made["uris"] == [f"spotify:track:{i}" for i in track_ids[:120]]
    sizes = [(method, len(body["uris"])) for method, path, body in fake.writes if path.endswith("/items")]
    assert sizes == [("PUT", 100), ("POST", 100), ("POST", 50), ("PUT", 100), ("POST", 20)]


def test_a_dry_run_sends_nothing_and_says_what_would_change(library, payload, monkeypatch, capsys):
    settings, playlist_id, name = library
    with FakeSpotify(payload) as fake:
        spotify_env(monkeypatch, fake, logged_in(fake, settings.warehouse.parent.parent))
        assert main(save_command(settings, name.upper(), "--dry-run")) == 0
        before = capsys.readouterr().out
        assert not fake.requests   # no login needed, nothing asked
        assert main(save_command(settings, name, "--cluster", "1")) == 0
        capsys.readouterr()
        fake.reset_counts()
        assert main(save_command(settings, name, "--cluster", "1", "--public", "--dry-run")) == 0
        after = capsys.readouterr().out
        assert not fake.requests
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        k = conn.execute("SELECT k FROM analytics.playlist_clusterings WHERE playlist_id = ?", [playlist_id]).fetchone()[0]
    lines = before.splitlines()
    assert len(lines) == k + 1 and lines[-1] == "Dry run: nothing was sent to Spotify."
    n = len(report_order(settings.warehouse, playlist_id, 1))
    assert re.fullmatch(rf"Would create '{re.escape(name)} · Cluster #1[^']*' \({n} tracks, private\)\.", lines[0])
    [made] = fake.created_playlists()
    assert after.splitlines()[0] == (
        f"Would update '{made['name']}' ({n} tracks, public; its tracks replaced): "
        f"https://open.spotify.com/playlist/{made['id']}"
    )


def test_a_rate_limited_save_waits_as_asked_and_lost_answers_make_no_duplicate(library, payload, tmp_path):
    settings, playlist_id, name = library
    faults = FaultPlan(applies_to=api_only)
    faults.script("POST /v1/me/playlists", Fault(429, retry_after=2), Fault(503, after_effect=True))
    faults.script("PUT /v1/playlists/{id}/items", Fault(429, retry_after=1))
    waits: list[float] = []
    with FakeSpotify(payload, faults=faults) as fake, database.connect(settings.warehouse) as conn:
        plans = saved_clusters.plan(conn, [playlist_id], [1, 2])
        results = saved_clusters.save(conn, plans, config_for(fake, logged_in(fake, tmp_path)),
                                      sleep=waits.append, log=lambda line: None)
    assert waits[:2] == [2.0, 0.5] and 1.0 in waits   # Retry-After honoured; a 503 backs off
    made = fake.created_playlists()
    assert [p["uris"] for p in made] == [report_order(settings.warehouse, playlist_id, n) for n in (1, 2)]
    assert [r.spotify_playlist_id for r in results] == [p["id"] for p in made]


def test_a_login_without_the_modify_scopes_gets_one_sentence(library, payload, monkeypatch, capsys):
    settings, _, name = library
    with FakeSpotify(payload) as fake:
        cache = logged_in(fake, settings.warehouse.parent.parent, scope=" ".join(SCOPES))
        spotify_env(monkeypatch, fake, cache)
        assert main(save_command(settings, name)) == 1
        assert not writes(fake) and not fake.created_playlists()
        cache.unlink()
        assert main(save_command(settings, name)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "playlist-assets: " + NOT_SCOPED.format(cache=cache)
    assert err[1] == (
        f"playlist-assets: No Spotify login in {cache}: run `playlist-assets login --save` first, to let this app "
        "create and change your playlists."
    )


def test_login_save_asks_for_the_modify_scopes_and_an_ingest_refresh_keeps_them(payload, tmp_path):
    shown: list[str] = []
    cache = tmp_path / "token.json"
    with FakeSpotify(payload) as fake:
        config = config_for(fake, cache)

        def paste_redirect(prompt: str) -> str:
            state = shown[-1].split("state=")[1].split("&")[0]
            return f"{config.redirect_uri}?code={fake.authorization_code()}&state={state}"

        login(config, ask=paste_redirect, say=shown.append, scopes=SCOPES + MODIFY_SCOPES)
        assert "playlist-modify-private" in shown[0] and "playlist-modify-public" in shown[0]
        token = PrivateTokenCache(cache).get_cached_token()
        PrivateTokenCache(cache).save_token_to_cache({**token, "expires_at": int(time.time()) - 10})
        # The ingest asks for the read scopes only; refreshing must not forget the others.
        fetch_library(config, previous=None, fetched_at=datetime(2026, 3, 1, tzinfo=UTC),
                      sleep=lambda s: None, log=lambda line: None)
        assert fake.requests["POST /api/token"] == 2   # the login's code, then the refresh
        track = ClusterTracks("p1", "Mine", "s1", 1, "calm", ("0" * 22,))
        [saved] = save_clusters(config, plan_saves([track], {}), sleep=lambda s: None, log=lambda line: None)
    assert saved.created and set(MODIFY_SCOPES) <= set(PrivateTokenCache(cache).get_cached_token()["scope"].split())


def test_the_secret_and_tokens_appear_in_no_output_table_or_report(library, payload, monkeypatch, capsys, caplog):
    settings, playlist_id, name = library
    caplog.set_level(logging.DEBUG)
    with FakeSpotify(payload) as fake:
        cache = logged_in(fake, settings.warehouse.parent.parent, expires_in=-10)   # forces a refresh
        spotify_env(monkeypatch, fake, cache)
        assert main(save_command(settings, name)) == 0
        cache.unlink()
        assert main(save_command(settings, name)) == 1
        secrets = [CLIENT_SECRET, base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
                   *fake.access_tokens, *fake.refresh_tokens]
    captured = capsys.readouterr()
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        table = str(conn.execute("SELECT * FROM analytics.saved_clusters").fetchall())
        report = render_report(reports_of(conn, playlist_id)[0])
    assert len(secrets) >= 4 and "Created '" in captured.out
    for secret in secrets:
        for text in (captured.out, captured.err, caplog.text, table, report):
            assert secret not in text


def test_the_report_links_the_saved_playlist_and_rebuilding_the_playlist_keeps_the_record(library, payload, monkeypatch):
    settings, playlist_id, name = library
    with FakeSpotify(payload) as fake:
        spotify_env(monkeypatch, fake, logged_in(fake, settings.warehouse.parent.parent))
        assert main(save_command(settings, name, "--cluster", "2")) == 0
    [made] = fake.created_playlists()
    with database.connect(settings.warehouse) as conn:
        # The report links to what was saved: its playlist is due a rebuild.
        assert playlist_id in queries.playlists_needing_reports(conn, "any code version")
        assert playlist_id in queries.saves_after_reports(conn)
        text = render_report(reports_of(conn, playlist_id)[0])
        # What rebuilding the playlist (or its leaving the library) does to the analytics tables.
        database.replace_partitions(conn, {t: t.empty_frame() for t in tables.ANALYTICS_TABLES}, [playlist_id])
        kept = conn.execute("SELECT spotify_playlist_id FROM analytics.saved_clusters").fetchall()
    assert f"Saved to Spotify as [{escape.inline(made['name'])}](https://open.spotify.com/playlist/{made['id']})." in text
    section = text.split("## Cluster #2\n", 1)[1].split("\n## ", 1)[0]
    assert "Saved to Spotify" in section and "Saved to Spotify" not in text.split("## Cluster #2\n", 1)[0]
    assert kept == [(made["id"],)]


def test_every_cluster_has_its_track_list_linked_from_the_report_in_report_order(demo_build):
    settings, _, _ = demo_build
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        reports = conn.execute(
            "SELECT r.playlist_id, r.report_path, c.k FROM analytics.cluster_reports r "
            "JOIN analytics.playlist_clusterings c USING (playlist_id) WHERE c.clustered ORDER BY 1"
        ).fetchall()
        unclustered = conn.execute(
            "SELECT r.report_path FROM analytics.cluster_reports r "
            "JOIN analytics.playlist_clusterings c USING (playlist_id) WHERE NOT c.clustered"
        ).fetchall()
    assert reports
    for playlist_id, path, k in reports:
        report = settings.reports / path
        text = report.read_text(encoding="utf-8")
        assert sorted(p.name for p in report.parent.glob("cluster_*_tracks.txt")) == sorted(
            f"cluster_{n}_tracks.txt" for n in range(1, k + 1)
        )
        for n in range(1, k + 1):
            line = (
                f"Add these tracks to a playlist: [cluster_{n}_tracks.txt](cluster_{n}_tracks.txt) — paste its "
                "lines into a playlist in the Spotify desktop app."
            )
            section = text.split(f"## Cluster #{n}\n", 1)[1].split("\n## ", 1)[0]
            assert line in section.splitlines()
            listed = (report.parent / f"cluster_{n}_tracks.txt").read_text(encoding="utf-8").splitlines()
            assert listed == report_order(settings.warehouse, playlist_id, n)
    for (path,) in unclustered:
        assert not list((settings.reports / path).parent.glob("cluster_*_tracks.txt"))


def test_the_ui_job_saves_what_its_config_names_and_a_dry_run_sends_nothing(library, payload, monkeypatch):
    from playlist_assets.definitions import build_definitions

    settings, playlist_id, name = library
    job = build_definitions(settings).resolve_job_def("save_clusters_to_spotify")
    instance = dg.DagsterInstance.ephemeral()

    def launch(**config):
        run_config = {"ops": {"save_clusters": {"config": {"playlists": [name.lower()], **config}}}}
        return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)

    with FakeSpotify(payload) as fake:
        spotify_env(monkeypatch, fake, logged_in(fake, settings.warehouse.parent.parent))
        dry = launch(clusters=[2], dry_run=True)
        assert dry.success and not fake.requests
        saved = launch(clusters=[2], public=True)
        refused = launch(clusters=[99])
    [made] = fake.created_playlists()
    assert saved.success and made["public"] is True
    assert made["uris"] == report_order(settings.warehouse, playlist_id, 2)
    assert not refused.success
    failure = refused.get_step_failure_events()[0].event_specific_data.error
    assert f"'{name}' has no cluster #99: pass --cluster one of #1" in failure.message


def test_a_playlist_that_is_not_there_or_not_unique_is_one_sentence(library, capsys):
    settings, playlist_id, name = library
    assert main(save_command(settings, "no such playlist", "--dry-run")) == 1
    variant = name.swapcase()   # the same name ignoring case
    assert variant != name
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("UPDATE raw.playlists SET name = ? WHERE playlist_id <> ?", [variant, playlist_id])
    loose = f" {name} "   # matches no name exactly, every one ignoring case
    assert main(save_command(settings, loose, "--dry-run")) == 1
    assert main(save_command(settings, name, "--dry-run")) == 0   # the exact name still picks one
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "playlist-assets: No playlist has the id or name 'no such playlist': list them with "
        '`playlist-assets sql "SELECT playlist_id, name FROM raw.playlists ORDER BY name"`.'
    )
    assert re.fullmatch(
        rf"playlist-assets: \d+ playlists are named '{re.escape(loose)}' \(ids .+\): pass one of these ids instead\.",
        err[1],
    )


def test_names_keep_the_cluster_number_within_spotifys_limit():
    assert playlist_name("Heavy Rotation", 2, "happy, vocal") == "Heavy Rotation · Cluster #2: happy, vocal"
    assert playlist_name("Quiet", 3, "") == "Quiet · Cluster #3"
    for source, words in (("A" * 150, "calm"), ("Road trip", "x" * 200), ("B" * 80, "y" * 80)):
        name = playlist_name(source, 12, words)
        assert len(name) <= NAME_LIMIT and " · Cluster #12" in name


def test_spotify_refusing_the_new_playlist_is_one_sentence(payload, tmp_path):
    faults = FaultPlan(applies_to=api_only).script("POST /v1/me/playlists", Fault(403))
    cluster = ClusterTracks("p1", "Mine", "s1", 1, "calm", ("0" * 22,))
    with FakeSpotify(payload, faults=faults) as fake:
        with pytest.raises(SpotifyError) as refused:
            save_clusters(config_for(fake, logged_in(fake, tmp_path)), plan_saves([cluster], {}),
                          sleep=lambda s: None, log=lambda line: None)
    assert str(refused.value) == (
        "Spotify refused POST /me/playlists (HTTP 403) while saving 'Mine · Cluster #1: calm': run "
        "`playlist-assets login --save` again as the account that owns the playlist, and check that this "
        "account is among the app's users in the Spotify developer dashboard."
    )
