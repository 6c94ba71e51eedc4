"""Compose a short extractive answer from retrieved passages, cite every sentence, or decline."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .lexical import Tokenizer, coverage
from .records import Citation, Hit, Sentence
from .store import Index

REFUSAL_ZH = "资料中没有找到与此问题相关的内容。"
REFUSAL_EN = "The articles do not contain an answer to this question."
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class SentenceScore:
    """A candidate answer sentence with the signals that ranked it."""

    sentence: Sentence
    score: float
    dense: float
    coverage: float
    passage_rank: int


@dataclass(frozen=True)
class Composition:
    """The composed answer text, its citations, and whether (and how confidently) it answers."""

    text: str
    citations: tuple[Citation, ...]
    refused: bool
    confidence: float


def is_chinese(text: str) -> bool:
    """True when the text contains CJK ideographs (the answer and refusal follow the question's language)."""
    return bool(_CJK.search(text))


def refusal_text(question: str) -> str:
    """Return the decline message in the question's language."""
    return REFUSAL_ZH if is_chinese(question) else REFUSAL_EN


def _normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _near_duplicate(a: str, b: str) -> bool:
    """True when one sentence is contained in the other or they share most character bigrams."""
    a, b = _normal(a), _normal(b)
    if a in b or b in a:
        return True
    grams_a = {a[i : i + 2] for i in range(len(a) - 1)}
    grams_b = {b[i : i + 2] for i in range(len(b) - 1)}
    return bool(grams_a and grams_b) and len(grams_a & grams_b) / min(len(grams_a), len(grams_b)) > 0.7


def score_sentences(
    index: Index,
    hits: Sequence[Hit],
    query_vector: np.ndarray,
    weights: dict[str, float],
    tokenizer: Tokenizer,
    passages: int,
    lexical_weight: float,
    rank_weight: float,
) -> list[SentenceScore]:
    """Score every sentence of the top passages: dense similarity, query-term coverage and passage rank."""
    seen: dict[int, int] = {}
    for hit in hits[:passages]:
        for sentence_id in hit.chunk.sentence_ids:
            seen.setdefault(sentence_id, hit.rank)
    if not seen:
        return []
    ids = np.fromiter(seen, dtype=np.int64)
    order = np.argsort(ids)  # memory-mapped rows are read in ascending order
    vectors = np.asarray(index.sentence_vectors[ids[order]], dtype=np.float32)
    dense = np.empty(len(ids), dtype=np.float32)
    dense[order] = vectors @ query_vector.astype(np.float32)
    scored = []
    for sentence_id, similarity in zip(ids.tolist(), dense.tolist()):
        sentence = index.sentences[sentence_id]
        cover = coverage(weights, set(tokenizer.tokens(sentence.text)))
        rank = seen[sentence_id]
        score = similarity + lexical_weight * cover + rank_weight / rank
        scored.append(SentenceScore(sentence, score, similarity, cover, rank))
    return sorted(scored, key=lambda s: (-s.score, s.sentence.sentence_id))


def select_sentences(scored: Sequence[SentenceScore], max_sentences: int, max_chars: int) -> list[SentenceScore]:
    """Pick the best sentences without near-repeats while they fit in `max_chars` (the first always fits)."""
    chosen: list[SentenceScore] = []
    used = 0
    best = scored[0].score if scored else 0.0
    for candidate in scored:
        if len(chosen) >= max_sentences:
            break
        if chosen and (used + len(candidate.sentence.text) > max_chars or candidate.score < best - 0.12):
            continue
        if any(_near_duplicate(candidate.sentence.text, c.sentence.text) for c in chosen):
            continue
        chosen.append(candidate)
        used += len(candidate.sentence.text)
    return chosen


def cite(chosen: Sequence[SentenceScore], titles: dict[str, str]) -> tuple[str, tuple[Citation, ...]]:
    """Return the answer text with a [n] after each sentence, and the numbered citations."""
    parts, citations = [], []
    for n, item in enumerate(chosen, start=1):
        s = item.sentence
        parts.append(f"{s.text}[{n}]")
        citations.append(Citation(n, s.file, titles.get(s.file, s.file), s.line_start, s.line_end, s.quote))
    return "".join(parts), tuple(citations)
