"""The deterministic hashing embedder: character n-grams hashed into a small vector, for tests and dry runs."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rag.embedding.base import Progress, normalise


class HashingEmbedder:
    """Character 1–3-grams hashed into a small vector: deterministic and instant, for tests and dry runs."""

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.name = f"hash:{dimension}"
        self.query_prompt = ""
        self.passage_prompt = ""

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        compact = "".join(text.lower().split())
        for n in (1, 2, 3):
            for i in range(len(compact) - n + 1):
                digest = hashlib.blake2b(compact[i : i + n].encode(), digest_size=4).digest()
                vector[int.from_bytes(digest, "little") % self.dimension] += 1.0
        vector[0] += 1e-3  # an empty text still gets a unit vector
        return vector

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        vectors = normalise(np.stack([self._one(t) for t in texts])) if texts else np.zeros((0, self.dimension))
        if progress:
            progress(len(texts))
        return vectors.astype(np.float32)

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        vectors = self.encode_passages(texts, progress)
        pieces = [self.encode_passages([text[a:b] for a, b in marks]) for text, marks in zip(texts, spans)]
        return vectors, [p.reshape(-1, self.dimension) for p in pieces]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)
