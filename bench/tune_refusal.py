"""Fit the decline model on gold + calibration questions; print weights and leave-one-out rates per threshold.

The rates count the entity gate (rag/answer/entity_gate.py) as the bot does: a question it declines is declined at
every threshold. The fit itself sees every question.

    .venv/bin/python -m bench.tune_refusal ../shared/eval/gold_public.jsonl tests/data/calibration.jsonl

Uses the index the settings point at (RAG_INDEX_DIR, default index/), built with the current settings.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rag.answer.compose import is_chinese
from rag.answer.decide import signals
from rag.eval.metrics import load_questions
from rag.answer.assistant import Assistant
from rag.settings import load_settings


def fit(features: np.ndarray, labels: np.ndarray, l2: float = 0.3) -> np.ndarray:
    """Return L2-regularised logistic regression weights (bias first) by Newton's method."""
    x = np.hstack([np.ones((len(features), 1)), features])
    w = np.zeros(x.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
    for _ in range(60):
        p = 1 / (1 + np.exp(-x @ w))
        w -= np.linalg.solve(x.T @ (x * (p * (1 - p))[:, None]) + penalty, x.T @ (p - labels) + penalty @ w)
    return w


def main(files: list[str]) -> None:
    settings = load_settings()
    assistant = Assistant.load(settings)
    rows, labels, gated = [], [], []
    for question in (q for f in files for q in load_questions(Path(f))):
        if question.answerable is None or not is_chinese(question.question):
            continue
        # The same evidence and draft the assistant decides on: its own retriever and composer.
        evidence = assistant.retriever.retrieve(question.question, settings.top_k)
        draft = assistant.composer.compose(evidence)
        found = signals(assistant.index, evidence.query_vector, evidence.term_weights, draft.best_similarity, evidence.hits, True)
        rows.append([found.dense_z, found.unknown, found.coverage])
        labels.append(float(question.answerable))
        gated.append(assistant.unbound(question.question) is not None)
    x, y, gate = np.array(rows), np.array(labels), np.array(gated)
    print(f"entity gate declines {int(gate[y == 0].sum())} unanswerable and {int(gate[y == 1].sum())} answerable")
    print("weights (bias, dense_z, unknown, coverage):", np.round(fit(x, y), 2))
    loo = np.array([
        1 / (1 + np.exp(-(w[0] + x[i] @ w[1:]))) for i in range(len(x)) for w in [fit(np.delete(x, i, 0), np.delete(y, i))]
    ])
    for threshold in (0.3, 0.4, 0.5, 0.6):
        declined = (loo < threshold) | gate
        print(f"threshold {threshold}: declines unanswerable {np.mean(declined[y == 0]):.2f}, "
              f"answerable {np.mean(declined[y == 1]):.2f} (leave-one-out)")


if __name__ == "__main__":
    main(sys.argv[1:])
