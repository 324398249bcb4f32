"""The whole asset graph materialized on temporary folders: tables, files, lineage, links."""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pytest

from playlist_assets.warehouse import tables
from playlist_assets.warehouse.quality import dead_links
from playlist_assets.definitions import ASSETS, resources_for
from playlist_assets.partitions import partition_key
from playlist_assets.runtime.pipeline import materialize_everything
from playlist_assets_tests.conftest import make_settings


def query(settings, sql, params=None):
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def test_every_table_of_the_contract_exists_with_its_primary_key(demo_build):
    settings, _, _ = demo_build
    all_tables = [*tables.RAW_TABLES, tables.FEATURES_TRACK_FEATURES, tables.ANALYTICS_PLAYLIST_CLUSTERS,
                  tables.ANALYTICS_CLUSTERS, tables.ANALYTICS_PLAYLIST_CLUSTERINGS, tables.ANALYTICS_CLUSTER_REPORTS]
    for table in all_tables:
        columns = [r[0] for r in query(
            settings,
            "SELECT column_name FROM information_schema.columns WHERE table_schema=? AND table_name=? "
            "ORDER BY ordinal_position", [table.schema, table.name])]
        assert columns == table.column_names, table.qualified_name
        pk = query(settings,
                   "SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name=? "
                   "AND table_name=? AND constraint_type='PRIMARY KEY'", [table.schema, table.name])
        assert pk and tuple(pk[0][0]) == table.primary_key, table.qualified_name


def test_raw_tables_hold_the_demo_library(demo_build):
    settings, _, summary = demo_build
    (playlists,) = query(settings, "SELECT count(*) FROM raw.playlists")[0]
    (entries,) = query(settings, "SELECT count(*) FROM raw.playlist_tracks")[0]
    assert 10 <= playlists == summary.playlists
    assert 1000 <= entries <= 2000
    kinds = {k for (k,) in query(settings, "SELECT DISTINCT item_kind FROM raw.playlist_tracks")}
    assert kinds == {"track", "episode", "local", "removed"}
    (dupes,) = query(settings, "SELECT count(*) FROM raw.playlist_tracks WHERE is_duplicate")[0]
    assert dupes >= 1


def test_every_entry_is_clustered_or_listed_with_a_reason(demo_build):
    settings, _, _ = demo_build
    for pid, name in query(settings, "SELECT playlist_id, name FROM raw.playlists"):
        (distinct_tracks,) = query(settings,
            "SELECT count(DISTINCT track_id) FROM raw.playlist_tracks WHERE playlist_id=? AND item_kind='track'",
            [pid])[0]
        (placed,) = query(settings, "SELECT count(*) FROM analytics.playlist_clusters WHERE playlist_id=?", [pid])[0]
        report = [r for (r,) in query(settings,
            "SELECT report_path FROM analytics.cluster_reports WHERE playlist_id=?", [pid])]
        assert report, f"no lineage row for {name!r}"
        text = (settings.reports / report[0]).read_text(encoding="utf-8")
        not_clustered_section = text.split("## Not clustered", 1)[1] if "## Not clustered" in text else ""
        if placed < distinct_tracks:
            assert not_clustered_section, f"{name!r}: {distinct_tracks - placed} tracks unaccounted for"


def test_clusterable_playlists_have_both_files_and_a_lineage_row(demo_build):
    settings, _, _ = demo_build
    rows = query(settings, """
        SELECT c.playlist_id, c.clustered, r.report_path, r.image_path, r.report_sha256, r.image_sha256,
               r.snapshot_id = p.snapshot_id, r.run_id, r.code_version, r.k, c.k
        FROM analytics.playlist_clusterings c JOIN raw.playlists p USING (playlist_id)
        LEFT JOIN analytics.cluster_reports r USING (playlist_id)""")
    clustered = [r for r in rows if r[1]]
    assert len(clustered) >= 8
    for pid, _, md, png, md_sha, png_sha, same_snapshot, run_id, code, k, k2 in clustered:
        assert (settings.reports / md).is_file() and (settings.reports / png).is_file(), pid
        assert md_sha and png_sha and same_snapshot and run_id and code and k == k2 >= 2
        assert md.startswith("playlists/") and md.endswith("/clusters/overview.md")
        assert png.startswith("images/playlists/") and png.endswith("/clusters/clusters_scatter.png")
    for pid, _, md, png, *_ in (r for r in rows if not r[1]):
        assert png is None


def test_index_lists_every_playlist_and_the_reason_for_those_without_clusters(demo_build):
    settings, _, _ = demo_build
    index = (settings.reports / "README.md").read_text(encoding="utf-8")
    reasons = query(settings, "SELECT reason FROM analytics.playlist_clusterings WHERE NOT clustered")
    assert reasons, "the demo library has playlists too small to cluster"
    for (reason,) in reasons:
        assert reason.split()[0] in index
    (n,) = query(settings, "SELECT count(*) FROM raw.playlists")[0]
    assert len(set(re.findall(r"playlists/[^/)]+/clusters/overview\.md", index))) >= n - 2


def test_every_relative_link_in_every_report_resolves(demo_build):
    settings, _, _ = demo_build
    markdown_files = list(settings.reports.rglob("*.md"))
    assert len(markdown_files) >= 10
    linked = 0
    for md in markdown_files:
        text = md.read_text(encoding="utf-8")
        assert dead_links(text, md, settings.reports) == [], md
        linked += text.count("](../../../images/") + text.count("/clusters/overview.md)")
    assert linked >= 20  # the reports do link their plots, and the index its reports


def latest_metadata(instance, key: list[str]) -> dict[str, dict]:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=1000).records
    latest: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        # Keyed by playlist_id: a partition key is the name, "-", then the id.
        latest[record.partition_key.split("-", 1)[1]] = {
            k: v.value for k, v in record.asset_materialization.metadata.items()
        }
    return latest


def test_each_playlist_partition_shows_its_own_figures_in_the_ui(demo_build):
    settings, instance, _ = demo_build
    clusterings = latest_metadata(instance, ["analytics", "playlist_clusterings"])
    members = latest_metadata(instance, ["analytics", "playlist_clusters"])
    plots = latest_metadata(instance, ["reports", "clusters_scatter"])
    pages = latest_metadata(instance, ["reports", "overview"])
    rows = query(settings, """
        SELECT c.playlist_id, c.k, c.clustered, count(m.track_id)
        FROM analytics.playlist_clusterings c
        LEFT JOIN analytics.playlist_clusters m USING (playlist_id)
        GROUP BY ALL""")
    assert {playlist for playlist, *_ in rows} == set(clusterings) == set(plots) == set(pages)
    for playlist, k, clustered, n_members in rows:
        assert clusterings[playlist]["k"] == k
        assert members[playlist]["dagster/row_count"] == n_members
        assert plots[playlist]["written"] == clustered
        assert ("data:image/png;base64," in plots[playlist].get("preview", "")) == clustered
        # The report as written, title first, with the plot inlined where the file links it.
        written = open(pages[playlist]["path"], encoding="utf-8").read()
        assert pages[playlist]["report"].split("\n")[0] == written.split("\n")[0]
        assert pages[playlist]["report"].count("\n") == written.count("\n")


def test_second_run_leaves_every_markdown_file_byte_identical(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="40")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    first = {p: p.read_bytes() for p in settings.reports.rglob("*.md")}
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    second = {p: p.read_bytes() for p in settings.reports.rglob("*.md")}
    assert first == second
    (runs,) = query(settings, "SELECT count(DISTINCT run_id) FROM analytics.cluster_reports")[0]
    assert runs == 1  # the lineage names the latest run, not the first


def test_rematerializing_one_playlist_replaces_exactly_its_rows(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="40")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    before = query(settings, "SELECT playlist_id, run_id FROM analytics.cluster_reports ORDER BY 1")
    counts_before = query(settings, "SELECT playlist_id, count(*) FROM analytics.playlist_clusters GROUP BY 1 ORDER BY 1")
    target = counts_before[0][0]
    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.groups("analytics") | dg.AssetSelection.assets(["reports", "cluster_reports"]),
        partition_key=partition_key(target, query(settings, f"SELECT name FROM raw.playlists WHERE playlist_id = '{target}'")[0][0]),
        instance=instance,
        resources=resources_for(settings),
    )
    assert result.success
    after = query(settings, "SELECT playlist_id, run_id FROM analytics.cluster_reports ORDER BY 1")
    changed = {pid for (pid, run), (_, old) in zip(after, before) if run != old}
    assert changed == {target}
    assert query(settings, "SELECT playlist_id, count(*) FROM analytics.playlist_clusters GROUP BY 1 ORDER BY 1") == counts_before


def test_a_failing_source_leaves_the_previous_snapshot_untouched(tmp_path, monkeypatch):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="40")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    before = {t.name: query(settings, f"SELECT count(*) FROM {t.qualified_name}")[0][0] for t in tables.RAW_TABLES}

    from playlist_assets.runtime import resources

    def broken(self, *args, **kwargs):
        raise RuntimeError("the source went away half-way")

    monkeypatch.setattr(resources.LibrarySource, "load", broken)
    with pytest.raises(Exception, match="went away"):
        materialize_everything(settings, echo=lambda _: None, instance=instance)
    after = {t.name: query(settings, f"SELECT count(*) FROM {t.qualified_name}")[0][0] for t in tables.RAW_TABLES}
    assert after == before


def test_a_report_partition_shows_its_lineage_with_the_playlist_name_first(demo_build):
    settings, instance, _ = demo_build
    pages = latest_metadata(instance, ["reports", "overview"])
    plots = latest_metadata(instance, ["reports", "clusters_scatter"])
    clusterings = latest_metadata(instance, ["analytics", "playlist_clusterings"])
    lineage = query(settings, """
        SELECT r.playlist_id, p.name, r.snapshot_id, r.source, r.code_version, r.report_sha256, r.image_sha256
        FROM analytics.cluster_reports r JOIN raw.playlists p USING (playlist_id)""")
    assert len(lineage) == len(pages)
    for playlist, name, snapshot, source, code_version, report_sha, image_sha in lineage:
        page = pages[playlist]
        assert list(page)[0] == "playlist" and page["playlist"] == name
        assert list(plots[playlist])[0] == "playlist" and list(clusterings[playlist])[0] == "playlist"
        assert page["spotify_snapshot_id"] == snapshot and page["source"] == source
        assert page["code_version"] == code_version and "features" in page
        assert page["report_sha256"] == report_sha
        assert page["plot_sha256"] == (image_sha or "(no plot: not clustered)")
        # In the UI a relative link would open an empty page: only web links and the inlined plot.
        shown = page["report"]
        assert not re.findall(r"\]\((?!https?:|data:)", shown), name
        if image_sha:
            assert "](data:image/png;base64," in shown


def test_the_command_line_runs_the_jobs_the_ui_shows(demo_build):
    _, instance, summary = demo_build
    runs = {run.run_id: run.job_name for run in instance.get_runs()}
    assert [runs[run_id] for run_id in summary.run_ids] == ["refresh_library", "playlist_reports"]


def test_choosing_one_of_a_playlists_report_files_writes_only_that_one(tmp_path):
    # The page, plot, report and lineage are one step, but each stays its own asset: a user who
    # materializes only the plot of a playlist gets a new plot and nothing else.
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="40")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    target, name, md, png = query(settings, """
        SELECT r.playlist_id, p.name, r.report_path, r.image_path
        FROM analytics.cluster_reports r JOIN raw.playlists p USING (playlist_id)
        WHERE r.image_path IS NOT NULL ORDER BY 1 LIMIT 1""")[0]
    lineage_before = query(settings, "SELECT * FROM analytics.cluster_reports ORDER BY playlist_id")
    (settings.reports / png).unlink()
    report_mtime = (settings.reports / md).stat().st_mtime_ns
    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.assets(["reports", "clusters_scatter"]),
        partition_key=partition_key(target, name),
        instance=instance,
        resources=resources_for(settings),
    )
    assert result.success
    written = {(e.asset_key.to_user_string(), e.partition) for e in result.get_asset_materialization_events()}
    assert written == {("reports/clusters_scatter", partition_key(target, name))}
    assert (settings.reports / png).is_file()
    assert (settings.reports / md).stat().st_mtime_ns == report_mtime
    assert query(settings, "SELECT * FROM analytics.cluster_reports ORDER BY playlist_id") == lineage_before


def test_the_report_alone_can_be_written_without_its_check(tmp_path):
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="40")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    target, name = query(settings, "SELECT playlist_id, name FROM raw.playlists ORDER BY 1 LIMIT 1")[0]
    overview = dg.AssetKey(["reports", "overview"])
    for selection, checks in ((dg.AssetSelection.assets(overview), 1),
                              (dg.AssetSelection.assets(overview).without_checks(), 0)):
        result = dg.materialize(ASSETS, selection=selection, partition_key=partition_key(target, name),
                                instance=instance, resources=resources_for(settings))
        assert result.success
        assert [e.asset_key for e in result.get_asset_materialization_events()] == [overview]
        assert len(result.get_asset_check_evaluations()) == checks


def test_a_report_with_a_broken_link_gets_no_lineage_row(tmp_path):
    # links_resolve is blocking: the report is written and its check fails, the run fails, and
    # neither the lineage row nor the index moves on to describe the broken report.
    settings = make_settings(tmp_path, demo_playlists="12", demo_tracks="40")
    instance = dg.DagsterInstance.ephemeral()
    materialize_everything(settings, echo=lambda _: None, instance=instance)
    target, name, page = query(settings, """
        SELECT r.playlist_id, p.name, r.features_page_path
        FROM analytics.cluster_reports r JOIN raw.playlists p USING (playlist_id)
        WHERE r.image_path IS NOT NULL ORDER BY 1 LIMIT 1""")[0]
    lineage_before = query(settings, "SELECT * FROM analytics.cluster_reports ORDER BY playlist_id")
    index_before = (settings.reports / "README.md").read_bytes()
    (settings.reports / page).unlink()  # the report links its Track Features page
    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.assets(["reports", "overview"], ["reports", "cluster_reports"], ["reports", "index"]),
        partition_key=partition_key(target, name),
        instance=instance,
        resources=resources_for(settings),
        raise_on_error=False,
    )
    assert not result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "links_resolve" and not check.passed
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [dg.AssetKey(["reports", "overview"])]
    assert query(settings, "SELECT * FROM analytics.cluster_reports ORDER BY playlist_id") == lineage_before
    assert (settings.reports / "README.md").read_bytes() == index_before
