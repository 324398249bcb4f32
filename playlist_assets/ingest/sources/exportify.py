"""Exportify CSV exports (a folder of them, one per playlist, or one file) -> the raw tables.

The playlist is named after the file (its stem); its id is "exportify-" + the first 16 hex digits
of the SHA-256 of the normalized stem (case-folded, whitespace collapsed), so re-exporting keeps
the id, and its snapshot_id is the first 16 hex digits of the SHA-256 of the file's bytes, so an
edited file is a new snapshot. Every data row is an entry: `undefined` or empty URIs are removed
entries, `spotify:local:` URIs local files. A layout without artist ids (pavelkomarov 2024+) gets
artist ids derived from names, one without album URIs album ids derived from the album name as
spelled, the first artist and the release date and label the row gives, so a remaster or a
compilation of the same name stays its own album (`account_export.derived_artist_id` /
`derived_album_id`) and names are kept. Audio
feature columns become raw.audio_features rows with provider "exportify:<file name>"; genres
follow `exportify_layouts.split_genres`. Exportify has no listening data, so no Score.

Each file is checked while it is read (an Exportify layout, text, feature values in their
documented ranges); in a folder, a file that fails is left out and listed in raw.refused_files
with one sentence saying why, and the other files land.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from playlist_assets.warehouse import tables
from playlist_assets.warehouse.quality import AUDIO_FEATURE_RANGES
from playlist_assets.ingest.sources import exportify_layouts as layouts
from playlist_assets.ingest.sources.account_export import (
    derived_album_id, derived_artist_id, local_file_artist, local_file_title, name_key, parse_utc, short_hash,
    spotify_id,
)
from playlist_assets.ingest.sources.errors import SourceError
from playlist_assets.ingest.sources.library import RawLibrary

SOURCE = "exportify"
_FIELDS = tuple(layouts.FIELD_HEADERS)


@dataclass(frozen=True)
class _PlaylistFile:
    playlist_id: str
    name: str
    file_name: str
    snapshot_id: str
    rows: pl.DataFrame  # a String column per canonical field (+ has_genre_column), a row per data row


def read_exportify(path: Path, *, fetched_at: datetime) -> RawLibrary:
    """Read a folder of Exportify CSV files, or one file, into the raw tables.

    In a folder, a file that cannot be read as an Exportify export (another tool's CSV, binary
    data, audio features on another scale) is left out and listed in `refused_files` with its
    reason, so one bad file never costs the others. A single file that is refused, or a folder
    whose every file is, raises SourceError: there is nothing to land, and the warehouse keeps
    the library it has.
    """
    path = Path(path)
    files = _csv_files(path)
    occurrences: dict[str, int] = {}
    playlists: list[_PlaylistFile] = []
    refused: list[tuple[str, str]] = []
    for file in files:
        key = name_key(file.stem)
        occurrence = occurrences.get(key, 0)
        occurrences[key] = occurrence + 1
        # Only a second file whose stem normalizes the same needs the occurrence to stay unique.
        # A refused file counts too, so fixing it later changes no other playlist's id.
        playlist_id = "exportify-" + (short_hash(key) if occurrence == 0 else short_hash(key, str(occurrence)))
        try:
            playlists.append(_read_file(file, playlist_id))
        except SourceError as error:
            if path.is_file():
                raise
            refused.append((file.name, str(error)))
    if not playlists:
        raise SourceError(
            f"No file in {path.name} could be imported, so the library was left as it was: "
            + " ".join(reason for _, reason in refused)
        )
    entries = pl.concat([_entries(p) for p in playlists], how="vertical")
    # Entries and rows share their order, so each row learns its entry's track id by position.
    track_rows = pl.concat(
        [p.rows.with_columns(pl.lit(p.file_name).alias("file_name")) for p in playlists], how="vertical"
    ).with_columns(entries["track_id"]).filter(pl.col("track_id").is_not_null())
    return RawLibrary.from_frames(
        playlists=pl.DataFrame({
            "playlist_id": [p.playlist_id for p in playlists],
            "name": [p.name for p in playlists],
            "snapshot_id": [p.snapshot_id for p in playlists],
            "n_entries": [p.rows.height for p in playlists],
        }).with_columns(pl.lit(SOURCE).alias("source"), pl.lit(fetched_at).alias("fetched_at")),
        playlist_tracks=entries,
        audio_features=_audio_features(track_rows),
        refused_files=pl.DataFrame(
            {"file": [f for f, _ in refused], "reason": [r for _, r in refused]},
            schema={"file": pl.String, "reason": pl.String},
        ).with_columns(pl.lit(fetched_at).alias("fetched_at")),
        **_catalog(track_rows.unique(subset="track_id", keep="first", maintain_order=True)),
    )


def _csv_files(path: Path) -> list[Path]:
    if path.is_file() and path.suffix.lower() == ".zip":
        raise SourceError(f"{path.name} is a zip: unzip Exportify's download and point to the folder of CSV files.")
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceError(f"{path} does not exist: point to a folder of Exportify CSV files or to one of them.")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise SourceError(f"{path.name} contains no .csv files: point to the folder where Exportify's CSVs were saved.")
    return files


def _read_file(file: Path, playlist_id: str) -> _PlaylistFile:
    """One file's playlist; SourceError (one sentence naming the file) when it is no Exportify export."""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise SourceError(
            f"{file.name} cannot be read ({error.strerror or error}): check its permissions, or export it again."
        ) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError(
            f"{file.name} is UTF-16 text, not UTF-8: save it from your spreadsheet as 'CSV UTF-8', "
            "or export it again from Exportify."
        )
    nul = data.find(b"\0")
    if nul >= 0:
        # Text has no NUL bytes: this is some other kind of file that happens to end in .csv.
        raise SourceError(
            f"{file.name} holds binary data (a NUL byte at offset {nul}), not CSV text: "
            "remove it from the folder, or export the playlist again from Exportify."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(
            f"{file.name} is not UTF-8 text: export it again from Exportify, or save it from your "
            "spreadsheet as 'CSV UTF-8'."
        ) from None
    if not text.strip():
        raise SourceError(f"{file.name} is empty: export the playlist again from Exportify.")
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False,
                            separator=layouts.sniff_delimiter(text.split("\n", 1)[0]))
    except pl.exceptions.PolarsError as error:
        reason = str(error).splitlines()[0]
        raise SourceError(
            f"{file.name} is not a readable CSV file ({reason}): export it again from Exportify."
        ) from None
    fields = layouts.resolve_fields(frame.columns)
    if "track_ref" not in fields:
        found = [" ".join(c.replace("\ufeff", "").split()) for c in frame.columns]
        expected = ", ".join(f"'{h}'" for h in layouts.TRACK_REF_EXAMPLES[:-1])
        raise SourceError(
            f"{file.name} is not an Exportify export: found columns {found}; expected a track URI column "
            f"such as {expected} or '{layouts.TRACK_REF_EXAMPLES[-1]}'."
        )
    # polars reads a blank line as a row of nulls; a line without a single cell is no playlist entry.
    frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))
    trimmed = {f: pl.col(h).str.strip_chars() for f, h in fields.items()}
    rows = frame.select(
        (pl.when(trimmed[f] != "").then(trimmed[f]) if f in trimmed else pl.lit(None, pl.String)).alias(f)
        for f in _FIELDS
    ).with_columns(
        # An empty genre cell means "no genres" only in a file that has the column at all.
        pl.lit("genres" in fields).alias("has_genre_column")
    )
    problem = _feature_problem(file.name, rows, fields)
    if problem:
        raise SourceError(problem)
    return _PlaylistFile(playlist_id, file.stem, file.name, hashlib.sha256(data).hexdigest()[:16], rows)


def _feature_problem(file_name: str, rows: pl.DataFrame, fields: dict[str, str]) -> str | None:
    """Why the file's audio features may not land, naming the column, a value and the range; else None.

    Checked while reading, so the file is left out and the others land: a value out of range
    (often a 0-100 scale for 0-1) in raw.audio_features would refuse the whole library.
    """
    is_track = pl.Series([_classify(r, n)[0] == "track" for r, n in zip(rows["track_ref"], rows["track_name"],
                                                                        strict=True)], dtype=pl.Boolean)
    for field_name in layouts.FEATURE_FIELDS:
        if field_name not in fields:
            continue
        low, high = AUDIO_FEATURE_RANGES[field_name]
        texts = pl.Series([layouts.number_text(v, field_name) for v in rows[field_name]], dtype=pl.String)
        values = texts.cast(pl.Float64, strict=False)
        # A missing feature is allowed; text that is no number, NaN or a value outside is not.
        wrong = is_track & texts.is_not_null() & (values.is_null() | ~values.is_between(low, high)).fill_null(True)
        if not wrong.any():
            continue
        first = wrong.arg_true()[0]
        header = " ".join(fields[field_name].replace("\ufeff", "").split())
        scale = " (a column on a 0-100 scale must be divided by 100)" if high == 1 else ""
        return (
            f"{file_name} has {wrong.sum()} of {int(is_track.sum())} '{header}' values that are not numbers from "
            f"{low:g} to {high:g}, e.g. '{rows[field_name][first]}' for {rows['track_ref'][first]}, so it was not "
            f"imported: export the playlist again from Exportify, or correct that column{scale}."
        )
    return None


def _classify(ref: str | None, name: str | None) -> tuple[str, str | None, str | None, str | None]:
    """(item_kind, track_id, item_uri, item_name) of a row's track URI or id."""
    if name is not None and name.casefold() == "undefined":
        name = None
    if ref is None or ref.casefold() == "undefined":
        return "removed", None, None, name
    if ref.startswith("spotify:local:"):
        return "local", None, ref, name or local_file_title(ref)
    if ref.startswith("spotify:episode:") or "open.spotify.com/episode/" in ref:
        return "episode", None, ref, name
    track_id = spotify_id(ref, "track")
    if track_id is None:
        return "removed", None, ref, name
    return "track", track_id, ref if ref.startswith("spotify:") else f"spotify:track:{track_id}", name


def _entries(playlist: _PlaylistFile) -> pl.DataFrame:
    rows = playlist.rows
    classified = [_classify(r, n) for r, n in zip(rows["track_ref"], rows["track_name"], strict=True)]
    seen: set[str] = set()
    duplicates = []
    for _, track_id, _, _ in classified:
        duplicates.append(track_id in seen)
        if track_id:
            seen.add(track_id)
    added_by = [(a or "").removeprefix("spotify:user:") or None for a in rows["added_by"]]
    # A track's artists go to raw.track_artists; other entries keep who they are by here.
    item_artists = [
        None if kind == "track" else layouts.credit_text(cell) or (local_file_artist(uri) if kind == "local" else None)
        for (kind, _, uri, _), cell in zip(classified, rows["artist_names"], strict=True)
    ]
    columns = {
        "playlist_id": [playlist.playlist_id] * rows.height,
        "position": list(range(rows.height)),
        "item_kind": [c[0] for c in classified],
        "track_id": [c[1] for c in classified],
        "item_uri": [c[2] for c in classified],
        "item_name": [c[3] for c in classified],
        "item_artists": item_artists,
        "is_duplicate": duplicates,
        "is_playable": [layouts.boolean(v) for v in rows["is_playable"]],
        "added_at": [parse_utc(v) for v in rows["added_at"]],
        "added_by": added_by,
    }
    return tables.RAW_PLAYLIST_TRACKS.conform(pl.DataFrame(columns, schema_overrides={"added_at": tables.UTC_TIME}))


def _numbers(rows: pl.DataFrame, field_name: str, dtype: pl.DataType) -> pl.Series:
    texts = pl.Series(field_name, [layouts.number_text(v, field_name) for v in rows[field_name]], pl.String)
    if dtype.is_integer():
        return texts.cast(pl.Float64, strict=False).round().cast(dtype)
    return texts.cast(dtype, strict=False)


def _catalog(rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """raw.tracks, track_artists, albums and artists from the first row of every track."""
    artist_columns, first_artist_names = _artists(rows)
    album_ids = [
        spotify_id(ref, "album") or (derived_album_id(artist, album, date, label) if album else None)
        for ref, album, artist, date, label in zip(
            rows["album_ref"], rows["album_name"], first_artist_names, rows["release_date"], rows["label"], strict=True
        )
    ]
    tracks = pl.DataFrame({
        "track_id": rows["track_id"],
        "name": rows["track_name"],
        "album_id": pl.Series(album_ids, dtype=pl.String),
        "duration_ms": _numbers(rows, "duration_ms", pl.Int64),
        "explicit": pl.Series([layouts.boolean(v) for v in rows["explicit"]], dtype=pl.Boolean),
        "popularity": _numbers(rows, "popularity", pl.Int32),
        "isrc": rows["isrc"],
        "uri": "spotify:track:" + rows["track_id"],
    })
    # Rows of one album id describe one release: each column takes the first value a row gives,
    # so a row without a label does not blank the label another row of that album has.
    albums = (
        pl.DataFrame({
            "album_id": pl.Series(album_ids, dtype=pl.String),
            "name": rows["album_name"],
            "release_date": rows["release_date"],
            "label": rows["label"],
            "image_url": rows["image_url"],
        })
        .filter(pl.col("album_id").is_not_null())
        .group_by("album_id", maintain_order=True)
        .agg(pl.all().drop_nulls().first())
    )
    albums = albums.with_columns(release_date_precision=pl.Series(
        [layouts.release_precision(d) for d in albums["release_date"]], dtype=pl.String))
    return {"tracks": tracks, "albums": albums, **artist_columns}


@dataclass
class _ArtistChoice:
    name: str | None
    name_certain: bool
    genres: list[str] | None
    genres_certain: bool


def _artists(rows: pl.DataFrame) -> tuple[dict[str, pl.DataFrame], list[str | None]]:
    """raw.track_artists and raw.artists, and each row's first artist name (for derived album ids)."""
    credits: dict[str, list] = {"track_id": [], "position": [], "artist_id": []}
    chosen: dict[str, _ArtistChoice] = {}
    first_names: list[str | None] = []
    for track_id, refs, names, genres, has_genres in zip(
        rows["track_id"], rows["artist_refs"], rows["artist_names"], rows["genres"], rows["has_genre_column"],
        strict=True,
    ):
        ids = [spotify_id(r, "artist") for r in layouts.split_refs(refs)]
        if ids:
            aligned, names_certain = layouts.split_artist_names(names, len(ids))
        else:
            aligned, names_certain = layouts.split_names_without_ids(names), True
            ids = [derived_artist_id(n) for n in aligned]
        per_artist, genres_certain = layouts.split_genres(genres, len(ids))
        first_names.append(aligned[0] if aligned else None)
        for position, (artist_id, name, artist_genres) in enumerate(zip(ids, aligned, per_artist, strict=True)):
            if artist_id is None:
                continue
            credits["track_id"].append(track_id)
            credits["position"].append(position)
            credits["artist_id"].append(artist_id)
            candidate = _ArtistChoice(name, names_certain and name is not None,
                                      artist_genres if has_genres else None, genres_certain)
            _prefer(chosen, artist_id, candidate)
    artists = pl.DataFrame({
        "artist_id": list(chosen),
        "name": [c.name for c in chosen.values()],
        "genres": pl.Series([c.genres for c in chosen.values()], dtype=pl.List(pl.String)),
    }, schema_overrides={"artist_id": pl.String, "name": pl.String})
    track_artists = pl.DataFrame(credits, schema_overrides={"position": pl.Int32})
    return {"track_artists": track_artists, "artists": artists}, first_names


def _prefer(chosen: dict[str, _ArtistChoice], artist_id: str, candidate: _ArtistChoice) -> None:
    """Keep the first description of an artist, upgraded by any later one that is certain."""
    current = chosen.setdefault(artist_id, candidate)
    if current is candidate:
        return
    if candidate.name_certain and not current.name_certain:
        current.name, current.name_certain = candidate.name, True
    if candidate.genres is not None and candidate.genres_certain and not current.genres_certain:
        current.genres, current.genres_certain = candidate.genres, True


def _audio_features(rows: pl.DataFrame) -> pl.DataFrame:
    dtypes = {c.name: c.dtype for c in tables.AUDIO_FEATURE_COLUMNS}
    features = pl.DataFrame([_numbers(rows, f, dtypes[f]) for f in layouts.FEATURE_FIELDS])
    return (
        features.with_columns(track_id=rows["track_id"], provider="exportify:" + rows["file_name"])
        .filter(pl.any_horizontal(pl.col(layouts.FEATURE_FIELDS).is_not_null()))
        .unique(subset="track_id", keep="first", maintain_order=True)
    )
