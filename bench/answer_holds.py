"""Print the share of a run's answerable questions whose whole answer holds an accepted answer (a gold keyword or
alternative, case-folded), beside `rag eval`'s answer_contains@300c: for answers longer than 300 characters (English
ones over English articles may take 750), what the first 300 leave out.

    python -m bench.answer_holds runs/RUN/gold /work/squad/squad-a/gold.jsonl
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def holds(run: Path, gold: Path) -> tuple[float, float, int]:
    """Return the shares whose whole answer and whose first 300 characters hold an accepted answer, and how many."""
    accepted = {}
    for line in gold.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("answerable"):
            accepted[row["id"]] = [a.lower() for a in row.get("alternatives") or row.get("keywords") or []]
    whole = first = asked = 0
    for line in (run / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] not in accepted:
            continue
        asked += 1
        text = "" if row["refused"] else (row["answer"] or "").lower()
        whole += any(a in text for a in accepted[row["id"]])
        first += any(a in text[:300] for a in accepted[row["id"]])
    return whole / max(asked, 1), first / max(asked, 1), asked


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("run", type=Path, help="a `rag eval` run folder of one set (it holds questions.jsonl)")
    top.add_argument("gold", type=Path, help="the set's gold file")
    args = top.parse_args()
    whole, first, asked = holds(args.run, args.gold)
    print(f"{asked} answerable: an accepted answer in the whole answer {whole:.3f}, in its first 300 characters {first:.3f}")


if __name__ == "__main__":
    main()
