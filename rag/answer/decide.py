"""How sure the bot is that the articles answer the question: a calibrated 0..1 confidence.

Three signals, each comparable across questions and corpora:
- dense_z: the best candidate sentence's cosine, in standard deviations above this question's similarity
  to a fixed sample of the corpus's sentences. e5 scores sit between 0.75 and 0.9 even for unrelated
  text, so only the distance from that floor means anything.
- unknown: the share of the question's idf mass in words the corpus never uses ("估值", "GPU"): what
  such a question asks about is not in the articles.
- coverage: the share of the question's idf mass found in the top three passages together.
Chinese questions combine all three; for other languages the lexical signals are meaningless over
Chinese articles, so only dense_z speaks. The weights are a logistic fit (README, "Declining").
Three gates come first. Dense similarity alone rates chit-chat highly: a question none of whose words
the corpus knows ("Hello", "你是谁") is declined, and so is a Chinese question none of whose words appear in
the top passages ("今天天气怎么样"). And a Chinese question asking for an attribute of an entity that no
passage mentions together with it ("英伟达的股价", rag/answer/entity_gate.py) is declined, however well the passages
match word by word.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.records import Decision, Draft, Evidence, Hit
from rag.settings import Settings
from rag.index.store import Index

TOP_PASSAGES = 3


@dataclass(frozen=True)
class Signals:
    """The evidence the decision uses for one question."""

    dense_z: float
    unknown: float
    coverage: float
    lexical: bool  # whether the lexical signals apply (the question is Chinese)
    known_terms: int = 0  # distinct question words the corpus uses
    unbound: tuple[str, str] | None = None  # an (entity, attribute) the question asks about that no passage holds


def _background(index: Index, query_vector: np.ndarray) -> tuple[float, float]:
    """Mean and spread of the query's similarity to an evenly spaced sample of the corpus's sentences."""
    if len(index.sentences) == 0:
        return 0.0, 1.0
    sims = index.vectors.sentence_sample() @ query_vector.astype(np.float32)
    return float(sims.mean()), float(max(sims.std(), 1e-3))


def signals(
    index: Index,
    query_vector: np.ndarray,
    term_weights: dict[str, float],
    best_sentence_similarity: float | None,
    hits: Sequence[Hit],
    lexical: bool,
    unbound: tuple[str, str] | None = None,
) -> Signals:
    """Return the decision signals for one question."""
    known = sum(1 for t in term_weights if t in index.lexical.vocabulary)
    if best_sentence_similarity is None or not hits or not known:
        return Signals(-10.0, 1.0, 0.0, lexical, known, unbound)
    mean, std = _background(index, query_vector)
    total = sum(term_weights.values()) or 1.0
    unknown = sum(w for t, w in term_weights.items() if t not in index.lexical.vocabulary) / total
    # The lexical index already knows which terms each passage holds: no re-tokenising at question time.
    rows = [hit.chunk.chunk_id for hit in hits[:TOP_PASSAGES]]
    cover = float(index.lexical.row_coverage(rows, term_weights, together=True)[0])
    return Signals((best_sentence_similarity - mean) / std, unknown, cover, lexical, known, unbound)


def confidence(found: Signals, lexical_weights: Sequence[float], dense_weights: Sequence[float]) -> float:
    """Logistic confidence: (bias, dense_z, unknown, coverage) weights for Chinese, (bias, dense_z) otherwise."""
    if not found.known_terms or (found.lexical and (found.coverage == 0.0 or found.unbound)):
        return 0.0
    if found.lexical:
        bias, w_dense, w_unknown, w_coverage = lexical_weights
        x = bias + w_dense * found.dense_z + w_unknown * found.unknown + w_coverage * found.coverage
    else:
        bias, w_dense = dense_weights
        x = bias + w_dense * found.dense_z
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def decide(index: Index, evidence: Evidence, draft: Draft, unbound: tuple[str, str] | None, settings: Settings) -> Decision:
    """Return whether to answer with the draft or decline, and how sure: the same for every composer."""
    found = signals(index, evidence.query_vector, evidence.term_weights, draft.best_similarity, evidence.hits, evidence.chinese, unbound)
    sure = confidence(found, settings.confidence_weights_zh, settings.confidence_weights_other)
    return Decision(sure, not draft.sentences or sure < settings.refusal_threshold, unbound)
