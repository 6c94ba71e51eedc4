"""Questions that arrive together are embedded together: one forward pass for every question waiting.

A forward pass over a batch of questions costs far less per question than one pass each (the model's
Python overhead and its matrix products' setup are paid once), so a server answering many people at once
embeds whatever questions are waiting in one call. A question that arrives while nothing else is being
embedded or waiting goes at once: alone, it pays nothing extra.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from rag.embedding.base import Embedder, Progress

# Most texts in one forward pass: past this a batch is padded to ever longer questions for little gain,
# and the last question of a large batch waits for all the others.
MAX_BATCH = 32


class _Request:
    """One caller's texts, and what the batch that embedded them gave back."""

    __slots__ = ("texts", "done", "lead", "vectors", "error")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.lead = False  # set with `done` when this caller is to embed the next batch
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """An `Embedder` whose `encode_queries` embeds the questions of concurrent callers in one pass of `inner`.

    One caller at a time leads: it takes every waiting question (up to `max_batch`), embeds them in one
    call, hands each caller its rows, and passes the lead to the first question that arrived meanwhile. When
    it took the lead while others were in flight, it first waits up to `window` seconds for more to arrive
    (under load they come within milliseconds); a question that finds the embedder idle goes at once.
    Passages (index builds) go straight to `inner`.
    """

    def __init__(self, inner: Embedder, window: float = 0.0, max_batch: int = MAX_BATCH) -> None:
        self.inner = inner
        self.window = max(0.0, window)
        self.max_batch = max(1, max_batch)
        self.name = inner.name
        self.dimension = inner.dimension
        self.query_prompt = inner.query_prompt
        self.passage_prompt = inner.passage_prompt
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # the leader's window wakes when a question arrives
        self._pending: list[_Request] = []
        self._leading = False
        self._gathering = False  # the leader is in its window, waiting for more questions
        self.batches = 0  # forward passes run, and the questions they embedded: for benchmarks and tests
        self.embedded = 0

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self.inner.encode_passages(texts, progress)

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.inner.encode_with_spans(texts, spans, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return the questions' vectors, embedded in one pass with whatever other questions are waiting."""
        request = _Request(list(texts))
        if not request.texts:
            return self.inner.encode_queries([])
        with self._lock:
            busy = self._leading or bool(self._pending)
            self._pending.append(request)
            if self._gathering and self._count() >= self.max_batch:  # full: the leader need not wait on
                self._arrived.notify()
            elif not self._leading:
                self._leading = True
                request.lead = True
        if not request.lead:
            request.done.wait()
        if request.lead:
            self._lead(busy)
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _lead(self, busy: bool) -> None:
        """Embed the waiting questions (this caller's first among them) and pass the lead on."""
        with self._lock:
            if busy and self.window:
                deadline = time.monotonic() + self.window
                self._gathering = True
                while self._count() < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._arrived.wait(left)
                self._gathering = False
            batch = self._take()
        try:
            self._embed(batch)
        finally:
            with self._lock:
                following = self._pending[0] if self._pending else None
                if following is not None:
                    following.lead = True
                else:
                    self._leading = False
            for request in batch[1:]:
                request.done.set()
            if following is not None:
                following.done.set()

    def _count(self) -> int:
        return sum(len(request.texts) for request in self._pending)

    def _take(self) -> list[_Request]:
        """Return the waiting requests, oldest first, up to `max_batch` texts (always at least one request)."""
        taken, count = 0, 0
        while taken < len(self._pending) and (not taken or count + len(self._pending[taken].texts) <= self.max_batch):
            count += len(self._pending[taken].texts)
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    def _embed(self, batch: list[_Request]) -> None:
        """Embed the batch's distinct texts in one call and give each request its rows (or the error)."""
        distinct = list(dict.fromkeys(text for request in batch for text in request.texts))
        try:
            vectors = self.inner.encode_queries(distinct)
        except BaseException as error:  # every caller of the batch gets the error it would have had alone
            for request in batch:
                request.error = error
            return
        row = {text: i for i, text in enumerate(distinct)}
        for request in batch:
            request.vectors = vectors[[row[text] for text in request.texts]]
        self.batches += 1
        self.embedded += len(distinct)
