"""Where the answers of a `rag eval` run miss: why an answerable question's accepted answer is not in its first 300
characters.

Each answerable question with accepted answers (`alternatives`, else `keywords`) falls in the first of these that
holds, as `rag eval` compares text (`normalize`: NFKC, entities, whitespace):

- `holds`: an accepted answer stands in the answer's first 300 characters (answer_contains@300c);
- `declined`: the bot declined it;
- `after 300`: an accepted answer stands in the answer, later;
- `in part`: the first quoted sentence lies inside an accepted answer, which the answer does not hold whole (a long
  answer quoted one sentence short);
- `top-5 passage`: a top-5 passage holds an accepted answer that the quoted sentences do not (the ranking);
- `not in top 5`: no top-5 passage holds one (the retrieval, or an answer no passage holds whole).

    .venv/bin/python -m bench.answer_misses ../shared/eval/dev/cmrc-trial/gold.jsonl runs/answers-without-cmrc/gold \\
        --examples 5
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rag.eval.metrics import Question, answer_contains, load_questions, normalize

KINDS = ("holds", "declined", "after 300", "in part", "top-5 passage", "not in top 5")


def kind_of(question: Question, result: dict) -> str:
    """Return which of KINDS an answerable question's result falls in."""
    accepted = [normalize(a) for a in question.accepted if normalize(a)]
    answer = normalize(result.get("answer") or "")
    if result.get("refused"):
        return "declined"
    if answer_contains(question, result.get("answer") or "", refused=False):  # as rag eval counts it
        return "holds"
    if any(a in answer for a in accepted):
        return "after 300"
    citations = result.get("citations") or []
    first = normalize(citations[0]["quote"]).rstrip("。") if citations else ""
    if first and any(first in a for a in accepted):
        return "in part"
    passages = result.get("passages") or []
    if any(a in normalize(p.get("text", "")) for p in passages[:5] for a in accepted):
        return "top-5 passage"
    return "not in top 5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gold", type=Path, help="the gold questions file the run was scored on")
    parser.add_argument("run", type=Path, help="a set's folder of a `rag eval` run (holds answers.jsonl)")
    parser.add_argument("--examples", type=int, default=0, help="print this many questions of each kind that misses")
    args = parser.parse_args()
    questions = {q.id: q for q in load_questions(args.gold) if q.answerable and q.accepted}
    results = [json.loads(line) for line in (args.run / "answers.jsonl").read_text(encoding="utf-8").splitlines() if line]
    kinds: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for result in results:
        question = questions.get(str(result.get("id")))
        if question is None:
            continue
        kind = kind_of(question, result)
        kinds[kind] += 1
        if kind != "holds" and len(examples.setdefault(kind, [])) < args.examples:
            examples[kind].append(f"  {question.question} | accepted: {question.accepted[0][:60]} | answer: "
                                  f"{(result.get('answer') or '')[:80]}")
    total = sum(kinds.values())
    print(f"{total} answerable questions with accepted answers")
    for kind in KINDS:
        print(f"{kind:14s} {kinds[kind]:5d}  {kinds[kind] / total if total else 0:.3f}")
        for line in examples.get(kind, []):
            print(line)


if __name__ == "__main__":
    main()
