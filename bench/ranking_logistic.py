"""The sentence ranking's fit: a weighted logistic regression over standardised features, numpy only (the
LightGBM experiment runs it in a venv without the bot's model stack)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Candidates(Protocol):
    """One question's candidate sentences: features (candidates x features) and labels (1 holds an answer)."""

    x: np.ndarray
    y: np.ndarray


def fit_questions(cases: Sequence[Candidates], l2: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (weights, mean, scale): a weighted logistic fit over standardised features, every question
    (with both kinds of candidate) weighing the same, half on its answer sentences, half on the others."""
    useful = [c for c in cases if 0 < c.y.sum() < len(c.y)]
    x = np.vstack([c.x for c in useful])
    y = np.concatenate([c.y for c in useful])
    weight = np.concatenate([np.where(c.y == 1, 0.5 / c.y.sum(), 0.5 / (len(c.y) - c.y.sum())) for c in useful])
    weight *= len(y) / weight.sum()
    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(design.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -50, 50)))
        step = np.linalg.solve(design.T @ (design * (weight * p * (1 - p))[:, None]) + penalty,
                               design.T @ (weight * (p - y)) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[1:], mean, scale
