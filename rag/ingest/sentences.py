"""Split clean Chinese/English text into sentences, as character spans."""
from __future__ import annotations

import re

# A sentence ends at Chinese or Western end punctuation, with any closing quotes or brackets that follow it.
_END = re.compile(r"(?:[。！？；!?;]+|…+|\.(?=\s+[A-Z\"“]))[”’\"'」』）)]*|\n+")
_SOFT_BREAK = re.compile(r"[，,、：:]")
_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")

MAX_SENTENCE_CHARS = 150


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut an overlong span at the last comma-like break before `limit`, repeatedly."""
    spans = []
    while end - start > limit:
        window = text[start : start + limit]
        breaks = [m.end() for m in _SOFT_BREAK.finditer(window) if m.end() > limit // 3]
        cut = start + (breaks[-1] if breaks else limit)
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
    return spans


def sentence_spans(text: str, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences of `text`, whitespace trimmed, empty ones dropped."""
    spans: list[tuple[int, int]] = []
    start = 0
    bounds = [m.end() for m in _END.finditer(text)] + [len(text)]
    for end in bounds:
        if end <= start:
            continue
        piece = text[start:end]
        left = start + len(piece) - len(piece.lstrip())
        right = start + len(piece.rstrip())
        if right > left and _CONTENT.search(text, left, right):
            spans.extend(_split_long(text, left, right, limit))
        start = end
    return spans
