"""The question-answering pipeline: validate, retrieve, compose, decline when the articles do not say."""
from __future__ import annotations

import logging
import time
from typing import Any

from rag.answer.compose import cite, is_chinese, refusal_text, score_sentences, select_sentences
from rag.answer.entity_gate import unbound_pair
from rag.answer.decide import confidence, signals
from rag.embedding import Embedder, load_embedder
from rag.errors import QuestionError, QuestionTooLongError
from rag.index.lexical import Tokenizer, shared_tokenizer
from rag.records import Answer
from rag.retrieval.search import hybrid_search
from rag.settings import Settings
from rag.index.store import Index, load_index
from rag.ingest.textnorm import not_text

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions over one loaded index; safe to share between threads (it holds no per-question state)."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, tokenizer: Tokenizer) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.titles = {entry["file"]: entry["title"] for entry in index.manifest.get("articles", [])}

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None) -> Assistant:
        """Return an assistant over the index the settings point at (checked against them)."""
        index = load_index(settings)
        tokenizer = shared_tokenizer()
        tokenizer.tagged("")  # read the part-of-speech tags now (~0.7 s), not on the first question
        return cls(settings, index, embedder or load_embedder(settings), tokenizer)

    def validate(self, question: str) -> str:
        """Return the question stripped, or raise QuestionError saying what to change."""
        question = (question or "").strip()
        if not question:
            raise QuestionError("the question is empty: type a question about the articles")
        bad = not_text(question)
        if bad:
            where = ", ".join(f"U+{ord(char):04X} at character {position}" for position, char in bad[:3])
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise QuestionError(f"the question has characters that are not valid text ({where}{more}): retype it")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionTooLongError(f"the question is {len(question)} characters long; the limit is {limit}: shorten it")
        return question

    def unbound(self, question: str) -> tuple[str, str] | None:
        """Return an (entity, attribute) the question asks about that no passage holds together (rag/answer/entity_gate.py)."""
        return unbound_pair(self.tokenizer.tagged(question), self.index.lexical, self.settings.entity_topic_share)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Return the answer to one question, with citations, or a decline with related passages."""
        started = time.perf_counter()
        question = self.validate(question)
        settings = self.settings
        top_k = max(1, min(top_k or settings.top_k, 100))
        timings: dict[str, float] = {}

        tick = time.perf_counter()
        query_vector = self.embedder.encode_queries([question])[0]
        tokens = self.tokenizer.tokens(question)
        timings["embed_ms"] = (time.perf_counter() - tick) * 1000

        tick = time.perf_counter()
        hits = hybrid_search(self.index, query_vector, tokens, max(top_k, settings.top_k), settings)
        timings["retrieve_ms"] = (time.perf_counter() - tick) * 1000

        tick = time.perf_counter()
        weights = self.index.lexical.term_weights(tokens)
        scored = score_sentences(
            self.index, hits, query_vector, weights,
            settings.answer_passages, settings.sentence_lexical_weight, settings.sentence_rank_weight,
        )
        chosen = select_sentences(
            self.index, scored, settings.answer_max_blocks, settings.answer_max_chars, settings.answer_score_margin
        )
        best_similarity = max((s.dense for s in scored), default=None)
        chinese = is_chinese(question)
        unbound = self.unbound(question) if chinese else None
        found = signals(self.index, query_vector, weights, best_similarity, hits, chinese, unbound)
        sure = confidence(found, settings.confidence_weights_zh, settings.confidence_weights_other)
        refused = not chosen or sure < settings.refusal_threshold
        if refused:
            text, citations = refusal_text(question, unbound), ()
        else:
            text, citations = cite(chosen, self.titles)
        timings["compose_ms"] = (time.perf_counter() - tick) * 1000
        return Answer(
            question=question,
            text=text,
            refused=refused,
            citations=citations,
            hits=tuple(hits[:top_k]),
            confidence=sure,
            latency_ms=(time.perf_counter() - started) * 1000,
            timings_ms=timings,
        )


def answer_to_dict(answer: Answer, question_id: Any = None) -> dict[str, Any]:
    """Return the answer in the JSON shape shared by `ask --json`, `batch` and the HTTP API."""
    out: dict[str, Any] = {} if question_id is None else {"id": question_id}
    out.update(
        question=answer.question,
        answer=answer.text,
        refused=answer.refused,
        confidence=round(answer.confidence, 4),
        citations=[
            {"n": c.n, "file": c.file, "title": c.title, "line_start": c.line_start, "line_end": c.line_end, "quote": c.quote}
            for c in answer.citations
        ],
        passages=[
            {
                "rank": h.rank,
                "file": h.chunk.file,
                "title": h.chunk.title,
                "line_start": h.chunk.line_start,
                "line_end": h.chunk.line_end,
                "text": h.chunk.text,
                "score": round(h.score, 6),
            }
            for h in answer.hits
        ],
        latency_ms=round(answer.latency_ms, 2),
    )
    return out
