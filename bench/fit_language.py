"""Fit the probability under which a question's language is not told (rag/data/languages.json).

A question over Chinese articles that is neither Chinese nor English the dictionary reads is found by its meaning
alone and judged with a low threshold of its own (docs/answers.md, *Questions the dictionary cannot read*). A word
or two of chat ("ok", "Hallo"), a number or an emoji took that path too and was answered with whatever sentence lay
nearest. py3langid's identifier tells the language of a real question with a high probability and of such input
with a low one, so input of fewer than two words whose probability is under `told_probability` is declined, as is
such input without a letter whatever the identifier says (its related reading still shown; `rag/ingest/language.py`,
`told`). The value is the lowest `--quantile` (1%) of the identifier's probabilities over every set given, each
set's taken apart. Each set's `under` is the share of its questions under it, `declined` the share also of fewer
than two words (never one: only Thai questions, which have no spaces, are, and the identifier is sure of them), and
`declined_held_out` that share under the value fitted without the set.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.fit_language \\
        $(for l in ar de el es hi ro ru th tr vi; do echo xquad-$l=runs/xquad-languages/gold-$l.jsonl; done) \\
        xquad-en=../shared/eval/dev/xquad-dev/gold-en.jsonl cmrc-en=bench/data/cmrc-trial-en.jsonl \\
        english-public=tests/data/english_sora.jsonl --out rag/data/languages.json

(`runs/xquad-languages` is written by `python -m bench.xquad_languages`.)
"""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag.eval.metrics import load_questions
from rag.ingest.language import identify, words

QUANTILE = 0.01


def fit(probabilities: dict[str, np.ndarray], few_words: dict[str, np.ndarray], quantile: float
        ) -> tuple[float, dict[str, dict[str, float]]]:
    """Return the lowest per-set quantile of the probabilities, and for each set: the value fitted without it, and the
    share of its questions under the value, and declined (also of `few_words`) in sample and held out."""
    lows = {name: float(np.quantile(values, quantile)) for name, values in probabilities.items()}
    value = min(lows.values())
    sets = {}
    for name, values in probabilities.items():
        without = min((low for other, low in lows.items() if other != name), default=value)
        few = few_words[name]
        sets[name] = {"questions": int(len(values)), "quantile": round(lows[name], 4),
                      "under": round(float((values < value).mean()), 4),
                      "declined": round(float(((values < value) & few).mean()), 4),
                      "fitted_without": round(without, 4),
                      "declined_held_out": round(float(((values < without) & few).mean()), 4)}
    return value, sets


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    top.add_argument("sets", nargs="+", help="NAME=GOLD.jsonl: questions asked over Chinese articles in other languages")
    top.add_argument("--quantile", type=float, default=QUANTILE, help="the share of each set's questions allowed under")
    top.add_argument("--out", type=Path, required=True, help="where to write the fitted file")
    args = top.parse_args()
    probabilities, few_words = {}, {}
    for spec in args.sets:
        name, _, gold = spec.partition("=")
        if not gold:
            raise SystemExit(f"{spec!r}: give each set as NAME=GOLD.jsonl")
        questions = load_questions(Path(gold))
        probabilities[name] = np.array([identify(q.question)[1] for q in questions])
        few_words[name] = np.array([words(q.question) < 2 for q in questions])
    value, sets = fit(probabilities, few_words, args.quantile)
    made = {"script": "bench/fit_language.py",
            "command": "HF_HUB_OFFLINE=1 .venv/bin/python -m bench.fit_language " + " ".join(args.sets)
                       + (f" --quantile {args.quantile}" if args.quantile != QUANTILE else "") + f" --out {args.out}",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "how": f"the lowest {args.quantile:.0%} quantile of py3langid's probability over each set's questions; "
                   "input of fewer than two words under it is declined",
            "sets": sets}
    args.out.write_text(json.dumps({"made": made, "model": {"told_probability": round(value, 4)}}, indent=1,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"told_probability {value:.4f}")
    for name, row in sets.items():
        print(f"{name:16s} {row['questions']:5d} questions, quantile {row['quantile']:.3f}, under it {row['under']:.3f}, "
              f"declined {row['declined']:.3f} (held out {row['declined_held_out']:.3f})")


if __name__ == "__main__":
    main()
