"""End to end: the real `dagster dev`, the graph launched over GraphQL, and the UI in Chromium.

One `dagster dev` serves the whole module (starting it and building the graph is most of the
time): the graph is built the way the README tells a person to do it in the UI, in three
steps, because playlist partitions only exist once the raw landing has run:
1. a run of the `raw` and `features` groups; 2. a backfill of every playlist partition of the
partitioned assets (one run: they have BackfillPolicy.single_run); 3. the unpartitioned
assets downstream of them (reports/index, reports/sql_views). The sensor that would build new
playlists by itself is turned off first, so that these three launches are the only runs.
Then Chromium opens the asset graph and one report's partition page.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from playlist_assets.partitions import partition_key
from playlist_assets.runtime.instance import prepare_instance_folder
from playlist_assets_tests.e2e_support import (
    REPO_ROOT,
    AssetNode,
    DagsterDev,
    all_runs,
    asset_nodes,
    launch_all_partitions_backfill,
    launch_asset_run,
    start_dagster_dev,
    stop_running_sensors,
    wait_for_backfill,
    wait_for_run,
    wait_until_ready,
    chromium_or_skip,
    chromium_page,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

# Above the size where per-playlist steps start worker processes (parallel.MIN_ITEMS_PER_WORKER
# per worker, two workers): a step that used workers must still end, and its run with it.
# Small playlists keep it quick; the demo still has unclustered ones among them.
DEMO_PLAYLISTS = 100
DEMO_TRACKS = 25
WORKERS = 2
MIN_TRACKS_TO_CLUSTER = 6  # README: "with fewer than 6 tracks in all it is not clustered"
FIRST_GROUPS = {"raw", "features"}



@dataclass
class E2EEnvironment:
    server: DagsterDev
    warehouse: Path
    reports: Path
    dagster_home: Path


@dataclass
class BuiltGraph:
    env: E2EEnvironment
    nodes: list[AssetNode]
    run_ids: list[str]
    backfill_id: str
    backfill_partitions: int | None
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def e2e_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EEnvironment]:
    """A `dagster dev` on a fresh instance, warehouse and reports folder; always stopped after."""
    root = tmp_path_factory.mktemp("e2e")
    dagster_home = root / "dagster_home"
    # prepare_instance_folder also points this process's DAGSTER_HOME at the folder: undo that,
    # so the tests that run after these do not find our instance.
    previous_home = os.environ.get("DAGSTER_HOME")
    try:
        prepare_instance_folder(dagster_home)
    finally:
        if previous_home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous_home
    warehouse = root / "warehouse" / "playlists.duckdb"
    reports = root / "reports"
    # A developer's own settings (a Spotify source, another DAGSTER_HOME) must not leak in:
    # every other setting takes its offline default.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYLIST_ASSETS_", "DAGSTER_"))}
    env = {
        **inherited,
        "DAGSTER_HOME": str(dagster_home),
        "PLAYLIST_ASSETS_WAREHOUSE": str(warehouse),
        "PLAYLIST_ASSETS_REPORTS": str(reports),
        "PLAYLIST_ASSETS_SOURCE": "demo",
        "PLAYLIST_ASSETS_DEMO_PLAYLISTS": str(DEMO_PLAYLISTS),
        "PLAYLIST_ASSETS_DEMO_TRACKS": str(DEMO_TRACKS),
        "PLAYLIST_ASSETS_WORKERS": str(WORKERS),
    }
    server = start_dagster_dev(REPO_ROOT / "workspace.yaml", root / "dagster_dev.log", env)
    try:
        wait_until_ready(server, timeout_s=120)
        yield E2EEnvironment(server, warehouse, reports, dagster_home)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def built_graph(e2e_env: E2EEnvironment) -> BuiltGraph:
    """The whole graph, every playlist, launched over GraphQL as a person would from the UI."""
    server = e2e_env.server
    # The sensor that follows the library would request a run per new playlist as soon as raw
    # lands, racing the backfill for the same partitions (and the one-writer pool): this test
    # is about the steps a person takes by hand, so it is off, as a person can turn it off.
    stop_running_sensors(server)
    # What the UI offers to materialize. The raw + features run records the playlist snapshots
    # too; the backfill records them again, being asked for them.
    nodes = [n for n in asset_nodes(server) if n.materializable]
    first = [n.path for n in nodes if n.group in FIRST_GROUPS and not n.partitioned]
    partitioned = [n.path for n in nodes if n.partitioned]
    last = [n.path for n in nodes if not n.partitioned and n.group not in FIRST_GROUPS]
    seconds: dict[str, float] = {}

    started = time.monotonic()
    first_run = launch_asset_run(server, first)
    wait_for_run(server, first_run, timeout_s=180)
    seconds["raw + features run"] = time.monotonic() - started

    started = time.monotonic()
    backfill_id = launch_all_partitions_backfill(server, partitioned)
    # The daemon looks at backfills every 30 s: up to a minute of this is waiting for its ticks.
    backfill = wait_for_backfill(server, backfill_id, timeout_s=300)
    seconds["partition backfill"] = time.monotonic() - started

    started = time.monotonic()
    last_run = launch_asset_run(server, last)
    wait_for_run(server, last_run, timeout_s=180)
    seconds["index + views run"] = time.monotonic() - started

    return BuiltGraph(
        env=e2e_env,
        nodes=nodes,
        run_ids=[first_run, *backfill.run_ids, last_run],
        backfill_id=backfill_id,
        backfill_partitions=backfill.num_partitions,
        seconds=seconds,
    )


def query(warehouse: Path, sql: str) -> list[tuple]:
    # Read-only and closed at once: the server's runs are the warehouse's only writers.
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_graph_is_split_into_the_three_launches_the_readme_describes(built_graph: BuiltGraph) -> None:
    keys = {"/".join(n.path): n for n in built_graph.nodes}
    assert {k for k, n in keys.items() if n.partitioned} == {
        "features/playlist_snapshots",
        "analytics/playlist_clusters",
        "analytics/clusters",
        "analytics/playlist_clusterings",
        "analytics/unclustered_entries",
        "reports/clusters_scatter",
        "reports/overview",
        "reports/track_features_page",
        "reports/cluster_reports",
    }
    assert {k for k, n in keys.items() if not n.partitioned and n.group not in FIRST_GROUPS} == {
        "reports/index",
        "reports/sql_views",
    }
    # single_run backfill policy: every partition of every partitioned asset in one run.
    assert built_graph.backfill_partitions == DEMO_PLAYLISTS
    assert len(built_graph.run_ids) == 3, built_graph.run_ids
    # Nothing else ran beside them (a sensor or automation would show up here).
    runs = all_runs(built_graph.env.server)
    assert {r["runId"] for r in runs} == set(built_graph.run_ids), runs
    assert {r["status"] for r in runs} == {"SUCCESS"}, runs
    print("e2e stage durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in built_graph.seconds.items()))


def test_warehouse_and_report_files_of_every_playlist(built_graph: BuiltGraph) -> None:
    warehouse, reports = built_graph.env.warehouse, built_graph.env.reports
    playlists = query(warehouse, "SELECT count(*) FROM raw.playlists")[0][0]
    assert playlists == DEMO_PLAYLISTS

    rows = query(
        warehouse,
        """SELECT p.playlist_id, p.name, c.clustered, c.n_tracks, r.report_path, r.image_path
           FROM raw.playlists p
           JOIN analytics.playlist_clusterings c USING (playlist_id)
           LEFT JOIN analytics.cluster_reports r USING (playlist_id)""",
    )
    assert len(rows) == DEMO_PLAYLISTS, "every playlist has a clustering row"
    clustered = [r for r in rows if r[2]]
    # The demo library has small and empty playlists on purpose: both cases must be seen here.
    assert 0 < len(clustered) < DEMO_PLAYLISTS
    for pid, name, is_clustered, n_tracks, report_path, image_path in rows:
        assert report_path, f"{name!r} ({pid}) has no row in analytics.cluster_reports"
        assert (reports / report_path).is_file(), report_path
        assert bool(is_clustered) == (n_tracks >= MIN_TRACKS_TO_CLUSTER), (name, n_tracks)
        if is_clustered:
            text = (reports / report_path).read_text(encoding="utf-8")
            assert text.startswith("# Clusters in "), report_path
            png = (reports / image_path).read_bytes()
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000, image_path
        else:
            assert image_path is None, f"{name!r} is not clustered but has a plot"

    index = (reports / "README.md").read_text(encoding="utf-8")
    for _, _, _, _, report_path, _ in clustered:
        assert report_path in index, f"the index does not link {report_path}"
    views = query(warehouse, "SELECT count(*) FROM information_schema.views WHERE table_schema = 'analytics'")
    assert views[0][0] >= 1


# --- the UI in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium_executable() -> str:
    return chromium_or_skip()


@pytest.fixture
def page(chromium_executable: str, built_graph: BuiltGraph, tmp_path: Path) -> Iterator[Page]:
    # The UI greets a fresh instance on localhost with a newsletter dialog over the page; mark it
    # seen the way the dialog's own "Skip" does, so screenshots show the page.
    built_graph.env.server.graphql("mutation { setNuxSeen }")
    with chromium_page(tmp_path / "chromium-profile", chromium_executable) as page:
        yield page


def expand_all_groups(page: Page, shown_when_expanded: str, attempts: int = 3) -> None:
    """Unfold the graph's asset groups (large graphs open folded) with the page's own Alt+E.

    The key does nothing until the graph has mounted, and it toggles: so press it only while
    the asset is not shown, and give each press time to lay the graph out before the next.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # The toolbar above the graph comes with the graph, and with it the shortcut.
    page.get_by_role("button", name=re.compile(r"Materialize all")).wait_for()
    asset = page.get_by_text(shown_when_expanded, exact=True).first
    for _ in range(attempts):
        if asset.is_visible():
            return
        page.keyboard.press("Alt+e")
        try:
            asset.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"{shown_when_expanded!r} never appeared in the asset graph after {attempts} tries")


@pytest.mark.usefixtures("chromium_executable")  # first, so a missing browser skips before the build
def test_asset_graph_page_shows_every_stage(page: Page, built_graph: BuiltGraph, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1800, "height": 1000})
    page.goto(f"{built_graph.env.server.url}/asset-groups")
    try:
        page.get_by_text("Global asset lineage").wait_for()
        # Collapsed, the groups read left to right as the data flows (the tree beside the graph
        # names them too: the graph's own box of each name is the rightmost).
        lefts = {}
        for group in ("raw", "features", "analytics", "reports"):
            page.get_by_text(group, exact=True).first.wait_for()
            boxes = [b for b in (e.bounding_box() for e in page.get_by_text(group, exact=True).all()) if b]
            lefts[group] = max(b["x"] for b in boxes)
        assert sorted(lefts, key=lefts.get) == ["raw", "features", "analytics", "reports"], lefts
        # Expanded, the graph is larger than the window and the UI draws only what is in view:
        # nodes of three stages there, named in full.
        expand_all_groups(page, shown_when_expanded="playlist_snapshots")
        for name in ("playlists", "clusters", "clusters_scatter", "cluster_reports", "sql_views"):
            page.get_by_text(name, exact=True).first.wait_for()
    finally:
        page.screenshot(path=str(tmp_path / "asset_graph.png"))


@pytest.mark.usefixtures("chromium_executable")
def test_report_partition_page_shows_the_rendered_report(page: Page, built_graph: BuiltGraph, tmp_path: Path) -> None:
    # A playlist whose name reads the same in Markdown and on the page, and is not shared.
    names = query(
        built_graph.env.warehouse,
        """SELECT p.playlist_id, p.name FROM raw.playlists p
           JOIN analytics.playlist_clusterings c USING (playlist_id) WHERE c.clustered
           AND p.name IN (SELECT name FROM raw.playlists GROUP BY name HAVING count(*) = 1)
           ORDER BY p.playlist_id""",
    )
    plain = [(pid, name) for pid, name in names if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ]*", name)]
    assert plain, f"no clustered playlist with a plain, unique name among {names}"
    playlist_id, name = plain[0]
    partition = partition_key(playlist_id, name)

    page.goto(f"{built_graph.env.server.url}/assets/reports/overview?view=partitions&partition={partition}")
    try:
        # The report is Markdown metadata of the partition's materialization, opened from its row.
        page.get_by_text("Show Markdown").first.click()
        page.get_by_role("heading", name=f"Clusters in {name}", exact=True).wait_for()
        page.get_by_role("heading", name="Cluster #1", exact=True).wait_for()
    finally:
        page.screenshot(path=str(tmp_path / "report_partition.png"))


@pytest.mark.usefixtures("chromium_executable")
def test_a_playlist_is_found_by_typing_part_of_its_name_in_the_partition_filter(
    page: Page, built_graph: BuiltGraph, tmp_path: Path
) -> None:
    names = query(built_graph.env.warehouse, "SELECT playlist_id, name FROM raw.playlists ORDER BY playlist_id")
    # Typed as the name reads in the reports: capitals, a space, or another script.
    two_words = next((pid, n) for pid, n in names if re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n))
    japanese = next((pid, n) for pid, n in names if re.search(r"[\u3040-\u30ff]", n))
    page.goto(f"{built_graph.env.server.url}/assets/reports/overview?view=partitions")
    try:
        for (playlist_id, name), typed in ((two_words, two_words[1].lower()), (japanese, japanese[1])):
            wanted = partition_key(playlist_id, name)
            others = [partition_key(pid, n) for pid, n in names if typed.lower() not in partition_key(pid, n).lower()]
            page.get_by_placeholder("Filter by name…").fill(typed)
            # Long keys are shown cut in the middle; the whole key is in the list's own markup.
            page.get_by_text(wanted, exact=True).first.wait_for(state="attached")
            assert not [key for key in others if page.get_by_text(key, exact=True).count()], typed
    finally:
        page.screenshot(path=str(tmp_path / "partition_filter.png"))
