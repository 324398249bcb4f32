"""Make untrusted names and URLs safe to place in Markdown tables, headings and lists."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

# Explicit bidi embeddings, overrides and isolates: invisible, and an unterminated one can
# visually reorder the rest of a table row ("Trojan Source"). Names read fine without them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Control characters (Unicode category Cc) and line/paragraph separators end a table row or
# a heading; they become spaces.
_LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Lone surrogates (from badly decoded JSON) cannot be written as UTF-8 at all.
_SURROGATES = re.compile("[\ud800-\udfff]")

# Markdown/GFM punctuation that can start emphasis, code, links, strikethrough, math or a
# heading, and the characters of HTML. str.translate maps each character once, so the
# backslashes it adds are never escaped again.
_MARKDOWN_ESCAPES = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "#": "\\#",
    "~": "\\~",
    "$": "\\$",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
}
_MARKDOWN_TABLE = str.maketrans(_MARKDOWN_ESCAPES)

# GitHub's renderer (cmark-gfm) turns bare URLs, "www." names and e-mail addresses into links.
# It spots "http://", "https://", "ftp://" and "www." in the Markdown source while reading it,
# so a backslash escape (rendered as the bare character) breaks them without changing the text:
# "https:\//x", "www\.x". It spots e-mail addresses (also "mailto:" and "xmpp:" ones) only in
# the parsed text, where escapes are gone, so only a real character stops it: a WORD JOINER
# (U+2060) before the "@": invisible, and no place to break a line. Written as an entity so the
# Markdown source stays readable and holds no hidden characters.
_URL_SCHEME_END = "://"
_URL_SCHEME_END_ESCAPED = ":\\//"
_WWW_DOT = re.compile(r"(?i)(?<=www)\.")
_EMAIL_AT = "@"
_EMAIL_AT_ESCAPED = "&#8288;@"

# At the start of a line these make a list item, a thematic break or a setext underline.
_BLOCK_STARTERS = re.compile(r"^(?:[-+=]|\d+[.)])")

_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")
_URL_FORBIDDEN = re.compile(r"[\s\"'<>`|\\\x00-\x1f\x7f]")
MAX_URL_LENGTH = 2048
# Album art is shown only from Spotify's own image hosts (i.scdn.co, mosaic.scdn.co,
# image-cdn-*.spotifycdn.com, ...): an image from anywhere else could be a tracking pixel.
SPOTIFY_IMAGE_DOMAINS = ("scdn.co", "spotifycdn.com")
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def plain_text(value: str) -> str:
    """One line of text: line breaks, tabs and control characters become single spaces."""
    value = _SURROGATES.sub("\ufffd", _BIDI_CONTROLS.sub("", value))
    return " ".join(_LINE_BREAKERS.sub(" ", value).split())


# Names repeat (an artist, album or label on many rows of many reports): each is escaped once
# per process. Every report names every track, so this is most of what writing one costs.
@lru_cache(maxsize=1 << 16)
def inline(value: str | None) -> str:
    """Escape a name for a table cell, link text or heading: nothing in it is markup."""
    if value is None:
        return ""
    escaped = plain_text(value).translate(_MARKDOWN_TABLE)
    # "](" is no link once "]" is escaped, but tools that scan for links (and older renderers)
    # still see one; escaping the parenthesis there keeps "(feat. X)" as the seeds write it.
    escaped = escaped.replace("\\](", "\\]\\(")
    # The table above adds no ":", "/", "." or "@", so these see only the name's own characters.
    escaped = escaped.replace(_URL_SCHEME_END, _URL_SCHEME_END_ESCAPED)
    escaped = _WWW_DOT.sub(r"\\.", escaped)
    return escaped.replace(_EMAIL_AT, _EMAIL_AT_ESCAPED)


def block(value: str | None) -> str:
    """Escape a name that starts a line, so it stays a paragraph (not a list, break or heading)."""
    escaped = inline(value)
    match = _BLOCK_STARTERS.match(escaped)
    if match is None:
        return escaped
    end = match.end()
    return f"{escaped[: end - 1]}\\{escaped[end - 1 :]}"


def spotify_id(value: str | None) -> str | None:
    """The ID when it is plain base62 (safe inside a URL), else None."""
    if value is None or _SPOTIFY_ID.fullmatch(value) is None:
        return None
    return value


@lru_cache(maxsize=1 << 14)
def image_url(value: str | None) -> str | None:
    """The URL when it is https on Spotify's image hosts and cannot break out of an HTML attribute
    or a table cell; anything else is left out, as for a track without art."""
    if not value or len(value) > MAX_URL_LENGTH or _URL_FORBIDDEN.search(value):
        return None
    if not value.isascii():
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme != "https" or not is_spotify_image_host(parts.netloc):
        return None
    return value


def is_spotify_image_host(netloc: str) -> bool:
    """Whether a URL's authority is a host name under one of Spotify's image domains."""
    # Labels only: user info ("i.scdn.co@evil.example") or a port would name another server.
    labels = netloc.lower().split(".")
    return (
        len(labels) > 2
        and ".".join(labels[-2:]) in SPOTIFY_IMAGE_DOMAINS
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
    )
