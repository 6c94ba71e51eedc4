"""Write a gold file's questions again, each framed by the source of the one article that answers it.

A reader of news asks "据新京报、澎湃新闻的报道，……？" or "据量子位的报道，……？": the question names the article by where it
comes from, in words that say nothing of the answer. For each answerable Chinese question whose evidence lies in one
article given a source here, this writes the question with "据SOURCE的报道，" before it (a question that already names a
report, 报道 or the source, is left out); its answers, keywords and evidence stay as they are, and its id gets
"-framed". `rag eval` over the file says what the framing costs (docs/answers.md, *The words that name an article's
source*).

    python -m bench.framed_by_source ../shared/eval/gold_public.jsonl --out runs/framed/gold.jsonl \\
        --source 002_d122934e973f1a01.txt=记者刘宗智 --source 003_4150582dbce200e9.txt=新京报、澎湃新闻 \\
        --source 004_02a4909be80bae2b.txt=量子位
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.ingest.language import is_chinese


def framed(questions: list[dict], sources: dict[str, str]) -> list[dict]:
    """Return the questions framed by their article's source (see the module docstring)."""
    out = []
    for q in questions:
        files = {e.get("file") for e in q.get("evidence") or ()}
        if not q.get("answerable") or len(files) != 1 or not is_chinese(q["question"]):
            continue
        source = sources.get(files.pop())
        if source is None or "报道" in q["question"] or source in q["question"]:
            continue
        out.append(dict(q, id=f"{q['id']}-framed", question=f"据{source}的报道，{q['question']}"))
    return out


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("gold", type=Path, help="a gold file (JSON lines with question, answerable, evidence)")
    top.add_argument("--out", type=Path, required=True, help="the framed gold file to write")
    top.add_argument("--source", action="append", default=[], metavar="FILE=SOURCE", required=True,
                     help="an article's file name (as the evidence names it) and who wrote it or where it comes from")
    args = top.parse_args()
    sources = {}
    for pair in args.source:
        file, sep, source = pair.partition("=")
        if not sep or not file or not source:
            raise SystemExit(f"--source {pair}: write it as FILE=SOURCE, e.g. 004_02a4909be80bae2b.txt=量子位")
        sources[file] = source
    questions = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    written = framed(questions, sources)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in written), encoding="utf-8")
    print(f"{len(written)} questions framed by their source: {args.out}")


if __name__ == "__main__":
    main()
