"""The dense index, chosen by size: exact inner product for small corpora, an HNSW graph over 8-bit codes above a measured size.

Approximate candidates are re-scored exactly from the memory-mapped float32 vectors, so only which passages are
found can differ from exact search, never their scores or order. Both kinds load memory-mapped.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .errors import REBUILD, IndexMismatchError
from .settings import Settings

log = logging.getLogger(__name__)

EXACT = "IndexFlatIP"
APPROXIMATE = "IndexHNSWSQ"
# Rows the 8-bit quantiser learns each dimension's range from.
TRAIN_SAMPLE = 65_536
# Rows added per call, so a memory-mapped matrix is never copied whole.
ADD_BLOCK = 65_536
# Sentence vectors used as questions when a build measures the approximate index against exact search.
RECALL_QUERIES = 200


def _add(index: faiss.Index, vectors: np.ndarray) -> None:
    for start in range(0, vectors.shape[0], ADD_BLOCK):
        index.add(np.ascontiguousarray(vectors[start : start + ADD_BLOCK], dtype=np.float32))


def build_dense(vectors: np.ndarray, settings: Settings, probes: np.ndarray | None = None) -> tuple[faiss.Index, dict[str, Any]]:
    """Return the dense index of `vectors` (row i = chunk i) and the manifest record of its type and parameters.

    Args:
        probes: query-like vectors (e.g. sentence vectors) to measure an approximate index's recall@10 with.
    """
    count, dimension = vectors.shape
    if count < settings.dense_exact_below:
        index = faiss.IndexFlatIP(dimension)
        _add(index, vectors)
        return index, {"faiss": EXACT, "metric": "inner_product", "exact_below": settings.dense_exact_below}
    index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = settings.hnsw_ef_construction
    sample = np.random.default_rng(0).choice(count, size=min(count, TRAIN_SAMPLE), replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    _add(index, vectors)
    record: dict[str, Any] = {
        "faiss": APPROXIMATE,
        "factory": f"HNSW{settings.hnsw_m},SQ8",
        "metric": "inner_product",
        "exact_below": settings.dense_exact_below,
        "m": settings.hnsw_m,
        "ef_construction": settings.hnsw_ef_construction,
        "ef_search": settings.hnsw_ef_search,
        "refine": settings.dense_refine,
    }
    if probes is not None and len(probes):
        step = max(1, len(probes) // RECALL_QUERIES)
        queries = np.asarray(probes[::step][:RECALL_QUERIES], dtype=np.float32)
        record["recall_at_10"] = round(recall_at(index, vectors, queries, settings, 10), 4)
        record["recall_queries"] = f"{len(queries)} evenly spaced sentence vectors"
        log.info("approximate dense index %s: recall@10 %.3f against exact search", record["factory"], record["recall_at_10"])
        if record["recall_at_10"] < 0.95:
            log.warning(
                "the approximate dense index finds %.0f%% of the exact top 10: raise RAG_HNSW_EF_SEARCH (now %d)",
                100 * record["recall_at_10"], settings.hnsw_ef_search,
            )
    return index, record


def load_dense(path: Path, record: dict[str, Any], count: int, dimension: int) -> faiss.Index:
    """Return the dense index memory-mapped from `path`, after checking it is the one the manifest records."""
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError:
        raise IndexMismatchError(f"the index in {path.parent} is damaged ({path.name} unreadable): {REBUILD}") from None
    found = type(index).__name__
    if found != record.get("faiss"):
        raise IndexMismatchError(
            f"the index in {path.parent} holds a {found} dense index, its manifest records {record.get('faiss')}: {REBUILD}"
        )
    if index.ntotal != count or index.d != dimension or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexMismatchError(
            f"the index in {path.parent} is damaged ({path.name} holds {index.ntotal} vectors of dimension {index.d}, "
            f"the manifest {count} of {dimension}): {REBUILD}"
        )
    return index


def nearest(
    index: faiss.Index, vectors: np.ndarray, query: np.ndarray, k: int, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows and cosines of the k chunks nearest `query`, best first."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    # One question is one query: FAISS's threads would only wait on each other (and on busy cores).
    # The OpenMP thread count is per calling thread, so other threads (a build) keep theirs.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, settings.search_threads))
    try:
        if not isinstance(index, faiss.IndexHNSW):
            scores, rows = index.search(query, k)
            keep = rows[0] >= 0
            return rows[0][keep], scores[0][keep]
        wanted = min(index.ntotal, k * max(1, settings.dense_refine))
        # The search parameters travel with the call, so threads sharing the index never race on efSearch.
        params = faiss.SearchParametersHNSW(efSearch=max(settings.hnsw_ef_search, wanted))
        _, found = index.search(query, wanted, params=params)
    finally:
        faiss.omp_set_num_threads(threads)
    rows = np.sort(found[0][found[0] >= 0])  # memory-mapped rows are read in ascending order
    scores = np.asarray(vectors[rows], dtype=np.float32) @ query[0]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = ADD_BLOCK) -> np.ndarray:
    """Return the rows of each query's k largest inner products by brute force (best first), reading `vectors` in blocks."""
    count = vectors.shape[0]
    k = min(k, count)
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, count, block):
        scores = queries @ np.asarray(vectors[start : start + block], dtype=np.float32).T
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else np.argsort(-scores, axis=1)
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_rows, order, axis=1)


def recall_at(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, settings: Settings, k: int = 10) -> float:
    """Return the share of each query's exact top k that `nearest` finds, averaged over the queries."""
    if len(queries) == 0 or index.ntotal == 0:
        return 1.0
    truth = exact_top(vectors, queries, k)
    found = [set(nearest(index, vectors, q, k, settings)[0].tolist()) for q in queries]
    return float(np.mean([len(f & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))
