"""The second reader's questions (rag/embedding/reader.py): read once, ahead on its own thread or where needed."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rag.embedding import reader as reader_module
from rag.embedding.reader import SentenceReader, forget_questions
from rag.errors import ModelError


class Counting(SentenceReader):
    """A reader whose model is a stand-in: each text's vector is its length, slowly; it counts what it reads."""

    def __init__(self, delay: float = 0.0, fail_first: bool = False) -> None:
        super().__init__()
        self.calls: list[tuple[list[str], str]] = []
        self.delay, self.fail_first = delay, fail_first

    def read(self, texts):
        self.calls.append((list(texts), threading.current_thread().name))
        time.sleep(self.delay)
        if self.fail_first and len(self.calls) == 1:
            raise ModelError("the sentence reader's package is missing: pip install -r requirements.txt")
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


@pytest.fixture(autouse=True)
def fresh():
    forget_questions()
    yield
    forget_questions()


def test_a_question_read_ahead_is_read_once_on_the_readers_thread_and_then_taken_from_there():
    reader = Counting(delay=0.05)
    reader.read_ahead("Sora是什么？")
    deadline = time.monotonic() + 5
    while not reader_module._ASKED["Sora是什么？"].claimed and time.monotonic() < deadline:
        time.sleep(0.001)  # until the reader's thread has begun (else the question reads it itself)
    vector = reader.read_question("Sora是什么？")  # waits for the reading under way instead of reading again
    assert vector.tolist() == [8.0, 1.0]
    assert reader.read_question("Sora是什么？") is vector  # the judged draft reads the same question again
    assert len(reader.calls) == 1 and reader.calls[0][1].startswith("rag-reader")


def test_a_question_asked_from_many_threads_at_once_is_read_once():
    reader = Counting(delay=0.05)
    out: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: out.append(reader.read_question("食堂几点开饭？"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(out) == 8 and all(v is out[0] for v in out) and len(reader.calls) == 1


def test_a_failed_reading_raises_to_the_question_and_is_tried_again_next_time():
    reader = Counting(fail_first=True)
    reader.read_ahead("年假有几天？")
    with pytest.raises(ModelError, match="pip install"):
        reader.read_question("年假有几天？")
    assert reader.read_question("年假有几天？").tolist() == [6.0, 1.0]
    assert len(reader.calls) == 2


def test_the_reader_remembers_only_the_latest_questions():
    reader = Counting()
    for i in range(reader_module.REMEMBERED + 5):
        reader.read_question(f"问题{i}")
    assert len(reader_module._ASKED) == reader_module.REMEMBERED and "问题0" not in reader_module._ASKED
    reader.read_question("问题0")
    assert len(reader.calls) == reader_module.REMEMBERED + 6


def test_the_languages_the_reader_was_trained_on_are_told_from_the_others():
    from rag.embedding.reader import reads_language

    trained = ["Wie viele Menschen leben in Berlin?", "Сколько людей живёт в Москве?", "¿Cuántas personas viven en Madrid?",
               "كم عدد سكان القاهرة؟", "İstanbul'da kaç kişi yaşıyor?", "กรุงเทพมีประชากรกี่คน", "Sora是什么？",
               "What is Sora?"]
    others = ["Πόσοι άνθρωποι ζουν στην Αθήνα;", "दिल्ली में कितने लोग रहते हैं?", "Có bao nhiêu người sống ở Hà Nội?",
              "Câte persoane locuiesc în București?"]
    assert all(reads_language(q) for q in trained) and not any(reads_language(q) for q in others)


def test_the_language_probability_is_fitted_so_every_set_keeps_its_questions():
    from bench.fit_language import fit

    low, high = np.linspace(0.2, 1.0, 100), np.linspace(0.3, 1.0, 100)
    few = np.zeros(100, dtype=bool)
    few[0] = True  # one question of a single word, the one the identifier is least sure of
    value, sets = fit({"a": high, "b": low}, {"a": few, "b": few}, 0.01)
    assert value == pytest.approx(np.quantile(low, 0.01))
    assert sets["b"]["under"] == 0.01 and sets["b"]["declined"] == 0.01 and sets["a"]["declined"] == 0
    # Fitted without b, the value is a's own quantile, which b's single word stays under.
    assert sets["b"]["fitted_without"] == pytest.approx(np.quantile(high, 0.01), abs=1e-4)
    assert sets["b"]["declined_held_out"] == 0.01 and sets["b"]["under"] < 0.02


def test_a_question_is_told_from_a_word_of_chat_a_number_or_an_emoji():
    from rag.ingest.language import told

    questions = ("Melfi Kontu kimdi?", "NASUWT nedir?", "Wann fand Marconis Funkdemonstration statt?",
                 "Ce este DECnet?", "ใครเป็นผู้ชนะ", "Что такое Sora?")
    assert all(told(q) for q in questions)
    assert not any(told(text) for text in ("ok", "Hallo", "merci", "asdfgh", "???", "123", "\U0001F600", "？", "x y z",
                                           "。。。", "？？？", "1"))
