"""The comparison form citations are checked in: NFKC, HTML unescaped, tags and whitespace removed."""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Sequence

_TAG = re.compile(r"<[^>]+>")


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
