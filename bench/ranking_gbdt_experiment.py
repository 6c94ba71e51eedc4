"""Does a gradient-boosted ranker (LightGBM) put the answer sentence first more often than the linear ranking?

An experiment, not part of the product: it reads the candidate sentences that bench/fit_ranking.py dumps
(one JSON line per candidate: fold, question, candidate, x in FEATURES order, y, is_chinese) and compares,
leave-one-set-out (fitted without set S, reported on S):
  linear  the weighted logistic of bench/fit_ranking.py (every question weighs the same, l2 = 1), refitted here;
  lgbm-rank / lgbm-binary  LightGBM lambdarank (group = question) and binary objectives, small trees, their
          hyper-parameters chosen by an inner leave-one-set-out over the training sets only.
Per held-out set: the share of questions whose top-ranked candidate holds an accepted answer (top1), whose
top two do (top2), and whose candidates hold one at all (ceiling); the paired count of questions only one
model gets right. `--by-corpus` also holds out the sets that share a corpus and questions together
(cmrc with cmrc-en, xquad-zh with xquad-en), since a translated twin of the held-out set otherwise trains.

Reproduce (the dump from the main venv, the experiment in a venv with lightgbm; run from the repo root; the
figures in docs/bench/ranking-gbdt.json were made on format-5 indexes of December 2026, before the fits took
cmrc-en, with the ranking then shipped):

    D=/work/shared/eval/dev
    HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -m bench.fit_ranking \\
        cmrc=$D/cmrc-trial/gold.jsonl=$D/cmrc-trial/corpus=/work/idx/cmrc \\
        xquad-zh=$D/xquad-dev/gold-zh.jsonl=$D/xquad-dev/corpus=/work/idx/xquad \\
        xquad-en=$D/xquad-dev/gold-en.jsonl=$D/xquad-dev/corpus=/work/idx/xquad \\
        public=/work/shared/eval/gold_public.jsonl=seeds=/work/idx/seeds \\
        cmrc-en=bench/data/cmrc-trial-en.jsonl=$D/cmrc-trial/corpus=/work/idx/cmrc \\
        --dump /work/h-gbdt-runs/candidates.jsonl
    python3 -m venv /work/venv-gbdt && /work/venv-gbdt/bin/pip install numpy==2.4.6 lightgbm==4.7.0
    /work/venv-gbdt/bin/python -m bench.ranking_gbdt_experiment /work/h-gbdt-runs/candidates.jsonl \\
        --by-corpus --in-sample --json /work/h-gbdt-runs/gbdt-experiment.json
    grep -v '"fold": "cmrc-en"' /work/h-gbdt-runs/candidates.jsonl > /work/h-gbdt-runs/candidates-4sets.jsonl
    /work/venv-gbdt/bin/python -m bench.ranking_gbdt_experiment /work/h-gbdt-runs/candidates-4sets.jsonl \\
        --json /work/h-gbdt-runs/gbdt-experiment-4sets.json
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from bench.ranking_logistic import fit_questions

ROUNDS = (100, 200, 300)
LEAVES = (7, 15)
MIN_DATA = (50, 100)
LEARNING_RATE = 0.05


@dataclass(frozen=True)
class Question:
    """One question's candidates: features (FEATURES order) and labels, in the order fit_ranking scored them."""

    fold: str
    id: str
    x: np.ndarray
    y: np.ndarray


def feature_names(root: Path) -> list[str]:
    """Return FEATURES as rag/answer/ranking.py spells it (read from the source: this venv has no rag deps)."""
    tree = ast.parse((root / "rag" / "answer" / "ranking.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FEATURES":
            return list(ast.literal_eval(node.value))
    raise SystemExit("FEATURES not found in rag/answer/ranking.py")


def load(path: Path) -> list[Question]:
    """Return the dumped candidates grouped by question, in file order: as the bot ranks them (an English question
    read through the dictionary also has the candidates of its judged draft, which are left out)."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in path.open(encoding="utf-8"):
        r = json.loads(line)
        if r.get("used", True):
            rows[(r["fold"], r["question"])].append(r)
    out = []
    for (fold, qid), rs in rows.items():
        rs.sort(key=lambda r: r["candidate"])
        out.append(Question(fold, qid, np.array([r["x"] for r in rs]), np.array([r["y"] for r in rs], dtype=float)))
    return out


def linear_scores(qs: list[Question], train: list[Question]) -> list[np.ndarray]:
    """Return each question's candidate scores under the linear model fitted on `train`."""
    w, mean, scale = fit_questions(train)
    return [((q.x - mean) / scale) @ w for q in qs]


def lgbm_params(objective: str, leaves: int, min_data: int) -> dict[str, Any]:
    """Return LightGBM parameters: small trees, deterministic, one thread (two contend on a shared machine)."""
    params = {"objective": objective, "num_leaves": leaves, "min_data_in_leaf": min_data,
              "learning_rate": LEARNING_RATE, "feature_fraction": 1.0, "bagging_fraction": 1.0,
              "deterministic": True, "force_row_wise": True, "num_threads": 1, "seed": 1, "verbose": -1}
    return params


def fit_lgbm(train: list[Question], objective: str, leaves: int, min_data: int, rounds: int) -> lgb.Booster:
    """Return a booster fitted on `train`; binary rows weigh so that every question weighs the same, as linear."""
    useful = [q for q in train if 0 < q.y.sum() < len(q.y)]
    x = np.vstack([q.x for q in useful])
    y = np.concatenate([q.y for q in useful])
    if objective == "lambdarank":
        data = lgb.Dataset(x, y, group=[len(q.y) for q in useful], free_raw_data=False)
    else:
        weight = np.concatenate([np.where(q.y == 1, 0.5 / q.y.sum(), 0.5 / (len(q.y) - q.y.sum())) for q in useful])
        data = lgb.Dataset(x, y, weight=weight * len(y) / weight.sum(), free_raw_data=False)
    return lgb.train(lgbm_params(objective, leaves, min_data), data, num_boost_round=rounds)


def top_k(scores: np.ndarray, y: np.ndarray, k: int) -> bool:
    """Return whether one of the k best-scored candidates holds an answer (ties: the earlier candidate first)."""
    order = np.argsort(-scores, kind="stable")
    return bool(y[order[:k]].any())


def rates(qs: list[Question], scores: list[np.ndarray]) -> dict[str, float]:
    """Return top1, top2 and ceiling shares over the questions."""
    return {"top1": float(np.mean([top_k(s, q.y, 1) for q, s in zip(qs, scores)])),
            "top2": float(np.mean([top_k(s, q.y, 2) for q, s in zip(qs, scores)])),
            "ceiling": float(np.mean([bool(q.y.any()) for q in qs]))}


def grid() -> list[tuple[int, int]]:
    """Return the (leaves, min_data) pairs tried; rounds are read off each booster at 100/200/300."""
    return list(itertools.product(LEAVES, MIN_DATA))


def inner_choice(train: list[Question], objective: str) -> tuple[tuple[int, int, int], dict[str, float]]:
    """Return the (leaves, min_data, rounds) with the best mean top1 over an inner leave-one-set-out of `train`."""
    folds = sorted({q.fold for q in train})
    mean_top1: dict[tuple[int, int, int], list[float]] = defaultdict(list)
    for inner in folds:
        fit_on = [q for q in train if q.fold != inner]
        held = [q for q in train if q.fold == inner]
        x = np.vstack([q.x for q in held])
        cuts = np.cumsum([len(q.y) for q in held])[:-1]
        for leaves, min_data in grid():
            booster = fit_lgbm(fit_on, objective, leaves, min_data, max(ROUNDS))
            for rounds in ROUNDS:
                scores = np.split(booster.predict(x, num_iteration=rounds), cuts)
                mean_top1[(leaves, min_data, rounds)].append(rates(held, scores)["top1"])
    table = {f"{k}": float(np.mean(v)) for k, v in mean_top1.items()}
    best = max(mean_top1, key=lambda k: (np.mean(mean_top1[k]), -k[2], -k[0]))
    return best, table


def lgbm_scores(qs: list[Question], train: list[Question], objective: str) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Return held-out scores of the booster whose hyper-parameters the inner leave-one-set-out chose."""
    (leaves, min_data, rounds), table = inner_choice(train, objective)
    booster = fit_lgbm(train, objective, leaves, min_data, rounds)
    x = np.vstack([q.x for q in qs])
    scores = np.split(booster.predict(x), np.cumsum([len(q.y) for q in qs])[:-1])
    gain = booster.feature_importance("gain")
    return scores, {"leaves": leaves, "min_data": min_data, "rounds": rounds, "inner_top1": table,
                    "gain": (gain / gain.sum()).round(3).tolist()}


def paired(qs: list[Question], a: list[np.ndarray], b: list[np.ndarray]) -> tuple[int, int]:
    """Return (questions only b ranks right first, questions only a does)."""
    ra = [top_k(s, q.y, 1) for q, s in zip(qs, a)]
    rb = [top_k(s, q.y, 1) for q, s in zip(qs, b)]
    return sum(y and not x for x, y in zip(ra, rb)), sum(x and not y for x, y in zip(ra, rb))


def run(qs: list[Question], holdouts: dict[str, set[str]]) -> dict[str, Any]:
    """Return, for each held-out group of sets, every model's rates on each of its sets."""
    report: dict[str, Any] = {}
    for name, held_folds in holdouts.items():
        train = [q for q in qs if q.fold not in held_folds]
        held = [q for q in qs if q.fold in held_folds]
        scores = {"linear": linear_scores(held, train)}
        chosen = {}
        for objective, label in (("lambdarank", "lgbm-rank"), ("binary", "lgbm-binary")):
            scores[label], chosen[label] = lgbm_scores(held, train, objective)
        for fold in sorted(held_folds):
            idx = [i for i, q in enumerate(held) if q.fold == fold]
            sub = [held[i] for i in idx]
            report[fold] = {"held_out_with": sorted(held_folds), "questions": len(sub)}
            for model, s in scores.items():
                report[fold][model] = rates(sub, [s[i] for i in idx])
            for model in ("lgbm-rank", "lgbm-binary"):
                report[fold][model]["wins_losses_vs_linear"] = paired(sub, [scores["linear"][i] for i in idx],
                                                                      [scores[model][i] for i in idx])
        report[name + ":chosen"] = chosen
        print(f"done: held out {sorted(held_folds)}", flush=True)
    return report


def in_sample(qs: list[Question], folds: list[str]) -> dict[str, dict[str, float]]:
    """Return each set's top1 with every model fitted on every set: how much the trees can memorise, not transfer."""
    x = np.vstack([q.x for q in qs])
    cuts = np.cumsum([len(q.y) for q in qs])[:-1]
    scores = {"linear": linear_scores(qs, qs)}
    for objective, leaves, min_data, rounds in (("lambdarank", 7, 50, 200), ("lambdarank", 31, 20, 500), ("binary", 31, 20, 500)):
        booster = fit_lgbm(qs, objective, leaves, min_data, rounds)
        scores[f"{objective} {leaves}/{min_data}/{rounds}"] = np.split(booster.predict(x), cuts)
    out = {}
    for fold in folds:
        idx = [i for i, q in enumerate(qs) if q.fold == fold]
        out[fold] = {m: round(rates([qs[i] for i in idx], [s[i] for i in idx])["top1"], 3) for m, s in scores.items()}
    return out


def table(report: dict[str, Any], folds: list[str], title: str) -> str:
    """Return the report as a plain-text table."""
    lines = [title, f"{'set':9} {'n':>4} {'ceiling':>7} | {'linear top1/top2':>16} | {'lgbm-rank top1/top2 (+/-)':>27} |"
                    f" {'lgbm-binary top1/top2 (+/-)':>27}"]
    cell = lambda r: f"{r['top1']:.3f}/{r['top2']:.3f}"  # noqa: E731
    wl = lambda r: "(+{}/-{})".format(*r["wins_losses_vs_linear"])  # noqa: E731
    for fold in folds:
        r = report[fold]
        lines.append(f"{fold:9} {r['questions']:>4} {r['linear']['ceiling']:>7.3f} | {cell(r['linear']):>16} | "
                     f"{cell(r['lgbm-rank']):>14} {wl(r['lgbm-rank']):>12} | {cell(r['lgbm-binary']):>14} {wl(r['lgbm-binary']):>12}")
    return "\n".join(lines)


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("dump", type=Path, help="the JSON lines bench/fit_ranking.py --dump wrote")
    top.add_argument("--by-corpus", action="store_true", help="also hold out cmrc+cmrc-en and xquad-zh+xquad-en together")
    top.add_argument("--in-sample", action="store_true", help="also report top1 of models fitted on every set, in sample")
    top.add_argument("--json", type=Path, help="write every figure and the chosen hyper-parameters here")
    args = top.parse_args()
    names = feature_names(Path(__file__).resolve().parent.parent)
    qs = load(args.dump)
    folds = list(dict.fromkeys(q.fold for q in qs))
    out: dict[str, Any] = {"features": names, "dump": str(args.dump)}
    out["leave_one_set_out"] = run(qs, {f: {f} for f in folds})
    print(table(out["leave_one_set_out"], folds, "\nleave one set out (fitted without the set)"))
    if args.by_corpus:
        groups: dict[str, set[str]] = {}
        for f in folds:
            groups.setdefault(f.removesuffix("-en").removesuffix("-zh"), set()).add(f)
        out["leave_one_corpus_out"] = run(qs, groups)
        print(table(out["leave_one_corpus_out"], folds, "\nleave one corpus out (twins held out together)"))
    if args.in_sample:
        out["in_sample_top1"] = in_sample(qs, folds)
        print("\nin sample (fitted on every set, top1):")
        for fold, row in out["in_sample_top1"].items():
            print(f"{fold:9}", row)
    for key in [k for k in out["leave_one_set_out"] if k.endswith(":chosen")]:
        chosen = out["leave_one_set_out"][key]
        print(key, {m: (c["leaves"], c["min_data"], c["rounds"]) for m, c in chosen.items()},
              "gain lgbm-rank:", dict(zip(names, chosen["lgbm-rank"]["gain"])))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
