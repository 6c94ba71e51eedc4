"""The question-answering pipeline: validate, retrieve, compose, decline when the articles do not say."""
from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence

from rag.answer.about_article import ArticleQuestions
from rag.answer.composer import Composer, make_composer
from rag.answer.conversation import check_history, make_rewriter, small_talk_reply, understand
from rag.answer.decide import Decider, for_index, load_params
from rag.answer.decide import Evidence as Features
from rag.answer.extractive import refusal_text
from rag.answer.framing import Framing
from rag.answer.questions import question_parts
from rag.answer.streaming import AnswerEvent, DraftingEvent, Event, QuestionEvent, TextEvent, pieces
from rag.embedding import Embedder, load_embedder
from rag.embedding.reader import shared_reader
from rag.errors import QuestionError, QuestionTooLongError, RagError
from rag.index.lexical import Tokenizer, shared_tokenizer
from rag.index.store import Index, load_index
from rag.ingest.formats import page_line
from rag.ingest.language import load_identifier, mostly_chinese, told_probability
from rag.ingest.textnorm import not_text
from rag.records import Answer, Citation, Decision, Draft, Evidence, Turn
from rag.retrieval.glossary import shared_glossary
from rag.retrieval.retriever import Retriever
from rag.settings import Settings

log = logging.getLogger(__name__)


def _read_glossary(retriever: Retriever) -> None:
    """Read the dictionary English questions are translated with, and the index's words by their sound, then the
    language identifier questions the dictionary cannot read are told by; a missing one is said by the first such
    question."""
    try:
        retriever.sounds(shared_glossary())
    except RagError:
        pass
    try:
        load_identifier()  # this runs over Chinese articles only, where a question may be one the dictionary cannot read
        told_probability()
    except RagError:
        pass


class Assistant:
    """Answers questions over one loaded index; safe to share between threads (it holds no per-question state)."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, tokenizer: Tokenizer) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.titles = {entry.file: entry.title for entry in index.manifest.articles}
        self.retriever = Retriever(settings, index, embedder, tokenizer)
        self.ranks_with_reader = self.retriever.holds_readings  # the ranking reads questions with it
        if self.ranks_with_reader:
            shared_reader().load()
        word_tags = tokenizer.word_tags()
        params = for_index(load_params(settings.answer.decision_file), settings.answer.refusal_threshold, index.manifest.model.name)
        self.decider = Decider(index, params, word_tags, tokenizer.word_counts())
        # A language model's composer asks the decider first, so a declined question never reaches the model.
        self.composer: Composer = make_composer(settings, index, self.titles, word_tags, embedder, self.decider)
        # Who wrote an article, when, where it comes from: answered from the lines that state it, in either mode.
        self.about_article = ArticleQuestions(index, tokenizer, self.decider.articles)
        # A question framed by the article it asks about ("据齐鲁晚报，……") is searched in that article only.
        self.framing = Framing(index, tokenizer, self.decider.articles)
        # With a language model, it makes follow-ups standalone; the rules stand in when it fails.
        self.rewriter = make_rewriter(settings, tokenizer)

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None) -> Assistant:
        """Return an assistant over the index the settings point at (checked against them)."""
        index = load_index(settings)
        tokenizer = shared_tokenizer()
        tokenizer.tagged("")  # read the part-of-speech tags now, not on the first question
        assistant = cls(settings, index, embedder or load_embedder(settings), tokenizer)
        # An English question over Chinese articles reads the dictionary (~1 s) and the index's words by their sound:
        # start both now, aside. The titles say the articles' language without reading a row (a damaged one is found
        # when a question reads it).
        titles = [article.title for article in index.manifest.articles[:50]]
        if titles and mostly_chinese(titles):
            threading.Thread(target=_read_glossary, args=(assistant.retriever,), name="rag-glossary", daemon=True).start()
        return assistant

    def validate(self, question: str) -> str:
        """Return the question stripped, or raise QuestionError saying what to change."""
        question = (question or "").strip()
        if not question:
            raise QuestionError("the question is empty: type a question about the articles")
        bad = not_text(question)
        if bad:
            where = ", ".join(f"U+{ord(char):04X} at character {position}" for position, char in bad[:3])
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise QuestionError(f"the question has characters that are not valid text ({where}{more}): retype it")
        limit = self.settings.answer.max_question_chars
        if len(question) > limit:
            raise QuestionTooLongError(f"the question is {len(question)} characters long; the limit is {limit}: shorten it")
        return question

    def consider(self, evidence: Evidence) -> tuple[Draft, Decision, Features]:
        """Return the draft for retrieved evidence, the decision on it and the features it rests on."""
        draft = self.composer.compose(evidence)
        found = self.decider.evidence(evidence, draft)
        return draft, self.decider.judge(found, draft), found

    def _with_parts(self, evidence: Evidence, draft: Draft) -> Draft:
        """Return the draft of a question that asks several with the best block of each part the articles answer
        (the part's own draft, judged on its own) and the draft does not quote yet; an extractive composer's only."""
        with_parts = getattr(self.composer, "with_parts", None)
        if with_parts is None:
            return draft
        answered = []
        for at, part in enumerate(evidence.parts):
            part_draft = self.composer.compose(part)
            first = part_draft.sentences[:1]
            if first and first[0] not in draft.sentences and not self.decider.decide(part, part_draft).refused:
                answered.append((at, part_draft))
        return with_parts(draft, answered)

    def on_page(self, citation: Citation) -> Citation:
        """Return the citation with its page and line on the page when it cites a PDF, else as it is."""
        kept = self.index.text_of(citation.file)
        if kept is None or not kept.pages:
            return citation
        page, line = page_line(kept.pages, citation.line_start)
        return dataclasses.replace(citation, page=page, page_line=line)

    def ask(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Return the answer to one question, with citations, or a decline with related passages.

        validate -> understand -> retrieve -> compose -> decide. `history` holds the earlier turns of a
        conversation, oldest first: a follow-up is made standalone from them (rag/answer/conversation.py).
        """
        for event in self._answer(question, top_k, history, stream=False):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("an answer always ends with its AnswerEvent")

    def ask_stream(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Iterator[Event]:
        """Yield the answer as it comes (rag/answer/streaming.py): the question as understood, a language model's
        tokens as its draft or the finished answer in pieces, then the whole answer, the same as `ask` returns.

        The question is validated before the first event, so a bad question raises at once.
        """
        events = self._answer(question, top_k, history, stream=True)
        first = next(events)
        return itertools.chain([first], events)

    def _answer(self, question: str, top_k: int | None, history: Sequence[Turn], stream: bool) -> Iterator[Event]:
        started = time.perf_counter()
        asked = self.validate(question)
        check_history(history, self.settings.answer.max_history_turns, self.settings.answer.max_history_chars)
        understood = understand(asked, history, self.tokenizer)
        if self.rewriter is not None and history:
            understood = self.rewriter.rewrite(asked, history, understood)
        if understood.small_talk:
            reply = small_talk_reply(understood.small_talk, asked, self.titles)
            yield QuestionEvent(asked, small_talk=True)
            if stream:
                yield from (TextEvent(piece) for piece in pieces(reply))
            latency = (time.perf_counter() - started) * 1000
            yield AnswerEvent(Answer(asked, reply, False, (), (), 0.0, latency, small_talk=True))
            return
        question = understood.question
        if self.ranks_with_reader:  # read on the other core while the question is embedded (rag/embedding/reader.py)
            shared_reader().read_ahead(question)
        yield QuestionEvent(asked, question if question != asked else None)
        top_k = max(1, min(top_k or self.settings.retrieval.top_k, 100))
        timings: dict[str, float] = {}
        parts = question_parts(question, self.tokenizer.tokens)
        evidence = self.retriever.retrieve(question, top_k, timings, parts if len(parts) > 1 else (),
                                           self.framing.read(question))

        tick = time.perf_counter()
        drafted = False
        compose_stream = getattr(self.composer, "compose_stream", None)
        about = self.about_article.answer(question, evidence)
        if about is not None:
            draft = about.draft
        elif stream and compose_stream is not None:
            steps = compose_stream(evidence, tuple(history))
            while True:
                try:
                    event = next(steps)
                except StopIteration as done:
                    draft = done.value
                    break
                drafted = drafted or isinstance(event, DraftingEvent)
                yield event
        else:
            draft = self.composer.compose(evidence, tuple(history))
        decision = about.decision if about is not None else self.decider.decide(evidence, draft)
        if evidence.parts and about is None and not decision.refused and not drafted:
            draft = self._with_parts(evidence, draft)
        if about is not None and about.refusal:
            text, citations = about.refusal, ()
        elif decision.refused:
            text, citations = refusal_text(question, decision.counted, decision.unused), ()
        else:
            text, citations = draft.text, draft.citations
        timings["compose_ms"] = (time.perf_counter() - tick) * 1000
        if stream and not drafted:
            yield from (TextEvent(piece) for piece in pieces(text))
        yield AnswerEvent(Answer(
            question=asked,
            understood_as=question if question != asked else None,
            text=text,
            refused=decision.refused,
            citations=tuple(self.on_page(c) for c in citations),
            hits=evidence.hits[:top_k],
            confidence=decision.confidence,
            latency_ms=(time.perf_counter() - started) * 1000,
            timings_ms=timings,
            notice="" if decision.refused else draft.notice,
            generated=draft.generated and not decision.refused,
            checks=draft.checks,
        ))
