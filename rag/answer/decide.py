"""Answer or decline, the same for every composer: evidence features that mean the same over any corpus, combined by a fitted logistic model.

Each feature asks one question of the retrieved passages and the chosen sentences, relative to this corpus:
- dense_z: the best candidate sentence's cosine in standard deviations above the question's similarity to a
  fixed sample of the corpus's sentences outside the top passages' articles (e5 scores sit high even for
  unrelated text); for a question in the articles' language, not a number when the corpus has too few such
  sentences (a few short notes), and then it counts for neither answering nor declining;
- best_cosine: the best sentence's cosine itself, which no background moves (in a corpus all about one
  subject the background is near every question of that subject);
- sentence / passage peak: how far the best sentence and the best passage stand out from the other
  candidates; the passage peak is not a number over fewer than three passages, where it says nothing;
- unknown: the share of the question's idf mass in words the corpus never uses;
- passage / article coverage: the share of the question's idf mass that the best single passage, and the
  best single article among the top passages, hold; the subject of an answerable question stands in one
  article, the words of a question about something absent are spread over several;
- sentence coverage: the share in the chosen sentences (not the share in their article's title: titles follow
  each corpus's convention, a file name in another language than the articles (XQuAD's "Super_Bowl_50") holds no
  question word, and a fit that read them learnt to doubt every question over such a corpus);
- kind: whether the question asks for a time, number, price, person, place, organisation or reason, and whether the first chosen
  sentence holds one;
- names: how many names (people, places, organisations, Latin words, numbers) the question holds: a question
  about the articles names what it asks about, small talk seldom does;
- agree: whether the dense and lexical sides both rank the top passage near the top;
- missing names: the share of the question's names that the corpus never uses: a question about a company,
  person or place the articles never name is about something else, however close the rest of it comes.
A question that asks how many of something there are ("公司有多少员工？") is declined, whatever the features say,
when no sentence of the answer it would be shown holds a number that counts (not days, money or metres): every word
of it can stand in the notes ("员工在公司工作满一年后，每年可享受5天带薪年假") and still not one count of employees
(`count_missing`, a rule read from the question's words, not fitted).
Lexical features mean nothing for a question in another language than the articles (its words cannot match),
so a language indicator stands beside them. When the dictionary (rag/retrieval/glossary.py) reads the question's
words as the articles' words, the passage, article and sentence coverages are the share of those words (each with any
of its translations) that the best passage, article and the chosen sentences hold, and the same three shares stand
again in features of their own, zero for a question in the articles' language: the weights the languages share are
fitted mostly on Chinese rows, and these let English ones weigh a translated word differently. Without a translation
they are zero. The unknown share, agreement and missing names stay zero for such a question. It is judged on the
passages retrieved without the dictionary's words, and on the draft composed from them: the quoted answer comes from
the passages retrieved with it. Every draft is judged as
ranked without the question's words beyond the article's subject (rag/answer/ranking.py's `judged` model): the
weights here were fitted over what those sentences hold, and the sharper ranking quotes the subject less often.

A question in a language the dictionary cannot read (not English: German, Russian, Greek…) has no translation, so
its coverages are zero whether or not the articles answer it and its confidence sits lower: it is declined below a
threshold of its own, fitted on XQuAD's questions in ten such languages (`threshold_unread_language`).

The weights, the threshold and how they were made live in rag/data/decision.json, written by
bench/fit_decision.py (cross-validated across question sets); nothing here is tuned by hand.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from rag.answer.questions import asked_kinds, count_asked, counted, counted_words, holds_count, holds_kind, names_in, unused_words
from rag.answer.ranking import translated_share
from rag.answer.tables import is_row
from rag.errors import RagError, fitted_over_other_features
from rag.index.lexical import LexicalIndex
from rag.index.manifest import Manifest
from rag.index.store import Index
from rag.ingest.language import is_chinese
from rag.records import NO_TRANSLATION, Decision, Draft, Hit, Sentence, Translation
from rag.records import Evidence as Retrieved

log = logging.getLogger(__name__)

# The feature names, in the order of the fitted weights.
FEATURES = (
    "dense_z", "other_language",
    "unknown", "passage_coverage", "article_coverage", "sentence_coverage",
    "kind_asked", "kind_found", "agree", "sentence_peak", "passage_peak", "best_cosine", "names", "missing_names",
    "other_language_passage_coverage", "other_language_article_coverage", "other_language_sentence_coverage",
)
TOP_PASSAGES = 5
# The fewest passages whose peak says anything: over one it is 0, over two always 1, whichever answers.
PEAK_PASSAGES = 3


@dataclass(frozen=True)
class Evidence:
    """The decision features of one question (FEATURES order) and the article the answer would quote."""

    values: tuple[float, ...]
    known_terms: int  # distinct question words the corpus uses: none means nothing to match at all
    unread: bool = False  # in another language than the articles' and not English: the dictionary cannot read it
    untold: bool = False  # of those, one whose language cannot be told either: nothing to match it by
    western: bool = False  # in the language of Western articles: judged by the model fitted over such articles
    count_missing: bool = False  # asks how many of something, and no sentence it would be shown holds a count
    counted: str = ""  # with count_missing: what it asks to count, when a sentence it would be shown names it

    def as_dict(self) -> dict[str, float]:
        """Return the features by name."""
        return dict(zip(FEATURES, self.values))


@dataclass(frozen=True)
class DecisionParams:
    """A fitted logistic model: bias, one weight per feature (FEATURES order), feature centring and scale,
    and the confidence below which the bot declines."""

    bias: float
    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    threshold_other: float  # for questions in another language than the articles'
    embed_model: str = ""  # the embedding model the fit holds for (dense features mean nothing for another)
    # For a question in another language than the articles' that the dictionary cannot read: its coverages are zero
    # whether or not the articles answer it, so its confidence sits lower (None: threshold_other, a fit without them).
    threshold_unread: float | None = None
    # For a question over Western articles in their language: a model of its own, fitted over English articles
    # (None: a fit without them, and such a question is judged by this one).
    western: DecisionParams | None = None

    def for_evidence(self, found: Evidence) -> DecisionParams:
        """Return the model that judges this question: the Western articles' for a question in their language."""
        return self.western if found.western and self.western is not None else self

    def threshold_for(self, found: Evidence) -> float:
        """Return the decline threshold for this question's language."""
        own = self.for_evidence(found)
        if not found.as_dict()["other_language"]:
            return own.threshold
        if found.unread and own.threshold_unread is not None:
            return own.threshold_unread
        return own.threshold_other


class Articles:
    """Each article's chunk rows, sentence ids and title, read from the index manifest once."""

    def __init__(self, manifest: Manifest) -> None:
        # An entry's chunks and sentences are (first row, how many).
        self.rows = {a.file: range(a.chunks[0], a.chunks[0] + a.chunks[1]) for a in manifest.articles}
        self.titles = {a.file: a.title for a in manifest.articles}
        self.sentences = {a.file: (a.sentences[0], a.sentences[0] + a.sentences[1]) for a in manifest.articles}


# The fewest sampled sentences outside the top passages' articles that make a background for dense_z.
MIN_BACKGROUND = 8


def _outside(index: Index, articles: Articles, query_vector: np.ndarray, files: Sequence[str],
             whole_if_few: bool = False) -> tuple[float, float] | None:
    """Mean and spread of the query's similarity to the corpus sample, leaving out the sentences of `files`:
    the background of the articles the question is not about. When the corpus has too few sentences outside them
    (three short notes, all among the top passages): the whole sample's with `whole_if_few`, else None. The whole
    sample holds the question's own articles, and every answer stands low above it."""
    sample = index.vectors.sentence_sample()
    if not len(sample):
        return 0.0, 1.0
    step = max(1, len(index.sentences) // len(sample))  # the sample is every step-th sentence from the first
    ids = np.arange(len(sample)) * step
    keep = np.ones(len(sample), dtype=bool)
    for file in files:
        start, end = articles.sentences.get(file, (0, 0))
        keep &= ~((ids >= start) & (ids < end))
    if keep.sum() < MIN_BACKGROUND:
        if not whole_if_few:
            return None
        keep[:] = True
    sims = sample[keep] @ query_vector.astype(np.float32)
    return float(sims.mean()), float(max(sims.std(), 1e-3))


def _share(weights: Mapping[str, float], terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def evidence(
    index: Index,
    articles: Articles,
    question: str,
    query_vector: np.ndarray,
    term_weights: Mapping[str, float],
    hits: Sequence[Hit],
    similarities: Sequence[float],
    chosen: Sequence[Sentence],
    same_language: bool,
    word_tags: Mapping[str, str],
    translation: Translation = NO_TRANSLATION,
    unread: bool = False,
    untold: bool = False,
) -> Evidence:
    """Return the decision features for one question (see the module docstring); `translation` is a question's
    words in another language read as the articles' words, when it has one; `unread`, that the question is in a
    language the dictionary cannot read, and `untold`, one whose language cannot be told either."""
    lexicon = index.lexical
    known = sum(1 for t in term_weights if t in lexicon.vocabulary)
    western = same_language and not is_chinese(question)
    if not len(similarities) or not hits or not chosen:
        return Evidence((-10.0, float(not same_language)) + (0.0,) * (len(FEATURES) - 2), known, unread, untold, western)
    sims = np.asarray(similarities, dtype=np.float64)
    best_similarity = float(sims.max())
    # The background leaves out the articles of the top passages: a corpus of few long articles would
    # otherwise count the question's own article as background and rate every answer lower.
    files = list(dict.fromkeys(hit.chunk.file for hit in hits[:TOP_PASSAGES]))
    # A corpus too small for a background cannot say how far the best sentence stands above it: not a number, which
    # the decision reads as the fitted mean (it moves the confidence neither way). Not for a question in another
    # language: its lexical features say nothing, and without dense_z a question about something else looks answered
    # (docs/answers.md, *A corpus too small for a background*).
    background = _outside(index, articles, query_vector, files, whole_if_few=not same_language)
    dense_z = (best_similarity - background[0]) / background[1] if background is not None else math.nan
    # How far the best sentence and the best passage stand out from the other candidates: in a corpus all
    # about one subject every passage is near the question, and only a peak says one of them answers it.
    sentence_peak = (best_similarity - float(np.median(sims))) / (float(sims.std()) + 1e-3)
    rows = sorted(hit.chunk.chunk_id for hit in hits)
    passage_sims = index.vectors.passage_vectors(np.asarray(rows, dtype=np.int64)) @ query_vector.astype(np.float32)
    passage_peak = (float(passage_sims.max()) - float(passage_sims.mean())) / (float(passage_sims.std()) + 1e-3)
    # Over fewer than `PEAK_PASSAGES` passages the peak says nothing: not a number, which counts for neither side.
    # Over one passage its 0 declined every question asked of one short document (docs/answers.md, *One short
    # document*).
    if len(rows) < PEAK_PASSAGES:
        passage_peak = math.nan
    names = names_in(question, word_tags)
    shared = (dense_z, sentence_peak, passage_peak, best_similarity, float(min(len(names), 3)))
    kinds = asked_kinds(question)
    # A table's rows quoted together are one answer: under its header (which holds no value) the row that does.
    first = chosen[:2] if len(chosen) > 1 and is_row(chosen[0]) and is_row(chosen[1]) else chosen[:1]
    found = any(holds_kind(k, s.text, s.terms, word_tags, question) for k in kinds for s in first)
    top = hits[0]
    agree = float((top.dense_rank or 99) <= 3 and (top.lexical_rank or 99) <= 3)
    if not same_language:
        covered = _translated_coverage(lexicon, articles, hits, chosen, translation)
        values = (dense_z, 1.0, 0.0, *covered, float(bool(kinds)), float(found), 0.0, *shared[1:], 0.0, *covered)
        return Evidence(values, known, unread, untold)
    total = sum(term_weights.values()) or 1.0
    unknown = sum(w for t, w in term_weights.items() if t not in lexicon.vocabulary) / total
    top_rows = [hit.chunk.chunk_id for hit in hits[:TOP_PASSAGES]]
    passage = float(lexicon.row_coverage(top_rows, dict(term_weights)).max())
    article = 0.0
    for file in dict.fromkeys(hit.chunk.file for hit in hits[:TOP_PASSAGES]):
        held = articles.rows.get(file)
        if held is not None and len(held):
            article = max(article, float(lexicon.row_coverage(list(held), dict(term_weights), together=True)[0]))
    sentence = _share(term_weights, {t for s in chosen for t in s.terms})
    missing = sum(1 for name in names if name not in lexicon.vocabulary) / len(names) if names else 0.0
    values = (dense_z, 0.0, unknown, passage, article, sentence, float(bool(kinds)), float(found), agree,
              *shared[1:], missing, 0.0, 0.0, 0.0)
    return Evidence(values, known, western=western)


def _translated_coverage(lexicon: LexicalIndex, articles: Articles, hits: Sequence[Hit], chosen: Sequence[Sentence],
                         translation: Translation) -> tuple[float, float, float]:
    """Return the share of a translated question's words (its dictionary groups: a word is held when any of its
    translations is) that the best top passage, the best article among the top passages' and the chosen sentences
    hold; zeros without a translation."""
    groups = translation.groups
    if not groups:
        return 0.0, 0.0, 0.0
    top_rows = [hit.chunk.chunk_id for hit in hits[:TOP_PASSAGES]]
    files = [file for file in dict.fromkeys(hit.chunk.file for hit in hits[:TOP_PASSAGES]) if articles.rows.get(file)]
    in_rows = np.zeros((len(groups), len(top_rows)))
    in_articles = np.zeros((len(groups), len(files)))
    for g, group in enumerate(groups):
        members = {term: 1.0 for term, _ in group}
        if top_rows:
            in_rows[g] = lexicon.row_coverage(top_rows, members) > 0
        for f, file in enumerate(files):
            in_articles[g, f] = lexicon.row_coverage(list(articles.rows[file]), members, together=True)[0] > 0
    passage = float(in_rows.mean(axis=0).max()) if top_rows else 0.0
    article = float(in_articles.mean(axis=0).max()) if files else 0.0
    return passage, article, translated_share(translation, {term for sentence in chosen for term in sentence.terms})


def confidence(found: Evidence, params: DecisionParams) -> float:
    """Return the fitted model's probability that the articles answer the question; 0 for a question in the
    articles' language none of whose words the corpus uses ("你是谁"), nor for one in no language the identifier can
    tell ("ok", "???", an emoji): there is nothing to match."""
    if found.untold or (not found.known_terms and not found.values[FEATURES.index("other_language")]):
        return 0.0
    params = params.for_evidence(found)
    x = params.bias + sum(
        w * (v - m) / s for w, v, m, s in zip(params.weights, found.values, params.mean, params.scale) if not math.isnan(v)
    )
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def params_from_dict(data: Mapping[str, object]) -> DecisionParams:
    """Return the parameters written by bench/fit_decision.py (weights keyed by feature name), with the model fitted
    over Western articles when the file holds one (`western_model`)."""
    params = _model_params(data["model"])  # type: ignore[arg-type]
    western = data.get("western_model")
    return dataclasses.replace(params, western=_model_params(western)) if western else params  # type: ignore[arg-type]


def _model_params(model: Mapping[str, object]) -> DecisionParams:
    """Return one model's parameters (weights keyed by feature name)."""
    weights = model["weights"]  # type: ignore[index]
    return DecisionParams(
        bias=float(model["bias"]),  # type: ignore[index]
        weights=tuple(float(weights.get(name, 0.0)) for name in FEATURES),  # type: ignore[union-attr]
        mean=tuple(float(model["mean"].get(name, 0.0)) for name in FEATURES),  # type: ignore[index]
        scale=tuple(float(model["scale"].get(name, 1.0)) or 1.0 for name in FEATURES),  # type: ignore[index]
        threshold=float(model["threshold"]),  # type: ignore[index]
        threshold_other=float(model.get("threshold_other_language", model["threshold"])),  # type: ignore[union-attr]
        threshold_unread=(None if model.get("threshold_unread_language") is None  # type: ignore[union-attr]
                          else float(model["threshold_unread_language"])),  # type: ignore[index]
        embed_model=str(model.get("embed_model", "")),  # type: ignore[union-attr]
    )


class DecisionFileError(RagError, ValueError):
    """A decision file cannot be read."""


@lru_cache(maxsize=8)
def load_params(path: str = "") -> DecisionParams:
    """Return the fitted decision in `path`, or the one shipped in rag/data/decision.json when empty."""
    where = path or "rag/data/decision.json"
    try:
        if not path:
            text = (resources.files("rag") / "data" / "decision.json").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
        named = set(data["model"]["weights"])
        if named == set(FEATURES):
            return params_from_dict(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DecisionFileError(
            f"the decision file {where} cannot be read ({exc.__class__.__name__}): "
            "write it with bench/fit_decision.py or unset RAG_DECISION_FILE"
        ) from None
    raise DecisionFileError(fitted_over_other_features(
        f"the decision file {where}", named, FEATURES, "bench/fit_decision.py", "RAG_DECISION_FILE"))


# The threshold when the fit does not hold for the index's model: only questions with nothing to match decline.
UNFITTED_THRESHOLD = 1e-9


def for_index(params: DecisionParams, threshold: float, model: str) -> DecisionParams:
    """Return the parameters to use over an index built with `model`: one decline threshold for every
    language when `threshold` > 0; when the fit was made for another model, a threshold that declines only
    questions with nothing to match (its dense features would mislead), with a warning saying what to do."""
    if threshold <= 0 and params.embed_model and model != params.embed_model:
        log.warning("the answer-or-decline model was fitted for %s, the index uses %s: it answers every question "
                    "it finds passages for; fit one with bench/fit_decision.py", params.embed_model, model)
        threshold = UNFITTED_THRESHOLD
    if threshold <= 0:
        return params
    western = params.western and dataclasses.replace(params.western, threshold=threshold, threshold_other=threshold,
                                                     threshold_unread=threshold)
    return dataclasses.replace(params, threshold=threshold, threshold_other=threshold, threshold_unread=threshold,
                               western=western)


class Decider:
    """Decides for one index whether a draft answers its question: the fitted parameters, the index's articles
    and the dictionary's word tags; holds no per-question state."""

    def __init__(self, index: Index, params: DecisionParams, word_tags: Mapping[str, str],
                 word_counts: Mapping[str, int] | None = None) -> None:
        self.index = index
        self.params = params
        self.articles = Articles(index.manifest)
        self.word_tags = word_tags
        self.word_counts = word_counts  # the language's, for the words a decline names (`unused_words`)

    def evidence(self, retrieved: Retrieved, draft: Draft) -> Evidence:
        """Return the decision features of a question's retrieval and draft (the ones retrieved and composed
        without the dictionary's translation when there was one: see the module docstring)."""
        hits, shown = retrieved.ranked or retrieved.hits, draft
        if draft.judged is not None:
            hits, draft = retrieved.judged_hits or hits, draft.judged
        similarities = draft.similarities or ((draft.best_similarity,) if draft.best_similarity is not None else ())
        found = evidence(
            self.index, self.articles, retrieved.question, retrieved.query_vector, retrieved.term_weights,
            hits, similarities, draft.sentences, retrieved.same_language, self.word_tags, retrieved.translation,
            retrieved.unread, retrieved.untold,
        )
        # The count is looked for in the answer the user would read: an English question's judged draft, retrieved
        # without the dictionary, often lacks the sentence that holds it ("How many videos did OpenAI show?": 几十段).
        words = None
        if count_asked(retrieved.question):
            words = counted_words(retrieved.question, retrieved.term_weights) if retrieved.same_language else ()
        if words is not None and not any(holds_count(s.text, retrieved.question, words) for s in shown.sentences):
            word = counted(retrieved.question, retrieved.term_weights, self.word_tags)
            named = bool(word) and any(word.lower() in s.text.lower() for s in shown.sentences)
            found = dataclasses.replace(found, count_missing=True, counted=word if named else "")
        return found

    def decide(self, retrieved: Retrieved, draft: Draft) -> Decision:
        """Return whether to answer with the draft or decline, and how sure; a decline of a question in the articles'
        language carries the question's words the corpus never uses, which its message names (`unused_words`; every
        word of a question in another language is one)."""
        decision = self.judge(self.evidence(retrieved, draft), draft)
        if not decision.refused or not retrieved.same_language:
            return decision
        unused = unused_words(retrieved.question, retrieved.term_weights, self.index.lexical.vocabulary,
                              (hit.chunk.searched for hit in retrieved.hits), self.word_counts)
        return dataclasses.replace(decision, unused=unused)

    def judge(self, found: Evidence, draft: Draft) -> Decision:
        """Return the decision on a draft from its features, computed once by `evidence`."""
        sure = confidence(found, self.params)
        threshold = self.params.threshold_for(found)
        if found.count_missing:  # declined by the rule, not the fit: shown no surer than the threshold
            return Decision(min(sure, threshold), True, counted=found.counted)
        return Decision(sure, not draft.sentences or sure < threshold)
