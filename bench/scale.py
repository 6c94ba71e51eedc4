"""Load an index through the real `load_index` and `Assistant` and measure what a user waits for.

    nice -n 10 .venv/bin/python -m bench.scale /tmp/synth1m --json /tmp/synth1m-measure.json
    nice -n 10 .venv/bin/python -m bench.scale index --generated 0 --rounds 3   # the seeds

Prints index load time, peak RSS (VmHWM, before the recall step, which reads every vector), question
latency p50/p95 split into embed/retrieve/compose (Answer.timings_ms), and recall@10 of the dense index
against brute force. Questions: the public gold questions, plus `--generated` questions made of words
from random sentences of the index (so the lexical side has something to find). The real model embeds
the questions unless `--fake` (the hashing embedder, same dimension).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from rag.answer.assistant import Assistant
from rag.embedding import HashingEmbedder, load_embedder
from rag.eval.metrics import load_questions
from rag.index.lexical import shared_tokenizer
from rag.index.store import load_index
from rag.index.vectors.faiss_index import FaissVectors
from rag.settings import load_settings

GOLD = Path("../shared/eval/gold_public.jsonl")  # as in the README and Makefile
RECALL_PROBES = 200


def memory_mib() -> dict[str, float]:
    """Return this process's current and peak resident memory (MiB) from /proc, and ru_maxrss."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kib = {key: int(status[key].split()[0]) for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
    out = {key: round(value / 1024, 1) for key, value in kib.items()}
    out["ru_maxrss"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def evict(folder: Path) -> None:
    """Drop the index folder's files from the page cache (only these files), so loading reads the disk."""
    for path in folder.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def generated_questions(index, count: int, seed: int) -> list[str]:
    """Return questions made of 3–4 words of random sentences of the index."""
    rng = np.random.default_rng(seed)
    tokenizer = shared_tokenizer()
    out = []
    while len(out) < count:
        words = list(dict.fromkeys(tokenizer.tokens(index.sentences[int(rng.integers(len(index.sentences)))].text)))
        if len(words) >= 4:
            picked = [words[i] for i in sorted(rng.choice(len(words), size=int(rng.integers(3, 5)), replace=False))]
            out.append("".join(picked[:-1]) + "和" + picked[-1] + "有什么关系？")
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    """Return p50, p95 and max of `values`, rounded."""
    return {"p50": round(float(np.percentile(values, 50)), 1), "p95": round(float(np.percentile(values, 95)), 1),
            "max": round(float(np.max(values)), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="index folder")
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--generated", type=int, default=54, help="questions made from the index's own sentences")
    parser.add_argument("--rounds", type=int, default=1, help="ask every question this many times")
    parser.add_argument("--fake", action="store_true", help="embed questions with the hashing embedder")
    parser.add_argument("--cold", action="store_true", help="drop the index files from the page cache first")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.cold:
        evict(args.folder)
    result: dict = {"folder": str(args.folder), "cold": args.cold, "memory_mib_start": memory_mib()}

    settings = load_settings(index_dir=args.folder)
    started = time.perf_counter()
    index = load_index(settings)
    result["load_index_s"] = round(time.perf_counter() - started, 3)
    result["memory_mib_after_load"] = memory_mib()
    result["counts"] = dataclasses.asdict(index.manifest.counts)
    result["dense"] = dict(index.manifest.dense)
    started = time.perf_counter()
    dimension = index.manifest.model.dimension
    embedder = HashingEmbedder(dimension) if args.fake else load_embedder(settings)
    result["embedder"] = embedder.name
    result["load_model_s"] = round(time.perf_counter() - started, 3)
    assistant = Assistant(settings, index, embedder, shared_tokenizer())

    questions = [q.question for q in load_questions(args.gold)] if args.gold else []
    questions += generated_questions(index, args.generated, seed=1)
    for warm in ("Sora", "OpenAI发布了什么？", questions[-1]):
        assistant.ask(warm)
    latency, parts = [], {"embed_ms": [], "retrieve_ms": [], "compose_ms": []}
    for _ in range(args.rounds):
        for question in questions:
            answer = assistant.ask(question)
            latency.append(answer.latency_ms)
            for key in parts:
                parts[key].append(answer.timings_ms[key])
    result["questions"] = len(latency)
    result["latency_ms"] = percentiles(latency)
    result["timings_ms"] = {key: percentiles(values) for key, values in parts.items()}
    result["memory_mib_after_questions"] = memory_mib()

    # Recall reads every vector once (brute force), so it comes after the memory figures.
    started = time.perf_counter()
    question_vectors = embedder.encode_queries(questions)
    step = max(1, len(index.sentences) // RECALL_PROBES)
    probes = index.vectors.sentence_vectors(np.arange(0, len(index.sentences), step)[:RECALL_PROBES])
    recall = {}
    vectors = index.vectors
    if not isinstance(vectors, FaissVectors):
        raise SystemExit(f"bench.scale measures the FAISS vector store, not {type(vectors).__name__}")
    for name, queries in (("question_vectors", question_vectors), ("sentence_vectors", probes)):
        truth = vectors.exact_top(np.asarray(queries, dtype=np.float32), 10)
        found = [set(vectors.search(q, 10)[0].tolist()) for q in queries]
        recall[name] = round(float(np.mean([len(f & set(t.tolist())) / 10 for f, t in zip(found, truth)])), 4)
    result["recall_at_10"] = recall
    result["recall_s"] = round(time.perf_counter() - started, 1)
    if hasattr(vectors.faiss_index, "hnsw"):  # what a question searched with: the build's efSearch unless the settings ask more
        result["hnsw_ef_search"] = max(vectors.faiss_index.hnsw.efSearch, settings.index.hnsw_ef_search)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
