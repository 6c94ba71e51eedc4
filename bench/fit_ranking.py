"""Fit the answer-sentence ranking (rag/answer/ranking.py) across question sets, cross-validated leave-one-set-out.

Each set is NAME=GOLD[+GOLD...]=CORPUS=INDEX. For every answerable question with accepted answers (gold
`alternatives`, else `keywords`), each candidate sentence of the top passages (headings left out) is labelled
by whether it holds an accepted answer; a weighted logistic fit (every question weighs the same) gives the
weights. The margin for sentences after the best is the smallest on a grid whose answers hold an accepted
answer in their first 300 characters nearly as often (98%) as the best margin's, on the training sets.
For each set the model is fitted without it and reported on it: how often the first sentence holds an
accepted answer, and answer_contains@300c of the composed answer (before any decline).

Three models are fitted. The first ranks questions without a dictionary translation: its English cases are
retrieved and ranked without the dictionary, as they were before it came, so the dictionary changes nothing for
questions in the articles' language. The second ranks questions read through the dictionary (an English
question over Chinese articles): its English cases are retrieved with it. Both see every Chinese case. The
third ("judged") is the first without the features of the question's words beyond the article's subject, over
the candidates of the top five passages only (features computed among them); it ranks the drafts the decision
judges (rag/answer/decide.py), which was fitted over what its sentences hold. The first model's margin is the
one whose answers are as long (median characters, each set weighing the same) as the judged model's at its own
margin: those features part the scores further, and the rule above would let fewer sentences in; they are there
to change which sentence comes first, not how much an answer says. A set is reported with the model the bot
would use for each of its questions.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.fit_ranking \\
        cmrc=../shared/eval/dev/cmrc-trial/gold.jsonl=../shared/eval/dev/cmrc-trial/corpus=/work/idx/cmrc \\
        xquad-zh=../shared/eval/dev/xquad-dev/gold-zh.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        xquad-en=../shared/eval/dev/xquad-dev/gold-en.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        public=../shared/eval/gold_public.jsonl=seeds=/work/idx/seeds \\
        --out rag/data/ranking.json --loso-dir runs/ranking-loso
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.dev_sets import parse_set, provenance
from bench.ranking_logistic import fit_questions
from rag.answer.assistant import Assistant
from rag.answer.decide import TOP_PASSAGES
from rag.answer.extractive import SentenceScore, cite, is_chinese, score_sentences, select_sentences
from rag.answer.ranking import FEATURES, JUDGED_WITHOUT, Subjects, features
from rag.eval.metrics import ANSWER_PREFIX_CHARS, load_questions, normalize
from rag.ingest.headings import is_candidate
from rag.records import NO_TRANSLATION
from rag.settings import load_settings

MARGINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)


@dataclass
class Case:
    """One question's candidates: features, labels, and what composing an answer needs."""

    fold: str
    question_id: str
    chinese: bool
    x: np.ndarray
    y: np.ndarray
    candidates: list[SentenceScore]
    accepted: tuple[str, ...]
    assistant: Assistant
    path: str  # "plain": a question without a translation, or one's judged draft; "translated": one read with it
    used: bool  # whether the bot's answer to the question is composed with this case's model
    judged: Case | None = None  # a plain case as the decision's draft sees it: the candidates of its top passages


def collect(sets: list[tuple[str, list[Path], Path, Path]]) -> list[Case]:
    """Return one case per answerable question with accepted answers."""
    cases = []
    for name, files, corpus, index in sets:
        assistant = Assistant.load(load_settings(corpus_dir=corpus, index_dir=index))
        settings = assistant.settings
        questions = [q for f in files for q in load_questions(f) if q.answerable and q.accepted]
        vectors = assistant.embedder.encode_queries([q.question for q in questions])
        tags = assistant.tokenizer.word_tags()
        subjects = Subjects(assistant.index, assistant.titles)
        for q, vector in zip(questions, vectors):
            retrieved = assistant.retriever.search(q.question, vector, settings.retrieval.top_k)
            weights = retrieved.term_weights
            accepted = tuple(a for a in (normalize(a) for a in q.accepted) if a)
            chinese = is_chinese(q.question)
            paths = [("translated", retrieved.hits, retrieved.translation, True),
                     ("plain", retrieved.judged_hits, NO_TRANSLATION, False)] if retrieved.translation else [
                     ("plain", retrieved.hits, NO_TRANSLATION, True)]
            for path, hits, translation, used in paths:
                candidates = [
                    s for s in score_sentences(assistant.index, hits, vector, weights, settings.answer.answer_passages,
                                               settings.answer.sentence_lexical_weight, settings.answer.sentence_rank_weight)
                    if is_candidate(s.sentence, assistant.titles.get(s.sentence.file, ""))
                ]
                if not candidates:
                    continue
                case = _case(name, q, chinese, candidates, weights, tags, translation, accepted, assistant, path, used, subjects)
                top = [s for s in candidates if s.passage_rank <= TOP_PASSAGES]
                if path == "plain" and top:
                    case.judged = _case(name, q, chinese, top, weights, tags, translation, accepted, assistant, path, used,
                                        subjects)
                cases.append(case)
        print(f"collected {name}: {sum(c.fold == name and c.used for c in cases)} questions", file=sys.stderr)
    return cases


def _case(name: str, q: Any, chinese: bool, candidates: list[SentenceScore], weights: dict[str, float],
          tags: dict[str, str], translation: Any, accepted: tuple[str, ...], assistant: Assistant, path: str,
          used: bool, subjects: Subjects) -> Case:
    # Features relative to the other candidates (gaps to the best, z-scores) are computed over these candidates.
    x = features(assistant.index, candidates, q.question, weights, chinese, tags, translation, subjects)
    y = np.array([any(a in normalize(s.sentence.text) for a in accepted) for s in candidates], dtype=float)
    return Case(name, q.id, chinese, x, y, candidates, accepted, assistant, path, used)


def dump(cases: list[Case], path: Path) -> None:
    """Write one JSON line per candidate sentence: its set, question, place, features (FEATURES order), label."""
    with path.open("w", encoding="utf-8") as out:
        for c in cases:
            for i, (row, label) in enumerate(zip(c.x, c.y)):
                out.write(json.dumps({"fold": c.fold, "question": c.question_id, "candidate": i,
                                      "x": [float(v) for v in row], "y": int(label), "is_chinese": c.chinese,
                                      "path": c.path, "used": c.used},
                                     ensure_ascii=False) + "\n")


def answers(cases: list[Case], w: np.ndarray, mean: np.ndarray, scale: np.ndarray, margin: float) -> dict[str, float]:
    """Return first-sentence accuracy, answer_contains@300c and median characters of the composed answers."""
    first, contains, chars, oracle = [], [], [], []
    for c in cases:
        score = ((c.x - mean) / scale) @ w
        ranked = sorted((dataclasses.replace(s, score=float(v)) for s, v in zip(c.candidates, score)),
                        key=lambda s: (-s.score, s.sentence.sentence_id))
        settings = c.assistant.settings
        chosen = select_sentences(c.assistant.index, ranked, settings.answer.answer_max_blocks, settings.answer.answer_max_chars, margin,
                                  c.assistant.titles)
        text = normalize(cite(c.assistant.index, chosen, {})[0][:ANSWER_PREFIX_CHARS])  # as rag eval reads it
        first.append(bool(c.y[int(np.argmax(score))]))
        contains.append(any(a in text for a in c.accepted))
        chars.append(sum(len(s.text) for s in chosen))
        oracle.append(bool(c.y.any()))
    return {"first_sentence_holds_answer": round(float(np.mean(first)), 3),
            "answer_contains@300c": round(float(np.mean(contains)), 3),
            "median_chars": float(np.median(chars)), "some_candidate_holds_answer": round(float(np.mean(oracle)), 3)}


def choose_margin(cases: list[Case], w: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> float:
    """Return the smallest margin whose answer_contains@300c (mean over the sets) is within 98% of the best."""
    folds = sorted({c.fold for c in cases})
    rates = {m: np.mean([answers([c for c in cases if c.fold == f], w, mean, scale, m)["answer_contains@300c"]
                         for f in folds]) for m in MARGINS}
    best = max(rates.values())
    return min(m for m, r in rates.items() if r >= 0.98 * best)


def median_chars(cases: list[Case], w: np.ndarray, mean: np.ndarray, scale: np.ndarray, margin: float) -> float:
    """Return the median composed-answer length (characters) over the sets, each set weighing the same."""
    folds = sorted({c.fold for c in cases})
    return float(np.mean([answers([c for c in cases if c.fold == f], w, mean, scale, margin)["median_chars"]
                          for f in folds]))


def matching_margin(cases: list[Case], w: np.ndarray, mean: np.ndarray, scale: np.ndarray, chars: float) -> float:
    """Return the margin whose answers are as long (median characters over the sets) as `chars`."""
    return min(MARGINS, key=lambda m: (abs(median_chars(cases, w, mean, scale, m) - chars), m))


def model_dict(w: np.ndarray, mean: np.ndarray, scale: np.ndarray, margin: float) -> dict[str, Any]:
    """Return the model in rag/data/ranking.json's shape."""
    named = lambda values: {f: round(float(v), 6) for f, v in zip(FEATURES, values)}  # noqa: E731
    return {"weights": named(w), "mean": named(mean), "scale": named(scale), "margin": margin}


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("sets", nargs="+", metavar="NAME=GOLD[+GOLD]=CORPUS=INDEX")
    top.add_argument("--l2", type=float, default=1.0)
    top.add_argument("--out", type=Path, help="write the model fitted on every set here (rag/data/ranking.json)")
    top.add_argument("--loso-dir", type=Path, help="also write each leave-one-set-out model here")
    top.add_argument("--dump", type=Path, help="also write each candidate's features and label here (JSON lines)")
    args = top.parse_args()
    sets = [parse_set(s) for s in args.sets]
    cases = collect(sets)
    if args.dump:
        dump(cases, args.dump)
        print(f"wrote {args.dump}", file=sys.stderr)
    held_out = {}
    for name, *_ in sets:
        models = fit_models([c for c in cases if c.fold != name], args.l2)
        held_out[name] = report([c for c in cases if c.fold == name], models)
        print(f"{name} (fitted without it): {held_out[name]}")
        if args.loso_dir:
            args.loso_dir.mkdir(parents=True, exist_ok=True)
            (args.loso_dir / f"ranking-without-{name}.json").write_text(
                json.dumps(document(models) | {"fitted_without": name}, indent=2) + "\n", encoding="utf-8")
    models = fit_models(cases, args.l2)
    print("fitted on every set:", json.dumps(document(models)))
    if args.out:
        in_sample = {name: report([c for c in cases if c.fold == name], models) for name, *_ in sets}
        made = provenance("bench.fit_ranking", sets, list(FEATURES), held_out, in_sample)
        args.out.write_text(json.dumps({"made": made} | document(models), ensure_ascii=False, indent=2) + "\n",
                            encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)


Model = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # weights, mean, scale, margin


def fit_models(cases: list[Case], l2: float) -> dict[str, Model]:
    """Return the plain, the translated and the judged model (see the module docstring), each with its margin."""
    models = {}
    train = [c for c in cases if c.path == "translated" or (c.chinese and c.path == "plain")]
    w, mean, scale = fit_questions(train, l2)
    models["translated"] = (w, mean, scale, choose_margin(train, w, mean, scale))
    # The drafts the decision judges: the plain model without the features beyond the article's subject, its
    # margin chosen as above.
    plain = [c for c in cases if c.path == "plain"]
    hidden = [FEATURES.index(f) for f in JUDGED_WITHOUT]
    judged_train = [j for j in (_judged(c, hidden) for c in plain) if j is not None]
    jw, jmean, jscale = fit_questions(judged_train, l2)
    judged_margin = choose_margin(judged_train, jw, jmean, jscale)
    models["judged"] = (jw, jmean, jscale, judged_margin)
    # The answers shown: ranked with those features, which part the scores further, so the margin above would
    # admit fewer blocks. Its margin is the one whose answers are as long as the judged drafts': the features
    # change which sentences come first, not how much an answer says.
    w, mean, scale = fit_questions(plain, l2)
    length = median_chars(judged_train, jw, jmean, jscale, judged_margin)
    models["plain"] = (w, mean, scale, matching_margin(plain, w, mean, scale, length))
    return models


def _judged(case: Case, hidden: list[int]) -> Case | None:
    """Return the case as the judged draft sees it: the candidates of the decision's top passages, the features
    beyond the article's subject left out (None when those passages hold no candidate)."""
    return dataclasses.replace(case.judged, x=_without(case.judged.x, hidden)) if case.judged else None


def _without(x: np.ndarray, columns: list[int]) -> np.ndarray:
    x = x.copy()
    x[:, columns] = 0.0
    return x


def report(cases: list[Case], models: dict[str, Model]) -> dict[str, float]:
    """Return what `answers` measures over the questions as the bot composes them (each with its path's model)."""
    parts = []
    for path, (w, mean, scale, margin) in models.items():
        if path == "judged":
            continue
        used = [c for c in cases if c.used and c.path == path]
        if used:
            parts.append((answers(used, w, mean, scale, margin), len(used)))
    total = sum(n for _, n in parts)
    keys = ("first_sentence_holds_answer", "answer_contains@300c", "some_candidate_holds_answer")
    out = {key: round(sum(m[key] * n for m, n in parts) / total, 3) for key in keys}
    most = max(parts, key=lambda part: part[1])[0]  # the median of the path most of the set's questions take
    return out | {"median_chars": most["median_chars"], "margin": {path: model[3] for path, model in models.items()}}


def document(models: dict[str, Model]) -> dict[str, Any]:
    """Return the models in rag/data/ranking.json's shape ("model" without the dictionary, "model_translated")."""
    return {"model": model_dict(*models["plain"]), "model_translated": model_dict(*models["translated"]),
            "model_judged": model_dict(*models["judged"])}

if __name__ == "__main__":
    main()
