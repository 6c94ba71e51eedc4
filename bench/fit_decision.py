"""Fit the answer-or-decline model (rag/answer/decide.py) across question sets, cross-validated leave-one-set-out.

Each set is NAME=GOLD[+GOLD...]=CORPUS=INDEX (indexes built with `python -m rag build`). Every question is
run through the pipeline up to the decision (Assistant.consider) and its features are kept, labelled by the
gold `answerable`. With --cross, each set's answerable questions are also asked over the other sets' indexes
(another corpus) as questions the articles do not answer, a seeded sample of at most --cross-max per pair;
they count in their source set's fold. For each set, the model is fitted without it and reported on it;
the threshold is the highest that keeps every training set's false refusal at or under --max-false
(a set with at least --min-fold-answerable answerable questions in the threshold's language), and the report names
the sets that keep each threshold from rising (threshold_bound_by).
The model fitted on every set is written to --out with how it was made; --loso-dir also writes each
fold's model (decision-without-NAME.json) so `RAG_DECISION_FILE=… python -m rag eval` reports a set
with a model that never saw it.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.fit_decision --cross \\
        cmrc=../shared/eval/dev/cmrc-trial/gold.jsonl=../shared/eval/dev/cmrc-trial/corpus=/work/idx/cmrc \\
        xquad-zh=../shared/eval/dev/xquad-dev/gold-zh.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        xquad-en=../shared/eval/dev/xquad-dev/gold-en.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        public=../shared/eval/gold_public.jsonl+tests/data/calibration.jsonl=seeds=/work/idx/seeds \\
        --offtopic tests/data/offtopic.jsonl --one-subject xquad-zh --out rag/data/decision.json --loso-dir runs/decision-loso

With --one-subject SET, SET's questions are also asked over each of its articles cut into paragraphs, one left out
(bench/one_subject.py): a corpus about one subject, as a team's often is, with questions on that subject it does not
answer. They are a fold of their own (SET/one-subject), left out with SET. With --one-article SET, SET's questions are
asked over each of its articles alone, cut into paragraphs or runs of sentences, nothing left out: every one is
answerable, over a corpus where no passage stands out as among many subjects (fold SET/one-article, left out with SET).

With --unread NAME=GOLD=CORPUS=INDEX (repeatable), questions in a language the dictionary cannot read (XQuAD's German,
Russian, Greek…: bench/xquad_languages.py) are asked over their corpus and, a seeded sample of their answerable
ones, over the other sets' corpora. They choose the threshold of such questions only (`threshold_unread_language`):
the weights are fitted without them, so every other figure comes out as without the flag.

With --also-rows LABEL=ROWS (repeatable), the rows --rows wrote for the same sets over indexes built and questions
embedded at another precision (RAG_EMBED_PRECISION=bfloat16, which `auto` picks on a CPU that multiplies bfloat16)
have a say in the thresholds beside each set's own, in folds of their own (SET/LABEL), and fit no weight: a threshold
then holds on either arithmetic the product embeds in. They are left out with their set.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.dev_sets import parse_set, provenance
from bench.one_subject import cuts
from rag.answer.assistant import Assistant
from rag.answer.decide import FEATURES
from rag.embedding import Embedder
from rag.eval.metrics import Question, load_questions
from rag.index.build import build_index
from rag.settings import load_settings

# The false refusal the threshold holds (--threshold-by): over the training sets' answerable questions pooled,
# the mean of each set's ("fold"), which gives a small set as much say as a large one, or the worst set's
# ("worst"), which holds it on every set and so on a corpus whose confidences sit lower than the others'.
THRESHOLD_BY = ("worst", "fold", "pooled")
# The confidences a threshold is chosen on (--threshold-on): those of the fit itself ("fit"), which has seen every
# training set and so rates their questions higher than it will rate a new corpus's, or each training set's as rated
# by weights fitted without it ("held-out"), as the fit will meet a corpus it has not seen.
THRESHOLD_ON = ("fit", "held-out")


@dataclass(frozen=True)
class Rule:
    """How a fit weighs its rows and chooses its thresholds (the command line's --l2, --max-false, --threshold-by,
    --min-fold-answerable, --western-weights and --threshold-on)."""

    l2: float = 1.0
    max_false: float = 0.05  # the highest false refusal a threshold may leave (on whose questions: threshold_by)
    threshold_by: str = THRESHOLD_BY[0]
    # A set's answerable questions of one language have a say in that language's threshold only when there are this
    # many: fewer make its false refusal move in steps too coarse to hold a bound of a few percent.
    min_fold_answerable: int = 20
    western_weights: bool = False
    threshold_on: str = THRESHOLD_ON[0]


@dataclass(frozen=True)
class Row:
    """One question asked over one index: its set (fold), features, label and whether it came from --cross."""

    fold: str
    qid: str
    features: tuple[float, ...]
    answerable: bool
    cross: bool
    language: str
    over_western: bool = False  # asked over Western articles, in any language
    # The same question embedded at another precision of the product's (--also-rows): it has a say in the thresholds
    # and fits no weight, so a threshold holds on either arithmetic the product may embed in.
    votes_only: bool = False

    @property
    def western(self) -> bool:
        """Whether the row was asked over Western articles in their language: the Western model's row."""
        return self.over_western and self.language == "zh"


def features(assistant: Assistant, question: str, vector: np.ndarray):  # -> rag.answer.decide.Evidence
    """Return the decision features of one question, as Assistant.ask computes them (vector given)."""
    return assistant.consider(assistant.retriever.search(question, vector, assistant.settings.retrieval.top_k))[2]


def collect(sets: list[tuple[str, list[Path], Path, Path]], cross: bool, cross_max: int, seed: int,
            offtopic: Path | None = None, offtopic_fold: str = "", one_subject: Sequence[str] = (),
            one_article: Sequence[str] = ()) -> list[Row]:
    """Return one feature row per (question, index) asked; the off-topic questions (which no corpus answers)
    are asked over every set's index, in `offtopic_fold`'s fold; the sets named in `one_subject` are also asked
    over their articles cut into paragraphs, one left out, and those in `one_article` over each article alone
    (bench/one_subject.py), in their fold's twins."""
    assistants = {name: Assistant.load(load_settings(corpus_dir=corpus, index_dir=index))
                  for name, _, corpus, index in sets}
    embedder = next(iter(assistants.values())).embedder
    western = {name: not assistant.retriever.articles_chinese for name, assistant in assistants.items()}
    questions = {name: [q for f in files for q in load_questions(f) if q.answerable is not None]
                 for name, files, _, _ in sets}
    extra = load_questions(offtopic) if offtopic else []
    texts = sorted({q.question for qs in questions.values() for q in qs} | {q.question for q in extra})
    vectors = dict(zip(texts, embedder.encode_queries(texts)))
    # Questions asked over Western articles draw their samples apart: the rows over Chinese articles stay as a fit
    # without Western sets drew them.
    rng, rng_western = random.Random(seed), random.Random(seed + 1)
    rows: list[Row] = []
    for name, _, _, index in sets:
        for target, _, _, target_index in sets:
            if target != name and (not cross or target_index == index):
                continue
            assistant = assistants[target]
            asked = questions[name]
            if target != name:  # another corpus: the answerable questions become questions it cannot answer
                asked = _cross_sample(rng_western if western[target] else rng, asked, cross_max)
            for q in asked:
                found = features(assistant, q.question, vectors[q.question])
                label = bool(q.answerable) and target == name
                rows.append(Row(name, q.id, found.values, label, target != name, _language(found), western[target]))
        print(f"collected {name}: {sum(r.fold == name for r in rows)} rows", file=sys.stderr)
    for name, assistant in assistants.items():
        for q in extra:
            found = features(assistant, q.question, vectors[q.question])
            rows.append(Row(offtopic_fold or name, f"{q.id}@{name}", found.values, False, True, _language(found),
                            western[name]))
    for name, _, corpus, _ in sets:
        for twin, leave_out in ((one_subject, True), (one_article, False)):
            if name in twin:
                rows += subject_rows(name, questions[name], corpus, embedder, leave_out)
                fold = subject_fold(name, leave_out)
                print(f"collected {fold}: {sum(r.fold == fold for r in rows)} rows", file=sys.stderr)
    return rows


def _cross_sample(rng: random.Random, questions: list[Question], cross_max: int) -> list[Question]:
    """Return a seeded sample of at most `cross_max` of the answerable questions, to ask over another corpus."""
    answerable = [q for q in questions if q.answerable]
    return rng.sample(answerable, min(cross_max, len(answerable)))


def subject_fold(name: str, leave_out: bool = True) -> str:
    """Return the fold of set `name`'s questions asked over its articles cut into paragraphs, one left out
    (`leave_out`), or over each article alone."""
    return f"{name}/one-subject" if leave_out else f"{name}/one-article"


def training(rows: list[Row], name: str) -> list[Row]:
    """Return the rows a fit that holds set `name` out may read: none of its folds (its own, its twins', its
    questions embedded at another precision)."""
    return [r for r in rows if _set_of(r.fold) != name]


def also_rows(label: str, path: Path) -> list[Row]:
    """Return the rows written by --rows of a run at another embedding precision, each in a fold of its own beside
    its set's (cmrc/bfloat16, cmrc/one-article/bfloat16) and with a say in the thresholds only."""
    rows = [read_row(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [dataclasses.replace(r, fold=f"{r.fold}/{label}", votes_only=True) for r in rows]


def read_row(line: str) -> Row:
    """Return a row written by --rows (a file from before `western` was derived holds it too: it is left out)."""
    data = json.loads(line)
    data.pop("western", None)
    return Row(**{**data, "features": tuple(data["features"])})


def _language(found) -> str:  # found: rag.answer.decide.Evidence
    """Return a row's language as the threshold reads it: "zh" for the articles' language, "unread" for another the
    dictionary cannot read, else "other"."""
    if found.as_dict()["other_language"] == 0:
        return "zh"
    return "unread" if found.unread else "other"


def unread_rows(sets: list[tuple[str, list[Path], Path, Path]], unread: list[tuple[str, list[Path], Path, Path]],
                cross_max: int, seed: int) -> list[Row]:
    """Return the rows of the --unread sets: each question over its own index, and a seeded sample of at most
    `cross_max` of its answerable ones over each other index of `sets` (questions that corpus cannot answer). They
    are collected apart from collect()'s, with their own random draws and embedding batch, so the other rows stay
    as they were."""
    indexes = {index: (corpus, index) for _, _, corpus, index in sets + unread}
    assistants = {index: Assistant.load(load_settings(corpus_dir=corpus, index_dir=index))
                  for corpus, index in indexes.values()}
    embedder = next(iter(assistants.values())).embedder
    over_western = {index: not assistant.retriever.articles_chinese for index, assistant in assistants.items()}
    rng, rng_western = random.Random(seed), random.Random(seed + 1)
    rows: list[Row] = []
    for name, files, _, own in unread:
        asked = [q for f in files for q in load_questions(f) if q.answerable is not None]
        vectors = dict(zip([q.question for q in asked], embedder.encode_queries([q.question for q in asked])))
        for index, assistant in assistants.items():
            pick = asked if index == own else _cross_sample(rng_western if over_western[index] else rng, asked,
                                                            cross_max)
            for q in pick:
                found = features(assistant, q.question, vectors[q.question])
                rows.append(Row(name, q.id, found.values, bool(q.answerable) and index == own, index != own,
                                _language(found), over_western[index]))
        print(f"collected {name}: {sum(r.fold == name for r in rows)} rows", file=sys.stderr)
    return rows


def subject_rows(name: str, questions: list[Question], corpus: Path, embedder: Embedder,
                 leave_out: bool = True) -> list[Row]:
    """Return the rows of set `name`'s questions asked over each of its articles cut into paragraphs, one paragraph
    left out (bench/one_subject.py): answerable when their paragraph is kept, not when it is the one left out; without
    `leave_out`, every paragraph is kept and every question answerable.
    Each cut's questions are embedded together, as for the shipped fit: the vectors collect() embeds in one batch
    with every set's questions move the features a little on a CPU without bfloat16, so the fit would not come out
    the same (docs/answers.md, *Corpora about one subject in the decision's fit*)."""
    rows: list[Row] = []
    for cut in cuts(corpus, questions, leave_out):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "corpus"
            folder.mkdir()
            for file, text in cut.files.items():
                (folder / file).write_text(text, encoding="utf-8")
            settings = load_settings(corpus_dir=folder, index_dir=Path(tmp) / "index")
            build_index(settings, embedder)
            assistant = Assistant.load(settings, embedder)
            asked = [(q, True) for q in cut.answerable] + [(q, False) for q in cut.unanswerable]
            for (q, answerable), vector in zip(asked, embedder.encode_queries([q.question for q, _ in asked])):
                found = features(assistant, q.question, vector)
                rows.append(Row(subject_fold(name, leave_out), q.id, found.values, answerable, False, _language(found),
                                not assistant.retriever.articles_chinese))
    return rows


def embed_model(sets: list[tuple[str, list[Path], Path, Path]]) -> str:
    """Return the embedding model the sets' indexes were built with (the fit holds for that model only)."""
    names = {json.loads((index / "manifest.json").read_text(encoding="utf-8"))["model"]["name"] for *_, index in sets}
    if len(names) != 1:
        raise SystemExit(f"the indexes were built with different models ({', '.join(sorted(names))}): rebuild them with one")
    return names.pop()


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float) -> np.ndarray:
    """Return L2-regularised weighted logistic regression weights (bias first) by Newton's method."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -50, 50)))
        hessian = design.T @ (design * (weight * p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, design.T @ (weight * (p - y)) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


@dataclass(frozen=True)
class Model:
    """A fitted model: bias and weights over standardised features, and the decline threshold."""

    bias: float
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    threshold: float
    threshold_other: float
    threshold_unread: float | None = None  # None: no rows in a language the dictionary cannot read

    def thresholds(self, rows: list[Row]) -> np.ndarray:
        """Return each row's decline threshold (by the question's language)."""
        unread = self.threshold_other if self.threshold_unread is None else self.threshold_unread
        by = {"zh": self.threshold, "other": self.threshold_other, "unread": unread}
        return np.array([by[r.language] for r in rows])

    def confidence(self, x: np.ndarray) -> np.ndarray:
        """Return the model's probability that each row is answerable (a feature that is not a number counts as
        its mean, as rag/answer/decide.py's `confidence` reads it)."""
        z = np.nan_to_num((x - self.mean) / self.scale, nan=0.0)
        return 1 / (1 + np.exp(-np.clip(self.bias + z @ self.weights, -50, 50)))

    def to_dict(self) -> dict[str, object]:
        """Return the model in rag/data/decision.json's shape."""
        named = lambda values: {f: round(float(v), 6) for f, v in zip(FEATURES, values)}  # noqa: E731
        return {"bias": round(self.bias, 6), "weights": named(self.weights), "mean": named(self.mean),
                "scale": named(self.scale), "threshold": round(self.threshold, 4),
                "threshold_other_language": round(self.threshold_other, 4),
                "threshold_unread_language": None if self.threshold_unread is None else round(self.threshold_unread, 4)}


def train(rows: list[Row], rule: Rule = Rule()) -> Model:
    """Fit on rows: every fold weighs the same, answerable and not equally within it; pick the thresholds. A fold of
    questions in a language the dictionary cannot read chooses that language's threshold and nothing else: its few
    questions that read as English would otherwise weigh as much as a whole set."""
    model = _weights(_weighed(rows), rule)
    return with_thresholds(model, rows, rule, threshold_confidence(model, rows, rule))


def _weighed(rows: list[Row]) -> list[Row]:
    """Return the rows the weights are fitted on: all but those of folds in a language the dictionary cannot read
    and those with a say in the thresholds only."""
    unread = _unread_folds(rows)
    return [r for r in rows if r.fold not in unread and not r.votes_only]


def _unread_folds(rows: list[Row]) -> set[str]:
    """Return the folds of questions in a language the dictionary cannot read (they choose that threshold only)."""
    return {r.fold for r in rows if r.language == "unread"}


def _weights(weighed: list[Row], rule: Rule) -> Model:
    """Return the weights fitted on `weighed` (every fold weighs the same, answerable and not equally within it),
    with placeholder thresholds."""
    x = np.array([r.features for r in weighed])
    y = np.array([float(r.answerable) for r in weighed])
    weight = np.ones(len(weighed))
    for fold in sorted({r.fold for r in weighed}):
        for label in (0.0, 1.0):
            mask = np.array([r.fold == fold for r in weighed]) & (y == label)
            if mask.any():
                weight[mask] = 1.0 / mask.sum()
    weight *= len(weighed) / weight.sum()
    mean, scale = np.nanmean(x, 0), np.nanstd(x, 0)  # dense_z is not a number over a corpus too small for it
    scale[scale < 1e-9] = 1.0
    w = fit(np.nan_to_num((x - mean) / scale, nan=0.0), y, weight, rule.l2)
    return Model(float(w[0]), w[1:], mean, scale, 0.5, 0.5)


def _set_of(fold: str) -> str:
    """Return the set a fold belongs to: its own name, or the set whose questions its cuts (`subject_fold`) or its
    rows at another precision (`also_rows`) ask."""
    return fold.split("/", 1)[0]


def threshold_confidence(model: Model, rows: list[Row], rule: Rule = Rule()) -> np.ndarray:
    """Return the confidences `rows`' thresholds are chosen on (`rule.threshold_on`): the model's own, or each row's
    as weights fitted on `rows` without its set (and the set's cuts) rate it. A fold in a language the dictionary
    cannot read is in no fit's weights, so the model's own rating of it is already one that has not seen it."""
    p = model.confidence(np.array([r.features for r in rows]))
    weighed = _weighed(rows)
    sets = sorted({_set_of(r.fold) for r in weighed})
    if rule.threshold_on == "fit" or len(sets) < 2:
        return p
    unread = _unread_folds(rows)
    for name in sets:
        without = _weights([r for r in weighed if _set_of(r.fold) != name], rule)
        at = [i for i, r in enumerate(rows) if r.fold not in unread and _set_of(r.fold) == name]
        p[at] = without.confidence(np.array([rows[i].features for i in at]))
    return p


# The thresholds a fit may choose: below 0.05 in finer steps, as a question the dictionary cannot read may need one
# that low.
CANDIDATES = np.r_[np.arange(0.005, 0.05, 0.005), np.arange(0.05, 0.951, 0.01)]


def _voters(rows: list[Row], language: str, rule: Rule) -> list[tuple[str, np.ndarray]]:
    """Return the sets that have a say in `language`'s threshold, each with the mask of its answerable rows."""
    folds = sorted({r.fold for r in rows})
    groups = [(f, np.array([r.fold == f and r.language == language and r.answerable for r in rows])) for f in folds]
    return [(f, g) for f, g in groups if g.sum() >= rule.min_fold_answerable]


def _false(p: np.ndarray, groups: list[np.ndarray], candidate: float, rule: Rule) -> float:
    """Return the false refusal a threshold of `candidate` leaves, as `rule.threshold_by` counts it."""
    if rule.threshold_by == "fold":
        return float(np.mean([np.mean(p[g] < candidate) for g in groups]))
    if rule.threshold_by == "worst":
        return float(max(np.mean(p[g] < candidate) for g in groups))
    return float(np.mean(p[np.any(groups, axis=0)] < candidate))


def with_thresholds(model: Model, rows: list[Row], rule: Rule = Rule(), confidence: np.ndarray | None = None) -> Model:
    """Return the model with each language's threshold chosen on `rows`: the highest that keeps the false refusal of
    the folds with enough answerable questions of that language at or under `rule.max_false` (`rule.threshold_by`
    says whose). `confidence` is the rows' (`threshold_confidence`), the model's own when not given."""
    p = model.confidence(np.array([r.features for r in rows])) if confidence is None else confidence
    thresholds: dict[str, float | None] = {}
    for language in ("zh", "other", "unread"):
        groups = [g for _, g in _voters(rows, language, rule)]
        best = float(CANDIDATES[0]) if groups else 0.05
        for candidate in CANDIDATES if groups else ():
            if _false(p, groups, candidate, rule) <= rule.max_false:
                best = float(candidate)
        thresholds[language] = best if groups or language != "unread" else None
    return Model(model.bias, model.weights, model.mean, model.scale, thresholds["zh"],  # type: ignore[arg-type]
                 thresholds["other"], thresholds["unread"])  # type: ignore[arg-type]


def bound_by(model: Model, rows: list[Row], rule: Rule = Rule()) -> dict[str, str]:
    """Return, for each language's threshold, the training sets that keep it from rising to the next candidate: those
    whose answerable questions would be declined more than `rule.max_false` allows ("worst"), or, counted over
    every set ("fold", "pooled"), those that hold the questions between the two. A threshold held by one small set's
    few questions is fragile, and this names it."""
    p = threshold_confidence(model, rows, rule)
    found: dict[str, str] = {}
    for language, threshold in (("zh", model.threshold), ("other", model.threshold_other),
                                ("unread", model.threshold_unread)):
        voters = _voters(rows, language, rule)
        if threshold is None or not voters:
            continue
        above = CANDIDATES[CANDIDATES > threshold + 1e-9]
        if not above.size:
            found[language] = "none: the highest threshold tried"
            continue
        step = float(above[0])
        named = []
        for fold, g in voters:
            under = int(np.sum(p[g] < step))
            between = int(np.sum((p[g] >= threshold) & (p[g] < step)))
            over = float(np.mean(p[g] < step)) > rule.max_false
            if (over if rule.threshold_by == "worst" else between > 0):
                named.append(f"{fold} ({under} of {int(g.sum())} answerable under {step:.3f})")
        found[language] = ", ".join(named) or "none"
    return found


@dataclass(frozen=True)
class Fitted:
    """The model for questions over Chinese articles and for those in another language than their articles', and the
    one for questions over Western articles in their language (None: no such rows to fit it on)."""

    main: Model
    western: Model | None = None

    def declined(self, rows: list[Row]) -> np.ndarray:
        """Return whether each row is declined, by the model that judges it."""
        flags = np.zeros(len(rows), dtype=bool)
        for model, own in ((self.main, False), (self.western, True)):
            at = [i for i, r in enumerate(rows) if (r.western and self.western is not None) == own]
            if model is not None and at:
                pick = [rows[i] for i in at]
                flags[at] = model.confidence(np.array([r.features for r in pick])) < model.thresholds(pick)
        return flags

    def to_dict(self, embed: str) -> dict[str, object]:
        """Return the models in rag/data/decision.json's shape ("model", and "western_model" when fitted)."""
        out: dict[str, object] = {"model": dict(self.main.to_dict(), embed_model=embed)}
        if self.western is not None:
            out["western_model"] = dict(self.western.to_dict(), embed_model=embed)
        return out


def _main_rows(rows: list[Row]) -> list[Row]:
    """Return the rows the main model is fitted on: those over Chinese articles of the sets whose own articles are."""
    western_folds = {r.fold for r in rows if r.over_western and not r.cross}
    return [r for r in rows if not r.over_western and r.fold not in western_folds]


def train_both(rows: list[Row], rule: Rule = Rule()) -> Fitted:
    """Fit the two models: the main one on the rows over Chinese articles of the sets whose own articles are Chinese
    (a fit without Western sets reads the same rows), and for the rows over Western articles asked in their language
    the main model with a threshold of their own chosen on them (`rule.western_weights`: weights of their own too). A
    question in another language than Western articles (Chinese over English notes) is judged by the main model, as
    one in another language; there are no such answerable rows to fit on."""
    main = train(_main_rows(rows), rule)
    own = [r for r in rows if r.western]
    if not any(r.answerable for r in own):
        return Fitted(main)
    if rule.western_weights:
        return Fitted(main, train(own, rule))
    return Fitted(main, with_thresholds(main, own, rule))


def report(rows: list[Row], model: Fitted) -> dict[str, float | int | None]:
    """Return declined shares of a set's answerable, own unanswerable and cross-corpus questions."""
    def declined(pick: list[Row]) -> float | None:
        if not pick:
            return None
        return round(float(np.mean(model.declined(pick))), 3)

    return {
        "declined_answerable": declined([r for r in rows if r.answerable]),
        "declined_unanswerable": declined([r for r in rows if not r.answerable and not r.cross]),
        "declined_other_corpus": declined([r for r in rows if r.cross]),
        "answerable": sum(r.answerable for r in rows),
        "unanswerable": sum(not r.answerable and not r.cross for r in rows),
        "other_corpus": sum(r.cross for r in rows),
    }


def spread(rows: list[Row], name: str, times: int, seed: int, rule: Rule) -> dict[str, str]:
    """Return how much set `name`'s held-out declined shares move when the training rows are drawn again: the mean and
    standard deviation over `times` fits, each on as many training rows drawn with replacement (seeded)."""
    kept = training(rows, name)
    held = [r for r in rows if r.fold == name]
    draws: dict[str, list[float]] = {}
    for time in range(times):
        pick = random.Random(seed + time)
        model = train_both([pick.choice(kept) for _ in kept], rule)
        for key, value in report(held, model).items():
            if key.startswith("declined") and value is not None:
                draws.setdefault(key, []).append(float(value))
    return {key: f"{np.mean(values):.3f} ± {np.std(values):.3f}" for key, values in draws.items()}


def article_groups(questions: list[Question], folds: int) -> dict[str, int]:
    """Return each question's group (0..folds-1): its evidence's article's place among the set's articles in name
    order, modulo `folds`; a question without evidence (its article is not in the corpus) by its own place."""
    names = sorted({q.evidence[0][0] for q in questions if q.evidence})
    place = {name: i for i, name in enumerate(names)}
    return {q.id: (place[q.evidence[0][0]] if q.evidence else i) % folds for i, q in enumerate(questions)}


def by_article(rows: list[Row], name: str, groups: dict[str, int], folds: int,
               rule: Rule) -> dict[str, float | int | None]:
    """Return set `name`'s declined shares with its articles held out instead of the whole set (`groups`, from
    `article_groups`): each group's questions are left out of the fit wherever they were asked (their translations
    in other sets, over other corpora, the one-subject cuts: every row with their id) and reported with the model
    fitted on the rest. This estimates new articles of a set's own kind, as holding out the set estimates a new kind."""
    held: list[Row] = []
    decided: list[np.ndarray] = []
    for part in range(folds):
        ids = {qid for qid, group in groups.items() if group == part}
        mine = [r for r in rows if r.qid in ids and r.fold == name]
        if mine:
            model = train_both([r for r in rows if r.qid not in ids], rule)
            held += mine
            decided.append(model.declined(mine))
    flags = np.concatenate(decided) if decided else np.zeros(0, dtype=bool)

    def share(pick: list[bool]) -> float | None:
        chosen = flags[np.array(pick, dtype=bool)]
        return round(float(chosen.mean()), 3) if chosen.size else None

    return {"declined_answerable": share([r.answerable for r in held]),
            "declined_unanswerable": share([not r.answerable and not r.cross for r in held]),
            "declined_other_corpus": share([r.cross for r in held]), "questions": len({r.qid for r in held})}


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("sets", nargs="+", metavar="NAME=GOLD[+GOLD]=CORPUS=INDEX")
    top.add_argument("--cross", action="store_true", help="ask each set's answerable questions over the others' corpora")
    top.add_argument("--cross-max", type=int, default=300, help="most questions per (set, other corpus) pair")
    top.add_argument("--offtopic", type=Path, help="questions no corpus answers (greetings, chit-chat), asked over every index")
    top.add_argument("--offtopic-fold", default="public", help="the set whose fold the off-topic questions join")
    top.add_argument("--one-subject", action="append", default=[], metavar="NAME",
                     help="also ask set NAME's questions over each of its articles cut into paragraphs, one left out "
                          "(bench/one_subject.py); they are left out with NAME")
    top.add_argument("--one-article", action="append", default=[], metavar="NAME",
                     help="also ask set NAME's questions over each of its articles alone, cut into paragraphs or runs of "
                          "sentences, nothing left out (bench/one_subject.py); they are left out with NAME")
    top.add_argument("--unread", action="append", default=[], metavar="NAME=GOLD=CORPUS=INDEX",
                     help="questions in a language the dictionary cannot read: they choose that language's threshold only")
    top.add_argument("--article-folds", type=int, default=0, metavar="K",
                     help="also print each set's declined shares with its articles held out in K groups (every row of "
                          "their questions left out of the fit), an estimate for new articles of a set's own kind")
    top.add_argument("--l2", type=float, default=1.0)
    top.add_argument("--max-false", type=float, default=0.05, help="highest false refusal allowed on a training set")
    top.add_argument("--threshold-by", choices=THRESHOLD_BY, default=THRESHOLD_BY[0],
                     help="whose false refusal --max-false bounds: every training set's (worst), their mean (fold), or all pooled")
    top.add_argument("--min-fold-answerable", type=int, default=Rule.min_fold_answerable, metavar="N",
                     help="a set has a say in a language's threshold only with at least N answerable questions in it")
    top.add_argument("--threshold-on", choices=THRESHOLD_ON, default=THRESHOLD_ON[0],
                     help="choose the thresholds on the fit's own confidences (fit) or on each training set's as rated by "
                          "weights fitted without it (held-out)")
    top.add_argument("--western-weights", action="store_true",
                     help="fit the questions over Western articles in their language weights of their own, not only a "
                          "threshold (docs/answers.md, *English articles*)")
    top.add_argument("--seed", type=int, default=14)
    top.add_argument("--out", type=Path, help="write the model fitted on every set here (rag/data/decision.json)")
    top.add_argument("--loso-dir", type=Path, help="also write each leave-one-set-out model here")
    top.add_argument("--rows", type=Path, help="write the feature rows here (JSON lines)")
    top.add_argument("--from-rows", type=Path, help="fit on rows written by --rows instead of asking the questions")
    top.add_argument("--also-rows", action="append", default=[], metavar="LABEL=ROWS",
                     help="rows written by --rows of the same sets embedded at another precision (RAG_EMBED_PRECISION): "
                          "each set's rows there have a say in the thresholds beside its own and fit no weight")
    top.add_argument("--bootstrap", type=int, default=0, metavar="N",
                     help="also print each held-out set's declined shares over N fits on training rows drawn again")
    args = top.parse_args()
    if args.min_fold_answerable < 1:
        raise SystemExit(f"--min-fold-answerable {args.min_fold_answerable}: give a count of questions, 1 or more")
    rule = Rule(args.l2, args.max_false, args.threshold_by, args.min_fold_answerable, args.western_weights,
                args.threshold_on)
    sets = [parse_set(s) for s in args.sets]
    unread = [parse_set(s) for s in args.unread]
    if args.from_rows:
        rows = [read_row(line) for line in args.from_rows.read_text(encoding="utf-8").splitlines()]
    else:
        for flag, named in (("--one-subject", args.one_subject), ("--one-article", args.one_article)):
            unknown = set(named) - {name for name, *_ in sets}
            if unknown:
                raise SystemExit(f"{flag} {', '.join(sorted(unknown))}: name a set given on the command line")
        rows = collect(sets, args.cross, args.cross_max, args.seed, args.offtopic, args.offtopic_fold, args.one_subject,
                       args.one_article)
        rows += unread_rows(sets, unread, args.cross_max, args.seed) if unread else []
    if args.rows:
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        args.rows.write_text("".join(json.dumps(r.__dict__, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for labelled in args.also_rows:
        label, _, path = labelled.partition("=")
        if not label or not path or "/" in label or not Path(path).is_file():
            raise SystemExit(f"--also-rows {labelled}: give LABEL=ROWS, a label without '/' and a file --rows wrote")
        rows += also_rows(label, Path(path))
    if len(sets) < 2:
        raise SystemExit(f"{len(sets)} set given: give two or more, each is reported by a fit without it"
                         + (f" (the rows are in {args.rows})" if args.rows else ""))
    held_out = {}
    for name, *_ in sets + unread:
        kept = training(rows, name)
        model = train_both(kept, rule)
        held_out[name] = dict(report([r for r in rows if r.fold == name], model),
                              threshold=round(model.main.threshold, 3), threshold_other=round(model.main.threshold_other, 3),
                              threshold_bound_by=bound_by(model.main, _main_rows(kept), rule))
        if model.main.threshold_unread is not None:
            held_out[name]["threshold_unread"] = round(model.main.threshold_unread, 3)
        if model.western is not None:
            held_out[name]["threshold_western"] = round(model.western.threshold, 3)
        print(f"{name} (fitted without it): {held_out[name]}")
        for twin in dict.fromkeys(r.fold for r in rows if _set_of(r.fold) == name and r.fold != name):
            held_out[twin] = report([r for r in rows if r.fold == twin], model)
            print(f"{twin} (fitted without {name}): {held_out[twin]}")
        if args.bootstrap:
            drawn = spread(rows, name, args.bootstrap, args.seed, rule)
            print(f"{name} (fitted without it, {args.bootstrap} draws of the training rows): {drawn}")
        if args.loso_dir:
            args.loso_dir.mkdir(parents=True, exist_ok=True)
            (args.loso_dir / f"decision-without-{name}.json").write_text(
                json.dumps({**model.to_dict(embed_model(sets)), "fitted_without": name}, indent=2) + "\n", encoding="utf-8")
    if args.article_folds > 1:
        for name, files, _, _ in sets + unread:
            groups = article_groups([q for f in files for q in load_questions(f)], args.article_folds)
            found = by_article(rows, name, groups, args.article_folds, rule)
            print(f"{name} (its articles held out in {args.article_folds} groups): {found}")
    final = train_both(rows, rule)
    held = bound_by(final.main, _main_rows(rows), rule)
    print("fitted on every set:", json.dumps(final.to_dict(embed_model(sets)), ensure_ascii=False))
    print("fitted on every set, thresholds bound by:", held)
    if args.out:
        in_sample = {fold: report([r for r in rows if r.fold == fold], final) for fold in dict.fromkeys(r.fold for r in rows)}
        made = dict(provenance("bench.fit_decision", sets + unread, list(FEATURES), held_out, in_sample),
                    threshold_bound_by=held)
        args.out.write_text(json.dumps({"made": made, **final.to_dict(embed_model(sets))}, ensure_ascii=False,
                                       indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
