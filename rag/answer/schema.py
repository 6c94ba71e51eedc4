"""The one JSON shape of an answer: `ask --json`, every `batch` line, `/api/ask` and the page's API endpoint."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from rag.records import Answer


class CitationJSON(BaseModel):
    """One numbered citation: the quoted sentence and the lines of the file it stands in."""

    n: int = Field(description="The number of the answer's [n] marker.")
    file: str = Field(description="The article, relative to the corpus folder's parent; pass it to /api/sources.")
    title: str = Field(description="The article's title.")
    line_start: int = Field(description="First cited line of the file, 1-based.")
    line_end: int = Field(description="Last cited line, inclusive.")
    quote: str = Field(description="The cited sentence; it stands in those lines (in their `clean` text).")
    page: int | None = Field(None, description="In a PDF: the page the cited lines start on, 1-based (absent otherwise).")
    page_line: int | None = Field(None, description="In a PDF: the number of line_start on that page, 1-based.")
    section: str = Field("", description="The headings of the section the quoted sentence stands in (\"\" when none).")


class PassageJSON(BaseModel):
    """A retrieved passage: related reading under a decline, evidence under an answer."""

    rank: int = Field(description="1 for the best passage.")
    file: str
    title: str
    line_start: int
    line_end: int
    text: str
    section: str = Field("", description="The headings of the section the passage starts in, when they stand above it "
                                         "(\"焦点1 Sora能做什么?\"); empty otherwise.")
    score: float = Field(description="The fused retrieval score; comparable within one answer only.")


class AnswerJSON(BaseModel):
    """The answer: quoted sentences each followed by [n], or a decline with the passages as related reading."""

    id: Any = Field(None, description="The question's id, in batch output only.")
    question: str
    understood_as: str | None = Field(
        None, description="The standalone question a follow-up was taken as (the earlier turns' subject carried in); "
        "absent when the question was taken as asked."
    )
    small_talk: bool | None = Field(
        None, description="True for a reply to a greeting, thanks or 'what can you do': the bot's own words, no citations."
    )
    answer: str
    generated: bool | None = Field(
        None, description="True when a language model wrote `answer` (each sentence checked against its citations)."
    )
    notice: str | None = Field(None, description="What the reader should know about how the answer was written.")
    checks: dict[str, Any] | None = Field(
        None, description="Generated sentences kept and dropped, and why, when a language model was asked."
    )
    refused: bool = Field(description="True when the articles do not hold the answer; `answer` then says so.")
    confidence: float = Field(description="How sure the bot is that the articles answer the question, 0 to 1.")
    citations: list[CitationJSON]
    passages: list[PassageJSON] = Field(description="Retrieved passages, best first (related reading when refused).")
    latency_ms: float


def answer_json(answer: Answer, question_id: Any = None) -> AnswerJSON:
    """Return the answer as the schema's record."""
    return AnswerJSON(
        id=question_id,
        question=answer.question,
        understood_as=answer.understood_as,
        small_talk=answer.small_talk or None,
        generated=answer.generated or None,
        notice=answer.notice or None,
        checks=answer.checks or None,
        answer=answer.text,
        refused=answer.refused,
        confidence=round(answer.confidence, 4),
        citations=[
            CitationJSON(n=c.n, file=c.file, title=c.title, line_start=c.line_start, line_end=c.line_end, quote=c.quote,
                         page=c.page, page_line=c.page_line, section=c.section)
            for c in answer.citations
        ],
        passages=[
            PassageJSON(
                rank=h.rank, file=h.chunk.file, title=h.chunk.title, line_start=h.chunk.line_start,
                line_end=h.chunk.line_end, text=h.chunk.text, section=h.chunk.section, score=round(h.score, 6),
            )
            for h in answer.hits
        ],
        latency_ms=round(answer.latency_ms, 2),
    )


def answer_to_dict(answer: Answer, question_id: Any = None) -> dict[str, Any]:
    """Return the answer as JSON-ready data; `id` comes first when given, and is absent otherwise."""
    data = answer_json(answer, question_id).model_dump(exclude_none=question_id is None)
    for citation in data["citations"]:  # only a PDF's citations name a page
        for key in ("page", "page_line"):
            if citation.get(key, 0) is None:
                del citation[key]
    for optional in ("understood_as", "small_talk", "generated", "notice", "checks"):  # only there when they say something
        if data.get(optional) is None:
            data.pop(optional, None)
    return data
