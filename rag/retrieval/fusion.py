"""How dense and lexical candidates are fused: fitted weights per question language, over features both sides read.

A candidate passage is scored by a weighted sum of its cosine to the question (z-scored among the candidates),
its BM25 score (max-normalised), the share of the question's idf mass it holds, and its best sentence's cosine
(z-scored): a passage that holds one sentence on the question but much else besides has a middling passage
vector. A question in another language than the articles' cannot match them word for word, so it has weights of
its own, and two more features read its words' dictionary translations (rag/retrieval/glossary.py): their BM25
score, each word counted by its best translation the passage holds (max-normalised), and the share of its words
with a translation there; the same question retrieved without its translation (what the decision judges, and a
question none of whose words translate) has weights of its own as well. One more feature, weighed for a question
read through the dictionary only, is its passages' best sentence as the second reader reads it
(rag/embedding/reader.py, z-scored): a model trained apart from the embedder, which finds the sentence an English
question asks about more often than the embedder does (docs/answers.md, *The second reader in retrieval*). The weights are fitted by
bench/fit_retrieval.py across question sets, cross-validated leave-one-set-out, into rag/data/fusion.json (how
they were made is written in the file).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.index.store import Index
from rag.records import NO_TRANSLATION, Translation

FEATURES = ("dense", "lexical", "coverage", "sentence", "translated", "translated_coverage", "reader")


class FusionFileError(RagError, ValueError):
    """The fusion weights file cannot be read."""


@dataclass(frozen=True)
class FusionWeights:
    """One language's weights, one per feature (FEATURES order)."""

    dense: float
    lexical: float
    coverage: float
    sentence: float
    translated: float
    translated_coverage: float
    reader: float

    def vector(self) -> np.ndarray:
        """Return the weights in FEATURES order."""
        return np.array([getattr(self, name) for name in FEATURES], dtype=np.float64)


@dataclass(frozen=True)
class FusionParams:
    """Weights for questions in the articles' language and for questions in any other language."""

    same_language: FusionWeights
    other_language: FusionWeights
    other_language_plain: FusionWeights  # another language's question retrieved without its dictionary translation
    # A question the dictionary cannot read, in a language the second reader was trained on (German, Russian…);
    # fitted on English questions retrieved without their translation, where the reader may weigh.
    other_language_reader: FusionWeights

    def for_question(self, same_language: bool, translated: bool = False, read: bool = False) -> FusionWeights:
        """Return the weights for a question in (or not in) the articles' language, read (or not) through the
        dictionary, or else (`read`) in a language the second reader reads."""
        if same_language:
            return self.same_language
        if translated:
            return self.other_language
        return self.other_language_reader if read else self.other_language_plain


def _zscore(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-9)


def fusion_features(index: Index, rows: Sequence[int], query_vector: np.ndarray, query_tokens: Sequence[str],
                    sentences: bool = True, translation: Translation = NO_TRANSLATION,
                    reading: np.ndarray | None = None) -> np.ndarray:
    """Return the (candidates x FEATURES) matrix for these chunk rows; only the candidates' rows are read. Without
    `sentences` (their weight is zero) the sentence column is left at zero and no sentence vector is read; without
    a `translation` (a question in the articles' language) the translated columns are zero; without the question's
    `reading` by the second reader (rag/embedding/reader.py), or in an index that holds no readings, so is the
    reader column."""
    ordered = np.asarray(rows, dtype=np.int64)
    query = query_vector.astype(np.float32)
    dense = (index.vectors.passage_vectors(ordered) @ query).astype(np.float64)
    bm25 = index.lexical.row_scores(ordered, query_tokens)
    coverage = index.lexical.row_coverage(ordered, index.lexical.term_weights(query_tokens))
    sentence_ids = [index.chunks[row].sentence_ids for row in ordered.tolist()] if sentences or reading is not None else []
    best = _best_cosines(index.vectors.sentence_vectors, sentence_ids, query, dense) if sentences else np.zeros(len(dense))
    read = np.zeros(len(dense))
    if reading is not None and index.vectors.reader_vectors(ordered[:0]) is not None:
        read = _zscore(_best_cosines(index.vectors.reader_vectors, sentence_ids, reading.astype(np.float32), read))
    translated, held = translated_scores(index, ordered, translation)
    return np.column_stack([_zscore(dense), bm25 / max(float(bm25.max()), 1e-9), coverage, _zscore(best),
                            translated / max(float(translated.max(initial=0.0)), 1e-9), held, read])


def translated_scores(index: Index, rows: np.ndarray, translation: Translation) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's BM25 score for the translation, a group counting its best term there (times the term's
    weight), and the share of the groups the row holds a term of."""
    score = np.zeros(len(rows))
    held = np.zeros(len(rows))
    if not translation or not len(rows):
        return score, held
    terms = translation.terms()
    by_term = dict(zip(terms, index.lexical.row_term_scores(rows, terms)))
    for group in translation.groups:
        best = np.max([by_term[term] * weight for term, weight in group], axis=0)
        score += best
        held += best > 0
    return score, held / len(translation.groups)


def _best_cosines(vectors: Callable[[np.ndarray], np.ndarray | None], sentence_ids: Sequence[Sequence[int]],
                  query: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Return each passage's best sentence cosine to the query, its sentences' vectors (`vectors`: the embedder's or
    the second reader's) read in one batch; a passage without sentences (never built so, but an old index may hold
    one) keeps its `default`."""
    flat = np.fromiter((i for ids in sentence_ids for i in ids), dtype=np.int64)
    best = default.copy()
    if flat.size:
        similarity = (vectors(flat) @ query).astype(np.float64)
        at = 0
        for i, ids in enumerate(sentence_ids):
            if ids:
                best[i] = float(similarity[at : at + len(ids)].max())
                at += len(ids)
    return best


def _weights(raw: object, where: str) -> FusionWeights:
    if not isinstance(raw, dict) or set(raw) != {f.name for f in fields(FusionWeights)}:
        raise FusionFileError(f"{where} must give the weights {', '.join(FEATURES)}: refit it with bench/fit_retrieval.py")
    return FusionWeights(**{name: float(raw[name]) for name in FEATURES})


@lru_cache(maxsize=8)
def load_fusion(path: str = "") -> FusionParams:
    """Return the fusion weights in `path`, or the bundled fitted ones (rag/data/fusion.json) when it is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8") if path else resources.files("rag.data").joinpath("fusion.json").read_text(encoding="utf-8")
        data = json.loads(text)
        model = data["model"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FusionFileError(f"cannot read the fusion weights {path or 'rag/data/fusion.json'} ({error}): "
                              f"fix RAG_FUSION_FILE or refit it with bench/fit_retrieval.py") from None
    where = path or "rag/data/fusion.json"
    return FusionParams(*(_weights(model.get(field.name), f"{where}'s {field.name}") for field in fields(FusionParams)))
