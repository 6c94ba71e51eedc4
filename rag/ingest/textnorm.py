"""The comparison form citations are checked in (NFKC, HTML unescaped, tags and whitespace removed), what is not
text, and the one script (simplified) that words are matched in."""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

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
    """True when `quote` stands in lines line_start..line_end (1-based, inclusive) once tags are removed. A table
    row's pipes are not compared: cleaning writes an HTML table's row as a markdown one ("| 日本 | 1200元 |")."""
    if not 1 <= line_start <= line_end <= len(lines):
        return False
    source = normalize(strip_tags("\n".join(lines[line_start - 1 : line_end])))
    return normalize(quote).replace("|", "") in source.replace("|", "")


def not_text(text: str) -> list[tuple[int, str]]:
    """Return (1-based position, character) of each character of `text` that is not valid text (a lone surrogate)."""
    return [(match.start() + 1, match.group()) for match in _NOT_TEXT.finditer(text)]


def shown(text: str) -> str:
    """Return `text` safe to echo in a message or a response: characters that are not valid text become U+FFFD."""
    return _NOT_TEXT.sub("\ufffd", text)


@lru_cache(maxsize=1)
def _simplified_table() -> dict[int, str]:
    """Return rag/data/simplified.tsv as a str.translate table (traditional code point -> simplified character)."""
    text = (resources.files("rag") / "data" / "simplified.tsv").read_text(encoding="utf-8")
    pairs = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {ord(traditional): simplified for traditional, simplified in pairs}


def to_simplified(text: str) -> str:
    """Return `text` with its traditional Chinese characters written in simplified form (one character for one,
    so positions do not move): words are matched in one script, whichever the question and the articles use."""
    return text.translate(_simplified_table())
