"""What an answer streamed piece by piece is made of: the question as understood, text as it comes, the answer.

The last event always carries the whole answer, the same as the one `Assistant.ask` returns; the pieces
before it are for showing progress only. A language model's tokens come marked as a draft: its sentences
are checked once it has finished, and the final answer replaces the draft.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rag.answer.schema import answer_to_dict
from rag.records import Answer

# Characters per piece when a finished answer is sent in pieces: a sentence arrives in a few steps.
PIECE_CHARS = 16
_MARKER = re.compile(r"(\[\d+\])")


@dataclass(frozen=True)
class QuestionEvent:
    """The question as taken: `understood_as` the standalone form of a follow-up, when it differs."""

    question: str
    understood_as: str | None = None
    small_talk: bool = False


@dataclass(frozen=True)
class DraftingEvent:
    """The language model was asked: the text pieces that follow are its unchecked draft."""

    notice: str


@dataclass(frozen=True)
class TextEvent:
    """A piece of text: of the model's draft (`draft`), or of the finished answer."""

    text: str
    draft: bool = False


@dataclass(frozen=True)
class AnswerEvent:
    """The whole answer, last: it replaces whatever the pieces before it showed."""

    answer: Answer


Event = QuestionEvent | DraftingEvent | TextEvent | AnswerEvent


def pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """Return the text cut into pieces of about `size` characters that join back into it; a [n] marker is never cut."""
    out: list[str] = []
    for part in _MARKER.split(text):
        if not part:
            continue
        if _MARKER.fullmatch(part) and out:
            out[-1] += part
            continue
        out += [part[at : at + size] for at in range(0, len(part), size)]
    return out


def event_data(event: Event) -> tuple[str, dict[str, Any]]:
    """Return the name and JSON data of one step of an answer, as the HTTP API and the page's endpoint send it."""
    if isinstance(event, QuestionEvent):
        data: dict[str, Any] = {"question": event.question}
        if event.understood_as:
            data["understood_as"] = event.understood_as
        if event.small_talk:
            data["small_talk"] = True
        return "question", data
    if isinstance(event, DraftingEvent):
        return "draft", {"notice": event.notice}
    if isinstance(event, TextEvent):
        return "delta", {"text": event.text, "draft": event.draft}
    if isinstance(event, AnswerEvent):
        return "answer", answer_to_dict(event.answer)
    raise TypeError(f"not an answer event: {event!r}")
