"""Hybrid retrieval: dense FAISS and BM25 candidates, fused by weighted scores (or reciprocal rank fusion)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.index.store import Index
from rag.records import Hit
from rag.settings import Settings


@dataclass(frozen=True)
class Ranking:
    """One side's candidates, best first: chunk rows and their raw scores."""

    rows: tuple[int, ...]
    scores: tuple[float, ...]


def rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int) -> list[tuple[int, float]]:
    """Fuse rankings: score(d) = Σ weight / (k + rank), rank from 1; ties broken by the smaller id."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def dense_ranking(index: Index, query_vector: np.ndarray, k: int, settings: Settings) -> Ranking:
    """Return the k chunks nearest to the query vector by inner product (exact, or as the dense index finds them)."""
    rows, scores = index.vectors.search(query_vector, k)
    return Ranking(tuple(rows.tolist()), tuple(scores.tolist()))


def lexical_ranking(index: Index, query_tokens: Sequence[str], k: int) -> Ranking:
    """Return up to k chunks with a positive BM25 score for the query tokens."""
    top = index.lexical.top(query_tokens, k)
    return Ranking(tuple(r for r, _ in top), tuple(s for _, s in top))


def _zscore(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-9)


def weighted_fusion(
    index: Index,
    rows: Sequence[int],
    query_vector: np.ndarray,
    query_tokens: Sequence[str],
    weights: tuple[float, float, float],
) -> list[tuple[int, float]]:
    """Score candidates by dense z-score, max-normalised BM25 and idf-weighted query-term coverage.

    Unlike RRF this keeps how far apart the candidates are; only the candidates' rows are read.
    """
    if not rows:
        return []
    dense_weight, bm25_weight, coverage_weight = weights
    ordered = np.asarray(sorted(rows), dtype=np.int64)
    dense = index.vectors.passage_vectors(ordered) @ query_vector.astype(np.float32)
    bm25 = index.lexical.row_scores(ordered, query_tokens)
    coverage = index.lexical.row_coverage(ordered, index.lexical.term_weights(query_tokens))
    score = (
        dense_weight * _zscore(dense.astype(np.float64))
        + bm25_weight * bm25 / max(float(bm25.max()), 1e-9)
        + coverage_weight * coverage
    )
    return sorted(zip(ordered.tolist(), score.tolist()), key=lambda item: (-item[1], item[0]))


def hybrid_search(
    index: Index,
    query_vector: np.ndarray,
    query_tokens: Sequence[str],
    top_k: int,
    settings: Settings,
) -> list[Hit]:
    """Return the top_k hits of dense and lexical candidates fused as the settings say, with each side's rank."""
    dense = dense_ranking(index, query_vector, settings.retrieval.candidates, settings)
    lexical = lexical_ranking(index, query_tokens, settings.retrieval.candidates)
    if settings.retrieval.fusion == "rrf":
        fused = rrf([dense.rows, lexical.rows], [settings.retrieval.dense_weight, settings.retrieval.lexical_weight], settings.retrieval.rrf_k)
    else:
        weights = (settings.retrieval.dense_weight, settings.retrieval.lexical_weight, settings.retrieval.coverage_weight)
        fused = weighted_fusion(index, sorted(set(dense.rows) | set(lexical.rows)), query_vector, query_tokens, weights)
    dense_rank = {row: rank for rank, row in enumerate(dense.rows, start=1)}
    lexical_rank = {row: rank for rank, row in enumerate(lexical.rows, start=1)}
    return [
        Hit(index.chunks[row], rank, score, dense_rank.get(row), lexical_rank.get(row))
        for rank, (row, score) in enumerate(fused[:top_k], start=1)
    ]
