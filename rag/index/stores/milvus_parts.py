"""What a question reads of an index kept in Milvus: rows fetched by id, dense search, BM25 over sparse vectors.

Each part has the interface of its embedded twin (LazyRows, `VectorIndex`, `LexicalIndex`), so retrieval and
answering read a Milvus index as they read a folder. Passages hold their BM25 term weights without the idf
(the tf and length part) as a sparse vector; the question's side carries the idf, from the term statistics
kept beside them, so scores are the embedded index's. Ties are broken by the smaller id, as there.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, OrderedDict
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, Sequence, TypeVar, overload

import numpy as np

from rag.errors import IndexDamagedError, index_damaged

T = TypeVar("T")

# Largest result Milvus returns for one query or search (its `limit` plus `offset` cap).
MAX_RESULT = 16_384
# Ids asked for per query: an `id in [...]` filter of this many stays well under the message limits.
IDS_PER_QUERY = 4_096
# Parsed rows, term statistics and sparse vectors kept per part: questions return to the same passages.
CACHED = 16_384
# Evenly spaced sentence vectors held as the corpus's background similarity (as faiss_index.SENTENCE_SAMPLE).
SENTENCE_SAMPLE = 1024


class StoreUnavailableError(IndexDamagedError):
    """The Milvus server failed while a question was read from it (the API answers 503 with the message)."""


class Guarded:
    """A Milvus client whose failures while answering are the one-line store error, not a library traceback."""

    def __init__(self, client: Any, shown: str) -> None:
        self._client = client
        self._shown = shown

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception:  # pymilvus raises MilvusException, grpc errors alike
                pass
            # Reads are safe to repeat: once, for a connection the server closed while idle.
            time.sleep(0.2)
            try:
                return method(*args, **kwargs)
            except Exception as error:
                first = (str(getattr(error, "message", "")) or str(error) or type(error).__name__).splitlines()[0][:200]
                detail = f"Milvus at {self._shown} failed: {first}"
                raise StoreUnavailableError(f"{detail}: check the server, then ask again", "damaged", detail) from None

        return call


class _Cache(Generic[T]):
    """A bounded least-recently-used map from ids to what was fetched for them."""

    def __init__(self, size: int = CACHED) -> None:
        self._items: OrderedDict[Any, T] = OrderedDict()
        self._size = size

    def get(self, key: Any) -> T | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: Any, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


def fetch(client: Any, collection: str, ids: Sequence[int], fields: list[str], where: str) -> dict[int, dict[str, Any]]:
    """Return the rows of these ids (by id) with these fields; raise the damaged error for an id not there."""
    found: dict[int, dict[str, Any]] = {}
    unique = sorted({int(i) for i in ids})
    for start in range(0, len(unique), IDS_PER_QUERY):
        part = unique[start : start + IDS_PER_QUERY]
        for row in client.query(collection, filter=f"id in {part}", output_fields=fields, limit=len(part)):
            found[int(row["id"])] = row
    missing = [i for i in unique if i not in found]
    if missing:
        raise index_damaged(where, f"{collection} does not hold row {missing[0]}")
    return found


def id_range(client: Any, collection: str, start: int, stop: int, fields: list[str]) -> list[dict[str, Any]]:
    """Return the rows with ids in [start, stop), in id order."""
    rows: list[dict[str, Any]] = []
    for begin in range(start, stop, MAX_RESULT):
        end = min(stop, begin + MAX_RESULT)
        rows.extend(client.query(collection, filter=f"id >= {begin} and id < {end}", output_fields=fields, limit=end - begin))
    return sorted(rows, key=lambda row: int(row["id"]))


class MilvusRows(Sequence[T], Generic[T]):
    """Row i of a collection (its JSON `row` field), fetched when asked for; `parse(i, row)` makes the record."""

    def __init__(self, client: Any, collection: str, count: int, parse: Callable[[int, dict[str, Any]], T], where: str,
                 window: tuple[int, int] = (0, 1)) -> None:
        """`window` (before, after): a row not yet read is fetched with these neighbours in one query (an answer
        reads a passage's sentences, which are neighbours, one after another)."""
        self._client = client
        self._collection = collection
        self._count = count
        self._parse = parse
        self._where = where
        self._window = window
        self._cache: _Cache[T] = _Cache()

    def prime(self, i: int, row: str) -> None:
        """Keep row `i` (its JSON, as a search returned it), so reading it needs no query."""
        if self._cache.get(i) is None:
            self._cache.put(i, self._record(i, {"row": row}))

    def __len__(self) -> int:
        return self._count

    def _record(self, i: int, row: dict[str, Any]) -> T:
        try:
            return self._parse(i, json.loads(row["row"]))
        except (TypeError, KeyError, ValueError, AttributeError, RecursionError) as error:
            raise index_damaged(self._where, f"{type(error).__name__} in row {i} of {self._collection}") from None

    @overload
    def __getitem__(self, key: int) -> T: ...

    @overload
    def __getitem__(self, key: slice) -> list[T]: ...

    def __getitem__(self, key: int | slice) -> T | list[T]:
        """Return row `key` (negative counts from the end), or the rows of a slice as a list."""
        if isinstance(key, slice):
            start, stop, step = key.indices(self._count)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            rows = id_range(self._client, self._collection, start, stop, ["row"]) if stop > start else []
            if len(rows) != max(0, stop - start):
                raise index_damaged(self._where, f"{self._collection} does not hold rows {start}..{stop - 1}")
            return [self._record(start + n, row) for n, row in enumerate(rows)]
        i = int(key) + self._count if int(key) < 0 else int(key)
        if not 0 <= i < self._count:
            raise IndexError(f"row {key} of {self._count}")
        cached = self._cache.get(i)
        if cached is None:
            start, stop = max(0, i - self._window[0]), min(self._count, i + self._window[1])
            rows = {int(row["id"]): row for row in id_range(self._client, self._collection, start, stop, ["row"])}
            if i not in rows:
                raise index_damaged(self._where, f"{self._collection} does not hold row {i}")
            for n, row in rows.items():
                if n != i:
                    self.prime(n, row["row"])
            cached = self._record(i, rows[i])
            self._cache.put(i, cached)
        return cached

    def __iter__(self) -> Iterator[T]:
        step = 4096
        for start in range(0, self._count, step):
            yield from self[start : min(start + step, self._count)]


class MilvusTexts(Sequence[Any]):
    """Article i's text as the build read it, kept in parts (a VARCHAR holds at most 64 KB)."""

    def __init__(self, client: Any, collection: str, count: int, make: Callable[[dict[str, Any], str], Any], where: str) -> None:
        self._client = client
        self._collection = collection
        self._count = count
        self._make = make
        self._where = where

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return [self[i] for i in range(*key.indices(self._count))]
        i = int(key) + self._count if int(key) < 0 else int(key)
        if not 0 <= i < self._count:
            raise IndexError(f"article {key} of {self._count}")
        rows = self._client.query(self._collection, filter=f"article == {i}", output_fields=["part", "text", "row"],
                                  limit=MAX_RESULT)
        rows.sort(key=lambda row: int(row["part"]))
        if not rows or [int(r["part"]) for r in rows] != list(range(len(rows))):
            raise index_damaged(self._where, f"{self._collection} does not hold the text of article {i}")
        return self._make(json.loads(rows[0]["row"]), "".join(row["text"] for row in rows))


class MilvusVectors:
    """The `VectorIndex` over a Milvus collection: ANN search, candidates re-scored exactly from their vectors."""

    files: tuple[str, ...] = ()

    def __init__(self, client: Any, passages: str, sentences: str, counts: tuple[int, int], dimension: int,
                 record: dict[str, Any], where: str, rows: MilvusRows | None = None) -> None:
        self._rows = rows  # the passages' rows, primed with what a search returns
        self._client = client
        self._passages = passages
        self._sentences = sentences
        self._count, self._sentence_count = counts
        self._dimension = dimension
        self._record = record
        self._where = where

    def __len__(self) -> int:
        return self._count

    @property
    def dimension(self) -> int:
        return self._dimension

    def search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the k nearest rows and their exact cosines, best first, ties by the smaller row."""
        k = min(k, self._count)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.asarray(query_vector, dtype=np.float32)
        limit = min(MAX_RESULT, k + max(16, k))  # a few more, so ties at the k-th place are settled by id
        params: dict[str, Any] = {"metric_type": "IP"}
        if self._record.get("index") == "HNSW":
            params["params"] = {"ef": max(int(self._record.get("ef_search", 0)), limit)}
        fields = ["vector", "row"] if self._rows is not None else ["vector"]
        found = self._client.search(self._passages, [query.tolist()], anns_field="vector", limit=limit,
                                    search_params=params, output_fields=fields)[0]
        if self._rows is not None:
            for hit in found:
                self._rows.prime(int(hit["id"]), hit["entity"]["row"])
        rows = np.array([int(hit["id"]) for hit in found], dtype=np.int64)
        if not len(rows):
            return rows, np.zeros(0, np.float32)
        vectors = np.array([hit["entity"]["vector"] for hit in found], dtype=np.float32)
        scores = vectors @ query
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], scores[order].astype(np.float32)

    def _vectors(self, collection: str, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self._dimension), np.float32)
        rows = fetch(self._client, collection, ids.tolist(), ["vector"], self._where)
        return np.array([rows[int(i)]["vector"] for i in ids], dtype=np.float32)

    def passage_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self._vectors(self._passages, rows)

    def alone_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        return None  # a Milvus index keeps each sentence's vector read in its passage only (docs/milvus.md)

    def reader_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        return None  # nor the second reader's (docs/milvus.md)

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._vectors(self._sentences, ids)

    @cached_property
    def _sample(self) -> np.ndarray:
        step = max(1, self._sentence_count // SENTENCE_SAMPLE)
        return self._vectors(self._sentences, np.arange(0, self._sentence_count, step)[:SENTENCE_SAMPLE])

    def sentence_sample(self) -> np.ndarray:
        return self._sample

    def record(self) -> dict[str, Any]:
        return dict(self._record)

    def save(self, folder: Path) -> None:
        raise NotImplementedError("a Milvus index is written by its store (rag/index/stores/milvus.py)")


def term_id(term: str) -> int:
    """Return the primary key a term is kept under: 63 bits of its hash (a lookup by key needs no scalar index)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little") >> 1


class TermTable:
    """The vocabulary of a Milvus index: term -> (column, document frequency), looked up when asked for."""

    def __init__(self, client: Any, collection: str, size: int) -> None:
        self._client = client
        self._collection = collection
        self._size = size
        self._cache: _Cache[tuple[int, int] | None] = _Cache()

    def lookup(self, terms: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Return (column, document frequency) of each of `terms` the index holds."""
        wanted = list(dict.fromkeys(terms))
        unknown = [t for t in wanted if self._cache.get(t) is None and t not in self._absent]
        for start in range(0, len(unknown), 512):
            part = unknown[start : start + 512]
            found = {row["term"]: (int(row["column"]), int(row["df"])) for row in self._client.query(
                self._collection, filter=f"id in {sorted({term_id(t) for t in part})}",
                output_fields=["column", "term", "df"], limit=len(part))}
            for term in part:
                if term in found:
                    self._cache.put(term, found[term])
                else:
                    self._absent.add(term)
        out = {}
        for term in wanted:
            held = self._cache.get(term)
            if held is not None:
                out[term] = held
        return out

    @cached_property
    def _absent(self) -> set[str]:
        return set()

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and term in self.lookup([term])

    def get(self, term: str, default: Any = None) -> Any:
        """Return the term's column, or `default` when the index does not hold it."""
        held = self.lookup([term]).get(term)
        return held[0] if held is not None else default

    def __getitem__(self, term: str) -> int:
        held = self.lookup([term]).get(term)
        if held is None:
            raise KeyError(term)
        return held[0]

    def __len__(self) -> int:
        return self._size


class MilvusLexicon:
    """BM25 over a Milvus collection's sparse vectors: the interface of `LexicalIndex` that retrieval and
    answering use (top, row_scores, term_weights, row_coverage, share, vocabulary)."""

    def __init__(self, client: Any, passages: str, terms: str, count: int, vocabulary: int, k1: float, b: float,
                 where: str, rows: MilvusRows | None = None) -> None:
        self._rows = rows  # the passages' rows, primed with what a search returns
        self._client = client
        self._passages = passages
        self._count = count
        self._where = where
        self.vocabulary = TermTable(client, terms, vocabulary)
        self.k1 = k1
        self.b = b
        self._sparse: _Cache[dict[int, float]] = _Cache()

    def _idf(self, df: int) -> float:
        n_docs = max(self._count, 1)
        return float(np.log1p((n_docs - df + 0.5) / (df + 0.5)))

    def term_weights(self, tokens: Sequence[str]) -> dict[str, float]:
        """Return each distinct token's BM25 idf (a term the index has never seen weighs as the rarest)."""
        held = self.vocabulary.lookup(tokens)
        return {token: self._idf(held[token][1] if token in held else 0) for token in dict.fromkeys(tokens)}

    def share(self, term: str) -> float:
        """Return the share of documents that hold `term` (0 for a term the index has never seen)."""
        held = self.vocabulary.lookup([term]).get(term)
        return held[1] / max(self._count, 1) if held else 0.0

    def _query(self, tokens: Sequence[str]) -> dict[int, float]:
        """Return the question's sparse vector: each known term's column weighted by idf times its repeats."""
        held = self.vocabulary.lookup(tokens)
        repeats = Counter(t for t in tokens if t in held)
        return {held[t][0]: self._idf(held[t][1]) * n for t, n in repeats.items()}

    def _rows_sparse(self, rows: Sequence[int]) -> list[dict[int, float]]:
        wanted = [int(r) for r in rows if self._sparse.get(int(r)) is None]
        if wanted:
            for row_id, row in fetch(self._client, self._passages, wanted, ["sparse"], self._where).items():
                self._sparse.put(row_id, {int(k): float(v) for k, v in (row["sparse"] or {}).items()})
        out = []
        for r in rows:
            held = self._sparse.get(int(r))
            if held is None:  # pushed out of the cache by a large request: fetch it alone
                held = {int(k): float(v) for k, v in (fetch(self._client, self._passages, [int(r)], ["sparse"],
                                                              self._where)[int(r)]["sparse"] or {}).items()}
            out.append(held)
        return out

    def row_scores(self, rows: Sequence[int], query_tokens: Sequence[str]) -> np.ndarray:
        """Return the BM25 score of each of `rows` for the query tokens (repeated tokens count again)."""
        query = self._query(query_tokens)
        return np.array([sum(weight * vector.get(column, 0.0) for column, weight in query.items())
                         for vector in self._rows_sparse(rows)], dtype=np.float32)

    def row_term_scores(self, rows: Sequence[int], terms: Sequence[str]) -> np.ndarray:
        """Return the (terms x rows) BM25 weight of each term in each of `rows` (zero where a row lacks it)."""
        held = self.vocabulary.lookup(terms)
        vectors = self._rows_sparse(rows)
        out = np.zeros((len(terms), len(vectors)), dtype=np.float32)
        for i, term in enumerate(terms):
            if term in held:
                column, df = held[term]
                out[i] = [self._idf(df) * vector.get(column, 0.0) for vector in vectors]
        return out

    def row_coverage(self, rows: Sequence[int], weights: dict[str, float], together: bool = False) -> np.ndarray:
        """Share of the query's idf mass (`weights`) whose terms each row holds, or all rows `together` hold."""
        total = sum(weights.values())
        rows = [int(r) for r in rows]
        if not total or not rows:
            return np.zeros(1 if together else len(rows))
        held = self.vocabulary.lookup(weights)
        vectors = self._rows_sparse(rows)
        shares = np.zeros(len(rows))
        union = 0.0
        for term, (column, _) in held.items():
            present = [column in vector for vector in vectors]
            shares[present] += weights[term]
            union += weights[term] if any(present) else 0.0
        return np.array([union / total]) if together else shares / total

    def top(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Return up to k (row, score) pairs with a positive score, best first, ties by row."""
        query = self._query(query_tokens)
        if not query or k <= 0:
            return []
        limit = min(MAX_RESULT, k + max(16, k))
        while True:
            found = self._client.search(self._passages, [query], anns_field="sparse", limit=limit,
                                        search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}},
                                        output_fields=["sparse", "row"])[0]
            rows = [int(hit["id"]) for hit in found]
            for hit in found:
                self._sparse.put(int(hit["id"]), {int(k): float(v) for k, v in (hit["entity"]["sparse"] or {}).items()})
                if self._rows is not None:
                    self._rows.prime(int(hit["id"]), hit["entity"]["row"])
            # Re-scored from the stored weights as `row_scores` does, so both sides agree to the last bit.
            scores = self.row_scores(rows, query_tokens) if rows else np.zeros(0, np.float32)
            ranked = sorted((pair for pair in zip(rows, scores.tolist()) if pair[1] > 0), key=lambda p: (-p[1], p[0]))
            full = len(found) == limit and limit < MAX_RESULT
            # A tie running past the last result may hide a smaller id: ask for more until the tie ends inside.
            if full and len(ranked) >= k and ranked[k - 1][1] <= min(s for _, s in ranked) + 1e-6:
                limit = min(MAX_RESULT, limit * 4)
                continue
            return ranked[:k]
