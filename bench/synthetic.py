"""Write a synthetic index in the real format: many passages of Chinese-like text with random unit vectors.

    nice -n 10 .venv/bin/python -m bench.synthetic /tmp/synth1m --passages 1000000

Text: words drawn independently with jieba's dictionary frequencies (Zipf-like), the words the tokenizer
would keep (no stopwords, no punctuation); 70–130 words a passage, cut into 2–4 sentences ending in "。";
10 passages an article. The lexical index is built from the drawn words (the same BM25 as a build, by
rag.index.lexical.bm25_matrix) rather than by running jieba over the text, which would only re-cut the same words.
Vectors: bench//vectors.py (`--vectors latent|islands|uniform`), passages float32, sentences float16. The
manifest names the bundled e5 model and the default settings, so the real `load_index`/`Assistant` load it.
Nothing is written inside the repository; the folder is replaced atomically like a real build.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import time
import unicodedata
from importlib import resources
from pathlib import Path

import jieba
import numpy as np
from numpy.lib.format import open_memmap

from bench.vectors import KINDS, VectorModel
from rag.index.lexical import _TOKEN_OK, LexicalIndex, bm25_matrix
from rag.index.manifest import ArticleEntry, Counts, Manifest, ModelInfo
from rag.index.rows import RowWriter
from rag.index.store import build_settings, replace_folder, write_manifest
from rag.index.vectors.factory import build_vectors
from rag.ingest.chunking import SEPARATORS
from rag.settings import DEFAULT_MODEL, load_settings

PASSAGES_PER_ARTICLE = 10
WORDS = (70, 130)  # words a passage, uniform in [70, 130)
SENTENCES = (2, 5)  # sentences a passage, uniform in [2, 5)
BLOCK_ARTICLES = 10_000


def vocabulary() -> tuple[list[str], np.ndarray]:
    """Return jieba's dictionary words that the tokenizer keeps, and their probabilities by dictionary frequency."""
    stopwords = set((resources.files("rag") / "data" / "stopwords.txt").read_text(encoding="utf-8").split())
    words, counts = [], []
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as lines:
        for line in lines:
            word, count = line.split()[:2]
            if word == unicodedata.normalize("NFKC", word).lower() and _TOKEN_OK.search(word) and word not in stopwords:
                words.append(word)
                counts.append(float(count))
    probabilities = np.asarray(counts)
    return words, probabilities / probabilities.sum()


def _cuts(rng: np.random.Generator, words: int, sentences: int) -> list[int]:
    inner = np.sort(rng.choice(np.arange(1, words), size=sentences - 1, replace=False))
    return [0, *inner.tolist(), words]


def write_synthetic(target: Path, passages: int, model: VectorModel, seed: int) -> Manifest:
    """Write a synthetic index of `passages` passages into `target`; return its manifest."""
    settings = load_settings(env={}, index_dir=target)
    rng = np.random.default_rng(seed)
    words, probabilities = vocabulary()
    articles_total = -(-passages // PASSAGES_PER_ARTICLE)
    article_vectors = model.articles(articles_total, rng)
    passage_words = rng.integers(*WORDS, size=passages)
    passage_sentences = rng.integers(*SENTENCES, size=passages)
    sentences_total = int(passage_sentences.sum())

    staged = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    vectors = open_memmap(staged / "vectors.npy", mode="w+", dtype=np.float32, shape=(passages, model.dimension))
    sentence_vectors = open_memmap(
        staged / "sentence_vectors.npy", mode="w+", dtype=np.float16, shape=(sentences_total, model.dimension)
    )
    rows, cols, counts = [], [], []
    entries = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with RowWriter(staged / "chunks.jsonl") as chunk_rows, RowWriter(staged / "sentences.jsonl") as sentence_rows, \
            RowWriter(staged / "articles.jsonl") as article_rows:
        for first_article in range(0, articles_total, BLOCK_ARTICLES):
            last_article = min(first_article + BLOCK_ARTICLES, articles_total)
            first, last = first_article * PASSAGES_PER_ARTICLE, min(last_article * PASSAGES_PER_ARTICLE, passages)
            ids = rng.choice(len(words), size=int(passage_words[first:last].sum()), p=probabilities).astype(np.int64)
            ends = np.cumsum(passage_words[first:last])
            starts = ends - passage_words[first:last]
            block_passages = model.passages(np.arange(first, last) // PASSAGES_PER_ARTICLE, article_vectors, rng)
            vectors[first:last] = block_passages
            first_sentence = sentence_rows.count
            for article in range(first_article, last_article):
                file = f"synthetic/{article:06d}.txt"
                title = f"合成文章{article:06d}"
                c0, s0, chars = chunk_rows.count, sentence_rows.count, 0
                lines = []  # the article's text, one passage a line, kept as a build keeps it (articles.jsonl)
                for row in range(article * PASSAGES_PER_ARTICLE, min((article + 1) * PASSAGES_PER_ARTICLE, passages)):
                    local = row - first
                    drawn = ids[starts[local] : ends[local]].tolist()
                    cuts = _cuts(rng, len(drawn), int(passage_sentences[row]))
                    line = row - article * PASSAGES_PER_ARTICLE + 1
                    pieces = [[words[i] for i in drawn[a:b]] for a, b in zip(cuts, cuts[1:])]
                    texts = ["".join(piece) + "。" for piece in pieces]
                    sentence_ids = list(range(sentence_rows.count, sentence_rows.count + len(texts)))
                    for sentence_id, text, piece in zip(sentence_ids, texts, pieces):
                        sentence_rows.write({
                            "sentence_id": sentence_id, "file": file, "text": text, "quote": text,
                            "line_start": line, "line_end": line, "char_start": chars, "char_end": chars + len(text),
                            "terms": list(dict.fromkeys(piece)),
                        })
                        chars += len(text)
                    lines.append("".join(texts))
                    chunk_rows.write({
                        "chunk_id": row, "file": file, "title": title, "text": "".join(texts),
                        "line_start": line, "line_end": line, "sentence_ids": sentence_ids,
                    })
                digest = hashlib.sha256(file.encode()).hexdigest()
                entries.append(ArticleEntry(file, title, digest, (c0, chunk_rows.count - c0), (s0, sentence_rows.count - s0)))
                article_rows.write({"file": file, "sha256": digest, "raw": "\n".join(lines)})
            passage_of_sentence = np.repeat(np.arange(last - first), passage_sentences[first:last])
            sentence_vectors[first_sentence : sentence_rows.count] = model.sentences(passage_of_sentence, block_passages, rng)
            pairs, tf = np.unique(np.repeat(np.arange(first, last), passage_words[first:last]) * len(words) + ids,
                                  return_counts=True)
            rows.append((pairs // len(words)).astype(np.int32))
            cols.append((pairs % len(words)).astype(np.int32))
            counts.append(tf.astype(np.float32))
            print(f"  {last:>9} passages written ({time.perf_counter() - started:.0f} s)", flush=True)
    timings["rows_and_vectors_s"] = time.perf_counter() - started
    vectors.flush()
    sentence_vectors.flush()
    del vectors, sentence_vectors

    tick = time.perf_counter()
    row_ids, col_ids, tf = (np.concatenate(parts) for parts in (rows, cols, counts))
    del rows, cols, counts
    weights = bm25_matrix(row_ids, col_ids, tf, passage_words.astype(np.float64), len(words), settings.index.bm25_k1, settings.index.bm25_b)
    del row_ids, col_ids, tf
    LexicalIndex(weights, {w: i for i, w in enumerate(words)}, settings.index.bm25_k1, settings.index.bm25_b).save(staged)
    del weights
    timings["lexical_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    vectors = np.load(staged / "vectors.npy", mmap_mode="r")
    probes = np.load(staged / "sentence_vectors.npy", mmap_mode="r")
    dense = build_vectors(vectors, probes, settings)
    dense.save(staged)  # the matrices are already in place: only the dense index is written
    dense_record = dense.record()
    del dense, vectors, probes
    timings["dense_s"] = time.perf_counter() - tick

    manifest = Manifest.create(
        build_settings(settings),
        ModelInfo(DEFAULT_MODEL, model.dimension, settings.index.query_prompt, settings.index.passage_prompt),
        Counts(len(entries), passages, sentences_total, len(words)),
        tuple(entries),
        dense_record,
        chunking={"splitter": "synthetic", "chunk_size": settings.index.chunk_size, "chunk_overlap": settings.index.chunk_overlap,
                  "separators": SEPARATORS},
        lexical={"tokenizer": "synthetic: jieba dictionary words drawn by frequency", "k1": settings.index.bm25_k1,
                 "b": settings.index.bm25_b},
        corpus_dir="synthetic",
        extra={"synthetic": {"seed": seed, "vectors": dataclasses.asdict(model), "timings": timings}},
    )
    manifest = write_manifest(staged, manifest)
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_folder(staged, target)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="where to write the index (outside the repository)")
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--vectors", choices=KINDS, default="latent", help="kind of synthetic vectors (bench//vectors.py)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if Path(__file__).resolve().parent.parent in [args.folder.resolve(), *args.folder.resolve().parents]:
        parser.error("write the synthetic index outside the repository")
    started = time.perf_counter()
    manifest = write_synthetic(args.folder, args.passages, VectorModel(kind=args.vectors), args.seed)
    size = sum(p.stat().st_size for p in args.folder.iterdir())
    print(json.dumps({"folder": str(args.folder), "counts": dataclasses.asdict(manifest.counts), "dense": manifest.dense,
                      "timings": manifest.extra["synthetic"]["timings"], "bytes": size,
                      "seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
