"""Exact against approximate dense search at growing sizes: the figures behind `dense_exact_below` and `hnsw_ef_search`.

    nice -n 10 .venv/bin/python -m rag.bench.ann --sizes 10000 30000 50000 100000 300000 1000000 --json /tmp/ann.json

For each size and each kind of synthetic vectors (rag/bench/vectors.py: `latent`, like real embeddings,
`islands` and `uniform`, harder and hopeless), times one question at a time through rag.dense.nearest
(what a question does) on the exact index and on HNSW+SQ8 at several efSearch, with 1 and with 2 FAISS
threads, and measures recall@10 against brute force. Builds use every thread.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from .vectors import KINDS, VectorModel
from rag.dense import build_dense, exact_top, nearest
from rag.settings import Settings

QUERIES = 200
TIMED = 100


def _timed(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, settings: Settings) -> tuple[list[set[int]], np.ndarray]:
    found, spent = [], []
    for query in queries:
        started = time.perf_counter()
        rows, _ = nearest(index, vectors, query, 10, settings)
        spent.append((time.perf_counter() - started) * 1000)
        found.append(set(rows.tolist()))
    return found, np.array(spent)


def measure(kind: str, size: int, efs: list[int], threads: list[int]) -> list[dict]:
    """Return one record per index setting for `size` vectors of `kind`."""
    model = VectorModel(kind=kind)
    rng = np.random.default_rng(size)
    articles = model.articles(max(1, size // 10), rng)
    vectors = model.passages(np.arange(size) // 10, articles, rng)
    queries = model.queries(QUERIES, articles, rng)
    truth = [set(rows.tolist()) for rows in exact_top(vectors, queries, 10)]

    def record(name: str, settings: Settings, index: faiss.Index, built: float, **extra) -> list[dict]:
        found = _timed(index, vectors, queries, settings)[0]
        recall = float(np.mean([len(f & t) / 10 for f, t in zip(found, truth)]))
        out = []
        for count in threads:
            timing = settings.with_overrides(search_threads=count)
            _timed(index, vectors, queries[:10], timing)  # warm the caches and the thread pool
            spent = _timed(index, vectors, queries[:TIMED], timing)[1]
            row = {"kind": kind, "size": size, "index": name, **extra, "threads": count,
                   "p50_ms": round(float(np.percentile(spent, 50)), 3), "p95_ms": round(float(np.percentile(spent, 95)), 3),
                   "recall_at_10": round(recall, 4), "build_s": round(built, 1)}
            print(json.dumps(row), flush=True)
            out.append(row)
        return out

    rows = []
    started = time.perf_counter()
    exact, _ = build_dense(vectors, Settings(dense_exact_below=size + 1))
    rows += record("exact", Settings(), exact, time.perf_counter() - started)
    del exact
    started = time.perf_counter()
    graph, info = build_dense(vectors, Settings(dense_exact_below=0))
    built = time.perf_counter() - started
    for ef in efs:
        rows += record(info["factory"], Settings(hnsw_ef_search=ef), graph, built, ef_search=ef)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 50_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--ef", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="FAISS threads while timing")
    parser.add_argument("--kinds", nargs="+", default=["latent", "islands", "uniform"], choices=list(KINDS))
    parser.add_argument("--json", type=Path, help="also write every record here")
    args = parser.parse_args()
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads", flush=True)
    rows = [row for kind in args.kinds for size in args.sizes for row in measure(kind, size, args.ef, args.threads)]
    print(f"\n{'kind':8} {'size':>9} {'index':14} {'ef':>4} {'threads':>7} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>9} {'build s':>8}")
    for r in rows:
        print(f"{r['kind']:8} {r['size']:>9} {r['index']:14} {r.get('ef_search', ''):>4} {r['threads']:>7} {r['p50_ms']:>8.2f} "
              f"{r['p95_ms']:>8.2f} {r['recall_at_10']:>9.3f} {r['build_s']:>8.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
