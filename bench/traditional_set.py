"""Write a dev set in traditional characters (Taiwan usage), for measuring questions and articles in either script.

Converts a set folder's corpus (`corpus/*.txt`) and gold file (`gold.jsonl`, or the name given third) with OpenCC's s2twp (phrases and characters,
Taiwan vocabulary) into OUT/corpus and OUT/gold.jsonl, and writes OUT/gold-simplified-questions.jsonl: the same
gold with the questions left in simplified characters (a mainland user asking about Taiwan or Hong Kong
documents). OpenCC is not a dependency of the bot; run this with it installed beside:

    python3 -m venv /tmp/cc && /tmp/cc/bin/pip install opencc-python-reimplemented==0.1.7
    /tmp/cc/bin/python bench/traditional_set.py ../shared/eval/dev/cmrc-trial /work/trad/cmrc
    /tmp/cc/bin/python bench/traditional_set.py ../shared/eval/dev/xquad-dev /work/trad/xquad gold-zh.jsonl
    HF_HUB_OFFLINE=1 .venv/bin/python -m rag build --corpus /work/trad/cmrc/corpus --index /work/idx/cmrc-trad
    HF_HUB_OFFLINE=1 .venv/bin/python -m rag eval /work/trad/cmrc/gold.jsonl=/work/trad/cmrc/corpus=/work/idx/cmrc-trad \\
        /work/trad/cmrc/gold-simplified-questions.jsonl=/work/trad/cmrc/corpus=/work/idx/cmrc-trad -o runs/traditional
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    from opencc import OpenCC  # only here: the side venv of the docstring has it

    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    gold_name = sys.argv[3] if len(sys.argv) > 3 else "gold.jsonl"
    convert = OpenCC("s2twp").convert
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    for article in sorted((source / "corpus").glob("*.txt")):
        (out / "corpus" / article.name).write_text(convert(article.read_text(encoding="utf-8")), encoding="utf-8")
    gold = [json.loads(line) for line in (source / gold_name).read_text(encoding="utf-8").splitlines() if line.strip()]
    traditional, simplified_questions = [], []
    for row in gold:
        converted = dict(row, question=convert(row["question"]), answer=convert(row.get("answer", "")),
                         keywords=[convert(k) for k in row.get("keywords", [])],
                         alternatives=[convert(k) for k in row.get("alternatives", [])],
                         evidence=[dict(e, quote=convert(e["quote"])) for e in row.get("evidence", [])])
        traditional.append(converted)
        simplified_questions.append(dict(converted, question=row["question"]))
    for name, rows in (("gold.jsonl", traditional), ("gold-simplified-questions.jsonl", simplified_questions)):
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(gold)} questions and {len(list((out / 'corpus').glob('*.txt')))} articles to {out}")


if __name__ == "__main__":
    main()
