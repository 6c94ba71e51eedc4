"""Time Assistant.ask over a question file: each question once to warm up, then five passes; print p50 and p95 ms.

Run from the root of the checkout to measure (it imports that checkout's rag), e.g. against an older commit:

    PYTHONPATH=. .venv/bin/python scripts/ask_latency.py ../shared/eval/gold_public.jsonl index [hash:64]

The optional third argument is the embedding model (the index must be built with it): `hash:64` leaves out the
model's forward pass, so what is timed is the bot's own work.

Each timed question is read by the second reader afresh, as a question a user has not asked before would be: its
cache (rag/embedding/reader.py, there so one question's two drafts read it once) is emptied before every ask.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.embedding.reader import forget_questions
from rag.settings import load_settings

PASSES = 5

questions_file, index = Path(sys.argv[1]), Path(sys.argv[2])
model = sys.argv[3] if len(sys.argv) > 3 else None
bot = Assistant.load(load_settings(index_dir=index, embed_model=model))
questions = [json.loads(line)["question"] for line in questions_file.read_text(encoding="utf-8").splitlines() if line.strip()]
for question in questions:
    bot.ask(question)
times: dict[str, list[float]] = {question: [] for question in questions}
for _ in range(PASSES):
    for question in questions:
        forget_questions()
        started = time.perf_counter()
        bot.ask(question)
        times[question].append((time.perf_counter() - started) * 1000)
each = sorted(statistics.median(spent) for spent in times.values())
print(f"ask() per question, median of {PASSES} passes: p50 {statistics.median(each):.1f} ms, "
      f"p95 {each[min(len(each) - 1, int(0.95 * len(each)))]:.1f} ms")
