"""Choose the share of CC-CEDICT glosses that makes a question's word and an articles' word alike, across sets.

A Chinese question's word the articles never use is searched as their word that the dictionary glosses alike
(片子 as 影片: rag/retrieval/glossary.py `Glossary.alike`). Too low a share reads a word as any other that shares one
common gloss (变样 as 变化, "change"), and a question about what the articles never say looks answered; too high a
share leaves a user's everyday word weighing as the corpus's rarest, and the question declined.

Each set is NAME=GOLD[+GOLD...]=CORPUS=INDEX. Every set is answered with the dictionary off and at each share of
--grid (`rag eval`'s metrics, the shipped ranking and decision files). A share is acceptable to a group of sets when
none of their figures is worse than with the dictionary off: answer keywords and an accepted answer within 300
characters, unanswerable questions declined, answerable questions not declined. The lowest acceptable share is
chosen (it reads the most words); leave-one-set-out, each set is reported at the share chosen without it. The
choice over every set is written to --out with how it was made, and with --loso-dir each fold's choice
(synonyms-without-NAME.json), which bench/held_out.py answers the fold with.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.fit_synonyms \\
        cmrc=../shared/eval/dev/cmrc-trial/gold.jsonl=../shared/eval/dev/cmrc-trial/corpus=/work/idx/cmrc \\
        xquad-zh=../shared/eval/dev/xquad-dev/gold-zh.jsonl=../shared/eval/dev/xquad-dev/corpus=/work/idx/xquad \\
        public=../shared/eval/gold_public.jsonl+tests/data/calibration.jsonl=seeds=/work/idx/seeds \\
        --out rag/data/synonyms.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.dev_sets import parse_set, provenance
from rag.eval.runs import EvalSet, evaluate_set
from rag.settings import load_settings

GRID = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
# Figures a share must not make worse, and whether more is better.
FIGURES = {"answer_keyword_recall@300c": True, "answer_contains@300c": True, "refusal_on_unanswerable": True,
           "false_refusal": False}


def figures(name: str, golds: list[Path], corpus: Path, index: Path, synonyms_file: str, out: Path) -> dict[str, float]:
    """Return one set's figures with the given synonyms file ("off": none), its gold files answered in turn and their
    questions pooled (the public set's unanswerable questions are mostly its calibration file's)."""
    pooled: dict[str, list[float]] = {}  # figure -> [questions counted, sum]
    for n, gold in enumerate(golds):
        settings = load_settings(index_dir=index, corpus_dir=corpus, synonyms_file=synonyms_file)
        run = evaluate_set(EvalSet(name, gold, settings), out / f"{name}-{n}")
        overall = run.summary.overall.to_dict() if run.summary else {}
        for figure in FIGURES:
            counted = overall.get("unanswerable" if figure == "refusal_on_unanswerable" else "answerable") or 0
            if overall.get(figure) is not None and counted:
                held = pooled.setdefault(figure, [0.0, 0.0])
                held[0] += counted
                held[1] += counted * float(overall[figure])
    return {figure: total / counted for figure, (counted, total) in pooled.items()}


def acceptable(at: dict[str, float], off: dict[str, float]) -> bool:
    """Return whether no figure is worse than with the dictionary off (1e-9: the same counts)."""
    return all((at[f] >= off[f] - 1e-9) if better_up else (at[f] <= off[f] + 1e-9)
               for f, better_up in FIGURES.items() if f in at and f in off)


def choose(table: dict[str, dict[str, dict[str, float]]], names: list[str], grid: list[float]) -> float | None:
    """Return the lowest share of `grid` acceptable to every set of `names`, or None when none is."""
    for share in sorted(grid):
        if all(acceptable(table[name][str(share)], table[name]["off"]) for name in names):
            return share
    return None


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("sets", nargs="+", type=parse_set, help="NAME=GOLD[+GOLD...]=CORPUS=INDEX")
    top.add_argument("--grid", nargs="+", type=float, default=list(GRID), help="the shares to try")
    top.add_argument("--out", type=Path, required=True, help="the synonyms file to write (rag/data/synonyms.json)")
    top.add_argument("--loso-dir", type=Path, help="also write each fold's choice (synonyms-without-NAME.json)")
    args = top.parse_args()
    table: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for value in ["off", *args.grid]:
            path = "off"
            if value != "off":
                path = str(work / f"synonyms-{value}.json")
                Path(path).write_text(json.dumps({"min_share": value}), encoding="utf-8")
            for name, golds, corpus, index in args.sets:
                table.setdefault(name, {})[str(value)] = figures(name, golds, corpus, index, path, work / str(value))
                print(f"{name} at {value}: {table[name][str(value)]}", flush=True)
    names = [name for name, *_ in args.sets]
    held_out = {}
    for name in names:
        share = choose(table, [other for other in names if other != name], args.grid)
        held_out[name] = {"share": share, "figures": table[name][str(share) if share is not None else "off"],
                          "off": table[name]["off"]}
    share = choose(table, names, args.grid)
    made = provenance("bench.fit_synonyms", args.sets, list(FIGURES), held_out,
                      {name: table[name] for name in names})
    made["rule"] = ("the lowest share of the grid at which no set's figure is worse than with the dictionary off; "
                    "leave_one_set_out reports each set at the share chosen without it")
    args.out.write_text(json.dumps({"min_share": share, "made": made}, ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
    if args.loso_dir:
        args.loso_dir.mkdir(parents=True, exist_ok=True)
        for name, row in held_out.items():
            fold = {"min_share": row["share"], "made": dict(made, note=f"chosen without {name}")}
            (args.loso_dir / f"synonyms-without-{name}.json").write_text(
                json.dumps(fold, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for name, row in held_out.items():
        print(f"{name}: held out at {row['share']}: {row['figures']} (off: {row['off']})")
    print(f"chosen over all sets: {share}; written to {args.out}")


if __name__ == "__main__":
    main()
