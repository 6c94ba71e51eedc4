"""Questions asked at the same time share one pass of the model; a question alone never waits for company."""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from rag.embedding import HashingEmbedder
from rag.embedding.batching import BatchingEmbedder
from rag.errors import ModelError


class Recording:
    """A fake model that records each call's texts and can be held inside a call until released."""

    def __init__(self, fail: bool = False) -> None:
        self.model = HashingEmbedder(16)
        self.name, self.dimension = self.model.name, self.model.dimension
        self.query_prompt = self.passage_prompt = ""
        self.calls: list[list[str]] = []
        self.inside = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = fail

    def encode_passages(self, texts: Sequence[str], progress=None) -> np.ndarray:
        return self.model.encode_passages(texts, progress)

    def encode_with_spans(self, texts, spans, progress=None):
        return self.model.encode_with_spans(texts, spans, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.inside.set()
        assert self.release.wait(10)
        if self.fail:
            raise ModelError("the model broke: reload it")
        return self.model.encode_queries(texts)


def ask_in_threads(embedder: BatchingEmbedder, questions: Sequence[str]) -> tuple[list[threading.Thread], dict]:
    """Start one thread per question; return them and the dict their vectors (or errors) land in."""
    out: dict[str, object] = {}

    def ask(question: str) -> None:
        try:
            out[question] = embedder.encode_queries([question])[0]
        except Exception as error:
            out[question] = error

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    return threads, out


def wait_for_pending(embedder: BatchingEmbedder, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(embedder._pending) < count and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(embedder._pending) == count


def test_questions_arriving_during_a_pass_are_embedded_together_in_the_next():
    inner = Recording()
    embedder = BatchingEmbedder(inner, window=0.0)
    inner.release.clear()
    first, out = ask_in_threads(embedder, ["第一个问题"])
    assert inner.inside.wait(10)  # the first question is inside the model
    later = [f"问题{i}" for i in range(5)]
    threads, later_out = ask_in_threads(embedder, later)
    wait_for_pending(embedder, 5)
    inner.release.set()
    for thread in first + threads:
        thread.join(10)
    assert inner.calls == [["第一个问题"], later]  # two passes for six questions
    reference = HashingEmbedder(16)
    for question in later:
        assert np.array_equal(later_out[question], reference.encode_queries([question])[0])
    assert np.array_equal(out["第一个问题"], reference.encode_queries(["第一个问题"])[0])


def test_a_question_alone_goes_at_once_even_with_a_long_window():
    inner = Recording()
    embedder = BatchingEmbedder(inner, window=30.0)
    started = time.perf_counter()
    vectors = embedder.encode_queries(["Sora是在哪一天发布的？", "What is Sora?"])
    assert time.perf_counter() - started < 5
    assert vectors.shape == (2, 16) and inner.calls == [["Sora是在哪一天发布的？", "What is Sora?"]]


def test_the_window_gathers_questions_that_arrive_while_others_are_in_flight():
    inner = Recording()
    embedder = BatchingEmbedder(inner, window=0.5, max_batch=3)
    inner.release.clear()
    first, _ = ask_in_threads(embedder, ["q0"])
    assert inner.inside.wait(10)
    second, _ = ask_in_threads(embedder, ["q1"])
    wait_for_pending(embedder, 1)
    inner.release.set()  # q1 leads next, and waits in its window for company
    time.sleep(0.1)
    third, _ = ask_in_threads(embedder, ["q2", "q3"])  # fills the batch: the leader goes before its window ends
    for thread in first + second + third:
        thread.join(10)
    assert inner.calls[0] == ["q0"] and sorted(inner.calls[1]) == ["q1", "q2", "q3"] and len(inner.calls) == 2


def test_the_same_question_twice_in_a_batch_is_embedded_once():
    inner = Recording()
    embedder = BatchingEmbedder(inner)
    vectors = embedder.encode_queries(["同一个问题", "同一个问题"])
    assert inner.calls == [["同一个问题"]] and np.array_equal(vectors[0], vectors[1])


def test_a_failed_pass_raises_in_every_caller_and_the_next_question_still_goes():
    inner = Recording(fail=True)
    embedder = BatchingEmbedder(inner)
    inner.release.clear()
    threads, out = ask_in_threads(embedder, ["a"])
    assert inner.inside.wait(10)
    more, more_out = ask_in_threads(embedder, ["b", "c"])
    wait_for_pending(embedder, 2)
    inner.release.set()
    for thread in threads + more:
        thread.join(10)
    assert isinstance(out["a"], ModelError) and all(isinstance(more_out[q], ModelError) for q in "bc")
    inner.fail = False
    assert embedder.encode_queries(["d"]).shape == (1, 16)  # the lead was handed back


def test_passages_go_straight_to_the_model_and_the_wrapper_looks_like_it():
    inner = Recording()
    embedder = BatchingEmbedder(inner)
    assert (embedder.name, embedder.dimension) == (inner.name, inner.dimension)
    assert embedder.encode_passages(["一段文字"]).shape == (1, 16) and inner.calls == []
    vectors, spans = embedder.encode_with_spans(["一段文字"], [[(0, 2)]])
    assert vectors.shape == (1, 16) and spans[0].shape == (1, 16)


def test_many_threads_get_their_own_vectors():
    clients = 8
    inner = Recording()
    embedder = BatchingEmbedder(inner, window=0.002)
    questions = [f"第{i}个问题" for i in range(clients * 10)]
    reference = HashingEmbedder(16).encode_queries(questions)
    wrong: list[int] = []

    def client(offset: int) -> None:
        for i in range(offset, len(questions), clients):
            if not np.array_equal(embedder.encode_queries([questions[i]])[0], reference[i]):
                wrong.append(i)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not wrong and sum(map(len, inner.calls)) == len(questions)
