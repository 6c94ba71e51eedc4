"""Write two English development sets: English articles with English questions, some about articles left out.

Every other development set's articles are Chinese, so the decision had never seen a question asked in its articles'
language when that language is not Chinese. `bench/data/squad2-train-10.json.gz` holds the first ten articles of
SQuAD 2.0's training set (Rajpurkar et al., 2018, CC BY-SA 4.0; bench/data/README.md says where the file comes from).
None of them is an XQuAD article (XQuAD's come from SQuAD's development set). Two sets, so that a fit that holds
one out has seen English articles in the other: `squad-a` of the first five articles, `squad-b` of the other five.
Each is written into its folder under `--out`, like `../shared/eval/dev/` (its README):

- `corpus/`: one file per article kept, "# title" then its paragraphs, a blank line between them. A seeded
  `--left-out` of the set's articles is not written.
- `gold.jsonl`: up to `--per-article` answerable questions of each article (seeded), with `keywords` the shortest
  accepted answer, `alternatives` every one, and `evidence` the sentence that holds the answer; the questions of
  the left-out articles are `answerable: false`.
- `gold-impossible.jsonl`: SQuAD 2.0's own unanswerable questions about the kept articles (written to look
  answerable from their paragraph), up to `--per-article` each, for reporting: they are not the kind this set
  fits (the corpus holds their subject, not their answer).

    python -m bench.squad_dev --out runs/squad
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

SOURCE = Path(__file__).parent / "data" / "squad2-train-10.json.gz"
# Each set's articles, by their place in the source.
SETS = {"squad-a": range(0, 5), "squad-b": range(5, 10)}
# A sentence ends at ., ! or ? before a space and a capital, a digit or a quote, unless the word before the full
# stop is an initial or an abbreviation: "J. Barrie Jones", "Op. 60" and "St. John's" end none.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")
ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:Op|No|St|Mr|Mrs|Ms|Dr|Jr|Sr|Mt|Vol|vs|ca|c))\.$")


def file_name(number: int, title: str) -> str:
    """Return an article's file name: its number and its title's letters and digits, anything else an underscore."""
    return f"squad{number:02d}_" + re.sub(r"\W", "_", title) + ".txt"


def evidence_sentence(context: str, start: int) -> str:
    """Return the sentence of a paragraph in which the answer starting at `start` stands."""
    begin, end = 0, len(context)
    for match in SENTENCE_END.finditer(context):
        if ABBREVIATION.search(context[max(0, match.start() - 5):match.start()]):
            continue
        if match.end() <= start:
            begin = match.end()
        elif match.start() >= start:
            end = match.start()
            break
    return context[begin:end].strip()


def write_set(out: Path, places: range, source: Path = SOURCE, left_out: int = 1, per_article: int = 60,
              seed: int = 0) -> dict:
    """Write corpus/, gold.jsonl and gold-impossible.jsonl of the articles at `places` into `out`; return the counts."""
    articles = json.loads(gzip.decompress(source.read_bytes()))["data"]
    rng = random.Random(seed)
    dropped = set(rng.sample(list(places), left_out))
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    gold, impossible = [], []
    for number in places:
        article = articles[number]
        title = article["title"].replace("_", " ")
        name = file_name(number, article["title"])
        kept = number not in dropped
        if kept:
            text = f"# {title}\n\n" + "\n\n".join(p["context"].strip() for p in article["paragraphs"]) + "\n"
            (corpus / name).write_text(text, encoding="utf-8")
        answerable, unanswerable = [], []
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                question = " ".join(qa["question"].split())
                if not question:
                    continue
                if qa.get("is_impossible"):
                    unanswerable.append({"id": qa["id"], "question": question, "type": "impossible",
                                         "answerable": False, "answer": "", "keywords": [], "evidence": []})
                    continue
                answers = list(dict.fromkeys(a["text"].strip() for a in qa["answers"] if a["text"].strip()))
                if not answers:
                    continue
                first = qa["answers"][0]
                if kept:
                    quote = evidence_sentence(paragraph["context"], first["answer_start"])
                    answerable.append({"id": qa["id"], "question": question, "type": "english", "answerable": True,
                                       "answer": answers[0], "keywords": [min(answers, key=len)],
                                       "alternatives": answers, "evidence": [{"file": name, "quote": quote}]})
                else:
                    answerable.append({"id": qa["id"], "question": question, "type": "unanswerable",
                                       "answerable": False, "answer": "", "keywords": [], "evidence": []})
        gold += rng.sample(answerable, min(per_article, len(answerable)))
        if kept:
            impossible += rng.sample(unanswerable, min(per_article, len(unanswerable)))
    for path, rows in ((out / "gold.jsonl", gold), (out / "gold-impossible.jsonl", impossible)):
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return {"articles": len(places) - len(dropped), "left_out": sorted(file_name(n, articles[n]["title"])
                                                                         for n in dropped),
            "answerable": sum(r["answerable"] for r in gold), "unanswerable": sum(not r["answerable"] for r in gold),
            "impossible": len(impossible)}


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("--out", type=Path, required=True, help="folder to write each set's folder into")
    top.add_argument("--source", type=Path, default=SOURCE, help="SQuAD 2.0 JSON, gzipped")
    top.add_argument("--left-out", type=int, default=1, help="articles left out of each set's corpus")
    top.add_argument("--per-article", type=int, default=60, help="most questions taken from each article")
    top.add_argument("--seed", type=int, default=0)
    args = top.parse_args()
    for name, places in SETS.items():
        counts = write_set(args.out / name, places, args.source, args.left_out, args.per_article, args.seed)
        print(name, json.dumps(counts, ensure_ascii=False))


if __name__ == "__main__":
    main()
