"""Fit the fusion weights of retrieval (rag/retrieval/fusion.py) across question sets, cross-validated leave-one-set-out.

Each set is NAME=GOLD[+GOLD...]=CORPUS=INDEX. For every answerable question with evidence, the dense and lexical
candidates are read once with their fusion features and labelled by whether they cover an evidence quote (the
`rag eval` count). The weights of each question language (the articles' language, any other) are the point of a
grid with the best mean over the training sets of hit@5 + 0.25 * mrr@10, each set with at least --min-questions
questions of that language weighing the same. The translated features are zero for a question in the articles'
language, so its grid holds them at zero. A question in another language is fitted twice: with its dictionary
translation (`other_language`) and without it (`other_language_plain`, the translated features held at zero), the
retrieval the decision judges and the one a question none of whose words translate gets; the second fit is made
again with the second reader free to weigh (`other_language_reader`), for a question in a language the dictionary
cannot read and the reader can. For each set the weights are fitted without it and reported on it.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.fit_retrieval \\
        cmrc=../shared/eval/dev/cmrc-trial/gold.jsonl=../shared/eval/dev/cmrc-trial/corpus=/work/idx/cmrc \\
        xquad-zh=../shared/eval/dev/xquad-dev/gold-zh.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        xquad-en=../shared/eval/dev/xquad-dev/gold-en.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        public=../shared/eval/gold_public.jsonl+tests/data/english_sora.jsonl=seeds=/work/idx/seeds \\
        --out rag/data/fusion.json --loso-dir runs/loso
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.dev_sets import DevSet, parse_set, provenance
from rag.embedding import load_embedder
from rag.eval.metrics import covers, load_questions
from rag.index.lexical import shared_tokenizer
from rag.index.store import load_index
from rag.ingest.language import is_chinese
from rag.records import NO_TRANSLATION
from rag.retrieval.fusion import FEATURES, FusionWeights, fusion_features
from rag.retrieval.retriever import Retriever
from rag.retrieval.search import candidates, union
from rag.settings import load_settings

GRID = {
    "dense": (0.25, 0.5, 0.75, 1.0),
    "lexical": (0.0, 0.25, 0.5, 1.0),
    "coverage": (0.0, 0.5, 1.0, 2.0, 3.0, 4.0),
    "sentence": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
    "translated": (0.0, 0.5, 1.0, 2.0, 3.0),
    "translated_coverage": (0.0, 1.0, 2.0, 4.0),
    "reader": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
}
# The languages whose weight of a feature the grid varies (any other language's is held at zero): a translated
# feature is zero for any question without a translation. The second reader's is weighed for a question read
# through the dictionary, and for a question the dictionary cannot read in a language the reader was trained on
# (`other_language_reader`, fitted on the English questions retrieved without the dictionary, which never take it):
# for the articles' language it helped no set held out, and in the retrieval without the dictionary that English
# questions take (what the decision judges) it moved the decision's false refusals up held out, and in any language
# it lost the languages the reader was not trained on (docs/answers.md, *The second reader in retrieval*).
VARIES = {"translated": ("other_language",), "translated_coverage": ("other_language",),
          "reader": ("other_language", "other_language_reader")}
LANGUAGES = ("same_language", "other_language", "other_language_plain", "other_language_reader")


@dataclass
class Case:
    """One question's candidates: their fusion features, in row order, and which cover its evidence."""

    fold: str
    language: str
    x: np.ndarray
    y: np.ndarray
    used: bool = True  # whether the bot retrieves the question so (not the plain twin of a translated question)


def collect(sets: list[DevSet]) -> list[Case]:
    """Return one case per answerable question with evidence."""
    cases = []
    tokenizer = shared_tokenizer()
    embedder = None
    for name, files, corpus, index_dir in sets:
        settings = load_settings(corpus_dir=corpus, index_dir=index_dir)
        embedder = embedder or load_embedder(settings)
        index = load_index(settings)
        questions = [q for f in files for q in load_questions(f) if q.answerable and q.evidence]
        vectors = embedder.encode_queries([q.question for q in questions])
        retriever = Retriever(settings, index, embedder, tokenizer)
        for question, vector in zip(questions, vectors):
            tokens = tokenizer.question_tokens(question.question, index.lexical.vocabulary)
            chinese = is_chinese(question.question)
            translation = retriever.translation(question.question, chinese)
            if chinese == retriever.articles_chinese:
                paths = [("same_language", NO_TRANSLATION, True)]
            elif translation:
                paths = [("other_language", translation, True), ("other_language_plain", NO_TRANSLATION, False)]
            else:
                paths = [("other_language_plain", NO_TRANSLATION, True)]
            for language, read, used in paths:
                rows = union(*candidates(index, vector, tokens, settings, read))
                labels = np.array([any(covers({"file": index.chunks[r].file, "text": index.chunks[r].text}, e)
                                       for e in question.evidence) for r in rows])
                x = fusion_features(index, rows, vector, tokens, translation=read, reading=retriever.reading(question.question))
                cases.append(Case(name, language, x, labels, used))
                if language == "other_language_plain":  # the same retrieval, the reader free to weigh
                    cases.append(Case(name, "other_language_reader", x, labels, False))
        print(f"collected {name}: {len(questions)} questions", file=sys.stderr)
    return cases


def first_ranks(cases: list[Case], grid: np.ndarray) -> np.ndarray:
    """Return the (cases x grid points) rank of each case's first candidate covering its evidence, the candidates
    ranked by each point's weights, ties by row as retrieval breaks them (10**6 where none covers it)."""
    out = np.full((len(cases), len(grid)), 10**6, dtype=np.int64)
    for i, case in enumerate(cases):
        if not case.y.any():
            continue
        score = case.x @ grid.T  # candidates x points
        best = np.where(case.y[:, None], score, -np.inf).max(axis=0)
        first = np.argmax((score == best) & case.y[:, None], axis=0)  # the best covering row; a tie goes to the lower
        before = np.arange(len(score))[:, None] < first
        out[i] = 1 + (score > best).sum(axis=0) + ((score == best) & before).sum(axis=0)
    return out


def measure(cases: list[Case], weights: np.ndarray) -> dict[str, float]:
    """Return hit@1, hit@5 and mrr@10 of these cases ranked by `weights` (ties by row, as retrieval breaks them)."""
    ranks = first_ranks(cases, weights[None, :])[:, 0]
    return {"hit@1": float(np.mean(ranks <= 1)), "hit@5": float(np.mean(ranks <= 5)),
            "mrr@10": float(np.mean(np.where(ranks <= 10, 1.0 / ranks, 0.0))), "questions": len(cases)}


def objective(folds: dict[str, list[Case]], grid: np.ndarray) -> np.ndarray:
    """Return each grid point's mean over folds of hit@5 + 0.25 * mrr@10."""
    per_fold = []
    for cases in folds.values():
        ranks = first_ranks(cases, grid)
        per_fold.append(np.mean(ranks <= 5, axis=0) + 0.25 * np.mean(np.where(ranks <= 10, 1.0 / ranks, 0.0), axis=0))
    return np.mean(per_fold, axis=0)


def language_grid(language: str) -> np.ndarray:
    """Return the grid points of a language: a feature of `VARIES` only varies for the languages it names."""
    axes = [GRID[name] if language in VARIES.get(name, (language,)) else (0.0,) for name in FEATURES]
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


def language_folds(cases: list[Case], language: str, min_questions: int) -> dict[str, list[Case]]:
    """Return the cases of one question language by set, each set with at least `min_questions` of them."""
    folds: dict[str, list[Case]] = {}
    for case in cases:
        if case.language == language:
            folds.setdefault(case.fold, []).append(case)
    return {name: fold for name, fold in folds.items() if len(fold) >= min_questions}


def fit(cases: list[Case], min_questions: int) -> dict[str, FusionWeights]:
    """Return the best grid point for each language over these cases' folds (the other language's weights stand in
    for a language no fold has enough questions of)."""
    fitted = {language: FusionWeights(*points[0][1]) for language, points in leaders(cases, min_questions, 1).items()}
    if not fitted:
        raise SystemExit("no set has enough questions to fit: lower --min-questions")
    fitted.setdefault("other_language_plain", fitted.get("other_language", fitted[next(iter(fitted))]))
    fitted.setdefault("other_language_reader", fitted["other_language_plain"])
    for language in LANGUAGES:
        fitted.setdefault(language, fitted[next(iter(fitted))])
    return fitted


def leaders(cases: list[Case], min_questions: int, count: int) -> dict[str, list[tuple[float, list[float]]]]:
    """Return, per language, the `count` grid points with the best objective over these cases' folds, best first:
    how far the chosen point stands above its neighbours, that is, how much a few questions retrieved otherwise
    (another machine's vectors) could move the fit."""
    out: dict[str, list[tuple[float, list[float]]]] = {}
    for language in LANGUAGES:
        folds = language_folds(cases, language, min_questions)
        if folds:
            grid = language_grid(language)
            scores = objective(folds, grid)
            # Equal objectives go to the smaller weights, then to the first point of the grid.
            order = sorted(range(len(grid)), key=lambda i: (-scores[i], float(grid[i].sum())))[:count]
            out[language] = [(round(float(scores[i]), 5), [float(v) for v in grid[i]]) for i in order]
    return out


def report(cases: list[Case], fitted: dict[str, FusionWeights]) -> dict[str, float]:
    """Return hit@1/hit@5/mrr@10 of these cases as the bot retrieves them, each with its language's weights."""
    ranked = {language: [c for c in cases if c.language == language and c.used] for language in LANGUAGES}
    parts = [(measure(group, fitted[language].vector()), len(group)) for language, group in ranked.items() if group]
    total = sum(n for _, n in parts)
    return {key: round(sum(m[key] * n for m, n in parts) / total, 4) for key in ("hit@1", "hit@5", "mrr@10")} | {"questions": total}


def document(fitted: dict[str, FusionWeights], made: dict) -> dict:
    """Return the fusion file's content."""
    return {"made": made, "model": {language: asdict(fitted[language]) for language in LANGUAGES}}


def main(argv: list[str] | None = None) -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    top.add_argument("sets", nargs="+", type=parse_set, help="NAME=GOLD[+GOLD]=CORPUS=INDEX")
    top.add_argument("--out", type=Path, required=True, help="fusion weights file to write")
    top.add_argument("--loso-dir", type=Path, help="also write each leave-one-set-out fit here")
    top.add_argument("--min-questions", type=int, default=20, help="questions of a language a set needs to count for it")
    top.add_argument("--leaders", type=int, default=0, metavar="N",
                     help="also print each language's N best grid points on every set, with their objective")
    args = top.parse_args(argv)
    cases = collect(args.sets)
    for language, points in leaders(cases, args.min_questions, args.leaders).items() if args.leaders else ():
        print(f"{language}: " + "; ".join(f"{score} {point}" for score, point in points), file=sys.stderr)
    names = [name for name, *_ in args.sets]
    held_out = {}
    for name in names:
        fitted = fit([c for c in cases if c.fold != name], args.min_questions)
        held_out[name] = report([c for c in cases if c.fold == name], fitted) | {
            language: asdict(fitted[language]) for language in LANGUAGES}
        print(f"{name} (fitted without it): {held_out[name]}", file=sys.stderr)
        if args.loso_dir:
            args.loso_dir.mkdir(parents=True, exist_ok=True)
            made = {"note": f"leave-one-set-out fit without {name}; not for use"}
            (args.loso_dir / f"fusion-without-{name}.json").write_text(json.dumps(document(fitted, made), indent=1) + "\n", encoding="utf-8")
    fitted = fit(cases, args.min_questions)
    in_sample = {name: report([c for c in cases if c.fold == name], fitted) for name in names}
    made = provenance("bench.fit_retrieval", args.sets, list(FEATURES), held_out, in_sample)
    made["objective"] = "per language, mean over the training sets of hit@5 + 0.25 * mrr@10; grid " + json.dumps(GRID)
    args.out.write_text(json.dumps(document(fitted, made), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"fitted on every set: {json.dumps(document(fitted, {})['model'])}\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
