"""Jobs run in a fresh process each, so that model-load time and peak memory are those a user's process sees."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench import machine
from rag.settings import Settings


def in_fresh_process(job: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Return job(*args) run in a newly spawned Python process (nothing imported or cached from this one)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(job, *args).result()


def peak_rss_mib() -> float:
    """Return this process's peak resident memory so far, in MiB.

    VmHWM, not ru_maxrss: a spawned child's ru_maxrss starts at its parent's peak (it survives fork and exec),
    so it would report the benchmark's own memory instead of the child's.
    """
    try:
        return machine.peak_rss_mib(Path("/proc/self/status").read_text(encoding="utf-8"))
    except OSError:  # not Linux: ru_maxrss is in KiB on Linux and most BSDs
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_bytes(folder: Path) -> dict[str, int]:
    """Return the size of every file in `folder`, by name."""
    return {path.name: path.stat().st_size for path in sorted(folder.iterdir()) if path.is_file()}


def build_job(settings: Settings, bare_limit: int, seed: int = 0) -> dict[str, Any]:
    """Load the model and build a fresh index, timing each stage; then encode the same texts with bare
    `SentenceTransformer.encode` (at most `bare_limit` of them, a seeded sample) in the same process."""
    started = time.perf_counter()
    from rag.embedding import load_embedder
    from rag.index.build import build_index
    from rag.index.lexical import shared_tokenizer
    from rag.index.store import load_index

    embedder = load_embedder(settings)
    model_load_s = time.perf_counter() - started
    tick = time.perf_counter()
    shared_tokenizer()  # jieba's dictionary: a load like the model's, kept apart from the build stages
    tokenizer_load_s = time.perf_counter() - tick
    embedder.encode_queries(["预热"])  # the first forward pass allocates buffers; keep it out of both sides
    shutil.rmtree(settings.index.index_dir, ignore_errors=True)  # a full build, never an incremental one
    cpu = time.process_time()
    report = build_index(settings, embedder)
    build_cpu_s = time.process_time() - cpu  # all threads: less sensitive than wall time to a busy machine
    build_peak = peak_rss_mib()
    index = load_index(settings)
    chunk_texts = [settings.index.passage_template.format(title=c.title, text=c.text) for c in index.chunks]
    # The pipeline's overhead: its encode (passages, three pooled spans each, as a chunk holds about three
    # sentences) against a bare encode of the same sample, both in the build's arithmetic, alternated in this
    # process after the build has warmed the kernels; the faster of two tries each. Then a bare encode by
    # the model in plain float32, in a process of its own (what the model gives without asking).
    sample = _sample(chunk_texts, bare_limit, seed)
    thirds = [[(0, len(t) // 3), (len(t) // 3, 2 * len(t) // 3), (2 * len(t) // 3, len(t))] for t in sample]
    pipeline_rates, bare_rates = [], []
    for _ in range(2):
        bare_rates.append(bare_encode(embedder, sample, bare_limit, seed))
        tick = time.perf_counter()
        embedder.encode_with_spans(sample, thirds)
        pipeline_rates.append(len(sample) / (time.perf_counter() - tick))
    plain = dataclasses.replace(settings, embed_precision="float32")
    bare = {
        "bare_texts": float(len(sample)),
        "passage_precision": getattr(embedder, "precision", ""),
        "pipeline_warm_texts_per_s": max(pipeline_rates),
        "bare_texts_per_s": max(bare_rates),
        "bare_float32_texts_per_s": in_fresh_process(bare_job, plain, sample, bare_limit, seed)["texts_per_s"],
    }
    return {
        "articles": index.manifest.counts.articles,
        "chunks": len(chunk_texts),
        "sentences": len(index.sentences),
        "model_load_s": model_load_s,
        "tokenizer_load_s": tokenizer_load_s,
        **{f"{stage}_s": seconds for stage, seconds in report.timings.items()},
        "build_s": report.seconds,
        "build_cpu_s": build_cpu_s,
        "total_s": model_load_s + tokenizer_load_s + report.seconds,
        # The build embeds each chunk once; sentence vectors come out of the same forward pass.
        "pipeline_texts_per_s": len(chunk_texts) / report.timings["embed"],
        **bare,
        "peak_rss_mib": build_peak,
        "index_bytes": folder_bytes(settings.index.index_dir),
    }


def bare_job(settings: Settings, texts: Sequence[str], limit: int, seed: int) -> dict[str, float]:
    """Load the model as `build_job` does, warm it the same way, and time `bare_encode` of the texts."""
    from rag.embedding import load_embedder

    embedder = load_embedder(settings)
    embedder.encode_queries(["预热"])
    return {"texts_per_s": bare_encode(embedder, texts, limit, seed)}


def _sample(texts: Sequence[str], limit: int, seed: int) -> list[str]:
    return random.Random(seed).sample(list(texts), limit) if len(texts) > limit else list(texts)


def bare_encode(embedder: Any, texts: Sequence[str], limit: int, seed: int) -> float:
    """Return texts per second of `SentenceTransformer.encode` with its defaults on (a seeded sample of at most
    `limit` of) the texts the build embeds, the passage prompt included, by this embedder's model in the
    arithmetic it embeds passages in."""
    model = getattr(embedder, "model", None)
    if model is None:  # the hashing fake has no SentenceTransformer to compare with
        return math.nan
    prompted = [embedder.passage_prompt + t for t in _sample(texts, limit, seed)]
    arithmetic = getattr(embedder, "passage_arithmetic", contextlib.nullcontext)
    tick = time.perf_counter()
    with arithmetic():
        if prompted:
            model.encode(prompted, normalize_embeddings=True)
    seconds = time.perf_counter() - tick
    return len(prompted) / seconds if seconds else math.nan


def serve_job(settings: Settings, questions: Sequence[str]) -> dict[str, Any]:
    """Start as the chat page does (load model and index), answer every question once; return start-up time,
    first-answer time and peak memory."""
    started = time.perf_counter()
    from rag.answer.assistant import Assistant

    assistant = Assistant.load(settings)
    ready_s = time.perf_counter() - started
    tick = time.perf_counter()
    assistant.ask(questions[0])
    first_answer_ms = (time.perf_counter() - tick) * 1000
    for question in questions:
        assistant.ask(question)
    return {"ready_s": ready_s, "first_answer_ms": first_answer_ms, "peak_rss_mib": peak_rss_mib()}
