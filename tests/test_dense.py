from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from rag.embedding import HashingEmbedder
from rag.errors import IndexMismatchError
from rag.index.build import build_index
from rag.index.store import load_index
from rag.index.vectors.faiss_index import APPROXIMATE, EXACT, SCAN, build_dense, exact_top, load_dense, nearest, recall_at
from rag.settings import Settings

from support import SEEDS, fake_settings


def _clustered(count: int, dimension: int, seed: int, noise: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around 200 random centres, and 50 queries near random centres: structure like real embeddings."""
    rng = np.random.default_rng(seed)

    def unit(a: np.ndarray) -> np.ndarray:
        return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)

    centres = unit(rng.standard_normal((200, dimension)))
    vectors = unit(centres[rng.integers(0, 200, count)] + noise * unit(rng.standard_normal((count, dimension))))
    queries = unit(centres[rng.integers(0, 200, 50)] + noise * unit(rng.standard_normal((50, dimension))))
    return vectors, queries


def test_exact_top_equals_sorting_every_score():
    vectors, queries = _clustered(3000, 32, seed=1)
    brute = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
    assert np.array_equal(exact_top(vectors, queries, 10, block=700), brute)


def test_the_index_type_follows_the_size():
    vectors, _ = _clustered(2000, 32, seed=2)
    assert build_dense(vectors, Settings(dense_exact_below=2001))[1]["faiss"] == EXACT
    index, record = build_dense(vectors, Settings(dense_exact_below=2000, hnsw_m=8))
    assert record["faiss"] == APPROXIMATE and isinstance(index, faiss.IndexHNSWSQ)
    assert record["factory"] == "HNSW8,SQ8" and index.ntotal == 2000


def _uniform(count: int, dimension: int, seed: int) -> np.ndarray:
    """Unit vectors uniform on the sphere: no neighbourhoods, the worst case for a graph."""
    rows = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_approximate_search_finds_what_brute_force_finds():
    vectors, queries = _clustered(20000, 64, seed=3, noise=1.6)  # loose clusters: a graph search can miss
    settings = Settings(dense_exact_below=1000)
    index, record = build_dense(vectors, settings, probes=queries)
    assert record["faiss"] == APPROXIMATE and record["recall_at_10"] >= 0.95
    assert recall_at(index, vectors, queries, settings) >= 0.95
    # A short candidate list finds less: efSearch is what trades recall for time.
    index.hnsw.efSearch = 10
    assert recall_at(index, vectors, queries, settings.with_overrides(hnsw_ef_search=10, dense_refine=1)) < 0.95
    # Found passages carry their exact cosine, best first, like exact search.
    rows, scores = nearest(index, vectors, queries[0], 10, settings)
    assert np.allclose(scores, vectors[rows] @ queries[0], atol=1e-6) and np.all(np.diff(scores) <= 0)


def test_the_build_raises_ef_search_until_recall_is_reached_and_questions_use_it(tmp_path):
    vectors, queries = _clustered(20000, 64, seed=3, noise=1.6)
    settings = Settings(dense_exact_below=1000, hnsw_ef_search=16, hnsw_ef_search_max_share=0.02)
    index, record = build_dense(vectors, settings, probes=queries)
    tried = record["tried"]
    # Doubling from the setting up to 2% of the rows (400): every value before the chosen one missed,
    # the chosen one reaches 0.95.
    expected = [min(16 * 2**i, 400) for i in range(len(tried))]
    assert [t["ef_search"] for t in tried] == expected and len(tried) > 1
    assert all(t["recall_at_10"] < 0.95 for t in tried[:-1]) and tried[-1]["recall_at_10"] >= 0.95
    assert record["ef_search"] == tried[-1]["ef_search"] == index.hnsw.efSearch
    assert set(record["recall_by_probe"]) == {"sentence_vectors", "data_like"}
    # A question with the settings' smaller efSearch searches with the build's, and finds what it measured.
    assert recall_at(index, vectors, queries, settings.with_overrides(hnsw_ef_search=1)) >= 0.95
    at_build = Settings(hnsw_ef_search=record["ef_search"])
    lowered = settings.with_overrides(hnsw_ef_search=1)
    faiss.write_index(index, str(tmp_path / "dense.faiss"))
    loaded = load_dense(tmp_path / "dense.faiss", record, *vectors.shape)
    for query in queries[:10]:
        expected = nearest(index, vectors, query, 10, at_build)[0]
        assert np.array_equal(nearest(index, vectors, query, 10, lowered)[0], expected)
        assert np.array_equal(nearest(loaded, vectors, query, 10, lowered)[0], expected)


def test_uniform_vectors_get_a_scan_of_codes_not_a_graph_that_misses():
    vectors = _uniform(4000, 96, seed=5)
    settings = Settings(dense_exact_below=1000, hnsw_m=8, hnsw_ef_search=8)
    index, record = build_dense(vectors, settings, probes=_uniform(200, 96, seed=6))
    # Graph efSearch doubled up to its cap (0.4% of 4000 = 16) and never reached 0.95.
    rejected = record["rejected"]["tried"]
    assert [t["ef_search"] for t in rejected] == [8, 16] and max(t["recall_at_10"] for t in rejected) < 0.95
    assert record["faiss"] == SCAN and isinstance(index, faiss.IndexScalarQuantizer) and record["recall_at_10"] >= 0.95
    # Fresh uniform questions, which the build never saw, find their exact ten.
    assert recall_at(index, vectors, _uniform(100, 96, seed=7), settings) >= 0.95
    rows, scores = nearest(index, vectors, vectors[17], 10, settings)
    assert rows[0] == 17 and np.allclose(scores, vectors[rows] @ vectors[17], atol=1e-6) and np.all(np.diff(scores) <= 0)


def test_without_sentence_vectors_the_build_still_measures_on_data_like_questions():
    vectors = _uniform(4000, 96, seed=5)
    _, record = build_dense(vectors, Settings(dense_exact_below=1000, hnsw_m=8, hnsw_ef_search=8))
    assert record["faiss"] == SCAN and set(record["recall_by_probe"]) == {"data_like"}


def test_when_even_a_scan_of_codes_misses_the_index_is_exact():
    # Rows that differ below the 8-bit codes' resolution: neither codes nor a graph over them can rank them.
    rng = np.random.default_rng(8)
    base = rng.standard_normal(32).astype(np.float32)
    vectors = base + 1e-4 * rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = Settings(dense_exact_below=1000, hnsw_m=8, hnsw_ef_search=8, dense_refine=1)
    index, record = build_dense(vectors, settings)
    assert record["rejected_scan"]["recall_at_10"] < 0.95
    assert record["faiss"] == EXACT and isinstance(index, faiss.IndexFlatIP) and record["recall_at_10"] == 1.0


def test_a_scan_index_loads_memory_mapped_and_is_checked(tmp_path):
    vectors = _uniform(3000, 48, seed=9)
    index, record = build_dense(vectors, Settings(dense_exact_below=1000, hnsw_m=8, hnsw_ef_search=8))
    assert record["faiss"] == SCAN
    faiss.write_index(index, str(tmp_path / "dense.faiss"))
    loaded = load_dense(tmp_path / "dense.faiss", record, 3000, 48)
    query = _uniform(1, 48, seed=10)[0]
    assert np.array_equal(nearest(loaded, vectors, query, 10, Settings())[0], exact_top(vectors, query[None], 10)[0])
    with pytest.raises(IndexMismatchError, match=r"IndexScalarQuantizer.*records IndexHNSWSQ.*python -m rag build"):
        load_dense(tmp_path / "dense.faiss", dict(record, faiss=APPROXIMATE), 3000, 48)


def test_a_loaded_graph_searches_with_the_efsearch_its_manifest_records(tmp_path):
    settings = fake_settings(tmp_path, SEEDS, dense_exact_below=10, dense_refine=1)
    build_index(settings, HashingEmbedder(64))
    manifest = json.loads((settings.index.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dense"]["faiss"] == APPROXIMATE and manifest["dense"]["recall_at_10"] >= 0.95
    assert load_index(settings).vectors.faiss_index.hnsw.efSearch == manifest["dense"]["ef_search"]
    assert faiss.read_index(str(settings.index.index_dir / "dense.faiss")).hnsw.efSearch == manifest["dense"]["ef_search"]


def test_the_faiss_vector_store_is_a_vector_index_that_saves_opens_and_searches_exactly(tmp_path):
    from rag.index.manifest import Counts
    from rag.index.vectors.base import VectorIndex
    from rag.index.vectors.factory import build_vectors, open_vectors

    vectors, queries = _clustered(3000, 32, seed=3)
    sentences = vectors[::2].astype(np.float16)
    settings = Settings(dense_exact_below=1000, dense_refine=2)  # an approximate index, re-scored exactly
    built = build_vectors(vectors, sentences, settings)
    assert isinstance(built, VectorIndex) and len(built) == 3000 and built.dimension == 32
    built.save(tmp_path)
    opened = open_vectors(tmp_path, built.record(), Counts(1, 3000, len(sentences)), 32, settings)
    for query in queries[:10]:
        rows, scores = opened.search(query, 10)
        assert np.array_equal(rows, built.search(query, 10)[0])
        assert np.allclose(scores, vectors[rows] @ query, atol=1e-6)  # exact cosines, best first
        assert np.all(np.diff(scores) <= 0)
    picked = np.array([7, 2, 2999])
    assert np.array_equal(opened.passage_vectors(picked), vectors[picked])
    assert np.array_equal(opened.sentence_vectors(np.array([5, 1])), sentences[[5, 1]].astype(np.float32))
    assert opened.sentence_sample().dtype == np.float32 and opened.sentence_sample().shape[1] == 32


def test_a_vector_store_the_version_does_not_have_is_a_one_line_error(tmp_path):
    from rag.errors import RagError
    from rag.settings import load_settings

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    elsewhere = load_settings(env={"RAG_VECTOR_STORE": "milvus"}, corpus_dir=SEEDS, index_dir=settings.index.index_dir,
                              embed_model="hash:64")
    for attempt in (lambda: build_index(elsewhere, HashingEmbedder(64)), lambda: load_index(elsewhere)):
        with pytest.raises(RagError, match=r"^no vector store 'milvus': set RAG_VECTOR_STORE to one of faiss$"):
            attempt()
