"""Generated answers: a language model writes from the numbered passages, and every sentence it writes is checked.

The decision stays ours: the extractive draft is made and decided first, and a question that decision
declines never reaches the model. Each generated sentence must cite passages with [n], and the numbers,
names and key terms it states must stand in those passages, its meaning close to one of their sentences
(through the embedder). A sentence that fails is dropped, never shown as cited; each kept sentence is
cited to the exact lines of its closest supporting sentence, with that sentence as the quote. A draft that
keeps too little, or an endpoint that fails, gives the extractive answer with a notice.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rag.answer.composer import Composer
from rag.answer.llm_client import ChatClient, LLMError
from rag.answer.streaming import DraftingEvent, TextEvent
from rag.embedding import Embedder
from rag.index.lexical import Tokenizer, shared_tokenizer
from rag.index.store import Index
from rag.ingest.language import is_chinese
from rag.records import Chunk, Citation, Draft, Evidence, Sentence, Turn
from rag.settings import Settings

log = logging.getLogger(__name__)

_MARKS = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")
_MARKS_AFTER_END = re.compile(r"([。！？!?.])\s*((?:\[\d+(?:\s*[,，]\s*\d+)*\]\s*)+)")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=\.)\s+|\n+")
_MARK_WIDTH = str.maketrans({"［": "[", "］": "]", "【": "[", "】": "]", **{chr(0xFF10 + d): str(d) for d in range(10)}})
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]")
_NAME_TAGS = {"nr", "ns", "nt", "nz", "nrt", "nrfg"}
_NOUN_TAGS = {"n", "vn", "nz", "nt", "nr", "ns"}
_COMMON_CAPITALISED = frozenset([
    "the", "a", "an", "this", "that", "these", "those", "it", "its", "in", "on", "at", "after", "before", "when",
    "while", "however", "but", "and", "or", "so", "yes", "no", "according",
])

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages the user gives. Write a few short sentences. "
    "End every sentence with the number of the passage it comes from, like [1]. State no fact, number, "
    "date or name that the passages do not state. {language}"
)
IN_CHINESE = "用简体中文回答。"
IN_ENGLISH = "Answer in English."


@dataclass(frozen=True)
class Check:
    """What the check made of one generated sentence."""

    text: str
    cited: tuple[int, ...]
    kept: bool
    reason: str = ""  # why it was dropped
    support: Sentence | None = None  # the passage sentence closest in meaning, quoted by its citation


def split_generated(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Return the generated sentences with the passage numbers each cites, markers removed from the text."""
    # Full-width brackets and digits of markers read as ASCII; the sentences keep the model's own punctuation.
    text = text.translate(_MARK_WIDTH)
    # "…。[1]" and "… [1]." both cite the sentence they close.
    text = _MARKS_AFTER_END.sub(lambda m: m.group(2).strip() + m.group(1), text)
    sentences = []
    for piece in _SENTENCE_END.split(text):
        numbers = tuple(int(n) for group in _MARKS.findall(piece) for n in re.split(r"\s*[,，]\s*", group))
        body = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", _MARKS.sub("", piece))).strip()
        if re.search(r"\w", body):
            sentences.append((body, tuple(dict.fromkeys(numbers))))
    return sentences


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def missing_facts(sentence: str, cited_text: str, tokenizer: Tokenizer) -> list[str]:
    """Return the numbers, names and key terms the sentence states that the cited text does not hold."""
    source = _squash(cited_text)
    source_numbers = set(_NUMBER.findall(source))
    missing = [number for number in _NUMBER.findall(sentence) if number not in source_numbers]
    words = _LATIN.findall(sentence)
    for position, word in enumerate(words):
        named = any(c.isupper() for c in word) or is_chinese(sentence)
        if named and word.lower() not in _COMMON_CAPITALISED and word.lower() not in source:
            if position == 0 and not is_chinese(sentence) and word.istitle() and len(words) > 1:
                continue  # a capital that only starts the sentence
            missing.append(word)
    if is_chinese(sentence):
        tagged = [(w, t) for w, t in tokenizer.tagged(sentence) if len(w) >= 2 and not w.isascii()]
        missing += [w for w, t in tagged if t in _NAME_TAGS and w not in source]
        nouns = [w for w, t in tagged if t in _NOUN_TAGS]
        absent = [w for w in nouns if w not in source]
        # Key terms: most of what the sentence talks about must be what the passages talk about.
        if nouns and len(absent) * 2 > len(nouns):
            missing += [w for w in absent if w not in missing]
    return list(dict.fromkeys(missing))


class LLMComposer:
    """Asks the model for an answer from the numbered passages, keeps only the sentences the passages support."""

    def __init__(
        self, settings: Settings, index: Index, titles: Mapping[str, str], extractive: Composer, embedder: Embedder,
        decider: Any, client: ChatClient | None = None, tokenizer: Tokenizer | None = None,
        section: Callable[[Sentence], str] = lambda sentence: "",
    ) -> None:
        self.settings = settings
        self.index = index
        self.titles = dict(titles)
        self.extractive = extractive
        self.section = section  # the headings a cited sentence stands under (Subjects.section_text)
        self.embedder = embedder
        self.decider = decider  # the assistant's: .decide(evidence, draft) -> Decision
        answer = settings.answer
        self.client = client or ChatClient(
            answer.llm_base_url, answer.llm_model, answer.llm_api_key, answer.llm_timeout, answer.llm_max_tokens
        )
        self.tokenizer = tokenizer or shared_tokenizer()

    def compose(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Draft:
        """Return the checked generated draft, or the extractive one (with a notice when the model failed)."""
        steps = self.compose_stream(evidence, history, stream=False)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def compose_stream(
        self, evidence: Evidence, history: Sequence[Turn] = (), stream: bool = True
    ) -> Generator[DraftingEvent | TextEvent, None, Draft]:
        """Yield the model's tokens as they arrive (after a DraftingEvent), and return the checked draft, or the
        extractive one (with a notice when the model failed, also half-way through its answer)."""
        quoted = self.extractive.compose(evidence, history)
        if self.decider.decide(evidence, quoted).refused:
            return quoted  # declined: the model never sees the question
        hits = list(evidence.hits[: self.settings.answer.llm_passages])
        chinese = is_chinese(evidence.question)
        messages = self.messages(evidence.question, hits, chinese)
        try:
            if stream:
                yield DraftingEvent(_drafting(chinese))
                written = ""
                for token in self.client.stream(messages):
                    written += token
                    yield TextEvent(token, draft=True)
            else:
                written = self.client.complete(messages)
        except LLMError as error:
            log.warning("generated answer unavailable: %s", error)
            return replace(quoted, notice=_fallback(chinese, "unavailable"))
        return self.checked(quoted, written, hits, chinese)

    def checked(self, quoted: Draft, written: str, hits: Sequence, chinese: bool) -> Draft:
        """Return the draft of the model's sentences that hold up, or the quoted one when too few do."""
        checks = self.check(written, hits)
        kept = [c for c in checks if c.kept]
        stats = {"kept": len(kept), "dropped": len(checks) - len(kept),
                 "reasons": dict(Counter(c.reason.split(":")[0] for c in checks if not c.kept))}
        if not kept or len(kept) < self.settings.answer.llm_min_kept * len(checks):
            return replace(quoted, notice=_fallback(chinese, "too_little"), checks=stats)
        text, citations, sentences = self.cite(kept)
        notice = _dropped(chinese, stats["dropped"]) if stats["dropped"] else ""
        # The quoted draft's similarities stay: the decision weighs the same candidates either way.
        return replace(quoted, text=text, citations=citations, sentences=sentences, notice=notice, generated=True, checks=stats)

    def messages(self, question: str, hits: Sequence, chinese: bool) -> list[dict[str, str]]:
        """Return the chat messages: the rules, then the numbered passages and the question."""
        passages = "\n".join(f"[{n}] {_heading(hit.chunk)}: {hit.chunk.text}" for n, hit in enumerate(hits, start=1))
        language = IN_CHINESE if chinese else IN_ENGLISH
        return [
            {"role": "system", "content": SYSTEM_PROMPT.format(language=language)},
            {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
        ]

    def check(self, written: str, hits: Sequence) -> list[Check]:
        """Return the verdict on every generated sentence against the passages it cites."""
        generated = split_generated(written)
        if not generated:
            return []
        vectors = self.embedder.encode_passages([text for text, _ in generated])
        sample = self.index.vectors.sentence_sample()
        checks = []
        for (text, cited), vector in zip(generated, vectors):
            if not cited:
                checks.append(Check(text, cited, False, "no citation"))
                continue
            if any(not 1 <= n <= len(hits) for n in cited):
                checks.append(Check(text, cited, False, "cites no passage"))
                continue
            chunks = [hits[n - 1].chunk for n in cited]
            missing = missing_facts(text, " ".join(c.text for c in chunks), self.tokenizer)
            if missing:
                checks.append(Check(text, cited, False, "not in the cited passages: " + ", ".join(missing)))
                continue
            ids = np.array(sorted({i for c in chunks for i in c.sentence_ids}), dtype=np.int64)
            if len(ids) == 0:
                checks.append(Check(text, cited, False, "cites no passage"))
                continue
            similarity = self.index.vectors.sentence_vectors(ids) @ vector.astype(np.float32)
            background = sample @ vector.astype(np.float32) if len(sample) else np.zeros(1, dtype=np.float32)
            z = (float(similarity.max()) - float(background.mean())) / max(float(background.std()), 1e-3)
            if z < self.settings.answer.llm_min_z:
                checks.append(Check(text, cited, False, "meaning far from the cited passages"))
                continue
            support = self.index.sentences[int(ids[int(similarity.argmax())])]
            checks.append(Check(text, cited, True, support=support))
        return checks

    def cite(self, kept: Sequence[Check]) -> tuple[str, tuple[Citation, ...], tuple[Sentence, ...]]:
        """Return the kept sentences with [n] markers, each [n] citing its supporting sentence's exact lines."""
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        sentences: list[Sentence] = []
        parts = []
        for check in kept:
            support = check.support
            assert support is not None
            if support.sentence_id not in numbers:
                numbers[support.sentence_id] = len(numbers) + 1
                title = self.titles.get(support.file, support.file)
                citations.append(Citation(numbers[support.sentence_id], support.file, title, support.line_start,
                                          support.line_end, support.quote, section=self.section(support)))
                sentences.append(support)
            separator = "" if is_chinese(check.text) else " "
            parts.append(f"{check.text}[{numbers[support.sentence_id]}]" + separator)
        return "".join(parts).strip(), tuple(citations), tuple(sentences)


def _fallback(chinese: bool, why: str) -> str:
    if why == "unavailable":
        return ("生成的回答暂不可用（语言模型没有响应），以下是原文摘录。" if chinese
                else "The generated answer is unavailable (the language model did not respond); quoting the articles instead.")
    return ("生成的回答经核对后可信的内容太少，以下是原文摘录。" if chinese
            else "Too little of the generated answer held up against the articles; quoting them instead.")


def _drafting(chinese: bool) -> str:
    return ("语言模型正在撰写；写完后逐句与原文核对，核对后的回答将替换这份草稿。" if chinese
            else "The language model is writing; once it is done every sentence is checked against the articles, "
            "and the checked answer replaces this draft.")


def _dropped(chinese: bool, count: int) -> str:
    return (f"已删去 {count} 句原文不支持的生成内容。" if chinese
            else f"{count} generated sentence{'s' if count != 1 else ''} the articles do not support were left out.")


def _heading(chunk: Chunk) -> str:
    """Return what a passage stands under: its article's title, and its section's headings when they stand above it
    ("劳动合同 / 试用期"), which name what the passage speaks of when it does not say so itself."""
    return f"{chunk.title} / {chunk.section}" if chunk.section else chunk.title
