"""Questions to measure a dense index with, and the exact answers to compare it against.

Two kinds of probe: vectors the caller has that look like questions (a build's sentence vectors), and
vectors drawn like the indexed data itself (a Gaussian with the data's mean and covariance, put on the
sphere). The second needs nothing but the vectors, and is the harder test where the data has no
neighbourhoods: on uniform vectors it is a uniform question, which no graph answers cheaply.
"""
from __future__ import annotations

import numpy as np

# Rows the data-like probes take their mean and covariance from.
SAMPLE = 65_536
# Rows read per block by the brute-force search, so a memory-mapped matrix is never copied whole.
BLOCK = 65_536


def evenly_spaced(rows: np.ndarray, count: int) -> np.ndarray:
    """Return about `count` rows of `rows` taken at even steps, as float32."""
    step = max(1, len(rows) // count)
    return np.asarray(rows[::step][:count], dtype=np.float32)


def data_like(vectors: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Return `count` unit vectors drawn from a Gaussian with the mean and covariance of `vectors`' rows."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(vectors), size=min(len(vectors), SAMPLE), replace=False))
    sample = np.asarray(vectors[picked], dtype=np.float64)
    mean = sample.mean(axis=0)
    # Mixing the centred rows with standard normal weights draws from N(mean, covariance) with no
    # factorisation, so fewer rows than dimensions (a tiny index) work as well.
    centred = (sample - mean) / np.sqrt(max(1, len(sample) - 1))
    drawn = mean + rng.standard_normal((count, len(sample))) @ centred
    drawn /= np.maximum(np.linalg.norm(drawn, axis=1, keepdims=True), 1e-12)
    return drawn.astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = BLOCK) -> np.ndarray:
    """Return the rows of each query's k largest inner products by brute force (best first), reading `vectors` in blocks."""
    count = vectors.shape[0]
    k = min(k, count)
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, count, block):
        scores = queries @ np.asarray(vectors[start : start + block], dtype=np.float32).T
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else np.argsort(-scores, axis=1)
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_rows, order, axis=1)
