"""Corpora all in one domain cut from a dev set: are their questions answered, and others of the domain declined?

A team's knowledge base is often about one subject (its products, its policies), while the dev sets' corpora span
many: over such a corpus every article is close to every question, which could make the decision answer questions
about an article the corpus lacks, or decline ones it holds. This cuts such corpora from a dev set: it embeds each
article (the mean vector of its paragraphs), groups the articles with k-means (--clusters, seeded), and makes each
group of five or more articles a corpus of its own with a fifth of them left out. It asks every question of the
articles kept (the corpus answers them) and every question of the articles left out (questions of the same domain
that it does not answer), and prints the declined shares and answer_contains@300c, over all corpora and per corpus,
as JSON. Nothing is fitted to it; --decision names a decision file fitted without the dev set (bench/fit_decision.py
--cross --loso-dir, or `make held-out` into runs/held-out/fits, writes one per set) to measure the corpora with a
decision that never saw their questions.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.topical_corpora ../shared/eval/dev/cmrc-trial/gold.jsonl \\
        ../shared/eval/dev/cmrc-trial/corpus --decision runs/held-out/fits/decision-without-cmrc.json
"""
from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

import faiss
import numpy as np

from bench.small_corpora import ask_over, by_article
from rag.embedding import load_embedder
from rag.eval.metrics import load_questions
from rag.ingest.corpus import decode
from rag.settings import load_settings

MIN_ARTICLES = 5  # a smaller group leaves too few articles out to ask about
LEFT_OUT = 0.2
PARAGRAPHS = 24  # an article's vector reads its first paragraphs: enough to say what it is about
PARAGRAPH_CHARS = 400


def article_vectors(embedder, corpus: Path, names: list[str]) -> np.ndarray:
    """Return one unit vector per article: the mean of its first paragraphs' vectors."""
    out = []
    for name in names:
        lines = [line.strip() for line in decode((corpus / name).read_bytes(), name).splitlines() if line.strip()]
        vectors = embedder.encode_passages([line[:PARAGRAPH_CHARS] for line in lines[:PARAGRAPHS]] or [name])
        mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
        out.append(mean / (np.linalg.norm(mean) or 1.0))
    return np.stack(out).astype(np.float32)


def clusters_of(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Return each article's k-means cluster (spherical, seeded)."""
    # A few hundred articles are few points for k-means by faiss's rule of thumb; it would warn on every run.
    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=50, seed=seed, spherical=True, min_points_per_centroid=1)
    kmeans.train(vectors)
    return kmeans.index.search(vectors, 1)[1][:, 0]


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("gold", type=Path)
    top.add_argument("corpus", type=Path)
    top.add_argument("--clusters", type=int, default=12, help="k of k-means over the articles")
    top.add_argument("--decision", default="", help="a decision file (default: the one shipped)")
    top.add_argument("--seed", type=int, default=14)
    args = top.parse_args()
    articles = by_article(load_questions(args.gold))
    names = sorted(articles)
    embedder = load_embedder(load_settings(env={}))
    labels = clusters_of(article_vectors(embedder, args.corpus, names), args.clusters, args.seed)
    rng = random.Random(args.seed)
    total: dict[str, int] = defaultdict(int)
    corpora = []
    for cluster in range(args.clusters):
        members = [name for name, label in zip(names, labels) if label == cluster]
        if len(members) < MIN_ARTICLES:
            continue
        rng.shuffle(members)
        left = members[:max(1, round(len(members) * LEFT_OUT))]
        kept = sorted(members[len(left):])
        asked = [q for name in kept for q in articles[name]]
        others = [q for name in left for q in articles[name]]
        counts = ask_over(args.corpus, kept, embedder, asked, others, args.decision)
        for key, value in counts.items():
            total[key] += value
        corpora.append({
            "articles": len(kept), "left_out": len(left), "titles": [Path(n).stem for n in kept[:3]],
            "answerable": counts["answerable"], "unanswerable": counts["unanswerable"],
            "declined_answerable": share(counts["declined_answerable"], counts["answerable"]),
            "declined_unanswerable": share(counts["declined_unanswerable"], counts["unanswerable"]),
        })
    print(json.dumps({
        "clusters": args.clusters, "corpora": len(corpora), "decision": args.decision or "rag/data/decision.json",
        "answerable": total["answerable"], "unanswerable": total["unanswerable"],
        "declined_answerable": share(total["declined_answerable"], total["answerable"]),
        "answer_contains@300c": share(total["answer_contains@300c"], total["answerable"]),
        "declined_unanswerable": share(total["declined_unanswerable"], total["unanswerable"]),
        "per_corpus": corpora,
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
