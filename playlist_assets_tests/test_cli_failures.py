"""A warehouse file the command cannot use: one sentence naming it, a non-zero exit, no hang,
and the file left exactly as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

# Long enough for a slow machine, short enough that a hang fails the test instead of CI.
HANG_GUARD_S = 120


def cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PLAYLIST_ASSETS_", "DAGSTER_"))}


def materialize(warehouse: Path, tmp_path: Path, env: dict[str, str] | None = None, prefix=()):
    return subprocess.run(
        [*prefix, sys.executable, "-m", "playlist_assets.runtime.cli", "materialize", "--demo-playlists", "3",
         "--warehouse", str(warehouse), "--reports", str(tmp_path / "reports"),
         "--dagster-home", str(tmp_path / "dagster")],
        env=env or cli_env(), capture_output=True, text=True, timeout=HANG_GUARD_S,
    )


def a_real_warehouse(path: Path) -> bytes:
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS i, 'x' || range AS s FROM range(200000)")
    return path.read_bytes()


def assert_refused(done: subprocess.CompletedProcess, warehouse: Path, *phrases: str) -> None:
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("playlist-assets: The warehouse "), done.stderr[-3000:]
    assert str(warehouse) in lines[0]
    for phrase in phrases:
        assert phrase in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "content, phrase",
    [(b"", "is not a DuckDB database"), (b"not a database\n" * 400, "is not a DuckDB database")],
    ids=["empty", "garbage"],
)
def test_a_file_that_is_not_duckdb_is_refused_and_kept(tmp_path, content, phrase):
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(content)
    done = materialize(warehouse, tmp_path)
    assert_refused(done, warehouse, phrase, "move it aside")
    assert warehouse.read_bytes() == content
    assert not (tmp_path / "reports").exists()


def test_a_truncated_warehouse_is_named_truncated_not_an_aborted_transaction(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    whole = a_real_warehouse(warehouse)
    warehouse.write_bytes(whole[: len(whole) // 2])
    done = materialize(warehouse, tmp_path)
    assert_refused(done, warehouse, "is truncated or damaged")
    assert "transaction" not in done.stderr.lower()
    assert warehouse.read_bytes() == whole[: len(whole) // 2]


HOLD_THE_LOCK = textwrap.dedent("""
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def test_a_warehouse_held_by_another_writer_fails_after_the_wait_with_one_sentence(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    whole = a_real_warehouse(warehouse)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(warehouse), "90"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = materialize(warehouse, tmp_path, env={**cli_env(), "PLAYLIST_ASSETS_LOCK_WAIT_S": "1"})
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "is locked by another process" in last and "PLAYLIST_ASSETS_LOCK_WAIT_S (now 1 s)" in last
    assert "Traceback" not in done.stdout + done.stderr
    assert warehouse.read_bytes() == whole


def read_only_mount_or_skip(folder: Path) -> list[str]:
    """A command prefix that runs the CLI with `folder` mounted read-only (needs root and unshare)."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("a read-only mount needs root and unshare(1)")
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
    prefix = [unshare, "-m", "sh", "-c", script, "sh"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount read-only here: {probe.stderr.strip()}")
    return prefix


def test_a_warehouse_on_a_read_only_mount_is_refused_at_once(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    warehouse = folder / "w.duckdb"
    whole = a_real_warehouse(warehouse)
    done = materialize(warehouse, tmp_path, prefix=read_only_mount_or_skip(folder))
    assert_refused(done, warehouse, "is on a read-only file system")
    assert warehouse.read_bytes() == whole


def test_the_sql_command_names_a_file_that_is_not_duckdb(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "playlist_assets.runtime.cli", "sql", "--warehouse", str(warehouse), "SELECT 1"],
        env=cli_env(), capture_output=True, text=True, timeout=HANG_GUARD_S,
    )
    assert_refused(done, warehouse, "is not a DuckDB database")
