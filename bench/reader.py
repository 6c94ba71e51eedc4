"""What the second reader (rag/embedding/reader.py) costs: its load, a question read alone, and sentences read at build.

Prints the figures docs/answers.md (*A second reader*) quotes; run it on a quiet machine (the reader holds numpy's
BLAS to one thread itself):

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.reader --index /work/idx/seeds
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rag.embedding.reader import SentenceReader
from rag.index.store import load_folder_index
from rag.settings import load_settings

QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "english_sora.jsonl"


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    top.add_argument("--index", type=Path, required=True, help="an index folder whose sentences are read")
    top.add_argument("--gold", type=Path, action="append", help="question files (JSON lines with `question`)")
    top.add_argument("--rounds", type=int, default=3)
    args = top.parse_args()
    reader = SentenceReader()
    started = time.perf_counter()
    reader.read(["载入"])
    load_s = time.perf_counter() - started
    questions = [json.loads(line)["question"] for f in (args.gold or [QUESTIONS]) for line in f.open(encoding="utf-8")
                 if line.strip()]
    index = load_folder_index(load_settings(index_dir=args.index))
    texts = [s.text for s in index.sentences]
    alone, per_sentence = [], []
    for _ in range(args.rounds):
        for question in questions:
            tick = time.perf_counter()
            reader.read([question])
            alone.append((time.perf_counter() - tick) * 1000)
        tick = time.perf_counter()
        reader.read(texts)
        per_sentence.append((time.perf_counter() - tick) * 1000 / max(len(texts), 1))
    print(f"load: {load_s:.2f} s")
    print(f"a question read alone ({len(questions)} questions x {args.rounds}): p50 {np.percentile(alone, 50):.2f} ms, "
          f"p95 {np.percentile(alone, 95):.2f} ms")
    print(f"sentences at build ({len(texts)} of {args.index}): {min(per_sentence):.2f} ms a sentence (best of "
          f"{args.rounds}); stored as float16: {2 * reader.dimension} bytes a sentence")


if __name__ == "__main__":
    main()
