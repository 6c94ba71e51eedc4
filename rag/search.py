"""Hybrid retrieval: dense FAISS and BM25 rankings fused by weighted reciprocal rank fusion."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .records import Hit
from .store import Index


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


def dense_ranking(index: Index, query_vector: np.ndarray, k: int) -> Ranking:
    """Return the k chunks nearest to the query vector by inner product."""
    k = min(k, index.dense.ntotal)
    if k == 0:
        return Ranking((), ())
    scores, rows = index.dense.search(np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32), k)
    keep = rows[0] >= 0
    return Ranking(tuple(rows[0][keep].tolist()), tuple(scores[0][keep].tolist()))


def lexical_ranking(index: Index, query_tokens: Sequence[str], k: int) -> Ranking:
    """Return up to k chunks with a positive BM25 score for the query tokens."""
    top = index.lexical.top(query_tokens, k)
    return Ranking(tuple(r for r, _ in top), tuple(s for _, s in top))


def hybrid_search(
    index: Index,
    query_vector: np.ndarray,
    query_tokens: Sequence[str],
    top_k: int,
    candidates: int,
    rrf_k: int,
    dense_weight: float,
    lexical_weight: float,
) -> list[Hit]:
    """Return the top_k fused hits, each with its rank on both sides for inspection."""
    dense = dense_ranking(index, query_vector, candidates)
    lexical = lexical_ranking(index, query_tokens, candidates)
    fused = rrf([dense.rows, lexical.rows], [dense_weight, lexical_weight], rrf_k)
    dense_rank = {row: rank for rank, row in enumerate(dense.rows, start=1)}
    lexical_rank = {row: rank for rank, row in enumerate(lexical.rows, start=1)}
    return [
        Hit(index.chunks[row], rank, score, dense_rank.get(row), lexical_rank.get(row))
        for rank, (row, score) in enumerate(fused[:top_k], start=1)
    ]
