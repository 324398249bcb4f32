"""One bad file never costs the good ones (issue #16 item 6): a folder of Exportify files with a
foreign, a mis-scaled and a binary file lands the good ones and names each refused file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from playlist_assets.warehouse import quality
from playlist_assets.runtime.cli import EXIT_REFUSED_FILES, main
from playlist_assets.reports.markdown import REFUSED_TITLE, render_index
from playlist_assets.reports.model import IndexEntry, RefusedFile
from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.exportify import read_exportify

FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = ["Track URI", "Track Name", "Artist URI(s)", "Artist Name(s)", "Album Name", "Album Release Date",
          "Track Duration (ms)", "Danceability", "Energy", "Key", "Loudness", "Mode", "Speechiness",
          "Acousticness", "Instrumentalness", "Liveness", "Valence", "Tempo", "Time Signature"]


def tid(n: int) -> str:
    return f"T{n:021d}"


def exportify_rows(first: int, count: int, *, energy_scale: float = 1.0) -> list[list[str]]:
    """Tracks in two clear groups (calm acoustic / loud dance), so a playlist clusters."""
    rows = []
    for n in range(first, first + count):
        loud = n % 2
        energy = (0.85 if loud else 0.2) + (n % 5) * 0.02
        rows.append([
            f"spotify:track:{tid(n)}", f"Song {n}", f"spotify:artist:A{n:021d}", f"Artist {n}", f"Album {n}",
            f"{1990 + n % 30}", f"{180000 + 1000 * n}", f"{0.8 if loud else 0.3:.2f}", f"{energy * energy_scale:g}",
            f"{n % 12}", f"{-5 if loud else -18}", f"{n % 2}", "0.05", f"{0.1 if loud else 0.9}",
            f"{0.0 if loud else 0.6}", "0.1", f"{0.7 if loud else 0.2}", f"{125 if loud else 80}", "4",
        ])
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    lines = [",".join(f'"{c}"' for c in row) for row in [header, *rows]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mixed_folder(root: Path) -> Path:
    """2 good Exportify files, a bank statement, Energy on 0-100 and binary junk."""
    folder = root / "exports"
    folder.mkdir()
    write_csv(folder / "Road Trip.csv", HEADER, exportify_rows(0, 12))
    write_csv(folder / "Focus.csv", HEADER, exportify_rows(100, 12))
    write_csv(folder / "bank statement.csv", ["Date", "Description", "Amount", "Balance"],
              [["2025-01-02", "Coffee", "-3.20", "1200.00"], ["2025-01-03", "Salary", "2500.00", "3700.00"]])
    write_csv(folder / "energy percent.csv", HEADER, exportify_rows(200, 12, energy_scale=100))
    (folder / "junk.csv").write_bytes(bytes(range(256)) * 4)
    return folder


REFUSED = {
    # file -> what its one sentence must say: the column or problem, the value, what was expected.
    "bank statement.csv": ["is not an Exportify export", "'Date', 'Description', 'Amount', 'Balance'", "'Track URI'"],
    "energy percent.csv": ["'Energy'", "not numbers from 0 to 1", "e.g. '20'", "divided by 100"],
    "junk.csv": ["binary data", "remove it from the folder"],
}


def test_the_reader_keeps_the_good_files_and_lists_each_refused_one_with_its_reason(tmp_path):
    library = read_exportify(mixed_folder(tmp_path), fetched_at=FETCHED_AT)
    assert library.playlists["name"].to_list() == ["Focus", "Road Trip"]
    refused = dict(library.refused_files.select("file", "reason").iter_rows())
    assert sorted(refused) == sorted(REFUSED)
    for file, phrases in REFUSED.items():
        assert refused[file].startswith(f"{file} "), refused[file]
        for phrase in phrases:
            assert phrase in refused[file], (file, phrase, refused[file])
    assert library.refused_files["fetched_at"].to_list() == [FETCHED_AT] * 3
    # Nothing of a refused file is in the library, so the landing's own rules pass.
    assert library.tracks.height == 24 and library.audio_features["energy"].max() <= 1
    assert quality.landing_refusals(library.by_table()) == []


def test_feature_values_that_are_not_numbers_are_refused_and_undefined_is_missing(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "good.csv", HEADER, exportify_rows(0, 6))
    worded = exportify_rows(10, 6)
    worded[2][HEADER.index("Tempo")] = "fast"
    write_csv(folder / "worded.csv", HEADER, worded)
    missing = exportify_rows(20, 6)
    missing[0][HEADER.index("Valence")] = "undefined"
    write_csv(folder / "missing.csv", HEADER, missing)
    library = read_exportify(folder, fetched_at=FETCHED_AT)
    assert library.playlists["name"].to_list() == ["good", "missing"]
    (reason,) = library.refused_files["reason"].to_list()
    assert reason.startswith("worded.csv has 1 of 6 'Tempo' values that are not numbers from 0 to 300, e.g. 'fast'")


def test_a_folder_of_refused_files_and_a_refused_single_file_land_nothing(tmp_path):
    folder = mixed_folder(tmp_path)
    for good in ("Road Trip.csv", "Focus.csv"):
        (folder / good).unlink()
    with pytest.raises(SourceError) as raised:
        read_exportify(folder, fetched_at=FETCHED_AT)
    message = str(raised.value)
    assert message.startswith("No file in exports could be imported, so the library was left as it was: ")
    assert all(f"{file} " in message for file in REFUSED)
    with pytest.raises(SourceError, match=r"^energy percent\.csv has 12 of 12 'Energy' values"):
        read_exportify(folder / "energy percent.csv", fetched_at=FETCHED_AT)


def test_the_index_lists_refused_files_under_the_playlists():
    entry = IndexEntry(name="Focus", slug="focus", n_tracks=12, n_clustered=12, k=2, has_report=True)
    text = render_index([entry], [RefusedFile("junk_1.csv", "junk_1.csv holds binary data, not CSV text: remove it.")])
    assert "1 playlists, 1 with a report. 1 input file was not imported (listed below)." in text
    assert text.index("| [Focus](") < text.index(REFUSED_TITLE)
    assert "| junk\\_1.csv | junk\\_1.csv holds binary data, not CSV text: remove it. |" in text
    assert REFUSED_TITLE not in render_index([entry])


def test_the_command_imports_the_good_files_names_the_refused_ones_and_exits_non_zero(tmp_path, capsys):
    folder = mixed_folder(tmp_path)
    warehouse, reports = tmp_path / "warehouse" / "playlists.duckdb", tmp_path / "reports"
    summary_json = tmp_path / "summary.json"
    status = main([
        "materialize", "--source", "exportify", "--path", str(folder), "--warehouse", str(warehouse),
        "--reports", str(reports), "--dagster-home", str(tmp_path / "dagster_home"), "--workers", "1",
        "--summary-json", str(summary_json),
    ])
    out, err = capsys.readouterr()
    assert status == EXIT_REFUSED_FILES != 0
    assert "Traceback" not in out + err
    assert "Done in" in out  # the summary is still printed
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert [n for (n,) in conn.execute("SELECT name FROM raw.playlists ORDER BY name").fetchall()] == [
            "Focus", "Road Trip"]
        landed = dict(conn.execute("SELECT file, reason FROM raw.refused_files").fetchall())
        (worst,) = conn.execute("SELECT max(energy) FROM raw.audio_features").fetchone()
    assert worst <= 1
    index = (reports / "README.md").read_text(encoding="utf-8")
    assert "[Focus](" in index and "[Road Trip](" in index
    for file, phrases in REFUSED.items():
        reason = landed[file]
        assert reason.startswith(f"{file} ") and all(p in reason for p in phrases)
        # Named with its sentence in the command's output and in the index.
        assert reason in out + err
        assert file in index and phrases[0] in index
    assert json.loads(summary_json.read_text())["refused_files"] == [
        {"file": f, "reason": landed[f]} for f in sorted(landed)]
