"""Would sentence vectors embedded one sentence at a time put the answer sentence first more often?

An experiment, not part of the product. The index stores each sentence's vector as the mean of its passage's
token embeddings over the sentence (one forward pass per passage, rag/index/pooling.py): the sentence read in
its context. This embeds every sentence of each index alone as well (the passage prompt, as the build
embedded sentences before pooling) and refits the answer-sentence ranking of bench/fit_ranking.py, leave one
set out, with the candidates' similarity taken in one of these ways:

  pooled        as built (the shipped ranking's features; the baseline);
  alone         the sentence embedded alone, in place of the pooled vector;
  both          the shipped features plus the alone vector's gap to the best candidate and z-score;
  both-other    the same two features for questions in another language than the articles' only (zero for
                the others), so Chinese questions are ranked as today;
  mix:B         the alone vector plus B times its passage's vector, normalised, in place of the pooled one
                (the context added back from vectors the index holds), and the two alone features for
                questions in another language: what an index storing only alone vectors could do.

For each mode and held-out set it prints the share of questions whose first sentence holds an accepted
answer and answer_contains@300c of the composed answer before any decline (as bench/fit_ranking.py does).
The retrieval and the decision are not refitted. It decided index format 7, which stores the alone vectors and
reads them for questions in another language: its figures (docs/bench/sentence-vectors.json) were made at
68a1a91, on format-6 indexes, with the ranking of then; at a later commit the shipped ranking already holds
the two alone features, so "pooled" is no longer the pooled-only baseline. Run from the repo root at that
commit (about 80 s a mode on two cores):

    D=../shared/eval/dev
    HF_HUB_OFFLINE=1 RAG_FUSION_FILE=rag/data/fusion.json .venv/bin/python -m bench.sentence_vectors_experiment \\
        cmrc=$D/cmrc-trial/gold.jsonl=$D/cmrc-trial/corpus=/work/idx/cmrc \\
        xquad-zh=$D/xquad-dev/gold-zh.jsonl=$D/xquad-dev/corpus=/work/idx/xquad \\
        xquad-en=$D/xquad-dev/gold-en.jsonl=$D/xquad-dev/corpus=/work/idx/xquad \\
        cmrc-en=bench/data/cmrc-trial-en.jsonl=$D/cmrc-trial/corpus=/work/idx/cmrc \\
        public=../shared/eval/gold_public.jsonl=seeds=/work/idx/seeds \\
        --modes pooled alone both both-other mix:1 mix:2 --json docs/bench/sentence-vectors.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import bench.fit_ranking as fit
from bench.dev_sets import parse_set
from bench.ranking_logistic import fit_questions
from rag.answer import extractive, ranking

EXTRA = ("alone_gap", "alone_z")


class Mode:
    """One way of scoring candidates: patches fit_ranking's score_sentences and features while active."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind, _, beta = name.partition(":")
        self.beta = float(beta or 0.0)
        self.alone: dict[int, np.ndarray] = {}  # id(index) -> every sentence embedded alone
        self.query: np.ndarray | None = None
        self.hits: Any = ()

    def vectors_for(self, assistant: Any) -> np.ndarray:
        key = id(assistant.index)
        if key not in self.alone:
            texts = [assistant.index.sentences[i].text for i in range(len(assistant.index.sentences))]
            self.alone[key] = np.asarray(assistant.embedder.encode_passages(texts), dtype=np.float32)
        return self.alone[key]

    def score_sentences(self, index: Any, hits: Any, vector: np.ndarray, *args: Any) -> list[Any]:
        self.query, self.hits = np.asarray(vector, dtype=np.float32), hits
        out = extractive.score_sentences(index, hits, vector, *args)
        if not out or self.kind not in ("alone", "mix"):
            return out
        alone = self.alone[id(index)][[s.sentence.sentence_id for s in out]]
        if self.kind == "mix":
            rows = {h.rank: h.chunk.chunk_id for h in hits}
            passage = index.vectors.passage_vectors(np.array([rows[s.passage_rank] for s in out], dtype=np.int64))
            alone = alone + self.beta * passage
            alone /= np.linalg.norm(alone, axis=1, keepdims=True)
        return [dataclasses.replace(s, dense=float(v)) for s, v in zip(out, alone @ self.query)]

    def features(self, index: Any, scored: Any, question: str, weights: Any, chinese: bool, tags: Any) -> np.ndarray:
        x = ranking.features(index, scored, question, weights, chinese, tags)
        if self.kind not in ("both", "both-other", "mix"):
            return x
        sims = self.alone[id(index)][[s.sentence.sentence_id for s in scored]] @ self.query
        extra = np.stack([sims - sims.max(), (sims - sims.mean()) / (sims.std() + 1e-3)], axis=1).astype(np.float64)
        if self.kind != "both":
            extra *= float(not chinese)
        return np.hstack([x, extra])


def run(mode: Mode, sets: list[tuple[str, list[Path], Path, Path]], l2: float) -> dict[str, dict[str, float]]:
    """Return each set's held-out first-sentence accuracy and answer_contains@300c under `mode`."""
    load = fit.Assistant.load

    def load_with_alone(settings: Any) -> Any:
        assistant = load(settings)
        mode.vectors_for(assistant)
        return assistant

    saved = (fit.Assistant, fit.score_sentences, fit.features)
    fit.Assistant = type("Assistant", (), {"load": staticmethod(load_with_alone)})  # type: ignore[misc]
    fit.score_sentences, fit.features = mode.score_sentences, mode.features  # type: ignore[assignment]
    try:
        cases = fit.collect(sets)
    finally:
        fit.Assistant, fit.score_sentences, fit.features = saved  # type: ignore[misc]
    out = {}
    for name, *_ in sets:
        train = [c for c in cases if c.fold != name]
        w, mean, scale = fit_questions(train, l2)
        margin = fit.choose_margin(train, w, mean, scale)
        held = fit.answers([c for c in cases if c.fold == name], w, mean, scale, margin)
        out[name] = {"first_sentence_holds_answer": held["first_sentence_holds_answer"],
                     "answer_contains@300c": held["answer_contains@300c"], "median_chars": held["median_chars"]}
        print(f"{mode.name:10s} {name:9s} (fitted without it): {out[name]}", flush=True)
    return out


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("sets", nargs="+", metavar="NAME=GOLD[+GOLD]=CORPUS=INDEX")
    top.add_argument("--modes", nargs="+", default=["pooled", "alone", "both", "both-other", "mix:1", "mix:2"])
    top.add_argument("--l2", type=float, default=1.0)
    top.add_argument("--json", type=Path, help="also write the figures here")
    args = top.parse_args()
    sets = [parse_set(s) for s in args.sets]
    results = {name: run(Mode(name), sets, args.l2) for name in args.modes}
    if args.json:
        made = {"script": "bench/sentence_vectors_experiment.py",
                "command": " ".join(["python -m bench.sentence_vectors_experiment", *sys.argv[1:]]),
                "date": datetime.now(UTC).isoformat(timespec="seconds")}
        args.json.write_text(json.dumps({"made": made, "held_out": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
