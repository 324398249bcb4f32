"""Warehouse writes: primary keys, all-or-nothing replacement, partitions, schema upgrades."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from playlist_assets.warehouse import database, tables
from playlist_assets.warehouse.tables import Column, Table

PLAIN = Table("raw", "things", "test table", (Column("id", pl.String, "key", False), Column("n", pl.Int32, "n")), ("id",))
PARTED = Table(
    "analytics", "parted", "test table",
    (Column("playlist_id", pl.String, "p", False), Column("track_id", pl.String, "t", False), Column("v", pl.Float64, "v")),
    ("playlist_id", "track_id"),
    partition_column="playlist_id",
)


def frame(**cols):
    return pl.DataFrame(cols)


def rows(conn, table):
    return conn.execute(f"SELECT * FROM {table.qualified_name} ORDER BY ALL").fetchall()


def test_replace_tables_is_all_or_nothing(tmp_path):
    with database.connect(tmp_path / "w.duckdb") as conn:
        database.replace_tables(conn, {PLAIN: frame(id=["a", "b"], n=[1, 2])})
        duplicate_keys = frame(playlist_id=["p", "p"], track_id=["t", "t"], v=[1.0, 2.0])
        with pytest.raises(duckdb.ConstraintException):
            database.replace_tables(conn, {PLAIN: frame(id=["c"], n=[3]), PARTED: duplicate_keys})
        assert rows(conn, PLAIN) == [("a", 1), ("b", 2)]


def test_replace_partitions_touches_only_the_named_playlists(tmp_path):
    with database.connect(tmp_path / "w.duckdb") as conn:
        first = frame(playlist_id=["p1", "p1", "p2"], track_id=["a", "b", "a"], v=[1.0, 2.0, 3.0])
        database.replace_partitions(conn, {PARTED: first}, ["p1", "p2"])
        database.replace_partitions(conn, {PARTED: frame(playlist_id=["p1"], track_id=["c"], v=[9.0])}, ["p1"])
        assert rows(conn, PARTED) == [("p1", "c", 9.0), ("p2", "a", 3.0)]
        # A playlist in the run with no rows any more loses its old rows, and only those.
        database.replace_partitions(conn, {PARTED: first.clear()}, ["p2"])
        assert rows(conn, PARTED) == [("p1", "c", 9.0)]


def test_rows_are_inserted_by_name_whatever_the_frame_column_order(tmp_path):
    with database.connect(tmp_path / "w.duckdb") as conn:
        database.replace_tables(conn, {PLAIN: pl.DataFrame({"n": [5], "id": ["x"]})})
        assert rows(conn, PLAIN) == [("x", 5)]


def test_an_older_table_is_upgraded_keeping_its_rows(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.things (n INTEGER, id VARCHAR, old_col VARCHAR)")
        conn.execute("INSERT INTO raw.things VALUES (1, 'a', 'x'), (2, 'b', 'y')")
    messages = []
    with database.connect(path) as conn:
        database.ensure_table(conn, PLAIN, log=messages.append)
        assert rows(conn, PLAIN) == [("a", 1), ("b", 2)]
        assert [c for c in database.existing_columns(conn, PLAIN)] == ["id", "n"]
    assert messages and "raw.things" in messages[0] and "old_col" in messages[0]


def test_a_locked_warehouse_gives_one_clear_sentence(tmp_path):
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            c = duckdb.connect({str(path)!r}); print('held', flush=True); sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(database.WarehouseBusyError, match="PLAYLIST_ASSETS_LOCK_WAIT_S"):
            with database.connect(path, wait_s=0.3):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_ddl_covers_every_contract_table():
    for table in [*tables.RAW_TABLES, tables.FEATURES_TRACK_FEATURES, tables.ANALYTICS_CLUSTER_REPORTS]:
        sql = database.create_table_sql(table)
        assert f"PRIMARY KEY ({', '.join(table.primary_key)})" in sql


# A table with every kind of column a raw table has, nullable values and a composite key.
MIXED = Table(
    "raw", "mixed", "test table",
    (
        Column("k", pl.String, "key", False),
        Column("pos", pl.Int32, "key", False),
        Column("s", pl.String, "s"),
        Column("x", pl.Float64, "x"),
        Column("flag", pl.Boolean, "flag"),
        Column("tags", pl.List(pl.String), "tags"),
        Column("added_at", pl.Datetime("us", "UTC"), "added_at"),
    ),
    ("k", "pos"),
)


def mixed(rows_):
    return pl.DataFrame(rows_, schema=MIXED.polars_schema, orient="row")


def exact_rows(conn, table):
    """Every row, floats as text: -0.0 differs from 0.0, and NaN equals NaN."""
    floats = ", ".join(f"{c.name}::VARCHAR AS {c.name}" for c in table.columns if c.dtype.is_float())
    return conn.execute(f"SELECT * REPLACE ({floats}) FROM {table.qualified_name} ORDER BY ALL").fetchall()


def test_a_landing_over_stored_rows_ends_exactly_as_a_full_replace(tmp_path):
    from datetime import datetime, timezone

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    before = mixed([
        ("a", 0, "same", 1.0, True, ["x"], t0),
        ("a", 1, None, None, None, None, None),        # unchanged, all nulls
        ("b", 0, "gone", 2.0, False, [], t0),          # removed
        ("c", 0, "was", 0.0, True, ["x", None], t0),   # -0.0 next time
        ("c", 1, "was", 3.0, None, ["x"], None),       # a value becomes null
        ("d", 0, None, float("nan"), None, [None], t0),  # NaN stays NaN
        ("e", 0, "tags", 1.0, True, ["x"], t0),        # list changes
    ])
    after = mixed([
        ("e", 0, "tags", 1.0, True, ["x", "y"], t0),
        ("a", 1, None, None, None, None, None),
        ("c", 1, "was", None, None, ["x"], None),
        ("a", 0, "same", 1.0, True, ["x"], t0),
        ("d", 0, None, float("nan"), None, [None], t0),
        ("c", 0, "was", -0.0, True, ["x", None], t0),
        ("f", 0, "new", 5.0, False, None, t0),          # added
    ])
    with database.connect(tmp_path / "diff.duckdb") as diffed, database.connect(tmp_path / "full.duckdb") as full:
        database.replace_tables(diffed, {MIXED: before})
        database.replace_tables(diffed, {MIXED: after})
        database.replace_tables(full, {MIXED: after})  # an empty table: the frame goes in whole
        assert exact_rows(diffed, MIXED) == exact_rows(full, MIXED)
        assert len(exact_rows(diffed, MIXED)) == after.height
        # Nothing changed: nothing is written, and the rows stay.
        database.replace_tables(diffed, {MIXED: after})
        assert exact_rows(diffed, MIXED) == exact_rows(full, MIXED)
        # Everything gone.
        database.replace_tables(diffed, {MIXED: after.clear()})
        assert exact_rows(diffed, MIXED) == []


def test_a_landing_over_stored_rows_is_still_all_or_nothing(tmp_path):
    first = frame(id=["a", "b"], n=[1, 2])
    with database.connect(tmp_path / "w.duckdb") as conn:
        database.replace_tables(conn, {PLAIN: first, MIXED: mixed([("a", 0, "s", 1.0, True, [], None)])})
        bad_inputs = [
            # A repeated key, once with the stored values: a full replace rejects both.
            mixed([("a", 0, "s", 1.0, True, [], None), ("a", 0, "s", 1.0, True, [], None)]),
            mixed([("a", 0, "s", 1.0, True, [], None), ("a", 0, "other", 1.0, True, [], None)]),
            mixed([("a", 0, "s", 1.0, True, [], None), (None, 1, "no key", 1.0, True, [], None)]),
        ]
        for bad in bad_inputs:
            with pytest.raises(duckdb.ConstraintException):
                database.replace_tables(conn, {PLAIN: frame(id=["a", "c"], n=[1, 3]), MIXED: bad})
            assert rows(conn, PLAIN) == [("a", 1), ("b", 2)]
            assert rows(conn, MIXED) == [("a", 0, "s", 1.0, True, [], None)]


def test_a_healthy_file_with_free_blocks_is_accepted_and_a_cut_one_still_refused(tmp_path):
    # A large table dropped and checkpointed: DuckDB cuts the free blocks off the end of the
    # file but still counts them in total_blocks, so the file is shorter than
    # block_size * total_blocks while every used block is in it (the UI-run false refusal).
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE keep AS SELECT range AS i, 'x' || range AS s FROM range(200000)")
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(1000000)")
    with duckdb.connect(str(path)) as conn:
        conn.execute("DROP TABLE big")
        conn.execute("CHECKPOINT")
    with duckdb.connect(str(path)) as conn:
        block_size, total, used, free = conn.execute(
            "SELECT block_size, total_blocks, used_blocks, free_blocks FROM pragma_database_size()"
        ).fetchone()
        assert conn.execute("SELECT count(*) FROM keep").fetchone() == (200000,)
    whole = path.read_bytes()
    assert free > 0 and len(whole) < block_size * total  # the condition that was refused

    database.check_usable(path)  # healthy: accepted
    assert path.read_bytes() == whole

    cut = whole[: len(whole) // 2]  # cut in the middle of used data
    assert len(cut) < block_size * used
    path.write_bytes(cut)
    with pytest.raises(database.WarehouseUnusableError) as refused:
        database.check_usable(path)
    assert str(refused.value) == (
        f"The warehouse {path} is truncated or damaged (DuckDB could not read all of it): "
        "move it aside (or delete it) and run again to build it anew from your library, "
        "or pass --warehouse another path."
    )
    assert path.read_bytes() == cut
