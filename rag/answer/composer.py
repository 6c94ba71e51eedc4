"""The seam where an answer is written: a `Composer` turns evidence into a draft with citations.

The extractive composer quotes the articles' own sentences. Another composer (a language model writing
from the numbered passages) plugs in here and gets the same decision and citation checks, because the
decision (rag/answer/decide.py) and the citations' line numbers never come from the composer's say-so.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rag.answer.decide import TOP_PASSAGES
from rag.answer.extractive import SentenceScore, cite, score_sentences, select_sentences
from rag.answer.identity import prefer_identifying
from rag.answer.ranking import RankingParams, Subjects, load_ranking, rerank
from rag.answer.stated import prefer_stated
from rag.answer.tables import prefer_named_rows
from rag.embedding import Embedder
from rag.index.lexical import shared_tokenizer
from rag.index.store import Index
from rag.ingest.language import is_chinese
from rag.records import NO_TRANSLATION, Draft, Evidence, Sentence, Turn
from rag.settings import Settings, SettingsError

COMPOSERS = ("extractive", "llm")


class Composer(Protocol):
    """Writes a draft answer from the evidence; `history` is the conversation so far, oldest first."""

    def compose(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Draft:
        """Return the draft: text with [n] markers, citations to exact lines, the sentences it rests on."""
        ...


class ExtractiveComposer:
    """Quotes the sentences that answer best, each cited to its lines; writes nothing of its own."""

    def __init__(self, settings: Settings, index: Index, titles: Mapping[str, str], word_tags: Mapping[str, str]) -> None:
        self.settings = settings
        self.index = index
        self.titles = dict(titles)
        self.subjects = Subjects(index, self.titles)
        self.word_tags = word_tags
        self.ranking = load_ranking(settings.answer.ranking_file)
        self.tokens = shared_tokenizer().tokens
        self.first_rows = {article.file: article.chunks[0] for article in index.manifest.articles if article.chunks[1]}

    def compose(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Draft:
        """Return the sentences of the top passages that most likely answer (rag/answer/ranking.py), headings
        left out, each followed by its [n]; with the draft the decision judges (`judged`)."""
        candidates = self._candidates(evidence)
        # An English question over English articles is ranked as one in the articles' language, its words matched with
        # theirs; the drafts the decision judges stay ranked as the decision was fitted over (rag/answer/decide.py).
        in_language = is_chinese(evidence.question) or evidence.same_language
        draft = self._draft(evidence, candidates, self.ranking, in_language)
        # The decision judges what was retrieved without the dictionary (rag/answer/decide.py), ranked by the model
        # it was fitted over (`RankingParams.judged`).
        judged_model = self.ranking.judged
        if evidence.judged_hits or judged_model is not None:
            plain = dataclasses.replace(evidence, hits=evidence.judged_hits or evidence.hits,
                                        translation=NO_TRANSLATION, judged_hits=())
            # Over the passages the decision reads and was fitted over (its top five), however many the answer reads.
            reads = max(self.settings.answer.answer_passages, TOP_PASSAGES)
            if evidence.judged_hits or reads != self.settings.answer.answer_passages:
                scored = self._candidates(plain, reads)
            else:
                scored = candidates
            judged_candidates = [c for c in scored if c.passage_rank <= TOP_PASSAGES]
            judged = self._draft(plain, judged_candidates, dataclasses.replace(judged_model or self.ranking, translated=None),
                                 is_chinese(evidence.question), shown=False)
            draft = dataclasses.replace(draft, judged=judged)
        return draft

    def _leads(self, evidence: Evidence, candidates: Sequence[SentenceScore]) -> list[SentenceScore]:
        """Return, for a question that asks what its subject is or who made it (rag/answer/identity.py), the sentences
        of the first passage of each article the answer's passages come from that are not candidates already: an
        article says what its subject is where it starts, and over articles all about it, the passages such a question
        finds seldom hold that start. Unranked: they stand in only for a candidate that says it."""
        hits = evidence.hits[: self.settings.answer.answer_passages]
        taken = {c.sentence.sentence_id for c in candidates}
        out = []
        for rank, file in enumerate(dict.fromkeys(hit.chunk.file for hit in hits), start=len(hits) + 1):
            first = self.first_rows.get(file)
            if first is None:
                continue
            for sentence_id in self.index.chunks[first].sentence_ids:
                if sentence_id not in taken:
                    taken.add(sentence_id)
                    out.append(SentenceScore(self.index.sentences[sentence_id], 0.0, 0.0, 0.0, rank))
        return out

    def _candidates(self, evidence: Evidence, passages: int = 0) -> list[SentenceScore]:
        """Return the scored sentences of the top `passages` passages (the answer's setting when 0)."""
        answer = self.settings.answer
        return score_sentences(
            self.index, list(evidence.hits), evidence.query_vector, evidence.term_weights,
            passages or answer.answer_passages, answer.sentence_lexical_weight, answer.sentence_rank_weight,
        )

    def _draft(self, evidence: Evidence, candidates: list[SentenceScore], ranking: RankingParams, in_language: bool,
               shown: bool = True) -> Draft:
        """Return the draft of the candidates ranked by `ranking`; the one `shown` to the user opens with a sentence
        that says what the question asks of its subject, when it asks what it is or who made it (the decision judges
        the ranking it was fitted over)."""
        answer = self.settings.answer
        # A frame's source says which article (rag/answer/framing.py); a sentence holding it answers nothing for that.
        weights = {t: w for t, w in evidence.term_weights.items() if t not in evidence.framing} or evidence.term_weights
        scored = rerank(
            self.index, candidates, evidence.question, weights, in_language,
            self.word_tags, lambda file: self.titles.get(file, ""), ranking, evidence.translation, self.subjects,
        )
        # A row a table's key names answers for its table: the model reads each row alone and cannot tell them apart.
        scored = prefer_named_rows(self.index, scored, evidence.question, self.tokens)
        if shown:
            scored = prefer_stated(scored, evidence.question, self.word_tags)
            scored = prefer_identifying(scored, evidence.question, lambda: self._leads(evidence, candidates))
        margin = ranking.for_translation(bool(evidence.translation)).margin
        chosen = select_sentences(self.index, scored, answer.answer_max_blocks, answer.answer_max_chars, margin,
                                  self.titles)
        text, citations = cite(self.index, chosen, self.titles, self.subjects.section_text) if chosen else ("", ())
        best = max((s.dense for s in candidates), default=None)
        return Draft(text, citations, tuple(chosen), best, tuple(s.dense for s in candidates))

    def with_parts(self, draft: Draft, parts: Sequence[tuple[int, Draft]]) -> Draft:
        """Return the draft with the first block of each (part's place, part's draft) it does not quote yet: the first
        part's before the rest, the others' after it, cited anew."""
        chosen = list(draft.sentences)
        for at, part in parts:
            block = _new(_first_block(part), chosen)
            chosen = block + chosen if at == 0 else chosen + block
        if len(chosen) == len(draft.sentences):
            return draft
        text, citations = cite(self.index, chosen, self.titles, self.subjects.section_text)
        return dataclasses.replace(draft, text=text, citations=citations, sentences=tuple(chosen))


def _new(items: Sequence[Sentence], chosen: Sequence[Sentence]) -> list[Sentence]:
    """Return the sentences of `items` that are not among `chosen`, in their order."""
    taken = {sentence.sentence_id for sentence in chosen}
    return [item for item in items if item.sentence_id not in taken]


def _first_block(draft: Draft) -> list[Sentence]:
    """Return the sentences a draft's first citation quotes."""
    if not draft.citations:
        return []
    first = draft.citations[0]
    return [s for s in draft.sentences if s.file == first.file and first.line_start <= s.line_start <= first.line_end]


def make_composer(
    settings: Settings, index: Index, titles: Mapping[str, str], word_tags: Mapping[str, str],
    embedder: Embedder | None = None, decider: Any = None,
) -> Composer:
    """Return the composer the settings name (`composer`), a language model's once `llm_base_url` is set;
    `word_tags` are the dictionary's part-of-speech tags, `decider` the assistant's decision (rag/answer/decide.py)."""
    answer = settings.answer
    if answer.composer == "llm" or (answer.composer == "extractive" and answer.llm_base_url):
        if not (answer.llm_base_url and answer.llm_model) or embedder is None or decider is None:
            raise SettingsError(
                "generated answers need RAG_LLM_BASE_URL and RAG_LLM_MODEL (an OpenAI-compatible endpoint): set both"
            )
        from rag.answer.llm_composer import LLMComposer  # it imports this module

        # The extractive composer's per-article section reading also names a generated sentence's section.
        extractive = ExtractiveComposer(settings, index, titles, word_tags)
        return LLMComposer(settings, index, titles, extractive, embedder, decider, section=extractive.subjects.section_text)
    if answer.composer == "extractive":
        return ExtractiveComposer(settings, index, titles, word_tags)
    raise SettingsError(f"RAG_COMPOSER={answer.composer!r} is not one of {', '.join(COMPOSERS)}: fix or unset it")
