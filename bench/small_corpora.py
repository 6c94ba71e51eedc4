"""Corpora of one to a few articles cut from a dev set: are their questions answered and others declined?

A team's first knowledge base is often a few notes, smaller than any dev set's corpus. This cuts one: from a gold
file over its corpus, it takes --corpora groups of --articles articles (each with three or more answerable
questions, seeded), builds an index over each group alone, asks up to four of each article's questions (the
articles answer them) and as many questions about articles left out of every group (they do not), and prints the
declined shares and answer_contains@300c over all groups as JSON. Nothing is fitted to it.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.small_corpora ../shared/eval/dev/cmrc-trial/gold.jsonl \\
        ../shared/eval/dev/cmrc-trial/corpus --articles 1 --corpora 30
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.embedding import Embedder, load_embedder
from rag.eval.metrics import Question, answer_contains, load_questions
from rag.index.build import build_index
from rag.settings import load_settings

ASKED_PER_ARTICLE = 4


def by_article(questions: list[Question]) -> dict[str, list[Question]]:
    """Return each article's answerable questions (the article their first evidence quote is in), in file order."""
    out: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        if q.answerable and q.evidence:
            out[Path(q.evidence[0][0]).name].append(q)
    return out


def groups_of(articles: dict[str, list[Question]], size: int, count: int, seed: int) -> tuple[list[list[str]], list[str]]:
    """Return `count` seeded groups of `size` articles with three or more questions each, and the articles left."""
    files = sorted(f for f, qs in articles.items() if len(qs) >= 3)
    if len(files) < size * count + size * ASKED_PER_ARTICLE:
        raise SystemExit(f"{len(files)} articles hold three or more questions: ask for fewer --corpora or --articles")
    random.Random(seed).shuffle(files)
    return [files[i * size:(i + 1) * size] for i in range(count)], files[size * count:]


def ask_over(source: Path, names: Sequence[str], embedder: Embedder, answerable: Iterable[Question],
             unanswerable: Iterable[Question], decision_file: str = "") -> dict[str, int]:
    """Index the articles `names` of the folder `source` alone (in a temporary folder), ask the questions they
    answer and the ones they do not, and return the counts: asked and declined of each, and answer_contains@300c."""
    counts: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for name in names:
            shutil.copy(source / name, corpus / name)
        settings = load_settings(env={}, corpus_dir=corpus, index_dir=Path(tmp) / "index", decision_file=decision_file)
        build_index(settings, embedder)
        assistant = Assistant.load(settings, embedder)
        for q in answerable:
            answer = assistant.ask(q.question)
            counts["answerable"] += 1
            counts["declined_answerable"] += answer.refused
            counts["answer_contains@300c"] += answer_contains(q, answer.text, answer.refused)
        for q in unanswerable:
            counts["unanswerable"] += 1
            counts["declined_unanswerable"] += assistant.ask(q.question).refused
    return counts


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("gold", type=Path)
    top.add_argument("corpus", type=Path)
    top.add_argument("--articles", type=int, default=1, help="articles in each small corpus")
    top.add_argument("--corpora", type=int, default=30, help="how many small corpora")
    top.add_argument("--seed", type=int, default=14)
    args = top.parse_args()
    articles = by_article(load_questions(args.gold))
    groups, left = groups_of(articles, args.articles, args.corpora, args.seed)
    rng = random.Random(args.seed)
    counts: dict[str, int] = defaultdict(int)
    embedder = load_embedder(load_settings(env={}))
    for group in groups:
        asked = [q for name in group for q in articles[name][:ASKED_PER_ARTICLE]]
        others = [articles[name][0] for name in rng.sample(left, ASKED_PER_ARTICLE * len(group))]
        for key, value in ask_over(args.corpus, group, embedder, asked, others).items():
            counts[key] += value
    print(json.dumps({
        "articles": args.articles, "corpora": args.corpora, "answerable": counts["answerable"],
        "unanswerable": counts["unanswerable"],
        "declined_answerable": round(counts["declined_answerable"] / counts["answerable"], 3),
        "answer_contains@300c": round(counts["answer_contains@300c"] / counts["answerable"], 3),
        "declined_unanswerable": round(counts["declined_unanswerable"] / counts["unanswerable"], 3),
    }))


if __name__ == "__main__":
    main()
