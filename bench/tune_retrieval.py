"""Grid over chunk size/overlap and fusion weights on a gold file; prints the best settings per chunk size.

    .venv/bin/python -m bench.tune_retrieval ../shared/eval/gold_public.jsonl 200/40 220/40 250/50

Builds one index per chunk setting under /tmp/rag-tune/ with the configured model (real by default).
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

from rag.embedding import load_embedder
from rag.eval.metrics import context_passages, covers, load_questions
from rag.index.build import build_index
from rag.index.lexical import shared_tokenizer
from rag.index.store import load_index
from rag.retrieval.search import dense_ranking, lexical_ranking, weighted_fusion
from rag.settings import load_settings


def main(gold: str, specs: list[str]) -> None:
    questions = [q for q in load_questions(Path(gold)) if q.answerable]
    base = load_settings()
    embedder = load_embedder(base)
    tokenizer = shared_tokenizer()
    vectors = embedder.encode_queries([q.question for q in questions])
    tokens = [tokenizer.tokens(q.question) for q in questions]
    for spec in specs:
        size, overlap = map(int, spec.split("/"))
        settings = base.with_overrides(
            index_dir=Path(f"/tmp/rag-tune/{size}_{overlap}"), chunk_size=size, chunk_overlap=overlap
        )
        build_index(settings, embedder)
        index = load_index(settings)
        candidates = [
            sorted(set(dense_ranking(index, v, 50, settings).rows) | set(lexical_ranking(index, t, 50).rows))
            for v, t in zip(vectors, tokens)
        ]
        results = []
        for weights in itertools.product([0.25, 0.5, 0.75, 1.0], [0, 0.25, 0.5, 1.0, 2.0], [0, 1.0, 2.0, 3.0, 4.0]):
            hit1 = hit5 = rr = ctx = 0.0
            for q, v, t, rows in zip(questions, vectors, tokens, candidates):
                ranked = weighted_fusion(index, rows, v, t, weights)[:10]
                passages = [{"rank": r, "file": index.chunks[c].file, "text": index.chunks[c].text} for r, (c, _) in enumerate(ranked, 1)]
                first = next((p["rank"] for p in passages if any(covers(p, e) for e in q.evidence)), None)
                hit1 += first == 1
                hit5 += bool(first and first <= 5)
                rr += 1 / first if first else 0
                ctx += bool(first and first <= context_passages(passages))
            n = len(questions)
            results.append((hit1 / n + rr / n, weights, hit1 / n, hit5 / n, rr / n, ctx / n))
        results.sort(key=lambda r: -r[0])
        for _, weights, hit1, hit5, mrr, ctx in results[:4]:
            print(f"{spec} weights={weights} hit@1={hit1:.2f} hit@5={hit5:.2f} mrr@10={mrr:.3f} ctx@1500c={ctx:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["220/40"])
