"""The seam where an answer is written: a `Composer` turns evidence into a draft with citations.

The extractive composer quotes the articles' own sentences. Another composer (a language model writing
from the numbered passages) plugs in here and gets the same decision and citation checks, because the
decision (rag/answer/decide.py) and the citations' line numbers never come from the composer's say-so.
"""
from __future__ import annotations

from typing import Mapping, Protocol, Sequence

from rag.answer.compose import cite, score_sentences, select_sentences
from rag.index.store import Index
from rag.records import Draft, Evidence, Turn
from rag.settings import Settings, SettingsError

COMPOSERS = ("extractive",)


class Composer(Protocol):
    """Writes a draft answer from the evidence; `history` is the conversation so far, oldest first."""

    def compose(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Draft:
        """Return the draft: text with [n] markers, citations to exact lines, the sentences it rests on."""
        ...


class ExtractiveComposer:
    """Quotes the sentences that answer best, each cited to its lines; writes nothing of its own."""

    def __init__(self, settings: Settings, index: Index, titles: Mapping[str, str]) -> None:
        self.settings = settings
        self.index = index
        self.titles = dict(titles)

    def compose(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Draft:
        """Return the best-scoring sentences of the top passages, each followed by its [n]."""
        settings = self.settings
        scored = score_sentences(
            self.index, list(evidence.hits), evidence.query_vector, evidence.term_weights,
            settings.answer_passages, settings.sentence_lexical_weight, settings.sentence_rank_weight,
        )
        chosen = select_sentences(
            self.index, scored, settings.answer_max_blocks, settings.answer_max_chars, settings.answer_score_margin
        )
        text, citations = cite(chosen, self.titles) if chosen else ("", ())
        best = max((s.dense for s in scored), default=None)
        return Draft(text, citations, tuple(chosen), best)


def make_composer(settings: Settings, index: Index, titles: Mapping[str, str]) -> Composer:
    """Return the composer the settings name (`composer`)."""
    if settings.composer == "extractive":
        return ExtractiveComposer(settings, index, titles)
    raise SettingsError(f"RAG_COMPOSER={settings.composer!r} is not one of {', '.join(COMPOSERS)}: fix or unset it")
