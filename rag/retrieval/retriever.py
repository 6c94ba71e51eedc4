"""From a question to evidence: embed it, tokenise it, search the index both ways, fuse."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from rag.embedding import Embedder
from rag.embedding.reader import reads_language, shared_reader
from rag.index.lexical import Tokenizer
from rag.index.store import Index
from rag.ingest.language import is_chinese, mostly_chinese, told
from rag.records import NO_TRANSLATION, Evidence, Frame, Hit, Translation
from rag.retrieval.fusion import load_fusion
from rag.retrieval.glossary import NO_SOUNDINGS, Glossary, Soundings, min_share, reads, shared_glossary, unheld_words
from rag.retrieval.search import answer_hits, candidates, hybrid_search, lexical_ranking
from rag.settings import Settings

# The fewest passages whose own idf weighs a question's words (rag/index/lexical.py); a smaller corpus takes the
# language's (Tokenizer.language_idf).
MIN_IDF_PASSAGES = 20


class Retriever:
    """Finds the passages for a question in one index; holds no per-question state, so threads may share it."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, tokenizer: Tokenizer) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.tokenizer = tokenizer
        self._sound_index: Soundings | None = None
        self._sounds_lock = threading.Lock()

    @cached_property
    def articles_chinese(self) -> bool:
        """Whether the articles are Chinese: read from the first question on, since loading reads no rows."""
        return articles_are_chinese(self.index)

    def sounds(self, glossary: Glossary) -> Soundings:
        """Return the index's words by how they read, for names an English question writes in pinyin; read once (the
        assistant's load starts it aside). Empty for a vocabulary kept on a server (Milvus), looked up, not listed."""
        with self._sounds_lock:
            if self._sound_index is None:
                vocabulary = self.index.lexical.vocabulary
                self._sound_index = NO_SOUNDINGS if hasattr(vocabulary, "lookup") else glossary.sound_index(vocabulary)
            return self._sound_index

    def retrieve(self, question: str, top_k: int, timings: dict[str, float] | None = None,
                 parts: Sequence[str] = (), frame: Frame | None = None) -> Evidence:
        """Return the evidence for a validated question, at least `top_k` passages deep; time the stages into `timings`.
        The `parts` of a question that asks several are embedded with it, in one batch, and searched each; a `frame`
        names the one article to search, and its source's words are the evidence's `framing` (rag/answer/framing.py)."""
        timings = {} if timings is None else timings
        tick = time.perf_counter()
        vectors = self.embedder.encode_queries([question, *parts])
        timings["embed_ms"] = (time.perf_counter() - tick) * 1000
        tick = time.perf_counter()
        rows = frame.rows if frame is not None else range(0)
        framing = frame.words if frame is not None else frozenset()
        evidence = dataclasses.replace(self.search(question, vectors[0], top_k, rows), framing=framing)
        timings["retrieve_ms"] = (time.perf_counter() - tick) * 1000
        if parts:
            found = tuple(dataclasses.replace(self.search(part, vector, top_k, rows), framing=framing)
                          for part, vector in zip(parts, vectors[1:]))
            evidence = dataclasses.replace(evidence, parts=found)
        return evidence

    def search(self, question: str, query_vector: np.ndarray, top_k: int, within: Sequence[int] = ()) -> Evidence:
        """Return the evidence for a question already embedded (the fits embed their questions in batches); with
        `within`, from those passage rows only."""
        tokens = self.tokenizer.question_tokens(question, self.index.lexical.vocabulary)
        chinese = is_chinese(question)
        translation = self.translation(question, chinese)
        depth = max(top_k, self.settings.retrieval.top_k)
        same_language = chinese == self.articles_chinese
        if chinese and same_language:
            tokens = self.alike(tokens)
        sides = candidates(self.index, query_vector, tokens, self.settings, translation)
        unread = not chinese and self.articles_chinese and not reads(question)
        # Of those, input that is no question in any language ("ok", "???") is declined, unless the corpus uses a word
        # of it longer than a character ("Sora", "2024"): nothing else can find what it asks.
        vocabulary = self.index.lexical.vocabulary
        untold = unread and not told(question) and not any(len(token) > 1 and token in vocabulary for token in tokens)
        # A question the dictionary cannot read has weights of its own when the second reader reads its language.
        read = unread and not untold and self.holds_readings and reads_language(question)
        # The second reader's reading only where the weights read it: a Chinese question would otherwise wait for its
        # reading here, which the ranking takes after retrieval.
        fusion = load_fusion(self.settings.retrieval.fusion_file)
        fused_with = (fusion.for_question(same_language, bool(translation), read), fusion.for_question(same_language))
        weighed = self.settings.retrieval.fusion != "rrf" and any(weights.reader for weights in fused_with)
        reading = self.reading(question) if weighed else None
        ranked = hybrid_search(self.index, query_vector, tokens, 2 * depth, self.settings, translation=translation,
                               sides=sides, reading=reading, weights=fused_with[0], within=within)
        # An answer quotes, and a reader is shown, only passages with a sentence to quote: one that is only a title
        # matches a question on its subject and would push an answer out (docs/answers.md, *Passages that are only a
        # title*). The decision still reads the ranking as fused, the one its features were fitted on.
        hits = answer_hits(self.index, ranked, depth)
        # The decision judges the passages found without the dictionary: its matches bring passages that share a
        # translated word with the question in any corpus, and judged on them a question about something the
        # articles never mention looks answered (docs/answers.md, *English questions read through CC-CEDICT*).
        # They are the same dense and lexical candidates fused without the translation's side and features.
        # A name the question writes in pinyin that reads as the articles' word ("Who is Zhou Hongyi?": 周鸿祎) is
        # searched as the question's own word there: it names one thing, where a translated word is any corpus's.
        judged: list[Hit] = []
        if translation:
            named = [word for word in translation.named if word not in tokens]
            judged_tokens, judged_sides = tokens + named, sides[:2]
            if named:
                judged_sides = (sides[0], lexical_ranking(self.index, judged_tokens, self.settings.retrieval.candidates))
            judged = hybrid_search(self.index, query_vector, judged_tokens, depth, self.settings, sides=judged_sides,
                                   reading=reading, weights=fused_with[1], within=within)
        # In a corpus of a few passages the question's subject is in all of them and weighs next to nothing, while a
        # word it never uses weighs most: the words' weight in the language at large says more there.
        if len(self.index.chunks) < MIN_IDF_PASSAGES:
            weights = self.tokenizer.language_idf(tokens)
        else:
            weights = self.index.lexical.term_weights(tokens)
        return Evidence(question, query_vector, tuple(tokens), weights, tuple(hits), same_language,
                        translation, tuple(judged), tuple(ranked[:depth]), unread, untold)

    def alike(self, tokens: list[str]) -> list[str]:
        """Return a Chinese question's tokens with each word the articles never use read as their word that means
        the same (`Glossary.alike`: "片子" as 影片, "取代" as 替代): a user's everyday word would otherwise weigh as the
        corpus's rarest, and the question be declined for it (docs/answers.md, *Words the articles say otherwise*)."""
        share = min_share(self.settings.retrieval.synonyms_file)
        if share is None:
            return tokens
        vocabulary = self.index.lexical.vocabulary
        unheld = unheld_words(tokens, vocabulary)
        if not unheld:
            return tokens
        glossary = shared_glossary()
        out: list[str] = []
        for token in tokens:
            token = (glossary.alike(token, vocabulary, share) or token) if token in unheld else token
            if token not in out:
                out.append(token)
        return out

    def reading(self, question: str) -> np.ndarray | None:
        """Return the question as the second reader reads it (rag/embedding/reader.py; read ahead by the assistant),
        for the fusion's reader feature; None when the index holds no readings (Milvus, a synthetic index)."""
        if not self.holds_readings:
            return None
        return shared_reader().read_question(question)

    @cached_property
    def holds_readings(self) -> bool:
        """Whether the index stores each sentence's reading by the second reader."""
        return self.index.vectors.reader_vectors(np.zeros(0, dtype=np.int64)) is not None

    def translation(self, question: str, chinese: bool) -> Translation:
        """Return the dictionary translation of a question that is not Chinese asked of Chinese articles (none else:
        the glossary translates English into Chinese only, so a question in another language gets none either)."""
        if chinese or not self.articles_chinese or not reads(question):
            return NO_TRANSLATION
        glossary = shared_glossary()
        return glossary.translate(question, self.index.lexical.vocabulary, sounds=self.sounds(glossary))


def articles_are_chinese(index: Index, sample: int = 50) -> bool:
    """Return whether most of an evenly spaced sample of the index's passages are Chinese (True for an empty index):
    a question in the articles' language is fused with the weights whose lexical side can match it."""
    total = len(index.chunks)
    if not total:
        return True
    rows = sorted({i * total // min(sample, total) for i in range(min(sample, total))})
    return mostly_chinese([index.chunks[row].text for row in rows])
