"""Exact against approximate dense search at growing sizes: the figures behind the settings of rag/index/vectors/faiss_index.py.

    nice -n 10 .venv/bin/python -m bench.ann --sizes 100000 300000 --kinds uniform latent --json /tmp/ann.json
    nice -n 10 .venv/bin/python -m bench.ann --index /tmp/synth1m      # an index on disk, e.g. 1M passages

For each size and kind of synthetic vectors (bench//vectors.py: `latent`, like real embeddings, `islands`
and `uniform`, harder and hopeless for a graph), builds what a build would (rag.index.vectors.faiss_index.build_dense: the graph
with its efSearch raised until recall@10 reaches 0.95 on sentence-like and data-like probes, or the scan
of 8-bit codes, or exact) and, beside it, the exact index, the scan, and the graph at each `--ef`. Each is
timed one question at a time through rag.index.vectors.faiss_index.nearest (what a question does) on 100 questions drawn like
the passages, which the build never saw, and its recall@10 against brute force measured on 200 of them.
With `--index`, the folder's own graph (dense.faiss) is re-tuned as a build would tune it now.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from bench.vectors import KINDS, VectorModel
from rag.index.vectors.faiss_index import RecallCheck, build_dense, exact_top, graph_index, nearest, scan_index, tune_graph
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


def _record(base: dict, index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, truth: list[set[int]],
            settings: Settings, threads: list[int]) -> list[dict]:
    found = _timed(index, vectors, queries, settings)[0]
    recall = float(np.mean([len(f & t) / 10 for f, t in zip(found, truth)]))
    out = []
    for count in threads:
        timing = settings.with_overrides(search_threads=count)
        _timed(index, vectors, queries[:10], timing)  # warm the caches and the thread pool
        spent = _timed(index, vectors, queries[:TIMED], timing)[1]
        row = {**base, "threads": count, "p50_ms": round(float(np.percentile(spent, 50)), 2),
               "p95_ms": round(float(np.percentile(spent, 95)), 2), "recall_at_10": round(recall, 4)}
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def measure(kind: str, size: int, efs: list[int], threads: list[int]) -> list[dict]:
    """Return one record per index for `size` vectors of `kind`."""
    model = VectorModel(kind=kind)
    rng = np.random.default_rng(size)
    articles = model.articles(max(1, size // 10), rng)
    vectors = model.passages(np.arange(size) // 10, articles, rng)
    sentences = model.sentences(rng.integers(0, size, 1000), vectors, rng)  # a build's probes
    queries = model.queries(QUERIES, articles, rng)
    truth = [set(rows.tolist()) for rows in exact_top(vectors, queries, 10)]
    base = {"kind": kind, "size": size}
    settings = Settings(dense_exact_below=0)
    rows = []

    def timed_build(build):
        started = time.perf_counter()
        built = build()
        return built, round(time.perf_counter() - started, 1)

    (index, record), seconds = timed_build(lambda: build_dense(vectors, settings, probes=sentences))
    tried = record.get("tried") or record.get("rejected", {}).get("tried", [])
    chosen = {
        "index": "build: " + record.get("factory", record["faiss"]), "ef_search": record.get("ef_search"),
        "build_recall": record["recall_at_10"], "build_s": seconds,
        "tried": [(t["ef_search"], t["recall_at_10"]) for t in tried],
    }
    rows += _record({**base, **chosen}, index, vectors, queries, truth, settings, threads)
    del index
    exact, seconds = timed_build(lambda: build_dense(vectors, Settings(dense_exact_below=size + 1))[0])
    rows += _record({**base, "index": "IndexFlatIP", "build_s": seconds}, exact, vectors, queries, truth, settings, threads)
    del exact
    scan, seconds = timed_build(lambda: scan_index(vectors))
    rows += _record({**base, "index": "SQ8 scan", "build_s": seconds}, scan, vectors, queries, truth, settings, threads)
    del scan
    if efs:
        graph, seconds = timed_build(lambda: graph_index(vectors, settings))
        for ef in efs:
            graph.hnsw.efSearch = ef
            rows += _record({**base, "index": "HNSW32,SQ8", "ef_search": ef, "build_s": seconds}, graph, vectors, queries,
                            truth, Settings(hnsw_ef_search=ef), threads)
    return rows


def measure_folder(folder: Path, threads: list[int]) -> list[dict]:
    """Return the records of an index folder's graph re-tuned as a build would tune it, and of a scan of its vectors."""
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    probes = np.load(folder / "sentence_vectors.npy", mmap_mode="r")
    graph = faiss.read_index(str(folder / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC)
    settings = Settings(dense_exact_below=0)
    checks = RecallCheck(vectors, probes)
    base = {"kind": str(folder), "size": vectors.shape[0]}
    queries, truth = checks.sets["data_like"], [set(rows.tolist()) for rows in checks.truth["data_like"]]
    out = []
    if isinstance(graph, faiss.IndexHNSW):
        started = time.perf_counter()
        ef_search, recall, tried = tune_graph(graph, checks, settings)
        retuned = {
            "index": "retuned HNSW32,SQ8", "ef_search": ef_search, "build_recall": min(recall.values()),
            "tune_s": round(time.perf_counter() - started, 1), "tried": [(t["ef_search"], t["recall_by_probe"]) for t in tried],
        }
        out += _record({**base, **retuned}, graph, vectors, queries, truth, settings, threads)
    del graph
    started = time.perf_counter()
    scan = scan_index(vectors)
    scanned = {
        "index": "SQ8 scan", "build_s": round(time.perf_counter() - started, 1),
        "build_recall": min(checks.recall(scan, settings).values()),
    }
    return out + _record({**base, **scanned}, scan, vectors, queries, truth, settings, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--ef", type=int, nargs="*", default=[], help="also time the graph at these efSearch")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="FAISS threads while timing")
    parser.add_argument("--kinds", nargs="+", default=["uniform", "latent"], choices=list(KINDS))
    parser.add_argument("--index", type=Path, help="measure this index folder's vectors instead of synthetic ones")
    parser.add_argument("--json", type=Path, help="also write every record here")
    args = parser.parse_args()
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads", flush=True)
    if args.index:
        rows = measure_folder(args.index, args.threads)
    else:
        rows = [row for kind in args.kinds for size in args.sizes for row in measure(kind, size, args.ef, args.threads)]
    print(f"\n{'kind':8} {'size':>9} {'index':22} {'ef':>5} {'threads':>7} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>9} {'build s':>8}")
    for r in rows:
        print(f"{r['kind']:8} {r['size']:>9} {r['index']:22} {r.get('ef_search') or '':>5} {r['threads']:>7} {r['p50_ms']:>8.2f} "
              f"{r['p95_ms']:>8.2f} {r['recall_at_10']:>9.3f} {r.get('build_s', ''):>8}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
