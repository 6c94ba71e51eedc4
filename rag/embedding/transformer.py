"""The real embedder: a sentence-transformers model (offline), with e5 prompts and pooled sentence spans."""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.embedding.base import Progress, normalise
from rag.errors import ModelError

log = logging.getLogger(__name__)


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
        self.precision = precision  # "float32", or "bfloat16" for the transformer's matrix products (rag/embedding/bfloat16.py)
        if precision == "bfloat16":
            from rag.embedding.bfloat16 import mixed_linears

            mixed_linears(self.model[0].auto_model.encoder)
        else:
            from rag.embedding.float32 import packed_linears

            packed_linears(self.model[0].auto_model.encoder)
        from rag.embedding.packed import PackedEncoder, packable

        # Questions run packed, without padding, so a question's vector is the same alone and in a batch
        # (rag/embedding/packed.py); a model of another kind keeps the library's padded forward.
        self._packed = PackedEncoder(self.model[0].auto_model) if packable(self.model) else None

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        # The prompt joined here, not through encode(prompt=...): the same tokens and vectors (mean pooling
        # includes the prompt), without the time that path added to a batch (docs/decisions.md).
        return self.model.encode(
            [prompt + t for t in texts], batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)

    def passage_arithmetic(self) -> contextlib.AbstractContextManager[None]:
        """Return the context this model embeds batches of passages in (autocast for bfloat16)."""
        from rag.embedding.bfloat16 import passage_arithmetic

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
        return normalise(vectors), [normalise(p) if len(p) else p for p in pooled]

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
        if self._packed is not None:
            ids = self.model.tokenizer(
                [self.query_prompt + t for t in texts], truncation=True, max_length=self.model.max_seq_length
            )["input_ids"]
            return self._packed.encode(ids).numpy() if ids else np.zeros((0, self.dimension), dtype=np.float32)
        # The model's own preprocess and forward, without encode()'s sorting, batching and conversions: the
        # same vectors in less time (docs/decisions.md).
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
