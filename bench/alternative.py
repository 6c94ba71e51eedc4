"""What a user would pick instead: LangChain's FAISS store and jieba BM25Retriever fused by its EnsembleRetriever,
over our chunks and our embedding model. Needs requirements-bench.txt (langchain-community, langchain-classic)."""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jieba
from langchain_classic.retrievers import EnsembleRetriever
from langchain_community.retrievers import BM25Retriever
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.embedding import Embedder
from rag.records import Chunk


class PipelineEmbeddings(Embeddings):
    """Our model as LangChain Embeddings, the way LangChain's HuggingFaceEmbeddings uses it: one plain
    `SentenceTransformer.encode` of all the texts (float32), with the e5 prompts and normalised vectors.
    The hashing fake, which has no SentenceTransformer, is used through its own methods."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.model = getattr(embedder, "model", None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.model is None:
            return self.embedder.encode_passages(texts).tolist()
        return self.model.encode(texts, prompt=self.embedder.passage_prompt, normalize_embeddings=True).tolist()

    def embed_query(self, text: str) -> list[float]:
        if self.model is None:
            return self.embedder.encode_queries([text])[0].tolist()
        return self.model.encode([text], prompt=self.embedder.query_prompt, normalize_embeddings=True)[0].tolist()


@dataclass(frozen=True)
class Ensemble:
    """The built LangChain retriever and how long building it took."""

    retriever: EnsembleRetriever
    build_s: float
    build_cpu_s: float  # all threads of this process


def documents(chunks: Sequence[Chunk]) -> list[Document]:
    """Return our chunks as LangChain documents (text as page content; file and title as metadata)."""
    return [Document(page_content=c.text, metadata={"file": c.file, "title": c.title}) for c in chunks]


def build_ensemble(chunks: Sequence[Chunk], embedder: Embedder, k: int) -> Ensemble:
    """Build FAISS + BM25 (jieba.lcut as preprocess_func) fused by EnsembleRetriever with equal weights."""
    jieba.setLogLevel(logging.WARNING)  # it announces its dictionary on stderr otherwise
    jieba.initialize()  # jieba's dictionary loads outside the timing, as ours does (probe.build_job)
    docs = documents(chunks)
    tick, cpu = time.perf_counter(), time.process_time()
    store = FAISS.from_documents(docs, PipelineEmbeddings(embedder))
    bm25 = BM25Retriever.from_documents(docs, preprocess_func=jieba.lcut, k=k)
    retriever = EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": k})], weights=[0.5, 0.5])
    return Ensemble(retriever, time.perf_counter() - tick, time.process_time() - cpu)


def retrieve(ensemble: Ensemble, question: str, k: int) -> tuple[list[dict[str, Any]], float, float]:
    """Return the top k passages in the shape rag.eval.metrics scores, and the wall and CPU milliseconds it took."""
    tick, cpu = time.perf_counter(), time.process_time()
    docs = ensemble.retriever.invoke(question)
    elapsed_ms, cpu_ms = (time.perf_counter() - tick) * 1000, (time.process_time() - cpu) * 1000
    passages = [
        {"rank": rank, "file": d.metadata["file"], "title": d.metadata["title"], "text": d.page_content}
        for rank, d in enumerate(docs[:k], start=1)
    ]
    return passages, elapsed_ms, cpu_ms
