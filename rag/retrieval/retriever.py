"""From a question to evidence: embed it, tokenise it, search the index both ways, fuse."""
from __future__ import annotations

import time

from rag.embedding import Embedder
from rag.index.lexical import Tokenizer
from rag.index.store import Index
from rag.ingest.language import is_chinese
from rag.records import Evidence
from rag.retrieval.search import hybrid_search
from rag.settings import Settings


class Retriever:
    """Finds the passages for a question in one index; holds no per-question state, so threads may share it."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, tokenizer: Tokenizer) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.tokenizer = tokenizer

    def retrieve(self, question: str, top_k: int, timings: dict[str, float] | None = None) -> Evidence:
        """Return the evidence for a validated question, at least `top_k` passages deep; time the stages into `timings`."""
        timings = {} if timings is None else timings
        tick = time.perf_counter()
        query_vector = self.embedder.encode_queries([question])[0]
        tokens = self.tokenizer.tokens(question)
        timings["embed_ms"] = (time.perf_counter() - tick) * 1000
        tick = time.perf_counter()
        hits = hybrid_search(self.index, query_vector, tokens, max(top_k, self.settings.retrieval.top_k), self.settings)
        weights = self.index.lexical.term_weights(tokens)
        timings["retrieve_ms"] = (time.perf_counter() - tick) * 1000
        return Evidence(question, query_vector, tuple(tokens), weights, tuple(hits), is_chinese(question))
