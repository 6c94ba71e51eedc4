"""The dense index, chosen by size and by measured recall: exact inner product for small corpora; above a
measured size an HNSW graph over 8-bit codes whose efSearch the build raises until recall@10 against exact
search reaches `dense_min_recall`; where no affordable efSearch does (vectors with no neighbourhoods), a scan
of every 8-bit code; and if even that misses, the exact index.

Graph and scan candidates are re-scored exactly from the memory-mapped float32 vectors, so only which
passages are found can differ from exact search, never their scores or order. Every kind loads memory-mapped.

`FaissVectors` is the `VectorIndex` (rag/index/vectors/base.py) over these files: vectors.npy (float32 passage
vectors), sentence_vectors.npy (float16 sentence vectors) and dense.faiss.
"""
from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.lib.format import open_memmap

from rag.embedding.reader import READER_DIMENSION, READER_NAME
from rag.errors import index_damaged
from rag.index.arrays import load_array
from rag.index.integrity import reading
from rag.index.vectors.probes import data_like, evenly_spaced, exact_top
from rag.settings import Settings

__all__ = ["APPROXIMATE", "EXACT", "SCAN", "FaissVectors", "RecallCheck", "build_dense", "build_faiss", "exact_top", "graph_index", "load_dense", "open_faiss",
           "nearest", "recall_at", "scan_index", "tune_graph"]

log = logging.getLogger(__name__)

EXACT = "IndexFlatIP"
APPROXIMATE = "IndexHNSWSQ"
SCAN = "IndexScalarQuantizer"
# Rows the 8-bit quantiser learns each dimension's range from.
TRAIN_SAMPLE = 65_536
# Rows added per call, so a memory-mapped matrix is never copied whole.
ADD_BLOCK = 65_536
# Questions of each probe kind a build measures recall@10 with.
RECALL_QUERIES = 200
# Evenly spaced sentence vectors held in memory as the corpus's background similarity (rag/answer/decide.py).
SENTENCE_SAMPLE = 1024
FILES = ("vectors.npy", "sentence_vectors.npy", "sentence_alone_vectors.npy", "sentence_reader_vectors.npy", "dense.faiss")


def _add(index: faiss.Index, vectors: np.ndarray) -> faiss.Index:
    for start in range(0, vectors.shape[0], ADD_BLOCK):
        index.add(np.ascontiguousarray(vectors[start : start + ADD_BLOCK], dtype=np.float32))
    return index


def _train_sample(vectors: np.ndarray) -> np.ndarray:
    count = vectors.shape[0]
    sample = np.random.default_rng(0).choice(count, size=min(count, TRAIN_SAMPLE), replace=False)
    return np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32)


def graph_index(vectors: np.ndarray, settings: Settings) -> faiss.IndexHNSWSQ:
    """Return an HNSW graph over 8-bit codes of `vectors`, its efSearch not yet tuned."""
    index = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, settings.index.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = settings.index.hnsw_ef_construction
    index.train(_train_sample(vectors))
    return _add(index, vectors)


def scan_index(vectors: np.ndarray) -> faiss.IndexScalarQuantizer:
    """Return the 8-bit codes of `vectors`, searched by scanning every one."""
    index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.train(_train_sample(vectors))
    return _add(index, vectors)


class RecallCheck:
    """The probe questions of a build and their exact top 10, computed once for every index tried."""

    def __init__(self, vectors: np.ndarray, probes: np.ndarray | None) -> None:
        self.vectors = vectors
        self.sets: dict[str, np.ndarray] = {}
        if probes is not None and len(probes):
            self.sets["sentence_vectors"] = evenly_spaced(probes, RECALL_QUERIES)
        self.sets["data_like"] = data_like(vectors, RECALL_QUERIES)
        self.truth = {name: exact_top(vectors, queries, 10) for name, queries in self.sets.items()}

    def recall(self, index: faiss.Index, settings: Settings) -> dict[str, float]:
        """Return recall@10 per probe kind of `index` searched as a question searches it."""
        return {
            name: round(_recall(index, self.vectors, queries, self.truth[name], settings), 4)
            for name, queries in self.sets.items()
        }


def _measured(recall: dict[str, float]) -> dict[str, Any]:
    return {"recall_at_10": min(recall.values()), "recall_by_probe": recall}


def tune_graph(graph: faiss.IndexHNSW, checks: RecallCheck, settings: Settings) -> tuple[int, dict[str, float], list[dict]]:
    """Return the efSearch set on `graph` (the first to reach `dense_min_recall`, or the cap), its recall and all tried."""
    ef_search = settings.index.hnsw_ef_search
    most = max(ef_search, int(graph.ntotal * settings.index.hnsw_ef_search_max_share))
    tried = []
    while True:
        graph.hnsw.efSearch = ef_search  # written with the index; question time searches with it
        recall = checks.recall(graph, settings)
        tried.append({"ef_search": ef_search, **_measured(recall)})
        log.info("HNSW,SQ8 efSearch %d: recall@10 %s", ef_search, recall)
        if min(recall.values()) >= settings.index.dense_min_recall or ef_search >= most:
            return ef_search, recall, tried
        ef_search = min(2 * ef_search, most)


def build_dense(vectors: np.ndarray, settings: Settings, probes: np.ndarray | None = None) -> tuple[faiss.Index, dict[str, Any]]:
    """Return the dense index of `vectors` (row i = chunk i) and the manifest record of its type, parameters and recall.

    Args:
        probes: question-like vectors (e.g. sentence vectors) that, with vectors drawn like the data, measure
            recall@10 of an approximate index against exact search.
    """
    count, dimension = vectors.shape
    record: dict[str, Any] = {"metric": "inner_product", "exact_below": settings.index.dense_exact_below}
    if count < settings.index.dense_exact_below:
        return _add(faiss.IndexFlatIP(dimension), vectors), {"faiss": EXACT, **record}
    target = settings.index.dense_min_recall
    checks = RecallCheck(vectors, probes)
    record.update(min_recall=target, recall_queries={name: len(q) for name, q in checks.sets.items()})

    graph = graph_index(vectors, settings)
    ef_search, recall, tried = tune_graph(graph, checks, settings)
    graph_record = {
        "factory": f"HNSW{settings.index.hnsw_m},SQ8", "m": settings.index.hnsw_m, "ef_construction": settings.index.hnsw_ef_construction,
        "ef_search": ef_search, "refine": settings.index.dense_refine,
    }
    if min(recall.values()) >= target:
        return graph, {"faiss": APPROXIMATE, **record, **graph_record, **_measured(recall), "tried": tried}
    del graph
    log.info("no efSearch up to %d reaches recall@10 %.2f: scanning every 8-bit code instead", ef_search, target)
    rejected = {"rejected": {**graph_record, "tried": tried}}

    scan = scan_index(vectors)
    recall = checks.recall(scan, settings)
    scan_record = {"factory": "SQ8", "refine": settings.index.dense_refine}
    if min(recall.values()) >= target:
        return scan, {"faiss": SCAN, **record, **scan_record, **_measured(recall), **rejected}
    del scan
    log.warning("a scan of 8-bit codes finds recall@10 %s (under %.2f): the dense index is exact", recall, target)
    rejected["rejected_scan"] = {**scan_record, **_measured(recall)}
    return _add(faiss.IndexFlatIP(dimension), vectors), {"faiss": EXACT, **record, "recall_at_10": 1.0, **rejected}


def load_dense(path: Path, record: dict[str, Any], count: int, dimension: int) -> faiss.Index:
    """Return the dense index memory-mapped from `path`, after checking it is the one the manifest records."""
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except (RuntimeError, MemoryError, OverflowError):
        raise index_damaged(path.parent, f"{path.name} cannot be read") from None
    found = type(index).__name__
    if found != record.get("faiss"):
        raise index_damaged(path.parent, f"{path.name} holds a {found} dense index, the manifest records {record.get('faiss')}")
    if index.ntotal != count or index.d != dimension or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise index_damaged(
            path.parent,
            f"{path.name} holds {index.ntotal} vectors of dimension {index.d}, the manifest {count} of {dimension}",
        )
    if isinstance(index, faiss.IndexHNSW):
        # The manifest's efSearch is the one whose recall the build measured (indexes built before the
        # build tuned it stored FAISS's default 16 in the file and searched with the setting).
        index.hnsw.efSearch = int(record.get("ef_search", 0))
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
    faiss.omp_set_num_threads(max(1, settings.retrieval.search_threads))
    try:
        if not isinstance(index, (faiss.IndexHNSW, faiss.IndexScalarQuantizer)):
            scores, rows = index.search(query, k)
            keep = rows[0] >= 0
            return rows[0][keep], scores[0][keep]
        wanted = min(index.ntotal, k * max(1, settings.index.dense_refine))
        if isinstance(index, faiss.IndexHNSW):
            # The build's measured efSearch, unless the settings ask for more. The parameters travel with
            # the call, so threads sharing the index never race on them.
            ef_search = max(index.hnsw.efSearch, settings.index.hnsw_ef_search, wanted)
            _, found = index.search(query, wanted, params=faiss.SearchParametersHNSW(efSearch=ef_search))
        else:
            _, found = index.search(query, wanted)
    finally:
        faiss.omp_set_num_threads(threads)
    rows = np.sort(found[0][found[0] >= 0])  # memory-mapped rows are read in ascending order
    scores = np.asarray(vectors[rows], dtype=np.float32) @ query[0]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]


def _recall(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, settings: Settings) -> float:
    found = [set(nearest(index, vectors, q, truth.shape[1], settings)[0].tolist()) for q in queries]
    return float(np.mean([len(f & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def recall_at(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, settings: Settings, k: int = 10) -> float:
    """Return the share of each query's exact top k that `nearest` finds, averaged over the queries."""
    if len(queries) == 0 or index.ntotal == 0:
        return 1.0
    return _recall(index, vectors, np.asarray(queries, dtype=np.float32), exact_top(vectors, queries, k), settings)


class FaissVectors:
    """The `VectorIndex` over a FAISS index and the float32 passage / float16 sentence matrices (memory-mapped
    once loaded); searches with the settings it was built or opened with."""

    files = FILES

    def __init__(self, dense: faiss.Index, record: dict[str, Any], vectors: np.ndarray, sentences: np.ndarray,
                 settings: Settings, alone: np.ndarray | None = None, reader: np.ndarray | None = None) -> None:
        self._dense = dense
        self._record = {key: value for key, value in record.items() if key != "reader"}
        self._vectors = vectors
        self._sentences = sentences
        # Each sentence embedded on its own; a synthetic index without them saves its pooled ones in their place.
        self._alone = sentences if alone is None else alone
        # Each sentence as the second reader reads it (rag/embedding/reader.py); an index without them (a synthetic
        # one) saves zeros in their place and records no reader.
        self._reader = reader
        self._settings = settings

    def __len__(self) -> int:
        return int(self._vectors.shape[0])

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def faiss_index(self) -> faiss.Index:
        """Return the FAISS index itself (for benchmarks of this implementation only)."""
        return self._dense

    def search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return nearest(self._dense, self._vectors, query_vector, k, self._settings)

    def passage_vectors(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self._vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self._sentences[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def alone_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        return np.asarray(self._alone[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def reader_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        if self._reader is None:
            return None
        return np.asarray(self._reader[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    @cached_property
    def _sample(self) -> np.ndarray:
        step = max(1, len(self._sentences) // SENTENCE_SAMPLE)
        return np.asarray(self._sentences[::step][:SENTENCE_SAMPLE], dtype=np.float32)

    def sentence_sample(self) -> np.ndarray:
        return self._sample

    def exact_top(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Return each query's exact top k rows by brute force (for benchmarks of recall)."""
        return exact_top(self._vectors, np.asarray(queries, dtype=np.float32), k)

    def record(self) -> dict[str, Any]:
        return {**self._record, "reader": READER_NAME if self._reader is not None else None}

    def save(self, folder: Path) -> None:
        if self._reader is None:  # zeros, written without holding them (the file is sparse where the system allows)
            open_memmap(folder / "sentence_reader_vectors.npy", mode="w+", dtype=np.float16,
                        shape=(len(self._sentences), READER_DIMENSION)).flush()
        for name, matrix, dtype in (("vectors.npy", self._vectors, np.float32),
                                    ("sentence_vectors.npy", self._sentences, np.float16),
                                    ("sentence_alone_vectors.npy", self._alone, np.float16),
                                    ("sentence_reader_vectors.npy", self._reader, np.float16)):
            if matrix is None:
                continue
            # A matrix already memory-mapped from this very file (a synthetic index writes them in place) stays.
            target = folder / name
            mapped = getattr(matrix, "filename", None) if isinstance(matrix, np.memmap) else None
            if not (mapped and target.exists() and os.path.samefile(mapped, target)):
                np.save(folder / name, np.asarray(matrix, dtype=dtype), allow_pickle=False)
        faiss.write_index(self._dense, str(folder / "dense.faiss"))


def build_faiss(chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, settings: Settings,
                alone_vectors: np.ndarray | None = None, reader_vectors: np.ndarray | None = None) -> FaissVectors:
    """Return the FAISS vector index of these passage and sentence vectors (the sentences also probe its recall)."""
    dense, record = build_dense(chunk_vectors, settings, probes=sentence_vectors)
    return FaissVectors(dense, record, chunk_vectors, sentence_vectors, settings, alone_vectors, reader_vectors)


def _matrix(folder: Path, name: str, dtype: type, dimension: int) -> np.ndarray:
    """Return the memory-mapped (rows × dimension) matrix `name`, or raise the damaged error."""
    with reading(folder, name):
        matrix = load_array(folder / name)
    if matrix.dtype != dtype or matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise index_damaged(folder, f"{name} holds {matrix.dtype} {matrix.shape}, not {np.dtype(dtype)} rows of {dimension}")
    return matrix


def open_faiss(folder: Path, record: dict[str, Any], chunks: int, sentences: int, dimension: int,
               settings: Settings) -> FaissVectors:
    """Return the FAISS vector index in `folder`, memory-mapped, after checking it against the manifest's record
    and counts; raise the damaged error otherwise."""
    vectors = _matrix(folder, "vectors.npy", np.float32, dimension)
    sentence_vectors = _matrix(folder, "sentence_vectors.npy", np.float16, dimension)
    alone_vectors = _matrix(folder, "sentence_alone_vectors.npy", np.float16, dimension)
    reader_vectors = _matrix(folder, "sentence_reader_vectors.npy", np.float16, READER_DIMENSION)
    if not isinstance(record.get("faiss"), str) or not isinstance(record.get("reader"), (str, type(None))):
        raise index_damaged(folder, "manifest.json's dense do not have the types the build writes")
    with reading(folder, "dense.faiss"):
        dense = load_dense(folder / "dense.faiss", record, chunks, dimension)
    for name, found, wanted in (("chunks", (vectors.shape[0], dense.ntotal), chunks),
                                ("sentences", (sentence_vectors.shape[0], alone_vectors.shape[0], reader_vectors.shape[0]),
                                 sentences)):
        if len(set(found)) != 1 or found[0] != wanted:
            raise index_damaged(folder, f"{name} counts {found} disagree with the manifest's {wanted}")
    # Vectors of another reader (or none: zeros) are not comparable with this version's questions: not read.
    held = reader_vectors if record.get("reader") == READER_NAME else None
    return FaissVectors(dense, record, vectors, sentence_vectors, settings, alone_vectors, held)
