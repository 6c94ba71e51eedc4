"""Which model finds the sentence a question asks about among all of an index's sentences: the embedder, the second
reader (rag/embedding/reader.py), or both (each cosine z-scored over the sentences, summed).

For each answerable question of a gold file, its evidence sentences are the index's sentences of the evidence file
that stand in the quote, hold it, or open with ten of its characters; the figure is the share of questions with one of them among the first k
sentences by each score. Prints the table docs/answers.md (*The second reader in retrieval*) quotes:

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.reader_sentences --index /work/idx9/cmrc --gold bench/data/cmrc-trial-en.jsonl
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rag.embedding import load_embedder
from rag.embedding.reader import shared_reader
from rag.eval.metrics import load_questions
from rag.index.store import load_index
from rag.settings import load_settings

DEPTHS = (1, 5, 20, 50)


def _z(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-9)


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    top.add_argument("--index", type=Path, required=True, help="an index folder that holds the readings")
    top.add_argument("--gold", type=Path, required=True, help="a gold question file (with evidence quotes)")
    top.add_argument("--limit", type=int, default=400, help="the first this many answerable questions")
    args = top.parse_args()
    settings = load_settings(index_dir=args.index)
    index = load_index(settings)
    count = len(index.sentences)
    every = np.arange(count)
    readings = index.vectors.reader_vectors(every)
    if readings is None:
        raise SystemExit(f"{args.index} holds no readings: build it with this version (`python -m rag build`)")
    embedded, alone = index.vectors.sentence_vectors(every), index.vectors.alone_vectors(every)
    sentences = [index.sentences[i] for i in range(count)]
    questions = [q for q in load_questions(args.gold) if q.answerable and q.evidence][: args.limit]
    vectors = load_embedder(settings).encode_queries([q.question for q in questions])
    ranks: dict[str, list[int]] = {"embedder": [], "embedder alone": [], "reader": [], "both": []}
    missing = 0
    for question, vector in zip(questions, vectors):
        file, quote = question.evidence[0]
        # A quote may cut a sentence or join two: a sentence counts when it holds the quote, stands in it, or opens
        # with ten of its characters.
        gold = [s.sentence_id for s in sentences if s.file.endswith(file)
                and (s.text in quote or quote in s.text or (len(s.text) > 10 and s.text[:10] in quote))]
        if not gold:
            missing += 1
            continue
        reading = shared_reader().read_question(question.question)
        scores = {"embedder": embedded @ vector, "embedder alone": alone @ vector if alone is not None else embedded @ vector,
                  "reader": readings @ reading}
        scores["both"] = _z(scores["embedder"]) + _z(scores["reader"])
        for name, score in scores.items():
            position = np.empty(count, dtype=np.int64)
            position[np.argsort(-score, kind="stable")] = every
            ranks[name].append(int(position[gold].min()))
    print(f"{len(ranks['reader'])} questions ({missing} without an evidence sentence found), {count} sentences")
    print("| score | " + " | ".join(f"in first {k}" for k in DEPTHS) + " |")
    print("| --- |" + " --- |" * len(DEPTHS))
    for name, found in ranks.items():
        found_at = np.array(found)
        print(f"| {name} | " + " | ".join(f"{np.mean(found_at < k):.3f}" for k in DEPTHS) + " |")


if __name__ == "__main__":
    main()
