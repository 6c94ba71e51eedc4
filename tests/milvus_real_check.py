"""The dense path of the Milvus store against a real Milvus 2.3.5 server: run by tests/test_stores.py inside a
network namespace of its own (`python tests/milvus_real_check.py DATA_DIR`); prints one JSON object of what it saw.

It starts the server (the `milvus` package's `milvus-server`), puts three articles' passages and sentences into a
staged generation, deletes one article, publishes (flush, index, load, manifest, alias), searches, then
publishes a second generation while holding the first.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.milvus import stop_group
from rag.errors import RagError
from rag.index.manifest import ArticleEntry, Counts, Manifest, ModelInfo
from rag.index.store import ArticleText
from rag.index.stores.milvus import MilvusStore
from rag.index.vectors.probes import exact_top

DIMENSION = 16
PASSAGES = 3_000  # per article: enough for a search of unsealed, unindexed rows to miss neighbours


def article(store_generation, number: int, rng: np.random.Generator, first: int) -> tuple[str, np.ndarray]:
    """Put article `number` with PASSAGES random unit vectors from row `first`; return its file and vectors."""
    file = f"corpus/{number}.txt"
    vectors = rng.standard_normal((PASSAGES, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [{"chunk_id": first + i, "file": file, "title": "t", "text": f"p{first + i}", "line_start": 1, "line_end": 1,
               "sentence_ids": [first + i], "char_start": 0, "char_end": 1} for i in range(PASSAGES)]
    sentences = [{"sentence_id": first + i, "file": file, "text": "s", "quote": "s", "line_start": 1, "line_end": 1,
                  "char_start": 0, "char_end": 1} for i in range(PASSAGES)]
    store_generation.put_article(number, ArticleText(file, "0" * 64, "text"), chunks, vectors, None, sentences, vectors)
    return file, vectors


def manifest(count: int) -> Manifest:
    entries = tuple(ArticleEntry(f"corpus/{n}.txt", "t", "0" * 64, (n * PASSAGES, PASSAGES), (n * PASSAGES, PASSAGES))
                    for n in range(count))
    return Manifest.create({"embed_model": "random"}, ModelInfo("random", DIMENSION), Counts(count, count * PASSAGES,
                           count * PASSAGES), entries, {"kind": "milvus", "index": "FLAT", "metric": "IP"})


def main(data_dir: str) -> None:
    # A session of its own: the wrapper starts the milvus binary as a child, which outlives a signal to the wrapper.
    server = subprocess.Popen([os.environ["MILVUS_SERVER"], "--data", data_dir], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    seen: dict = {}
    try:
        started = time.monotonic()
        store = MilvusStore.from_uri("milvus://127.0.0.1:19530/dense")
        while True:
            try:
                store.client  # noqa: B018 - connects
                break
            except RagError:
                if time.monotonic() - started > 120:
                    raise
                store.__dict__.pop("client", None)
                time.sleep(1)
        seen["start_seconds"] = round(time.monotonic() - started, 1)
        seen["version"] = store.version
        seen["sparse"] = store.sparse
        rng = np.random.default_rng(7)
        staged = store.stage(DIMENSION, {"kind": "milvus", "index": "FLAT", "metric": "IP"})
        kept = {}
        for number in range(3):
            file, vectors = article(staged, number, rng, number * PASSAGES)
            kept[number] = vectors
        staged.delete_article("corpus/1.txt")
        del kept[1]
        tick = time.monotonic()
        staged.publish(manifest(3))
        seen["publish_seconds"] = round(time.monotonic() - tick, 1)
        rows = np.concatenate([np.arange(n * PASSAGES, (n + 1) * PASSAGES) for n in kept])
        matrix = np.concatenate([kept[n] for n in kept])
        queries = rng.standard_normal((20, DIMENSION)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        truth = rows[exact_top(matrix, queries, 10)]
        first = store.dense()
        found = [first.search(q, 10)[0] for q in queries]
        seen["recall_at_10"] = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
        seen["same_order"] = all(list(f) == list(t) for f, t in zip(found, truth))
        seen["deleted_found"] = any(PASSAGES <= r < 2 * PASSAGES for f in found for r in f)
        seen["vectors_round_trip"] = bool(np.allclose(first.passage_vectors(rows[:5]), matrix[:5]))
        # The sentences' index keeps 4-bit codes only: what comes back must be the vectors as put, not the codes.
        seen["sentence_vectors_exact"] = bool(np.array_equal(first.sentence_vectors(rows[-500:]), matrix[-500:]))

        second = store.stage(DIMENSION, {"kind": "milvus", "index": "FLAT", "metric": "IP"})
        article(second, 0, np.random.default_rng(99), 0)
        second.publish(manifest(1))
        seen["old_reader_still_searches"] = list(first.search(queries[0], 10)[0]) == list(truth[0])
        newer = store.dense()
        seen["new_reader_sees_new"] = list(newer.search(queries[0], 10)[0]) != list(truth[0])
        seen["generations"] = len(store._generations())
        try:
            store.open(__import__("rag.settings", fromlist=["load_settings"]).load_settings(env={}, embed_model="random"))
            seen["open_error"] = None
        except RagError as error:
            seen["open_error"] = str(error)
    finally:
        stop_group(server, seconds=20)
        print(json.dumps(seen))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main(sys.argv[1])
