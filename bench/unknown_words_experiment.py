"""The words a Chinese question uses that its corpus never uses: how many are common words, and how many a CC-CEDICT
synonym would rescue (docs/answers.md, *Tried with these, not shipped*). Neither is in the decision.

For groups of questions asked over an index it prints the mean share of the question's idf mass in words the
corpus never uses (the decision's `unknown`), split by whether jieba's dictionary counts the word at least
`--common` times (a word every writer uses, 打败, against a rare one or a name); and that share once a word counts as
used when a synonym is (another word of CC-CEDICT that shares a gloss of one or two English words with it).

    .venv/bin/python -m bench.unknown_words_experiment ../shared/eval/dev/xquad-dev/gold-zh.jsonl \\
        runs/answers-without-xquad-zh/gold-zh /work/idx/xquad /work/idx/cmrc \\
        --other ../shared/eval/dev/cmrc-trial/gold.jsonl
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

from rag.eval.metrics import load_questions
from rag.index.lexical import Tokenizer
from rag.index.store import Index, load_index
from rag.retrieval.glossary import cedict_lines, meanings
from rag.settings import load_settings


def synonyms() -> dict[str, set[str]]:
    """Return each CC-CEDICT word's synonyms: the words that share a gloss of one or two words with it (a gloss
    shared by more than 12 words says nothing)."""
    glosses: dict[str, set[str]] = defaultdict(set)
    words: dict[str, set[str]] = defaultdict(set)
    with cedict_lines() as lines:
        for word, gloss in meanings(lines):
            gloss = re.sub(r"\([^)]*\)", "", gloss).strip().lower()
            if gloss and len(gloss.split()) <= 2:
                glosses[word].add(gloss)
                words[gloss].add(word)
    return {word: {other for g in gs if len(words[g]) <= 12 for other in words[g]} - {word}
            for word, gs in glosses.items()}


def shares(question: str, index: Index, tokenizer: Tokenizer, common: int,
           similar: dict[str, set[str]]) -> tuple[float, float, float]:
    """Return the question's unknown idf share in common words, in the others, and once synonyms count as used."""
    vocabulary = index.lexical.vocabulary
    weights = index.lexical.term_weights(tokenizer.question_tokens(question, vocabulary))
    total = sum(weights.values()) or 1.0
    unknown = [t for t in weights if t not in vocabulary]
    counts = tokenizer._jieba.FREQ  # jieba's dictionary counts
    frequent = sum(weights[t] for t in unknown if counts.get(t, 0) >= common) / total
    rare = sum(weights[t] for t in unknown if counts.get(t, 0) < common) / total
    rescued = sum(weights[t] for t in unknown if not any(s in vocabulary for s in similar.get(t, ()))) / total
    return frequent, rare, rescued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gold", type=Path, help="the questions (Chinese) over INDEX")
    parser.add_argument("run", type=Path, help="a rag eval set folder of those questions: splits declined/answered")
    parser.add_argument("index", type=Path, help="the index the questions are about")
    parser.add_argument("other_index", type=Path, help="another corpus's index: the questions asked of it")
    parser.add_argument("--other", type=Path, help="that corpus's own gold file: its unanswerable questions")
    parser.add_argument("--common", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=300, help="questions asked of the other index")
    args = parser.parse_args()
    settings = load_settings()

    def index_at(folder: Path) -> Index:
        return load_index(dataclasses.replace(settings, index=dataclasses.replace(settings.index, index_dir=folder)))

    index, other = index_at(args.index), index_at(args.other_index)
    tokenizer, similar = Tokenizer(), synonyms()
    questions = [q for q in load_questions(args.gold) if q.answerable]
    refused = {row["id"]: row["refused"] for row in map(json.loads, (args.run / "answers.jsonl").open(encoding="utf-8"))}
    groups = [("declined, answerable", [q.question for q in questions if refused.get(q.id)], index),
              ("answered", [q.question for q in questions if not refused.get(q.id)], index),
              ("asked of the other corpus", [q.question for q in questions[: args.limit]], other)]
    if args.other:
        groups.append(("other corpus's unanswerable",
                       [q.question for q in load_questions(args.other) if q.answerable is False], other))
    print(f"unknown idf share: in words jieba counts >= {args.common} times | in the others | all, synonyms counted")
    for name, texts, where in groups:
        values = [shares(text, where, tokenizer, args.common, similar) for text in texts]
        frequent, rare, rescued = (statistics.mean(v[i] for v in values) if values else 0.0 for i in range(3))
        print(f"{name:30s} {len(texts):5d}  {frequent:.3f} | {rare:.3f} | {frequent + rare:.3f} -> {rescued:.3f}")


if __name__ == "__main__":
    main()
