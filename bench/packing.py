"""Questions packed against padded: is a question's vector the same alone and in a batch, and what it costs.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.packing [--index index/default] [--rounds 4]

Prints, for the padded forward (sentence-transformers' own) and the packed one (rag/embedding/packed.py):
how many questions of random batches (2 to 32 of the public, English and dev-set questions) got exactly
their vector alone, and the CPU time a question costs embedded alone and in batches of 10 and 20 (one
torch thread, as the server embeds; the best and the median of the rounds).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    ROOT.parent / "shared/eval/gold_public.jsonl",
    ROOT / "tests/data/english_sora.jsonl",
    ROOT.parent / "shared/eval/dev/cmrc-trial/gold.jsonl",
    ROOT.parent / "shared/eval/dev/xquad-dev/gold-en.jsonl",
)


def questions(limit: int = 100) -> list[str]:
    """Return up to `limit` questions from each question file that exists here."""
    out: list[str] = []
    for path in SOURCES:
        if path.exists():
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            out += [json.loads(line)["question"] for line in lines[:limit]]
    return list(dict.fromkeys(out))


def exact_share(encode: Callable[[Sequence[str]], np.ndarray], asked: Sequence[str], batches: int = 30) -> tuple[int, int]:
    """Return how many questions of `batches` random batches got bit for bit their vector alone, of how many."""
    alone = {q: encode([q])[0] for q in asked}
    rng = np.random.default_rng(0)
    same = total = 0
    for _ in range(batches):
        batch = [asked[i] for i in rng.permutation(len(asked))[: int(rng.integers(2, 33))]]
        vectors = encode(batch)
        same += sum(np.array_equal(vectors[i], alone[q]) for i, q in enumerate(batch))
        total += len(batch)
    return same, total


def cpu_ms(encode: Callable[[Sequence[str]], np.ndarray], asked: Sequence[str], size: int, repeats: int = 8) -> float:
    """Return the CPU milliseconds a question costs embedded in batches of `size` (1: alone, 20 questions once)."""
    batches = [[question] for question in asked[:20]] if size == 1 else [list(asked[:size])] * repeats
    started = time.process_time()
    for batch in batches:
        encode(batch)
    return (time.process_time() - started) * 1000 / sum(len(batch) for batch in batches)


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from rag.embedding import load_embedder
    from rag.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m bench.packing", description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index/default", help="the index whose model to load")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    embedder = load_embedder(load_settings(index_dir=args.index))
    packed_encoder = embedder._packed
    if packed_encoder is None:
        print("this model does not run packed (not a BERT encoder with mean pooling)")
        return 1
    asked = questions()
    ways = {"padded": lambda texts: _padded(embedder, texts), "packed": embedder.encode_queries}
    print(f"{len(asked)} questions, precision {embedder.precision}, one torch thread")
    for name, encode in ways.items():
        same, total = exact_share(encode, asked)
        print(f"{name}: {same} of {total} questions in random batches got exactly their vector alone")
    for size in (1, 10, 20):
        figures = {name: [cpu_ms(encode, asked, size) for _ in range(args.rounds)] for name, encode in ways.items()}
        shown = ", ".join(f"{name} {min(v):.2f} / {statistics.median(v):.2f}" for name, v in figures.items())
        print(f"CPU ms a question, {'alone' if size == 1 else f'batches of {size}'} (best / median): {shown}")
    return 0


def _padded(embedder: object, texts: Sequence[str]) -> np.ndarray:
    """Return the questions' vectors through sentence-transformers' padded forward (what ran before packing)."""
    packed, embedder._packed = embedder._packed, None  # type: ignore[attr-defined]
    try:
        return embedder.encode_queries(texts)  # type: ignore[attr-defined]
    finally:
        embedder._packed = packed  # type: ignore[attr-defined]


if __name__ == "__main__":
    raise SystemExit(main())
