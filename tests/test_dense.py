from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from rag.build import build_index
from rag.dense import APPROXIMATE, EXACT, build_dense, exact_top, nearest, recall_at
from rag.embedding import HashingEmbedder
from rag.errors import IndexMismatchError
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.store import load_index

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


def test_approximate_search_finds_what_brute_force_finds():
    vectors, queries = _clustered(20000, 64, seed=3, noise=1.6)  # loose clusters: a graph search can miss
    settings = Settings(dense_exact_below=1000)
    index, record = build_dense(vectors, settings, probes=queries)
    assert record["faiss"] == APPROXIMATE and record["recall_at_10"] >= 0.95
    assert recall_at(index, vectors, queries, settings) >= 0.95
    # A short candidate list finds less: the setting is what trades recall for time.
    assert recall_at(index, vectors, queries, settings.with_overrides(hnsw_ef_search=10, dense_refine=1)) < 0.95
    # Found passages carry their exact cosine, best first, like exact search.
    rows, scores = nearest(index, vectors, queries[0], 10, settings)
    assert np.allclose(scores, vectors[rows] @ queries[0], atol=1e-6) and np.all(np.diff(scores) <= 0)


def test_an_approximate_index_answers_like_the_exact_one_on_the_seeds(tmp_path):
    exact = fake_settings(tmp_path / "exact", SEEDS)
    approximate = fake_settings(tmp_path / "approximate", SEEDS, dense_exact_below=10, dense_refine=1, hnsw_ef_search=8)
    for settings in (exact, approximate):
        build_index(settings, HashingEmbedder(64))
    manifest = json.loads((approximate.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dense"]["faiss"] == APPROXIMATE and 0.0 < manifest["dense"]["recall_at_10"] <= 1.0
    assert isinstance(load_index(approximate).dense, faiss.IndexHNSWSQ)
    # 50 of 95 passages found by the graph, not by a scan: the best answers to plain questions stay.
    for question in ("Sora是什么？", "Adobe股价跌了多少？"):
        a, b = Assistant.load(exact).ask(question), Assistant.load(approximate).ask(question)
        assert a.hits[0].chunk == b.hits[0].chunk and a.text == b.text


def test_a_question_leaves_the_threads_of_a_build_alone():
    vectors, queries = _clustered(500, 16, seed=4)
    index, _ = build_dense(vectors, Settings())
    before = faiss.omp_get_max_threads()
    nearest(index, vectors, queries[0], 5, Settings(search_threads=1))
    assert faiss.omp_get_max_threads() == before


def test_a_dense_index_that_is_not_the_one_recorded_says_how_to_rebuild(tmp_path):
    settings = fake_settings(tmp_path, SEEDS, dense_exact_below=10)
    build_index(settings, HashingEmbedder(64))
    manifest_path = settings.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["dense"]["faiss"] = EXACT
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=r"IndexHNSWSQ.*records IndexFlatIP.*python -m rag build"):
        load_index(settings)
