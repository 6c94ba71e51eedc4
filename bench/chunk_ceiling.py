"""How often some passage holds a question's evidence quote whole, for chunk sizes and overlaps: hit@5's ceiling.

`rag eval` counts a passage as a hit when it holds an evidence quote whole (`covers`), so a quote cut by a
passage boundary, or longer than a passage, can never be found. This splits every article of each set's corpus
as `rag build` would at each SIZE/OVERLAP, without embedding anything, and prints the share of answerable
questions with evidence that some passage of the quote's article holds, and how many passages that makes.

    .venv/bin/python -m bench.chunk_ceiling \\
        cmrc=../shared/eval/dev/cmrc-trial/gold.jsonl=../shared/eval/dev/cmrc-trial/corpus \\
        xquad-zh=../shared/eval/dev/xquad-dev/gold-zh.jsonl=../shared/eval/dev/xquad-dev/corpus \\
        public=../shared/eval/gold_public.jsonl=seeds --splits 220/40 220/80 220/110 220/150
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rag.eval.metrics import corpus_relative, covers, load_questions
from rag.ingest.chunking import article_sentences, chunk_article, make_splitter
from rag.ingest.corpus import list_sources, read_article


def ceiling(gold: Path, corpus: Path, size: int, overlap: int) -> tuple[float, int]:
    """Return (share of answerable questions with evidence some passage holds whole, passages) at size/overlap."""
    splitter = make_splitter(size, overlap)
    passages: dict[str, list[dict[str, str]]] = {}
    for source in list_sources(corpus):
        article = read_article(source)
        chunks = chunk_article(article, article_sentences(article, 0), splitter, 0)
        passages[corpus_relative(article.file)] = [{"file": c.file, "text": c.text} for c in chunks]
    questions = [q for q in load_questions(gold) if q.answerable and q.evidence]
    held = sum(any(covers(passage, e) for e in q.evidence for passage in passages.get(e[0], [])) for q in questions)
    return held / max(len(questions), 1), sum(len(texts) for texts in passages.values())


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("sets", nargs="+", metavar="NAME=GOLD=CORPUS")
    top.add_argument("--splits", nargs="+", default=["220/40", "220/80"], metavar="SIZE/OVERLAP")
    args = top.parse_args()
    for spec in args.sets:
        name, gold, corpus = spec.split("=")
        for split in args.splits:
            size, overlap = (int(v) for v in split.split("/"))
            share, count = ceiling(Path(gold), Path(corpus), size, overlap)
            print(f"{name} {size}/{overlap}: ceiling {share:.4f}, {count} passages")


if __name__ == "__main__":
    main()
