"""The `Store` protocol: what building, loading and answering need of the place an index is kept.

A store holds one published index and, while a build runs, the next one staged beside it. Readers open the
published index as an `Index` (rag/index/store.py), whose parts answer everything a question asks: dense search
(`vectors.search`), lexical search and term statistics (`lexical.top`, `term_weights`, `row_scores`,
`row_coverage`), rows fetched by id (`chunks[i]`, `sentences[i]`, `texts[i]`) and a sample of the sentence
vectors (`vectors.sentence_sample`). A build puts every article's passages and sentences into a staged
index and publishes it: made searchable first, the manifest written last, so no reader sees half a build.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from rag.index.manifest import Manifest
    from rag.index.store import Index
    from rag.index.vectors.base import VectorIndex
    from rag.settings import Settings


@runtime_checkable
class Store(Protocol):
    """One place an index is kept: read its manifest, check it, open it for questions, write the next one."""

    kind: str  # "files" or "milvus": recorded in the manifest's `store`
    where: str  # how messages name the place (a folder, a Milvus address and collection)

    def read_manifest(self) -> Manifest:
        """Return the published index's manifest, or raise IndexMissingError / the damaged error with what to do."""
        ...

    def check(self, manifest: Manifest, settings: Settings) -> None:
        """Raise IndexMismatchError naming the first setting (model, chunking) the index was built differently with."""
        ...

    def open(self, settings: Settings, verify_all: bool = False) -> Index:
        """Return the published index, checked against the settings, for questions (and a build's reuse)."""
        ...

    def new_vectors(self, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, settings: Settings,
                    alone_vectors: np.ndarray | None = None, reader_vectors: np.ndarray | None = None) -> VectorIndex:
        """Return the vector index a build hands to `write` for these passage and sentence vectors (and the
        sentences embedded alone and as the second reader reads them, which a store may not keep)."""
        ...

    def write(self, index: Index) -> Manifest:
        """Put every article's passages, sentences and text of `index` into a staged index, then publish it:
        searchable first, manifest last; the published index stays whole if this fails. Return the manifest written."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return what the manifest records of this store (its `store` part)."""
        ...

    def shard(self, number: int, count: int) -> Store:
        """Return the store a `rag build --shard number/count` worker writes its slice of the articles into."""
        ...

    def shards(self) -> list[Store]:
        """Return the shard stores the final build reuses the vectors of and then drops: every one that holds a
        published slice (Milvus: also one a worker killed before publishing left, which lends nothing)."""
        ...

    def drop(self) -> None:
        """Remove this store's index (a shard's, once the final build has published it)."""
        ...
