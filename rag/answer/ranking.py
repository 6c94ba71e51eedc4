"""The answer sentence first: candidate sentences ranked by how likely they hold the answer.

A linear model over cheap features of each candidate sentence of the top passages (no second pass of the
embedder): its cosine to the question, relative to the best candidate and to the other candidates; its cosine as a
second model reads both (rag/embedding/reader.py, stored by the build; the question read once, a few milliseconds),
relative to the best candidate's and to the others'; the share of the
question's idf mass it holds, relative to the best candidate's; whether it holds the kind of answer the
question asks for (a time, a number, a price, a person, a place, an organisation, a reason: rag/answer/questions.py); for a question in the
articles' language, the share of the idf mass of its words beyond the article's subject (the words not in what
names the candidate's article: its title, headline lines and source, `Subjects`) that it holds with the headings
of its section (`article_sections`), and for one read through the dictionary the share of its words (their groups of
translations) beyond the subject that it holds with them; for a question in the articles' language, the share of its
pairs of characters (of words, in English) beyond the subject that it holds,
and those shares' gaps to the best candidate's; whether its neighbours hold the question's words (the answer
often follows the sentence that repeats the question); its passage's
rank; its length; for a question in another language, the share of its words whose dictionary translation
(rag/retrieval/glossary.py) the sentence holds, and that share's gap to the best candidate's. The weights are
fitted by bench/fit_ranking.py on the dev sets, cross-validated leave-one-set-out, into rag/data/ranking.json,
with a model for questions read through the dictionary and one without the words beyond the subject, which
ranks the drafts the decision judges (rag/answer/composer.py).

Headings and bare titles (a short line that ends no sentence, or the article's title itself) never stand
as an answer on their own; lines that state an article's author, source or date do.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer.extractive import SentenceScore, cosines
from rag.answer.questions import asked_kinds, holds_kind
from rag.embedding.reader import shared_reader
from rag.errors import RagError, fitted_over_other_features
from rag.index.store import Index
from rag.ingest.headings import is_candidate, metadata_value, section_heading, sections, source_names
from rag.ingest.language import is_chinese
from rag.ingest.textnorm import to_simplified
from rag.records import NO_TRANSLATION, Sentence, Translation

FEATURES = (
    "dense_gap", "dense_z", "coverage", "coverage_gap", "kind_asked", "kind_found", "neighbour_coverage",
    "inverse_rank", "log_chars", "other_language", "other_language_dense_gap", "novelty", "inverse_dense_rank",
    "other_language_alone_gap", "other_language_alone_z", "other_language_translated", "other_language_translated_gap",
    "coverage_beyond_title", "coverage_beyond_title_gap", "pairs_beyond_title", "pairs_beyond_title_gap",
    "reader_gap", "reader_z",
)


# The features the drafts the decision judges are ranked without (rag/answer/composer.py): the decision was fitted
# on what the sentences ranked without them hold.
# The second reader's two change which sentence an answer shows first, not what the decision judges: read by the
# decision's drafts, they moved xquad-zh's false refusal up (docs/answers.md, *A second reader*).
JUDGED_WITHOUT = ("coverage_beyond_title", "coverage_beyond_title_gap", "pairs_beyond_title", "pairs_beyond_title_gap",
                  "reader_gap", "reader_z")


@dataclass(frozen=True)
class RankingParams:
    """A fitted linear ranking: one weight per feature (FEATURES order) over standardised features, and the
    score margin within which sentences after the best join the answer."""

    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    margin: float
    # For a question read through the dictionary (an English one over Chinese articles): fitted on its cases
    # retrieved with it, while this model's English cases were retrieved without it (bench/fit_ranking.py).
    translated: RankingParams | None = None
    judged: RankingParams | None = None  # the drafts the decision judges are ranked with this one

    def for_translation(self, translated: bool) -> RankingParams:
        """Return the model for a question with (or without) a dictionary translation."""
        return self.translated if translated and self.translated is not None else self


def features(
    index: Index,
    scored: Sequence[SentenceScore],
    question: str,
    weights: Mapping[str, float],
    in_language: bool,
    word_tags: Mapping[str, str],
    translation: Translation = NO_TRANSLATION,
    subjects: Callable[[str], str] = lambda file: "",
) -> np.ndarray:
    """Return the (candidates x FEATURES) matrix of the scored sentences; `in_language` says the question is read as
    one in the articles' language (a Chinese question, or an English one over English articles), `translation` is its
    words as the articles' words when it is asked in another; `subjects` gives what names each article (`Subjects`,
    or its title alone)."""
    if not scored:
        return np.zeros((0, len(FEATURES)))
    dense = np.array([s.dense for s in scored], dtype=np.float64)
    cover = np.array([s.coverage for s in scored], dtype=np.float64)
    kinds = asked_kinds(question)
    total = sum(weights.values()) or 1.0
    best_dense, mean_dense, spread = float(dense.max()), float(dense.mean()), float(dense.std()) + 1e-3
    best_cover = float(cover.max())
    # A question in another language is matched better by each sentence read on its own than in its passage
    # (docs/answers.md, *Sentence vectors embedded alone*); the articles' language keeps the passage's reading.
    alone = np.array([s.alone for s in scored], dtype=np.float64)
    alone_gap = (alone - alone.max()) * float(not in_language)
    alone_z = (alone - alone.mean()) / (float(alone.std()) + 1e-3) * float(not in_language)
    translated = np.array([translated_share(translation, s.sentence.terms) for s in scored])
    translated_gap = translated - translated.max()
    # The question's words beyond its subject: a word of the article's title is held by every sentence about it and
    # says nothing of which one answers ("天门冬的根有什么特点" is answered by "根稍肉质"). The same for its pairs of
    # characters: a question copies phrases of the sentence that answers it, whatever jieba makes of their words.
    pairs_of = _pairs if is_chinese(question) else _word_pairs
    asked_pairs = pairs_of(question) if in_language else set()
    beyond_title: dict[str, tuple[dict[str, float], set[str]]] = {}  # per article: what names it does not hold
    sections = subjects.section_terms if isinstance(subjects, Subjects) else None
    beyond, pairs = [], []
    for s in scored if in_language else ():
        file = s.sentence.file
        if file not in beyond_title:
            subject = subjects(file) or ""
            beyond_title[file] = ({t: w for t, w in weights.items() if t not in subject.lower()},
                                  asked_pairs - pairs_of(subject))
        rest, rest_pairs = beyond_title[file]
        mass = sum(rest.values())
        # A section's heading names what every sentence under it is about, as the title does the article's: "着装规范是
        # 什么？" is answered by "周一至周四请着商务休闲装……" under "## 着装规范", which never repeats it.
        # Its words only: a heading that asks ("Sora能做什么?") shares the pairs of any question's asking words.
        terms = set(s.sentence.terms) | (sections(s.sentence) if sections else frozenset())
        beyond.append(sum(w for t, w in rest.items() if t in terms) / mass if mass else 0.0)
        # A pair of the question's is two letters or digits (two words), so it is one of the sentence's pairs exactly
        # when the sentence holds it as a substring: a few lookups instead of the set of every pair the sentence holds.
        text = s.sentence.text.lower()
        pairs.append(sum(pair in text for pair in rest_pairs) / len(rest_pairs) if rest_pairs else 0.0)
    if not in_language and translation:
        beyond = _translated_beyond_subject(scored, translation, subjects, sections)
    beyond_arr = np.array(beyond) if beyond else np.zeros(len(scored))
    beyond_gap = beyond_arr - beyond_arr.max()
    pairs_arr = np.array(pairs) if in_language else np.zeros(len(scored))
    pairs_gap = pairs_arr - pairs_arr.max()
    # The second reader's cosine (rag/embedding/reader.py), relative to the best candidate's and to the others': a
    # model trained apart from the embedder, wrong on other sentences (docs/answers.md, *A second reader*).
    read = _reader_cosines(index, scored, question)
    read_gap = read - read.max()
    read_z = (read - read.mean()) / (float(read.std()) + 1e-3) if read.any() else read
    dense_rank = np.empty(len(dense))
    dense_rank[np.argsort(-dense, kind="stable")] = np.arange(1, len(dense) + 1)
    rows = []
    for s, d, c, r, ag, az, t, tg, bt, bg, pt, pg, rg, rz in zip(scored, dense, cover, dense_rank, alone_gap, alone_z,
                                                                 translated, translated_gap, beyond_arr, beyond_gap,
                                                                 pairs_arr, pairs_gap, read_gap, read_z):
        sentence = s.sentence
        found = any(holds_kind(k, sentence.text, sentence.terms, word_tags, question) for k in kinds)
        near: set[str] = set()
        for neighbour_id in (sentence.sentence_id - 1, sentence.sentence_id + 1):
            if 0 <= neighbour_id < len(index.sentences):
                neighbour = index.sentences[neighbour_id]
                if neighbour.file == sentence.file:
                    near.update(neighbour.terms)
        neighbour_cover = sum(w for t, w in weights.items() if t in near) / total
        gap = d - best_dense
        rows.append((
            gap, (d - mean_dense) / spread, c, c - best_cover, float(bool(kinds)), float(found),
            neighbour_cover, 1.0 / s.passage_rank, math.log(1 + len(sentence.text)),
            float(not in_language), gap * float(not in_language),
            sum(1 for term in sentence.terms if term not in weights) / max(len(sentence.terms), 1), 1.0 / r, ag, az,
            t, tg, bt, bg, pt, pg, rg, rz,
        ))
    return np.array(rows, dtype=np.float64)


def _translated_beyond_subject(scored: Sequence[SentenceScore], translation: Translation,
                               subjects: Callable[[str], str],
                               sections: Callable[[Sentence], frozenset[str]] | None) -> list[float]:
    """Return, for a question read through the dictionary, the share of its words beyond each candidate's article's
    subject (the groups none of whose translations stands in what names the article) that the candidate holds with
    its section's headings. "How many runways does Port Elizabeth Airport have?" is answered by the sentence with 跑道,
    not by the one that opens the article "伊丽莎白港机场(英文：Port Elizabeth Airport)", which holds every other word."""
    beyond_subject: dict[str, Translation] = {}  # per article: the question's groups beyond what names it
    out = []
    for s in scored:
        file = s.sentence.file
        if file not in beyond_subject:
            subject = (subjects(file) or "").lower()
            beyond_subject[file] = Translation(tuple(group for group in translation.groups
                                                     if not any(term in subject for term, _ in group)))
        terms = frozenset(s.sentence.terms) | (sections(s.sentence) if sections else frozenset())
        out.append(translated_share(beyond_subject[file], terms))
    return out


def _reader_cosines(index: Index, scored: Sequence[SentenceScore], question: str) -> np.ndarray:
    """Return each candidate's cosine to the question as the second reader reads both; zeros when the index holds
    no readings (a Milvus index, a synthetic one)."""
    ids = np.fromiter((s.sentence.sentence_id for s in scored), dtype=np.int64, count=len(scored))
    if index.vectors.reader_vectors(ids[:0]) is None:
        return np.zeros(len(scored), dtype=np.float64)
    return cosines(index.vectors.reader_vectors, ids, shared_reader().read_question(question)).astype(np.float64)


def _pairs(text: str) -> set[str]:
    """Return the pairs of adjacent letters or digits (characters, for Chinese) in `text`, lower-cased."""
    text = text.lower()
    return {text[i:i + 2] for i in range(len(text) - 1) if text[i].isalnum() and text[i + 1].isalnum()}


# A word of an alphabetic language: its pairs are of words, as a Chinese question's are of characters, each of which
# carries about as much as such a word (two letters would match nearly any sentence).
_WORD = re.compile(r"[^\W_]+")


def _word_pairs(text: str) -> set[str]:
    """Return the pairs of adjacent words in `text`, lower-cased and joined by a space."""
    words = _WORD.findall(text.lower())
    return {f"{first} {second}" for first, second in zip(words, words[1:])}


def translated_share(translation: Translation, terms: Sequence[str] | frozenset[str]) -> float:
    """Return the share of the translation's groups (the question's words) with a translation among `terms`."""
    if not translation:
        return 0.0
    held = set(terms)
    return sum(any(term in held for term, _ in group) for group in translation.groups) / len(translation.groups)


def rerank(
    index: Index,
    scored: Sequence[SentenceScore],
    question: str,
    weights: Mapping[str, float],
    in_language: bool,
    word_tags: Mapping[str, str],
    titles: Callable[[str], str],
    params: RankingParams,
    translation: Translation = NO_TRANSLATION,
    subjects: Callable[[str], str] | None = None,
) -> list[SentenceScore]:
    """Return the candidates (headings, bare titles and short questions left out: `is_candidate`), re-scored by the
    fitted model, best first; `subjects` gives what names each article (`Subjects`; its title when None)."""
    kept = [s for s in scored if is_candidate(s.sentence, titles(s.sentence.file), index.on_list_item)
            and not _label_only(s.sentence.text, weights)]
    if not kept:
        return []
    x = features(index, kept, question, weights, in_language, word_tags, translation, subjects or titles)
    params = params.for_translation(bool(translation))
    score = ((x - np.array(params.mean)) / np.array(params.scale)) @ np.array(params.weights)
    out = [dataclasses.replace(s, score=float(v)) for s, v in zip(kept, score)]
    return sorted(out, key=lambda s: (-s.score, s.sentence.sentence_id))


def _label_only(text: str, weights: Mapping[str, float]) -> bool:
    """Return whether a line states the article's author, source or date by its label and holds the question's words
    in its label only: "Sora 发布时间" asks when Sora was released, and "发布时间: 2024-02-19 13:42" says when the article
    was, holding 发布 and 时间 in its label alone. A question about the article itself is answered from such lines before
    any ranking (rag/answer/about_article.py)."""
    value = metadata_value(text)
    if value is None:
        return False
    value = to_simplified(value).lower()
    return not any(term in value for term in weights)


# The sentences at an article's top read for what names it: a newspaper's name or a byline stands there.
HEADER_SENTENCES = 12


def article_sections(index: Index, first: int, count: int) -> tuple[list[tuple[int, ...]], set[int]]:
    """Return, for each sentence of an article (`count` from `first`), the ids of its section's headings, and the ids
    of the headings right above a section's first quotable sentence (`rag.ingest.headings.sections`)."""
    runs, heads = sections([index.sentences[i] for i in range(first, first + count)], index.on_list_item)
    return [tuple(first + at for at in run) for run in runs], {first + at for at in heads}


class Subjects:
    """What names each article, for the question's words beyond its subject (`features`): its title, the lines before
    its first quotable sentence (a headline, a newspaper's name: "N 新京报澎湃新闻") and who wrote it or where it
    comes from, as lines near its top say ("文章作者:量子位" gives 量子位). A question framed by its source
    ("据新京报、澎湃新闻的报道，…", "量子位发稿时，…") names the article with those words, not what answers it; the labels
    stay out ("这篇文章的作者是谁？" is answered by the line that says 作者). Read once per article, when a question first
    reaches it; safe to share between threads (a lost race reads an article twice)."""

    def __init__(self, index: Index, titles: Mapping[str, str]) -> None:
        self.index = index
        self.titles = titles
        self.spans = {article.file: article.sentences for article in index.manifest.articles}
        self._read: dict[str, str] = {}
        self._sections: dict[str, tuple[list[frozenset[str]], set[int], list[tuple[int, ...]]]] = {}

    def __call__(self, file: str) -> str:
        subject = self._read.get(file)
        if subject is None:
            subject = self._read[file] = self._subject(file)
        return subject

    def section_terms(self, sentence: Sentence) -> frozenset[str]:
        """Return the words of the headings of the section a sentence stands in (`article_sections`)."""
        first = self.spans.get(sentence.file, (0, 0))[0]
        terms = self._read_sections(sentence.file)[0]
        at = sentence.sentence_id - first
        return terms[at] if 0 <= at < len(terms) else frozenset()

    def section_text(self, sentence: Sentence) -> str:
        """Return the headings of the section a sentence stands in, as its passage's `Chunk.section` writes them
        ("焦点1 Sora能做什么?"): what a citation of it shows beside its file and lines; "" outside any section."""
        first = self.spans.get(sentence.file, (0, 0))[0]
        runs = self._read_sections(sentence.file)[2]
        at = sentence.sentence_id - first
        return section_heading(self.index.sentences, runs[at], sentence.sentence_id) if 0 <= at < len(runs) else ""

    def _read_sections(self, file: str) -> tuple[list[frozenset[str]], set[int], list[tuple[int, ...]]]:
        found = self._sections.get(file)
        if found is None:
            first, count = self.spans.get(file, (0, 0))
            sections, heads = article_sections(self.index, first, count)
            words = {run: frozenset(t for i in run for t in self.index.sentences[i].terms) for run in set(sections)}
            found = self._sections[file] = ([words[run] for run in sections], heads, sections)
        return found

    def _subject(self, file: str) -> str:
        title = self.titles.get(file, "")
        first, count = self.spans.get(file, (0, 0))
        heads = self._read_sections(file)[1]
        parts, opening = [title], True
        for sentence_id in range(first, first + min(count, HEADER_SENTENCES)):
            sentence = self.index.sentences[sentence_id]
            # In an article of sections ("## 试用期", "## 着装规范"), the first one's heading names that section, not
            # the article: it stands above the first quotable sentence as the others stand above theirs.
            opening = opening and not is_candidate(sentence, title) and not (len(heads) > 1 and sentence_id in heads)
            parts.append(sentence.text if opening else source_names(sentence.text))
        return "\n".join(part for part in parts if part)


class RankingFileError(RagError, ValueError):
    """A ranking file cannot be read."""


def _params(model: Mapping[str, Any], path: str) -> RankingParams:
    if set(model["weights"]) != set(FEATURES):
        raise RankingFileError(fitted_over_other_features(
            f"the ranking file {path or 'rag/data/ranking.json'}", model["weights"], FEATURES,
            "bench/fit_ranking.py", "RAG_RANKING_FILE"))
    return RankingParams(
        weights=tuple(float(model["weights"].get(f, 0.0)) for f in FEATURES),
        mean=tuple(float(model["mean"].get(f, 0.0)) for f in FEATURES),
        scale=tuple(float(model["scale"].get(f, 1.0)) or 1.0 for f in FEATURES),
        margin=float(model["margin"]),
    )


@lru_cache(maxsize=8)
def load_ranking(path: str = "") -> RankingParams:
    """Return the fitted ranking in `path`, or the one shipped in rag/data/ranking.json when empty."""
    try:
        if path:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = (resources.files("rag") / "data" / "ranking.json").read_text(encoding="utf-8")
        data = json.loads(text)
        translated = _params(data["model_translated"], path) if "model_translated" in data else None
        judged = _params(data["model_judged"], path) if "model_judged" in data else None
        return dataclasses.replace(_params(data["model"], path), translated=translated, judged=judged)
    except RankingFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RankingFileError(
            f"the ranking file {path or 'rag/data/ranking.json'} cannot be read ({exc.__class__.__name__}): "
            "write it with bench/fit_ranking.py or unset RAG_RANKING_FILE"
        ) from None
