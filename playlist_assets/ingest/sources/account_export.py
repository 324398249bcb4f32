"""Spotify's "Download your data" account export (folder or zip) -> the raw tables of a library.

The Score (raw.listening): score = play_count + ms_played // 60000, where play_count counts the
plays of at least 30 seconds and ms_played sums every play of the track.

Playlist items carry only names and a URI: the track id comes from the URI (the API source can
fill in details later), artists and albums get ids derived from their names so the names are
kept. YourLibrary.json `tracks` are the liked tracks. The extended streaming history
(Streaming_History_Audio_*.json, endsong_*.json) has URIs and covers the whole account, so when
present the basic one (StreamingHistory*_music_*.json, last year, names only, matched to known
tracks by artist and title, unmatched plays dropped) is ignored rather than counted twice.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote_plus

import polars as pl

from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.library import RawLibrary

SOURCE = "account-export"
MIN_COUNTED_PLAY_MS = 30_000

_PLAYLIST_FILE = re.compile(r"^Playlists?(\d+)\.json$", re.IGNORECASE)
_LIBRARY_FILE = re.compile(r"^YourLibrary\.json$", re.IGNORECASE)
_BASIC_HISTORY_FILE = re.compile(r"^StreamingHistory(?:_music)?_?(\d+)\.json$", re.IGNORECASE)
_EXTENDED_HISTORY_FILE = re.compile(r"^(?:Streaming_History_Audio_.*|endsong_\d+)\.json$", re.IGNORECASE)
_BASE62_ID = re.compile(r"[0-9A-Za-z]{22}")


# --- identifiers shared by the file sources ---------------------------------------------------

def spotify_id(value: str | None, kind: str) -> str | None:
    """The id in `spotify:<kind>:<id>`, an open.spotify.com/<kind>/<id> link or a bare 22-char id."""
    if not value:
        return None
    value = value.strip()
    match = (re.fullmatch(rf"spotify:{kind}:([0-9A-Za-z]+)", value)
             or re.match(rf"https?://open\.spotify\.com/(?:intl-[\w-]+/)?{kind}/([0-9A-Za-z]+)", value))
    if match:
        return match.group(1)
    return value if _BASE62_ID.fullmatch(value) else None


def name_key(name: str) -> str:
    """How names compare: Unicode-normalized, whitespace collapsed, case-folded."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def spelling_key(name: str) -> str:
    """How spellings compare: Unicode-normalized and whitespace collapsed, case kept."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def short_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def derived_artist_id(name: str) -> str:
    """A stable artist key for sources that name artists without ids: same name, same id."""
    return "export-artist-" + short_hash(name_key(name))


def derived_album_id(
    artist_name: str | None, album_name: str, release_date: str | None = None, label: str | None = None
) -> str:
    """A stable album key from the (first) artist and the album name; many albums share a title.

    The album name keeps its case: "LOUD!" and "Loud!" are spelled differently because they are
    different releases, and each keeps the spelling its rows give. A release date or label, when
    the source gives them, tells a remaster or a compilation from the original of the same name.
    """
    release = [f"{tag}={value}" for tag, value in (("date", release_date), ("label", label and name_key(label)))
               if value]
    return "export-album-" + short_hash(name_key(artist_name or ""), spelling_key(album_name), *release)


def _local_file_part(uri: str | None, index: int) -> str | None:
    """A part of `spotify:local:<artist>:<album>:<title>:<seconds>` (URL-encoded by Spotify)."""
    parts = (uri or "").split(":")
    text = unquote_plus(parts[index]).strip() if len(parts) >= 6 else ""
    return text or None


def local_file_title(uri: str | None) -> str | None:
    return _local_file_part(uri, 4)


def local_file_artist(uri: str | None) -> str | None:
    return _local_file_part(uri, 2)


def parse_utc(text: str | None) -> datetime | None:
    """ISO timestamps or dates as UTC (the exports write `...Z`, a bare date, or no zone at all)."""
    if not text or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- reading the export -----------------------------------------------------------------------

def read_account_export(path: Path, *, fetched_at: datetime) -> RawLibrary:
    """Read the unzipped "Spotify Account Data" folder, or the zip Spotify sent, into raw tables."""
    path = Path(path)
    files = _export_files(path)
    # A single JSON file given directly is read as a playlist file whatever its name.
    playlist_files = [(1, path.name)] if path.suffix.lower() == ".json" else sorted(
        (int(m.group(1)), name) for name in files if (m := _PLAYLIST_FILE.match(_base(name))))
    if not playlist_files:
        raise SourceError(
            f"{path.name} has no Playlist1.json: point to the unzipped 'Spotify Account Data' "
            "folder (or the zip) that Spotify's 'Download your data' page sent."
        )
    catalog = _Catalog()
    playlists, entries = _read_playlists(files, [name for _, name in playlist_files], catalog)
    liked = _read_liked(files, catalog)
    listening = _read_listening(files, catalog)
    return RawLibrary.from_frames(
        playlists=pl.DataFrame(playlists).with_columns(
            pl.lit(SOURCE).alias("source"), pl.lit(fetched_at).alias("fetched_at")),
        playlist_tracks=pl.DataFrame(entries, schema_overrides={"added_at": pl.Datetime("us", "UTC")}),
        liked_tracks=pl.DataFrame(liked, schema={"track_id": pl.String}),
        listening=listening,
        **catalog.frames(),
    )


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _wanted(name: str) -> bool:
    base = _base(name)
    return "__MACOSX" not in name and any(
        p.match(base) for p in (_PLAYLIST_FILE, _LIBRARY_FILE, _BASIC_HISTORY_FILE, _EXTENDED_HISTORY_FILE))


def _export_files(path: Path) -> dict[str, bytes]:
    """The export's files of interest, by path inside the folder or zip, in a stable order."""
    if path.is_dir():
        found = {p.relative_to(path).as_posix(): p for p in path.rglob("*.json") if p.is_file()}
        # Sorted as strings, like the names inside a zip, so both inputs read in the same order.
        return {name: _read_file(found[name]) for name in sorted(found) if _wanted(name)}
    if not path.is_file():
        raise SourceError(f"{path} does not exist: point to the unzipped 'Spotify Account Data' folder or its zip.")
    if path.suffix.lower() == ".json":
        return {path.name: _read_file(path)}
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (i for i in archive.infolist() if not i.is_dir() and _wanted(i.filename)), key=lambda i: i.filename
            )
            return {member.filename: _read_member(archive, member, path) for member in members}
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(
            f"{path.name} is neither a folder nor a readable zip ({error}): "
            "unzip Spotify's download and point to the folder, or download it again."
        ) from None


# Spotify's own files stay within a few tens of MB (a long streaming history comes in parts),
# and JSON is parsed whole: a file far past that is not Spotify's, and reading it would only use
# up the memory of the run (a zip can hold a gigabyte of zeros in a megabyte).
MAX_FILE_BYTES = 256 * 1024**2


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _limit() -> str:
    return _size(MAX_FILE_BYTES).replace(".0 ", " ")


def _read_bounded(stream: BinaryIO, declared: int, too_large: Callable[[str], SourceError]) -> bytes:
    """All of `stream`, refused past MAX_FILE_BYTES by its declared size or, should the
    declaration understate it, by what the stream actually yields."""
    if declared > MAX_FILE_BYTES:
        raise too_large(_size(declared))
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise too_large(f"larger than {_limit()}")
    return data


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path) -> bytes:
    def too_large(size: str) -> SourceError:
        return SourceError(
            f"{member.filename} in {path.name} is {size}; members larger than {_limit()} are not read, "
            "so remove it from the zip (Spotify's own files are far smaller)."
        )

    with archive.open(member) as stream:
        return _read_bounded(stream, member.file_size, too_large)


def _read_file(file: Path) -> bytes:
    def too_large(size: str) -> SourceError:
        return SourceError(
            f"{file} is {size}; files larger than {_limit()} are not read, so remove it from the "
            "export (Spotify's own files are far smaller)."
        )

    with file.open("rb") as stream:
        return _read_bounded(stream, file.stat().st_size, too_large)


def _load_json(files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name].decode("utf-8-sig"))
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except json.JSONDecodeError as error:
        problem = f"is not valid JSON ({error.msg} at line {error.lineno})"
    raise SourceError(f"{name} {problem}: download the export from Spotify again, or restore the original file.")


def _unexpected(name: str, expected: str) -> SourceError:
    return SourceError(
        f"{name} does not have the structure of a Spotify account export ({expected}): "
        "make sure it is the untouched file from Spotify's 'Download your data'."
    )


def _objects(value: Any, name: str, expected: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _unexpected(name, expected)
    return value


@dataclass
class _Catalog:
    """Tracks met anywhere in the export, first description wins, with their artist and album."""

    tracks: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, track_id: str, name: str | None, artist: str | None, album: str | None) -> None:
        if track_id not in self.tracks:
            self.tracks[track_id] = (name, artist, album)
        if name and artist:
            self.by_name.setdefault((name_key(artist), name_key(name)), track_id)

    def frames(self) -> dict[str, pl.DataFrame]:
        ids = list(self.tracks)
        names, artists, albums = (list(c) for c in zip(*self.tracks.values(), strict=True)) if ids else ([], [], [])
        album_ids = [derived_album_id(artist, album) if album else None for artist, album in zip(artists, albums)]
        artist_ids = [derived_artist_id(artist) if artist else None for artist in artists]
        credited = [(track_id, artist_id) for track_id, artist_id in zip(ids, artist_ids) if artist_id]
        first = {"keep": "first", "maintain_order": True}
        return {
            "tracks": pl.DataFrame({"track_id": ids, "name": names, "album_id": album_ids,
                                    "uri": [f"spotify:track:{t}" for t in ids]}),
            "track_artists": pl.DataFrame({"track_id": [t for t, _ in credited], "position": [0] * len(credited),
                                           "artist_id": [a for _, a in credited]}),
            "albums": pl.DataFrame({"album_id": album_ids, "name": albums}).drop_nulls("album_id")
            .unique(subset="album_id", **first),
            # The export names artists but never their genres: null says unknown, not "none".
            "artists": pl.DataFrame({"artist_id": artist_ids, "name": artists}).drop_nulls("artist_id")
            .unique(subset="artist_id", **first),
        }


_ENTRY_KEYS = ("track", "localTrack", "episode", "audiobook")


def _read_playlists(
    files: dict[str, bytes], names: list[str], catalog: _Catalog
) -> tuple[dict[str, list], dict[str, list]]:
    playlists: dict[str, list] = {k: [] for k in (
        "playlist_id", "name", "description", "is_collaborative", "snapshot_id", "n_entries")}
    entries: dict[str, list] = {k: [] for k in (
        "playlist_id", "position", "item_kind", "track_id", "item_uri", "item_name", "item_artists", "is_duplicate",
        "added_at")}
    occurrences: dict[str, int] = {}
    expected = "an object with a 'playlists' list of objects with a 'name' and an 'items' list"
    for file_name in names:
        document = _load_json(files, file_name)
        if not isinstance(document, dict):
            raise _unexpected(file_name, expected)
        for playlist in _objects(document.get("playlists"), file_name, expected):
            name = playlist.get("name")
            items = _objects(playlist.get("items", []), file_name, expected)
            if not isinstance(name, str):
                raise _unexpected(file_name, expected)
            # The export has no playlist ids; the name (and which same-named playlist this is)
            # survives edits, while lastModifiedDate would change the id on every edit.
            occurrence = occurrences.get(name, 0)
            occurrences[name] = occurrence + 1
            playlist_id = "export-" + short_hash(name, str(occurrence))
            canonical_items = json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            collaborators = playlist.get("collaborators")
            playlists["playlist_id"].append(playlist_id)
            playlists["name"].append(name)
            playlists["description"].append(playlist.get("description"))
            # The 2024 schema has no collaborators list, so whether others may edit is unknown.
            playlists["is_collaborative"].append(bool(collaborators) if isinstance(collaborators, list) else None)
            playlists["snapshot_id"].append(short_hash(canonical_items))
            playlists["n_entries"].append(len(items))
            seen: set[str] = set()
            for position, item in enumerate(items):
                kind, track_id, uri, item_name, item_artists = _entry(item, catalog)
                values = (playlist_id, position, kind, track_id, uri, item_name, item_artists, track_id in seen,
                          parse_utc(item.get("addedDate")))
                for column, value in zip(entries.values(), values, strict=True):
                    column.append(value)
                if track_id:
                    seen.add(track_id)
    return playlists, entries


# Keys naming who an episode, audiobook or local file is by (its show, authors, artist), not itself.
_CREDIT_KEYS = ("showname", "artistname", "authorname", "authornames", "authors", "publisher")


def _credit(content: dict) -> str | None:
    """Who a non-track entry is by: the first credit key's text (a list of names joined with ", ")."""
    for key, value in content.items():
        if not key.lower().endswith(_CREDIT_KEYS):
            continue
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        text = ", ".join(n.strip() for n in names if isinstance(n, str) and n.strip())
        if text:
            return text
    return None


def _entry(item: dict, catalog: _Catalog) -> tuple[str, str | None, str | None, str | None, str | None]:
    """(item_kind, track_id, item_uri, item_name, item_artists) of one playlist item."""
    content_key = next((k for k in _ENTRY_KEYS if isinstance(item.get(k), dict)), None)
    if content_key is None:
        return "removed", None, None, None, None
    content = item[content_key]
    uri = next((v for k, v in content.items() if k.lower().endswith("uri") and isinstance(v, str)), None)
    if content_key == "track":
        name = content.get("trackName")
        track_id = spotify_id(uri, "track")
        if track_id is None:
            # A track without a usable URI cannot be joined to anything, as Spotify's removed ones.
            return "removed", None, uri, name, _credit(content)
        catalog.add(track_id, name, content.get("artistName"), content.get("albumName"))
        return "track", track_id, uri, name, None
    if content_key == "localTrack":
        return ("local", None, uri, content.get("trackName") or local_file_title(uri),
                _credit(content) or local_file_artist(uri))
    # Audiobook chapters are spoken word like podcast episodes and are kept out of clusters alike.
    # Their own name, not their show's: "showName" ends with "name" too, and may come first.
    name = next((v for k, v in content.items() if k.lower().endswith(("name", "title")) and isinstance(v, str)
                 and not k.lower().endswith(_CREDIT_KEYS)), None)
    return "episode", None, uri, name.strip() if name else name, _credit(content)


def _read_liked(files: dict[str, bytes], catalog: _Catalog) -> dict[str, list]:
    liked: dict[str, None] = {}  # an ordered set
    for file_name in (n for n in files if _LIBRARY_FILE.match(_base(n))):
        document = _load_json(files, file_name)
        expected = "an object with a 'tracks' list of objects with a 'uri'"
        if not isinstance(document, dict):
            raise _unexpected(file_name, expected)
        for track in _objects(document.get("tracks"), file_name, expected):
            track_id = spotify_id(track.get("uri"), "track")
            if track_id and track_id not in liked:
                catalog.add(track_id, track.get("track"), track.get("artist"), track.get("album"))
                liked[track_id] = None
    return {"track_id": list(liked)}


def _history_plays(files: dict[str, bytes], catalog: _Catalog) -> Iterator[tuple[str, int]]:
    """(track_id, ms_played) of every music play the export records."""
    extended = [n for n in files if _EXTENDED_HISTORY_FILE.match(_base(n))]
    if extended:
        for file_name in extended:
            for play in _objects(_load_json(files, file_name), file_name, "a list of plays with 'ms_played'"):
                track_id = spotify_id(play.get("spotify_track_uri"), "track")
                if track_id:
                    catalog.add(track_id, play.get("master_metadata_track_name"),
                                play.get("master_metadata_album_artist_name"),
                                play.get("master_metadata_album_album_name"))
                    yield track_id, _ms(play.get("ms_played"))
        return
    for file_name in (n for n in files if _BASIC_HISTORY_FILE.match(_base(n))):
        for play in _objects(_load_json(files, file_name), file_name, "a list of plays with 'msPlayed'"):
            artist, track = play.get("artistName"), play.get("trackName")
            track_id = catalog.by_name.get((name_key(artist), name_key(track))) if artist and track else None
            if track_id:
                yield track_id, _ms(play.get("msPlayed"))


def _ms(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def _read_listening(files: dict[str, bytes], catalog: _Catalog) -> pl.DataFrame:
    plays = list(_history_plays(files, catalog))
    frame = pl.DataFrame(
        {"track_id": [t for t, _ in plays], "ms": [ms for _, ms in plays]},
        schema={"track_id": pl.String, "ms": pl.Int64},
    )
    return (
        frame.group_by("track_id", maintain_order=True)
        .agg(play_count=(pl.col("ms") >= MIN_COUNTED_PLAY_MS).sum().cast(pl.Int64), ms_played=pl.col("ms").sum())
        .with_columns(score=pl.col("play_count") + pl.col("ms_played") // 60_000)
    )
