"""Report files a killed run left half written: noticed and rebuilt by the next refresh, no
temporary file survives it, and every report is readable like any other file."""

from __future__ import annotations

import os
import stat
import time

import dagster as dg
import duckdb

from playlist_assets.reports import files
from playlist_assets.automation.jobs import playlists_follow_the_library
from playlist_assets.definitions import resources_for
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings


def lineage(settings) -> dict[str, tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        rows = conn.execute(
            "SELECT playlist_id, report_path, report_sha256, image_path, image_sha256 FROM analytics.cluster_reports"
        ).fetchall()
    return {pid: rest for pid, *rest in rows}


def test_a_file_is_written_with_the_umasks_permissions_and_leftovers_of_its_killed_writes_go(tmp_path):
    target = tmp_path / "overview.md"
    leftover = tmp_path / ".overview.md.k1ll3d.tmp"
    leftover.write_bytes(b"half a report")
    previous = os.umask(0o022)
    try:
        files.write_atomic(target, b"# report\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_bytes() == b"# report\n"
    assert not leftover.exists()


def test_files_unlike_their_lineage_are_rebuilt_by_the_next_refresh(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="6", demo_tracks="30")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    recorded = lineage(settings)
    clustered = sorted(pid for pid, (_, _, png, _) in recorded.items() if png)
    edited, missing = clustered[0], clustered[1]
    reports = settings.reports
    # What a kill between two files leaves: one report rewritten (not recorded), one plot gone,
    # and the hidden file of a write that never finished, in a folder nobody writes again.
    (reports / recorded[edited][0]).write_text("# Clusters in a report from an unfinished run\n")
    (reports / recorded[missing][2]).unlink()
    orphan_tmp = reports / "playlists" / ".old_name" / ".overview.md.x.tmp"
    orphan_tmp.parent.mkdir(parents=True)
    orphan_tmp.write_text("half")
    os.utime(orphan_tmp, (time.time() - 3600, time.time() - 3600))

    sensor_context = dg.build_sensor_context(
        instance=instance,
        resources={k: v for k, v in resources_for(settings).items() if k in ("warehouse_db", "reports")},
    )
    requested = playlists_follow_the_library(sensor_context).run_requests
    assert requested, "the sensor saw nothing to rebuild"

    summary = materialize_everything(settings, echo=lambda _: None, instance=instance, changed_only=True)

    assert summary.rebuilt == 2
    for pid, (md, md_sha, png, png_sha) in lineage(settings).items():
        assert files.sha256_of(reports / md) == md_sha, md
        if png:
            assert files.sha256_of(reports / png) == png_sha, png
    assert (reports / recorded[edited][0]).read_text().startswith("# Clusters in ")
    assert not [p for p in reports.rglob("*.tmp")]
