"""How sure the bot is that the retrieved sentences answer the question: a calibrated 0..1 signal."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .lexical import Tokenizer, coverage
from .records import Hit
from .store import Index

if TYPE_CHECKING:
    from .answering import SentenceScore

# Sentences sampled once per index to learn how similar this model finds unrelated text to a query:
# e5 scores sit between 0.75 and 0.9 even for noise, so only the distance from that floor means anything.
BACKGROUND_SAMPLE = 1024


@dataclass(frozen=True)
class Signals:
    """The evidence the decision uses, each comparable across questions."""

    dense_z: float  # best sentence similarity, in standard deviations above this query's background
    coverage: float  # share of the question's idf mass found in the best-covering top sentence
    passage_coverage: float  # the same over the top passage


def _background(index: Index, query_vector: np.ndarray) -> tuple[float, float]:
    total = len(index.sentences)
    if total == 0:
        return 0.0, 1.0
    step = max(1, total // BACKGROUND_SAMPLE)
    sample = np.asarray(index.sentence_vectors[::step][:BACKGROUND_SAMPLE], dtype=np.float32)
    sims = sample @ query_vector.astype(np.float32)
    return float(sims.mean()), float(max(sims.std(), 1e-3))


def signals(
    index: Index,
    query_vector: np.ndarray,
    weights: dict[str, float],
    scored: Sequence[SentenceScore],
    hits: Sequence[Hit],
    tokenizer: Tokenizer,
    top_sentences: int = 5,
) -> Signals:
    """Return the decision signals for one question."""
    if not scored:
        return Signals(-10.0, 0.0, 0.0)
    mean, std = _background(index, query_vector)
    best_dense = max(s.dense for s in scored)
    best_cover = max(s.coverage for s in scored[:top_sentences])
    passage_cover = coverage(weights, set(tokenizer.tokens(hits[0].chunk.text))) if hits else 0.0
    return Signals((best_dense - mean) / std, best_cover, passage_cover)


def combine(found: Signals, weights: Sequence[float]) -> float:
    """Logistic combination of the signals with fitted weights (bias, dense_z, coverage, passage_coverage)."""
    bias, w_dense, w_cover, w_passage = weights
    x = bias + w_dense * found.dense_z + w_cover * found.coverage + w_passage * found.passage_coverage
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))
