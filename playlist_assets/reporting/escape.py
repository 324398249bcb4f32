"""Make untrusted names and URLs safe to place in Markdown tables, headings and lists."""

from __future__ import annotations

import re
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

# At the start of a line these make a list item, a thematic break or a setext underline.
_BLOCK_STARTERS = re.compile(r"^(?:[-+=]|\d+[.)])")

_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")
_URL_FORBIDDEN = re.compile(r"[\s\"'<>`|\\\x00-\x1f\x7f]")
MAX_URL_LENGTH = 2048


def plain_text(value: str) -> str:
    """One line of text: line breaks, tabs and control characters become single spaces."""
    value = _SURROGATES.sub("\ufffd", _BIDI_CONTROLS.sub("", value))
    return " ".join(_LINE_BREAKERS.sub(" ", value).split())


def inline(value: str | None) -> str:
    """Escape a name for a table cell, link text or heading: nothing in it is markup."""
    if value is None:
        return ""
    # "](" is no link once "]" is escaped, but tools that scan for links (and older renderers)
    # still see one; escaping the parenthesis there keeps "(feat. X)" as the seeds write it.
    return plain_text(value).translate(_MARKDOWN_TABLE).replace("\\](", "\\]\\(")


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


def image_url(value: str | None) -> str | None:
    """The URL when it is https and cannot break out of an HTML attribute or a table cell."""
    if not value or len(value) > MAX_URL_LENGTH or _URL_FORBIDDEN.search(value):
        return None
    if not value.isascii():
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.netloc:
        return None
    return value
