"""The `VectorIndex` protocol: what retrieval, answering and the build need of the dense vectors.

An implementation holds the passage (chunk) vectors, row i = chunk i, and the sentence vectors, row i =
sentence i, both L2-normalised, so an inner product is a cosine. Callers never see how they are stored (a
memory-mapped file, a server): they ask for the rows they need. rag/index/vectors/factory.py picks the
implementation by `settings.index.vector_store`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    """Dense search over passage vectors, and the vectors of given passages and sentences."""

    files: tuple[str, ...]  # the files `save` writes into an index folder (their checksums go in the manifest)

    def __len__(self) -> int:
        """Return the number of passage vectors."""
        ...

    @property
    def dimension(self) -> int:
        """Return the vectors' dimension."""
        ...

    def search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the rows (int64) and exact cosines (float32) of the k passages nearest `query_vector`, best
        first, ties by the smaller row."""
        ...

    def passage_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Return the float32 vectors of these passage rows, in the order given."""
        ...

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Return the float32 vectors of these sentences, in the order given."""
        ...

    def alone_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        """Return the float32 vectors of these sentences each embedded on its own (no passage around it), in the
        order given, or None when the index does not hold them."""
        ...

    def reader_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        """Return the float32 vectors of these sentences as the second reader reads them (rag/embedding/reader.py),
        in the order given, or None when the index does not hold them."""
        ...

    def sentence_sample(self) -> np.ndarray:
        """Return an evenly spaced float32 sample of the sentence vectors (the corpus's background similarity)."""
        ...

    def record(self) -> dict[str, Any]:
        """Return what the manifest records of this index (its `dense` part), read back by the loader."""
        ...

    def save(self, folder: Path) -> None:
        """Write this index's files into `folder`."""
        ...
