"""Hybrid retrieval: dense FAISS and BM25 candidates, fused by fitted weighted scores (or reciprocal rank fusion)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.index.store import Index
from rag.ingest.headings import HEADING_CHARS, quotable
from rag.records import NO_TRANSLATION, Hit, Translation
from rag.retrieval.fusion import FusionWeights, fusion_features, load_fusion
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


def candidates(index: Index, query_vector: np.ndarray, query_tokens: Sequence[str], settings: Settings,
               translation: Translation = NO_TRANSLATION) -> tuple[Ranking, ...]:
    """Return the dense and the lexical side's candidates for a question, as many each as the settings say, and for
    a question with a translation (one in another language than the articles') those of its translated words."""
    sides = (dense_ranking(index, query_vector, settings.retrieval.candidates, settings),
             lexical_ranking(index, query_tokens, settings.retrieval.candidates))
    if translation:
        sides += (lexical_ranking(index, translation.terms(), settings.retrieval.candidates),)
    return sides


def union(*sides: Ranking) -> list[int]:
    """Return the rows any side brought, ascending: the candidates weighted fusion scores."""
    return sorted(set().union(*(side.rows for side in sides)))


def weighted_fusion(
    index: Index,
    rows: Sequence[int],
    query_vector: np.ndarray,
    query_tokens: Sequence[str],
    weights: FusionWeights,
    translation: Translation = NO_TRANSLATION,
    reading: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """Score candidates by the fitted weights over their fusion features (rag/retrieval/fusion.py), best first.

    Unlike RRF this keeps how far apart the candidates are; only the candidates' rows are read.
    """
    if not rows:
        return []
    ordered = sorted(rows)
    score = fusion_features(index, ordered, query_vector, query_tokens, sentences=weights.sentence != 0,
                            translation=translation, reading=reading if weights.reader != 0 else None) @ weights.vector()
    return sorted(zip(ordered, score.tolist()), key=lambda item: (-item[1], item[0]))


def hybrid_search(
    index: Index,
    query_vector: np.ndarray,
    query_tokens: Sequence[str],
    top_k: int,
    settings: Settings,
    translation: Translation = NO_TRANSLATION,
    sides: tuple[Ranking, ...] = (),
    reading: np.ndarray | None = None,
    weights: FusionWeights | None = None,
    within: Sequence[int] = (),
) -> list[Hit]:
    """Return the top_k hits of dense and lexical candidates fused as the settings say, with each side's rank.
    `weights` are the fusion weights the caller chose for the question (`FusionParams.for_question`: a question in
    another language than the articles' has weights of its own), else those of the articles' language; a question's
    `translation` brings candidates and features of its own. `sides` are the candidates when the caller already
    searched for them (`candidates`), the translation's side last. `reading` is the question as the second reader
    reads it (rag/embedding/reader.py), for the weights that read it. `within`, when given, are the only rows fused
    (the passages of the article a question names: rag/answer/framing.py), whichever side found them."""
    sides = sides or candidates(index, query_vector, query_tokens, settings, translation)
    dense, lexical = sides[:2]
    weights = weights or load_fusion(settings.retrieval.fusion_file).same_language
    if settings.retrieval.fusion == "rrf":
        fused = rrf([dense.rows, lexical.rows], [weights.dense, weights.lexical], settings.retrieval.rrf_k)
        if within:
            kept = set(within)
            fused = [(row, score) for row, score in fused if row in kept]
    else:
        fused = weighted_fusion(index, list(within) or union(*sides), query_vector, query_tokens, weights, translation,
                                reading)
    dense_rank = {row: rank for rank, row in enumerate(dense.rows, start=1)}
    lexical_rank = {row: rank for rank, row in enumerate(lexical.rows, start=1)}
    return [
        Hit(index.chunks[row], rank, score, dense_rank.get(row), lexical_rank.get(row))
        for rank, (row, score) in enumerate(fused[:top_k], start=1)
    ]


def answer_hits(index: Index, ranked: Sequence[Hit], top_k: int) -> list[Hit]:
    """Return the first `top_k` of `ranked` whose passage may hold an answer (`quotable_passage`), ranked anew from 1."""
    kept: list[Hit] = []
    for hit in ranked:
        if quotable_passage(index, hit.chunk.chunk_id):
            kept.append(dataclasses.replace(hit, rank=len(kept) + 1))
            if len(kept) == top_k:
                break
    return kept


def quotable_passage(index: Index, row: int) -> bool:
    """Return whether passage `row` has a sentence an answer may quote. A passage that is only its article's title or
    headings matches a question on its subject, holds no answer, and would push one out of the top passages
    (docs/answers.md, *Passages that are only a title*)."""
    chunk = index.chunks[row]
    # More characters than its sentences could hold were they all headings (none longer than HEADING_CHARS): one of
    # them is quotable, and no sentence need be read.
    if not chunk.sentence_ids or len("".join(chunk.text.split())) > HEADING_CHARS * len(chunk.sentence_ids):
        return True
    return quotable([index.sentences[i] for i in chunk.sentence_ids], chunk.title, index.on_list_item)
