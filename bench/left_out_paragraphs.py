"""Write a dev set with one paragraph of each article left out: questions whose subject the corpus still holds, but
not their answer.

The dev sets' unanswerable questions are about whole articles left out of the corpus, so their subject is missing
too ("中国（南京）国际象棋超级大赛的原名是什么？"), and a question's own words give it away. A user's question about a
detail the articles do not state ("Sora的训练用了多少张显卡？" over the Sora articles) names a subject they hold. This
cuts such questions from a set whose articles have paragraphs (XQuAD's, one paragraph a line): from each article with
three or more paragraphs, one paragraph other than the first, seeded, is left out of OUT/corpus, and each gold file's
questions whose evidence quote stands in a left-out paragraph become unanswerable (as the dev sets write them). The
other questions are copied as they are. Nothing is fitted to it:

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.left_out_paragraphs ../shared/eval/dev/xquad-dev /work/lop/xquad
    HF_HUB_OFFLINE=1 .venv/bin/python -m rag build --corpus /work/lop/xquad/corpus --index /work/idx/xquad-lop
    HF_HUB_OFFLINE=1 .venv/bin/python -m rag eval /work/lop/xquad/gold-zh.jsonl=/work/lop/xquad/corpus=/work/idx/xquad-lop \\
        /work/lop/xquad/gold-en.jsonl=/work/lop/xquad/corpus=/work/idx/xquad-lop -o runs/left-out-paragraphs
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

MIN_PARAGRAPHS = 3


def paragraphs(text: str) -> list[str]:
    """Return an article's lines that hold text, its "# title" line first when it has one."""
    return [line for line in text.splitlines() if line.strip()]


def left_out(lines: list[str], rng: random.Random) -> int | None:
    """Return the index of the body paragraph to leave out (never the title or the first paragraph), or None when
    the article has fewer than MIN_PARAGRAPHS body paragraphs."""
    body = [i for i, line in enumerate(lines) if not line.startswith("# ")]
    if len(body) < MIN_PARAGRAPHS:
        return None
    return rng.choice(body[1:])


def unanswerable(row: dict) -> dict:
    """Return the gold row as a question the corpus does not answer, written as the dev sets write those."""
    return dict(row, answerable=False, answer="", keywords=[], alternatives=[], evidence=[], type="unanswerable")


def write(source: Path, out: Path, gold_names: list[str], seed: int) -> dict[str, int]:
    """Write OUT/corpus and OUT/<gold name> for each gold file; return how many paragraphs and questions were left out."""
    rng = random.Random(seed)
    removed: dict[str, str] = {}
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    for article in sorted((source / "corpus").glob("*.txt")):
        lines = paragraphs(article.read_text(encoding="utf-8"))
        drop = left_out(lines, rng)
        if drop is not None:
            removed[article.name] = lines.pop(drop)
        (out / "corpus" / article.name).write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    counts = {"articles": len(list((out / "corpus").glob("*.txt"))), "paragraphs_left_out": len(removed)}
    for name in gold_names:
        rows = [json.loads(line) for line in (source / name).read_text(encoding="utf-8").splitlines() if line.strip()]
        written = []
        for row in rows:
            evidence = row.get("evidence") or []
            gone = bool(evidence) and all(
                e["quote"] in removed.get(Path(e["file"]).name, "") for e in evidence)
            written.append(unanswerable(row) if gone and row.get("answerable", True) else row)
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in written), encoding="utf-8")
        counts[f"{name}: unanswerable"] = sum(1 for r in written if r.get("answerable") is False)
        counts[f"{name}: answerable"] = sum(1 for r in written if r.get("answerable") is not False)
    return counts


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("source", type=Path, help="a dev set folder: corpus/*.txt and its gold files")
    top.add_argument("out", type=Path)
    top.add_argument("--gold", nargs="+", default=["gold-zh.jsonl", "gold-en.jsonl"], help="gold file names in SOURCE")
    top.add_argument("--seed", type=int, default=14)
    args = top.parse_args()
    if (args.out / "corpus").exists():
        raise SystemExit(f"{args.out / 'corpus'} exists: remove it or give another OUT")
    print(json.dumps(write(args.source, args.out, args.gold, args.seed), ensure_ascii=False))


if __name__ == "__main__":
    main()
