"""Small frozen records that flow between the stages of the pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Article:
    """A cleaned article mapped back to its source: `text[i]` came from `raw[origin[i]]` on line `line_of[i]`."""

    file: str  # path relative to the corpus folder's parent, e.g. "seeds/000_x.txt"
    title: str
    text: str
    raw: str
    origin: np.ndarray  # source offset of each clean character
    line_of: np.ndarray  # 1-based source line of each clean character
    sha256: str
    pages: tuple[int, ...] = ()  # a PDF's first line of each page (rag/ingest/formats.py), else empty

    def lines_of_span(self, start: int, end: int) -> tuple[int, int]:
        """Return the (first, last) source line of clean characters start..end-1."""
        return int(self.line_of[start]), int(self.line_of[max(start, end - 1)])

    def source_slice(self, start: int, end: int) -> str:
        """Return the source text from clean character `start` to `end - 1`, markup included."""
        return self.raw[int(self.origin[start]) : int(self.origin[max(start, end - 1)]) + 1]


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article with its source lines; `quote` stands in those lines."""

    sentence_id: int
    file: str
    text: str  # clean text, as shown in answers
    quote: str  # what a citation quotes: `text`, or the source slice when markup sits inside the sentence
    line_start: int
    line_end: int
    char_start: int  # offsets in the article's clean text
    char_end: int
    # The tokenizer's distinct tokens of `text`, stored by the build so a question runs no jieba over sentences.
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A passage: what is embedded and searched. Row i of the index is chunk i."""

    chunk_id: int
    file: str
    title: str
    text: str
    line_start: int
    line_end: int
    sentence_ids: tuple[int, ...] = ()
    char_start: int = 0  # offsets in the article's clean text: text == article.text[char_start:char_end]
    char_end: int = 0
    # The headings of the section the passage starts in that stand above it ("焦点1 Sora能做什么?"): searched with its
    # text, as a reader finds a paragraph under its heading; never quoted.
    section: str = ""

    @property
    def searched(self) -> str:
        """What the lexical index reads of the passage: its section's headings, then its text."""
        return f"{self.section}\n{self.text}" if self.section else self.text


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and 1-based rank."""

    chunk: Chunk
    rank: int
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered citation: the quoted sentence and the source lines it stands in."""

    n: int
    file: str
    title: str
    line_start: int
    line_end: int
    quote: str
    page: int | None = None  # in a PDF: the page of line_start and its line on that page
    page_line: int | None = None
    # The headings of the section the quoted sentence stands in ("年假天数", "焦点1 Sora能做什么?"); "" when none.
    section: str = ""


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, oldest first in a history: what was asked and answered."""

    question: str
    answer: str


@dataclass(frozen=True)
class Translation:
    """A question's words as the articles' words (rag/retrieval/glossary.py): one group per English word or word
    pair with translations the index holds, each translation with its weight, best first."""

    groups: tuple[tuple[tuple[str, float], ...], ...] = ()
    # The index's words that the question's names written in pinyin read as ("Zhou Hongyi": 周鸿祎), also in `groups`.
    named: tuple[str, ...] = ()

    def terms(self) -> list[str]:
        """Return every translation once, in group order."""
        return list(dict.fromkeys(term for group in self.groups for term, _ in group))

    def __bool__(self) -> bool:
        return bool(self.groups)


NO_TRANSLATION = Translation()  # a question in the articles' language


@dataclass(frozen=True)
class Frame:
    """The article a question's frame names ("据齐鲁晚报，……": its file) and the source it names it by ("齐鲁晚报"),
    read by rag/answer/framing.py: the question is searched in that article's passage rows alone, and the source's
    words are the evidence's `framing`."""

    file: str
    source: str
    rows: range
    words: frozenset[str]


@dataclass(frozen=True, eq=False)
class Evidence:
    """What retrieval found for one question: its vector and words, their weights, and the ranked passages."""

    question: str
    query_vector: np.ndarray
    tokens: tuple[str, ...]
    term_weights: dict[str, float]
    hits: tuple[Hit, ...]
    # Whether the question is in the articles' language (Chinese over Chinese articles, English over English ones),
    # so the lexical side can speak for it. A Chinese question over English articles is judged as one in another
    # language, as an English one over Chinese articles is.
    same_language: bool
    translation: Translation = NO_TRANSLATION  # its words as the articles' words, for a question in another language
    # With a translation, the passages fused without it: what the decision judges (rag/answer/decide.py).
    judged_hits: tuple[Hit, ...] = ()
    # The passages as fused, those that are only a title among them: what the decision reads (empty: the hits).
    ranked: tuple[Hit, ...] = ()
    # A question in another language than the Chinese articles' that the dictionary cannot read (not English): found
    # by its meaning alone, and judged with a threshold of its own (rag/answer/decide.py).
    unread: bool = False
    # Of those, one whose language the identifier cannot tell either (a word or two of chat, a number, an emoji):
    # nothing to find it by, so it is declined (rag/ingest/language.py).
    untold: bool = False
    # A question that asks several: the evidence for each of its parts (rag/answer/questions.py, `question_parts`),
    # embedded with it; the answer adds the best block of each part it answers (rag/answer/assistant.py). Empty for a
    # question that asks one.
    parts: tuple[Evidence, ...] = ()
    # A question framed by its article ("据齐鲁晚报，……"): the words of the source that names it, searched in it alone
    # (rag/answer/framing.py). They say which article, not what the answer holds: the answer's ranking leaves them out.
    framing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Draft:
    """A composed answer before the decision: text with [n] markers, its citations, the sentences it quotes."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[Sentence, ...]
    best_similarity: float | None  # the best candidate sentence's cosine to the question, None when there was none
    similarities: tuple[float, ...] = ()  # every candidate sentence's cosine to the question (empty: not known)
    notice: str = ""  # what the reader should know about how it was written (a generated answer fell back, …)
    generated: bool = False  # written by a language model (every sentence checked), not quoted
    checks: dict = field(default_factory=dict, compare=False)  # generated sentences kept, dropped and why
    # What the decision reads instead: composed from the evidence's judged_hits (or its hits), ranked by the model the
    # decision was fitted over (rag/answer/composer.py).
    judged: Draft | None = None


@dataclass(frozen=True)
class Decision:
    """Whether the articles hold the answer: the confidence and the verdict."""

    confidence: float
    refused: bool
    # Declined because a count asked is not found as one, though the answer's sentences name what it counts ("员工"):
    # the decline message says so (rag/answer/extractive.py, refusal_text).
    counted: str = ""
    # Declined, and these words of the question are ones the articles never use: the decline message names them (when
    # it names no count), so that the user can ask in the articles' words.
    unused: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the bot says to one question, with its evidence."""

    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    confidence: float
    latency_ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    understood_as: str | None = None  # the standalone question a follow-up or wrapped question was taken as, when it differs
    small_talk: bool = False  # a reply to a greeting, thanks or "what can you do", written without the articles
    notice: str = ""  # from the draft: e.g. the generated answer fell back to quoting
    generated: bool = False  # the text is a language model's, each sentence checked against its citations
    checks: dict = field(default_factory=dict, compare=False)  # generated sentences kept, dropped and why
