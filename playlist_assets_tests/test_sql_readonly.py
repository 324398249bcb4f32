"""`playlist-assets sql` only reads the warehouse: no files written or read, no settings changed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from playlist_assets.runtime.cli import main


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse holding just enough for a query: three playlists (the command needs no more)."""
    path = tmp_path / "warehouse" / "playlists.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA raw")
        conn.execute("CREATE TABLE raw.playlists AS SELECT i AS playlist_id FROM range(3) t(i)")
    return path


def _sql(warehouse: Path, query: str) -> int:
    return main(["sql", query, "--warehouse", str(warehouse)])


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_a_plain_query_still_prints_its_rows(warehouse, capsys):
    assert _sql(warehouse, "SELECT count(*) AS playlists FROM raw.playlists") == 0
    out = capsys.readouterr().out
    assert "playlists" in out and "3" in out


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "COPY raw.playlists TO '{tmp}/out.parquet' (FORMAT parquet)",
        "EXPORT DATABASE '{tmp}/dump'",
        "ATTACH '{tmp}/other.duckdb' AS o (READ_ONLY FALSE)",
        "SET threads = 1",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SELECT * FROM read_csv('{tmp}/secret.csv')",
        "SELECT * FROM '{tmp}/secret.csv'",
        "DELETE FROM raw.playlists",
        "CREATE TABLE raw.extra AS SELECT 1 AS x",
    ],
)
def test_writes_settings_and_other_files_are_refused_in_one_sentence(warehouse, tmp_path, capsys, query):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    before = _files_under(tmp_path)

    assert _sql(warehouse, query.format(tmp=tmp_path)) == 1

    captured = capsys.readouterr()
    assert "hunter2" not in captured.out
    err = captured.err.strip()
    assert err.startswith("playlist-assets: refused ")
    assert "\n" not in err
    assert "only reads the warehouse" in err
    assert _files_under(tmp_path) == before


def test_the_refusal_names_the_statement(warehouse, tmp_path, capsys):
    assert _sql(warehouse, f"COPY (SELECT 1) TO '{tmp_path}/out.csv'") == 1
    assert "refused this COPY statement" in capsys.readouterr().err


def test_a_refused_copy_leaves_an_existing_file_as_it_was(warehouse, tmp_path, capsys):
    target = tmp_path / "README.md"
    target.write_text("# kept\n")
    assert _sql(warehouse, f"COPY (SELECT 'gone') TO '{target}' (HEADER false)") == 1
    assert target.read_text() == "# kept\n"


def test_a_refusal_leaves_the_next_command_unlocked(warehouse, tmp_path, capsys):
    """The lock is set on this command's own connection; the export that follows still writes."""
    assert _sql(warehouse, "SET threads = 1") == 1
    out = tmp_path / "parquet"
    assert main(["export", "--parquet", str(out), "--warehouse", str(warehouse)]) == 0


def test_several_statements_are_refused_before_any_runs(warehouse, tmp_path, capsys):
    target = tmp_path / "out.csv"
    query = f"SELECT 1; COPY (SELECT 1) TO '{target}'"
    assert _sql(warehouse, query) == 1
    err = capsys.readouterr().err.strip()
    assert err == "playlist-assets: playlist-assets sql runs one statement; got 2. Run them one at a time."
    assert not target.exists()


def test_an_empty_query_is_refused_in_one_sentence(warehouse, capsys):
    assert _sql(warehouse, "  -- nothing\n") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("playlist-assets: ") and "\n" not in err and "no statement" in err
