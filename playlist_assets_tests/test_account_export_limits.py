"""An account export's files are read only up to a size: a huge one is refused, not loaded whole."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playlist_assets.ingest.sources import account_export
from playlist_assets.ingest.sources.account_export import read_account_export
from playlist_assets.ingest.sources.errors import SourceError

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "account_export_2025_Playlist1.json"
FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)
MEMBER = "Spotify Account Data/Playlist1.json"


def playlist_document(n_items: int) -> bytes:
    items = [
        {"track": {"trackName": f"Song {n}", "artistName": "Ann", "albumName": "Alb",
                   "trackUri": f"spotify:track:{n:022d}"},
         "episode": None, "localTrack": None, "addedDate": "2024-05-01"}
        for n in range(n_items)
    ]
    return json.dumps({"playlists": [{"name": "Road", "items": items}]}).encode()


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def claim_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size the zip's central directory gives for `member`."""
    data = bytearray(path.read_bytes())
    entry, start = -1, 0
    while (found := data.find(b"PK\x01\x02", start)) != -1:
        name_length = struct.unpack_from("<H", data, found + 28)[0]
        if data[found + 46 : found + 46 + name_length].decode() == member:
            entry = found
            break
        start = found + 4
    assert entry != -1, f"{member} not in {path}"
    struct.pack_into("<I", data, entry + 24, size)
    path.write_bytes(bytes(data))


def test_a_member_whose_header_claims_a_gigabyte_is_refused_unread(tmp_path):
    archive = write_zip(tmp_path / "my_spotify_data.zip", {MEMBER: playlist_document(3)})
    claim_size(archive, MEMBER, 1024**3)
    assert zipfile.ZipFile(archive).getinfo(MEMBER).file_size == 1024**3
    with pytest.raises(SourceError) as refused:
        read_account_export(archive, fetched_at=FETCHED_AT)
    assert str(refused.value) == (
        "Spotify Account Data/Playlist1.json in my_spotify_data.zip is 1.0 GiB; members larger than 256 MiB "
        "are not read, so remove it from the zip (Spotify's own files are far smaller)."
    )


def test_a_member_past_the_limit_is_refused_naming_it_and_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(account_export, "MAX_FILE_BYTES", 1024)
    document = playlist_document(20)
    archive = write_zip(tmp_path / "export.zip", {MEMBER: document})
    with pytest.raises(SourceError, match=r"^Spotify Account Data/Playlist1\.json in export\.zip is \d\.\d KiB; "
                                          r"members larger than 1 KiB are not read"):
        read_account_export(archive, fetched_at=FETCHED_AT)


def test_a_member_that_understates_its_size_is_not_read_past_it(tmp_path):
    """zipfile stops at the declared size; the copy then fails its checksum: still one sentence."""
    archive = write_zip(tmp_path / "export.zip", {MEMBER: playlist_document(20)})
    claim_size(archive, MEMBER, 100)
    with pytest.raises(SourceError, match=r"^export\.zip is neither a folder nor a readable zip"):
        read_account_export(archive, fetched_at=FETCHED_AT)


def test_a_stream_yielding_more_than_it_declared_is_cut_at_the_limit(monkeypatch):
    monkeypatch.setattr(account_export, "MAX_FILE_BYTES", 1024)

    def too_large(size: str) -> SourceError:
        return SourceError(f"it is {size}")

    with pytest.raises(SourceError, match="^it is larger than 1 KiB$"):
        account_export._read_bounded(io.BytesIO(bytes(4096)), 10, too_large)
    assert account_export._read_bounded(io.BytesIO(bytes(1024)), 10, too_large) == bytes(1024)


def test_a_folder_file_past_the_limit_is_refused_too(tmp_path, monkeypatch):
    monkeypatch.setattr(account_export, "MAX_FILE_BYTES", 1024)
    folder = tmp_path / "Spotify Account Data"
    folder.mkdir()
    (folder / "Playlist1.json").write_bytes(playlist_document(1))
    (folder / "YourLibrary.json").write_bytes(json.dumps({"tracks": [{"uri": "x" * 3000}]}).encode())
    with pytest.raises(SourceError, match=r"YourLibrary\.json is \d\.\d KiB; files larger than 1 KiB are not read, "
                                          r"so remove it from the export"):
        read_account_export(folder, fetched_at=FETCHED_AT)


def test_a_json_file_given_directly_is_capped_too(tmp_path, monkeypatch):
    monkeypatch.setattr(account_export, "MAX_FILE_BYTES", 1024)
    file = tmp_path / "Playlist1.json"
    file.write_bytes(playlist_document(20))
    with pytest.raises(SourceError, match=r"Playlist1\.json is \d\.\d KiB; files larger than 1 KiB"):
        read_account_export(file, fetched_at=FETCHED_AT)


def test_an_export_within_the_limit_reads_from_the_zip_and_the_folder(tmp_path):
    document = SAMPLE.read_bytes() if SAMPLE.is_file() else playlist_document(50)
    archive = write_zip(tmp_path / "my_spotify_data.zip", {MEMBER: document})
    folder = tmp_path / "Spotify Account Data"
    folder.mkdir()
    (folder / "Playlist1.json").write_bytes(document)
    from_zip = read_account_export(archive, fetched_at=FETCHED_AT)
    from_folder = read_account_export(folder, fetched_at=FETCHED_AT)
    n_items = sum(len(p["items"]) for p in json.loads(document)["playlists"])
    assert from_zip.playlist_tracks.height == from_folder.playlist_tracks.height == n_items > 0
