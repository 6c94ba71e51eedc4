"""Pick the `VectorIndex` implementation named by `settings.index.vector_store`, to build one or open a saved one."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import RagError
from rag.index.manifest import Counts
from rag.index.vectors.base import VectorIndex
from rag.settings import Settings

# The implementations `settings.index.vector_store` can name.
STORES = ("faiss",)


class VectorStoreError(RagError, ValueError):
    """The settings name a vector store this version does not have."""


def check_store(settings: Settings) -> str:
    """Return the vector store the settings name, or raise the one-line error when this version has no such store."""
    if settings.index.vector_store not in STORES:
        raise VectorStoreError(
            f"no vector store {settings.index.vector_store!r}: set RAG_VECTOR_STORE to one of {', '.join(STORES)}"
        )
    return settings.index.vector_store


def vector_files(settings: Settings) -> tuple[str, ...]:
    """Return the files the vector store writes into an index folder."""
    check_store(settings)
    from rag.index.vectors.faiss_index import FILES

    return FILES


def build_vectors(chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, settings: Settings,
                  alone_vectors: np.ndarray | None = None, reader_vectors: np.ndarray | None = None) -> VectorIndex:
    """Return a new vector index over these passage vectors (row i = chunk i) and sentence vectors (row i = sentence i,
    read in its passage; `alone_vectors` the same sentences embedded on their own, `reader_vectors` as the second
    reader reads them)."""
    check_store(settings)
    from rag.index.vectors.faiss_index import build_faiss

    return build_faiss(chunk_vectors, sentence_vectors, settings, alone_vectors, reader_vectors)


def open_vectors(folder: Path, record: dict[str, Any], counts: Counts, dimension: int, settings: Settings) -> VectorIndex:
    """Return the vector index saved in `folder`, checked against the manifest's `record` (its `dense` part),
    its counts of chunks and sentences and the model's dimension."""
    check_store(settings)
    from rag.index.vectors.faiss_index import open_faiss

    return open_faiss(folder, record, counts.chunks, counts.sentences, dimension, settings)
