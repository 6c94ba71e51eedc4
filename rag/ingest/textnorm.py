"""The comparison form citations are checked in (NFKC, HTML unescaped, tags and whitespace removed), and what is not text."""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

_TAG = re.compile(r"<[^>]+>")
# Lone UTF-16 surrogates: a str may hold them (JSON "\ud800", undecodable command-line bytes), but they are not
# text, and UTF-8 (a JSON response, a file, the page) cannot carry them.
_NOT_TEXT = re.compile("[\ud800-\udfff]")


def normalize(text: str) -> str:
    """Return `text` in comparison form: NFKC, HTML entities unescaped, all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", html.unescape(text)).split())


def strip_tags(text: str) -> str:
    """Return `text` without HTML tags."""
    return _TAG.sub("", text)


def stands_in(lines: Sequence[str], line_start: int, line_end: int, quote: str) -> bool:
    """True when `quote` stands in lines line_start..line_end (1-based, inclusive) once tags are removed."""
    if not 1 <= line_start <= line_end <= len(lines):
        return False
    return normalize(quote) in normalize(strip_tags("\n".join(lines[line_start - 1 : line_end])))


def not_text(text: str) -> list[tuple[int, str]]:
    """Return (1-based position, character) of each character of `text` that is not valid text (a lone surrogate)."""
    return [(match.start() + 1, match.group()) for match in _NOT_TEXT.finditer(text)]


def shown(text: str) -> str:
    """Return `text` safe to echo in a message or a response: characters that are not valid text become U+FFFD."""
    return _NOT_TEXT.sub("\ufffd", text)
