"""Every Exportify CSV layout in the wild: header spellings, delimiters and the cells that need care.

Two tools are called Exportify. watsonbox/exportify (2020-2026) writes `Track URI`, `Artist URI(s)`
(2020: `Artist URI`), artists joined with ", " (a comma inside a name escaped as "\\,"), optional
`Artist Genres`, audio features and `Label`; its recent versions translate the headers into the
user's language. pavelkomarov/exportify (2019-2026) starts with `Spotify ID`, `Track ID` or `Track URI`,
writes a UTF-8 BOM, `Genres`, `Record Label`, and joins artists with "," (2019) or ";" (later).
Headers are matched after normalising case, Unicode form and whitespace (tabs included).
"""

from __future__ import annotations

import re
import unicodedata

# Canonical field -> every header that has meant it (English first, then de, fr, es, it, pt, nl).
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "track_ref": ("Track URI", "Track ID", "Spotify ID", "Spotify URI", "Track-URI", "URI du titre",
                  "URI de la canción", "URI della traccia", "URI da faixa", "Nummer URI"),
    "track_name": ("Track Name", "Track-Name", "Titelname", "Nom du titre", "Nombre de la canción",
                   "Nome della traccia", "Nome da faixa", "Nummernaam"),
    "artist_refs": ("Artist URI(s)", "Artist URI", "Artist IDs", "Künstler-URI(s)", "URI(s) de l'artiste",
                    "URI(s) del artista", "URI dell'artista", "URI(s) do artista", "Artiest-URI"),
    "artist_names": ("Artist Name(s)", "Artist Name", "Künstlername(n)", "Nom(s) de l'artiste",
                     "Nombre(s) del artista", "Nome dell'artista", "Nome(s) do artista", "Naam van artiest"),
    "album_ref": ("Album URI", "Album-URI", "URI de l'album", "URI del álbum", "URI dell'album", "URI do álbum"),
    "album_name": ("Album Name", "Album-Name", "Albumname", "Nom de l'album", "Nombre del álbum",
                   "Nome dell'album", "Nome do álbum", "Naam van album"),
    "release_date": ("Album Release Date", "Release Date", "Veröffentlichungsdatum des Albums",
                     "Date de sortie de l'album", "Fecha de lanzamiento del álbum", "Data di rilascio dell'album",
                     "Data de lançamento do álbum", "Releasedatum van het album"),
    "image_url": ("Album Image URL", "Album-Bild-URL", "URL de l'image de l'album", "URL de la imagen del álbum",
                  "URL dell'immagine dell'album", "URL da imagem do álbum", "Album afbeelding-URL"),
    "duration_ms": ("Track Duration (ms)", "Duration (ms)", "Track-Dauer (ms)", "Durée du titre (ms)",
                    "Duración de la canción (ms)", "Durata della traccia (ms)", "Duração da faixa (ms)",
                    "Nummerduur (ms)"),
    "explicit": ("Explicit", "Explicit?", "Explizit", "Explicite", "Explícito", "Esplicito", "Explícita",
                 "Expliciet"),
    "popularity": ("Popularity", "Beliebtheit", "Popularité", "Popularidad", "Popolarità", "Popularidade",
                   "Populariteit"),
    "isrc": ("ISRC",),
    "is_playable": ("Is Playable", "Ist abspielbar", "Est jouable", "Es reproducible", "È riproducibile",
                    "É reproduzível", "Speelbaar"),
    "added_by": ("Added By", "Hinzugefügt von", "Ajouté par", "Añadido por", "Aggiunto da", "Adicionado por",
                 "Toegevoegd door"),
    "added_at": ("Added At", "Hinzugefügt am", "Ajouté le", "Añadido en", "Aggiunto il", "Adicionado em",
                 "Toegevoegd op"),
    "genres": ("Artist Genres", "Genres", "Künstler-Genres", "Genres de l'artiste", "Géneros del artista",
               "Generi dell'artista", "Gêneros do artista", "Genres van de artiest"),
    "label": ("Label", "Record Label", "Sello", "Etichetta", "Gravadora"),
    "danceability": ("Danceability", "Tanzbarkeit", "Danseabilité", "Bailabilidad", "Ballabilità",
                     "Dançabilidade", "Dansbaarheid"),
    "energy": ("Energy", "Energie", "Énergie", "Energía", "Energia"),
    "key": ("Key", "Tonart", "Tonalité", "Tonalidad", "Chiave", "Tonalidade", "Toonsoort"),
    "loudness": ("Loudness", "Lautstärke", "Volume sonore", "Volumen", "Volume", "Luidheid"),
    "mode": ("Mode", "Modus", "Modo", "Modalità"),
    "speechiness": ("Speechiness", "Sprachanteil", "Parlabilité", "Hablado", "Linguaggio parlato", "Oralidade",
                    "Spraakzaamheid"),
    "acousticness": ("Acousticness", "Akustik", "Acoustique", "Acústica", "Acustica", "Akoestiek"),
    "instrumentalness": ("Instrumentalness", "Instrumentalität", "Instrumental", "Instrumentalidad",
                         "Strumentalità", "Instrumentalidade", "Instrumentaliteit"),
    "liveness": ("Liveness", "Lebendigkeit", "Vivacité", "Vivacidad", "Vivacità", "Vivacidade", "Levendigheid"),
    "valence": ("Valence", "Valenz", "Valencia", "Valenza", "Valência", "Valentie"),
    "tempo": ("Tempo",),
    "time_signature": ("Time Signature", "Taktart", "Mesure", "Compás", "Battuta", "Compasso", "Maatstreep"),
}
TRACK_REF_EXAMPLES = ("Track URI", "Track ID", "Spotify ID")
FEATURE_FIELDS = ("danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                  "instrumentalness", "liveness", "valence", "tempo", "time_signature")


def normalize_header(header: str) -> str:
    """Case, Unicode form, a BOM and whitespace (tabs, doubled spaces) do not change a header."""
    text = unicodedata.normalize("NFC", header.replace("\ufeff", ""))
    return " ".join(text.split()).casefold()


def _field_by_header() -> dict[str, str]:
    table: dict[str, str] = {}
    for field_name, headers in FIELD_HEADERS.items():
        for header in headers:
            key = normalize_header(header)
            if table.setdefault(key, field_name) != field_name:
                raise AssertionError(f"header {header!r} means both {table[key]} and {field_name}")
    return table


FIELD_BY_HEADER = _field_by_header()


def resolve_fields(headers: list[str]) -> dict[str, str]:
    """Canonical field -> the file's header for it; the first of two headers meaning one field wins."""
    resolved: dict[str, str] = {}
    for header in headers:
        field_name = FIELD_BY_HEADER.get(normalize_header(header))
        if field_name:
            resolved.setdefault(field_name, header)
    return resolved


def sniff_delimiter(first_line: str) -> str:
    """Exportify writes commas; a file re-saved by a localized spreadsheet may use ';' or tabs."""
    if "," in first_line:
        return ","
    return ";" if first_line.count(";") >= first_line.count("\t") and ";" in first_line else "\t"


def split_refs(cell: str | None) -> list[str]:
    """URIs and ids never contain commas or semicolons, so either separator is safe to split on."""
    return [part for part in re.split(r"[,;]\s*", cell or "") if part.strip()]


# A comma that joins two names: not escaped ("\\,"), not followed by a space (a name's own
# comma is: "Tyler, The Creator"), and not between two digits ("10,000 Maniacs").
_BARE_COMMA = r"(?<!\\)(?<!\d),(?!\s)|(?<=\d),(?![\s\d])"
# Separators no artist name contains: ';' and the bare comma.
_NAME_JOIN = re.compile(rf";|{_BARE_COMMA}")
_COMMA_SPACE = re.compile(r"(?<!\\), ")
_ANY_COMMA = re.compile(r"(?<!\\),\s*|;")


def split_artist_names(cell: str | None, expected: int) -> tuple[list[str | None], bool]:
    """The credited names aligned with `expected` artist ids, and whether the alignment is certain.

    The ids decide how many artists there are. A name may itself contain ", " ("Tyler, The
    Creator"), so a split is only trusted when it yields exactly one name per id and leaves no
    ';' or bare comma inside a name. Otherwise the names are placed by position, uncertain (a
    certain name from another row replaces them): split at ';' and bare commas when the cell has
    any, else the whole cell is the first artist's name.
    """
    if not cell:
        return [None] * expected, False
    if expected <= 1:
        return [_unescape(cell)], True
    for pattern in (_COMMA_SPACE, _NAME_JOIN, _ANY_COMMA):
        parts = [p for p in pattern.split(cell) if p.strip()]
        if len(parts) == expected and not any(_NAME_JOIN.search(p) for p in parts):
            return [_unescape(p) for p in parts], True
    joined = [_unescape(p) for p in _NAME_JOIN.split(cell) if p.strip()]
    if len(joined) > 1:
        return [*joined[:expected], *[None] * (expected - len(joined))], False
    return [_unescape(cell), *[None] * (expected - 1)], False


def split_names_without_ids(cell: str | None) -> list[str]:
    """Names when the layout has no artist ids: split at ';' and at bare commas ("Ann,Bo"),
    never at ", ", which belongs to names such as "Tyler, The Creator"."""
    return [part for part in (_unescape(p) for p in _NAME_JOIN.split(cell or "")) if part]


def split_genres(cell: str | None, n_artists: int) -> tuple[list[list[str] | None], bool]:
    """Genres per artist, and whether they really are per artist.

    Exportify writes the union of all credited artists' genres in one comma-joined cell. Only when
    the cell has one ';'-group per artist, or there is one artist, is the split per artist; else
    the whole (deduplicated) union goes to the first artist and the others' stay unknown (None).
    """
    if n_artists == 0:
        return [], False
    groups = (cell or "").split(";")
    if n_artists > 1 and len(groups) == n_artists:
        return [_genre_list(g) for g in groups], True
    return [_genre_list(cell or ""), *[None] * (n_artists - 1)], n_artists <= 1


def _genre_list(text: str) -> list[str]:
    return list(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))


def credit_text(cell: str | None) -> str | None:
    """An artist cell shown as it is (escapes removed), for entries whose credits are not split
    into artists: an episode's show, a local file's artist; None when empty or `undefined`."""
    text = _unescape(cell or "")
    return text if text and text.casefold() != "undefined" else None


def _unescape(name: str) -> str:
    return name.replace("\\,", ",").strip()


_PITCH_CLASS = {"c": 0, "c#": 1, "db": 1, "d": 2, "d#": 3, "eb": 3, "e": 4, "f": 5, "f#": 6, "gb": 6,
                "g": 7, "g#": 8, "ab": 8, "a": 9, "a#": 10, "bb": 10, "b": 11}
_MODE = {"major": "1", "minor": "0", "dur": "1", "moll": "0"}
_TRUE = {"true", "1", "yes", "wahr", "ja", "vrai", "oui", "verdadero", "sí", "si", "vero", "verdadeiro", "waar"}
_FALSE = {"false", "0", "no", "falsch", "nein", "faux", "non", "falso", "onwaar", "nee"}


def number_text(cell: str | None, field_name: str) -> str | None:
    """A numeric cell as text polars can cast: decimal commas, key names and major/minor handled."""
    text = (cell or "").strip()
    # Exportify writes `undefined` where Spotify had no value: missing, like an empty cell.
    if not text or text.casefold() == "undefined":
        return None
    if field_name == "key" and text.casefold() in _PITCH_CLASS:
        return str(_PITCH_CLASS[text.casefold()])
    if field_name == "mode" and text.casefold() in _MODE:
        return _MODE[text.casefold()]
    return re.sub(r"^(-?\d+),(\d+)$", r"\1.\2", text)


def boolean(cell: str | None) -> bool | None:
    text = (cell or "").strip().casefold()
    return True if text in _TRUE else False if text in _FALSE else None


def release_precision(date: str | None) -> str | None:
    for pattern, precision in ((r"\d{4}", "year"), (r"\d{4}-\d{2}", "month"), (r"\d{4}-\d{2}-\d{2}", "day")):
        if date and re.fullmatch(pattern, date):
            return precision
    return None
