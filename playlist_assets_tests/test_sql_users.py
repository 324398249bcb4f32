"""The warehouse as SQL users meet it: the README's queries, views, `sql` and `export`."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from playlist_assets.warehouse import tables
from playlist_assets.runtime.cli import main

README = Path(__file__).resolve().parents[1] / "warehouse" / "README.md"


def readme_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_every_readme_query_returns_rows_on_the_demo_warehouse(demo_build):
    settings, _, _ = demo_build
    queries = readme_queries()
    assert len(queries) >= 6
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        for sql in queries:
            assert conn.execute(sql).fetchall(), f"no rows from:\n{sql}"


def test_readme_documents_every_table_and_column():
    text = README.read_text(encoding="utf-8")
    for table in tables.ALL_TABLES:
        section = text.split(f"### `{table.qualified_name}`", 1)
        assert len(section) == 2, f"{table.qualified_name} is not documented"
        body = section[1].split("\n### ", 1)[0]
        for column in table.columns:
            assert f"| `{column.name}` |" in body, f"{table.qualified_name}.{column.name} is not documented"


def test_sql_command_prints_a_table(demo_build, capsys):
    settings, _, _ = demo_build
    code = main(["sql", "SELECT count(*) AS playlists FROM raw.playlists", "--warehouse", str(settings.warehouse)])
    assert code == 0
    assert "playlists" in capsys.readouterr().out


def test_sql_command_refuses_to_write(demo_build, capsys):
    settings, _, _ = demo_build
    code = main(["sql", "DELETE FROM raw.playlists", "--warehouse", str(settings.warehouse)])
    assert code == 1
    assert "read-only" in capsys.readouterr().err.lower()
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw.playlists").fetchall()[0][0] > 0


def test_sql_command_without_a_warehouse_says_how_to_make_one(tmp_path, capsys):
    assert main(["sql", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
    assert "make demo" in capsys.readouterr().err


def test_parquet_export_round_trips_rows_and_keys(demo_build, tmp_path, capsys):
    settings, _, _ = demo_build
    out = tmp_path / "parquet"
    assert main(["export", "--parquet", str(out), "--warehouse", str(settings.warehouse)]) == 0
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        for table in tables.ALL_TABLES:
            keys = ", ".join(table.primary_key)
            if table.partition_column:
                source = f"read_parquet('{out}/{table.schema}/{table.name}/**/*.parquet', hive_partitioning = true)"
            else:
                source = f"read_parquet('{out}/{table.schema}/{table.name}.parquet')"
            original = conn.execute(f"SELECT {keys} FROM {table.qualified_name} ORDER BY {keys}").fetchall()
            exported = conn.execute(f"SELECT {keys} FROM {source} ORDER BY {keys}").fetchall()
            assert exported == original, table.qualified_name
