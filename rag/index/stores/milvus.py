"""The Milvus store: `RAG_STORE=milvus://HOST:PORT/COLLECTION` (a server) or `milvus:///PATH/FILE.db` (Milvus Lite).

Every build writes a new generation of collections: `<name>__g<stamp>_p` (passages: dense vector, BM25 sparse
vector, row), `_s` (sentences), `_a` (article texts) and `_t` (the vocabulary's terms and document frequencies).
Publishing flushes, indexes and loads them (a real server searches what it has not flushed and indexed only
in part), writes the manifest into a collection of the generation's own (`_m`), and then points the alias `<name>`
at the new passages collection: a reader resolves the alias once and reads one whole generation, never half a build.
The previous generation is kept, so a server that loaded it keeps answering; older ones are dropped. Stores built
before the manifests had collections of their own keep them in `<name>__meta`, read until those generations go.
"""
from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import numpy as np
from scipy import sparse

from rag.errors import REBUILD, IndexMismatchError, IndexMissingError, index_damaged
from rag.index.manifest import Manifest
from rag.index.store import ArticleText, Index, check_compatible
from rag.index.stores.factory import StoreError
from rag.index.stores.milvus_parts import MAX_RESULT, Guarded, MilvusLexicon, MilvusRows, MilvusTexts, MilvusVectors, term_id
from rag.settings import Settings

log = logging.getLogger(__name__)

KIND = "milvus"
# Rows sent per insert: a few MB per message, well under gRPC's limit.
INSERT_ROWS = 2_000
# Characters per VARCHAR part of an article's text or the manifest (a VARCHAR holds 65,535 bytes of UTF-8).
TEXT_PART = 16_000
# Tries to connect before the store is reported unreachable.
CONNECT_ATTEMPTS = 3
# Clusters of the sentence vectors' index, which no question searches (Staged._searchable).
SENTENCE_NLIST = 16
# The collections of one generation, by role.
ROLES = ("p", "s", "a", "t")
# The collection of a generation's manifest, written last (MilvusStore.write_manifest).
MANIFEST = "m"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,180}")


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError:
        raise StoreError("RAG_STORE names Milvus but pymilvus is not installed: run `make milvus-setup` "
                         "(requirements-milvus.txt)") from None
    return pymilvus


@dataclass(frozen=True)
class ArrayVectors:
    """A build's passage and sentence vectors in memory, handed to `MilvusStore.write` (no search of its own)."""

    chunk_matrix: np.ndarray
    sentence_matrix: np.ndarray
    index: dict[str, Any]

    files: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.chunk_matrix.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.chunk_matrix.shape[1])

    def passage_vectors(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.chunk_matrix[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.sentence_matrix[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def alone_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        return None  # a Milvus index keeps each sentence's vector read in its passage only (docs/milvus.md)

    def reader_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        return None  # nor the second reader's (docs/milvus.md)

    def record(self) -> dict[str, Any]:
        return dict(self.index)


def dense_index(count: int, settings: Settings) -> dict[str, Any]:
    """Return how the passages' vectors are indexed: exact (FLAT) below `dense_exact_below`, else an HNSW graph."""
    if count < settings.index.dense_exact_below:
        return {"kind": KIND, "index": "FLAT", "metric": "IP"}
    return {"kind": KIND, "index": "HNSW", "metric": "IP", "M": settings.index.hnsw_m,
            "ef_construction": settings.index.hnsw_ef_construction, "ef_search": settings.index.hnsw_ef_search}


class Staged:
    """One generation's collections while a build fills them: put and delete articles, then publish."""

    def __init__(self, store: MilvusStore, generation: str, dimension: int, dense: dict[str, Any]) -> None:
        self.store = store
        self.client = store.client
        self.generation = generation
        self.dimension = dimension
        self.dense = dense
        self._pending: dict[str, list[dict[str, Any]]] = {role: [] for role in ROLES}
        self._ids: dict[str, dict[str, list[int]]] = {}  # file -> role -> ids put, so a delete needs no query
        for role in ROLES:
            self.client.create_collection(self.name(role), schema=self._schema(role))

    def name(self, role: str) -> str:
        """Return the collection of this generation that plays `role` (p, s, a or t)."""
        return f"{self.generation}_{role}"

    def _schema(self, role: str) -> Any:
        data_type = _pymilvus().DataType
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", data_type.INT64, is_primary=True)
        dimension = self.dimension if role in ("p", "s") else 2  # Milvus wants a vector field in every collection
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=dimension)
        if role == "p" and self.store.sparse:
            schema.add_field("sparse", data_type.SPARSE_FLOAT_VECTOR)
        if role == "t":  # id: a hash of the term (term_id), so a lookup is by primary key
            schema.add_field("column", data_type.INT64)
            schema.add_field("term", data_type.VARCHAR, max_length=65_535)
            schema.add_field("df", data_type.INT64)
            return schema
        schema.add_field("file", data_type.VARCHAR, max_length=4_096)
        schema.add_field("row", data_type.VARCHAR, max_length=65_535)
        if role == "a":
            schema.add_field("article", data_type.INT64)
            schema.add_field("part", data_type.INT64)
            schema.add_field("text", data_type.VARCHAR, max_length=65_535)
        return schema

    def _add(self, role: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._ids.setdefault(row.get("file", ""), {}).setdefault(role, []).append(int(row["id"]))
        pending = self._pending[role]
        pending.extend(rows)
        if len(pending) >= INSERT_ROWS:
            self._flush(role)

    def _flush(self, role: str) -> None:
        pending = self._pending[role]
        for start in range(0, len(pending), INSERT_ROWS):
            self.client.insert(self.name(role), pending[start : start + INSERT_ROWS])
        pending.clear()

    def put_article(self, number: int, text: ArticleText, chunks: list[dict[str, Any]], chunk_vectors: np.ndarray,
                    chunk_weights: list[dict[int, float]] | None, sentences: list[dict[str, Any]],
                    sentence_vectors: np.ndarray) -> None:
        """Put one article (row `number` of the manifest's articles): its passages with their vectors and BM25
        weights (the tf and length part, by term column), its sentences with theirs, and its text."""
        passages = []
        for n, chunk in enumerate(chunks):
            row = {"id": chunk["chunk_id"], "vector": chunk_vectors[n].tolist(), "file": chunk["file"],
                   "row": json.dumps(chunk, ensure_ascii=False)}
            if self.store.sparse:
                row["sparse"] = chunk_weights[n] if chunk_weights else {}
            passages.append(row)
        self._add("p", passages)
        self._add("s", [{"id": s["sentence_id"], "vector": sentence_vectors[n].tolist(), "file": s["file"],
                         "row": json.dumps(s, ensure_ascii=False)} for n, s in enumerate(sentences)])
        head = json.dumps({"file": text.file, "sha256": text.sha256, "pages": list(text.pages)}, ensure_ascii=False)
        parts = [text.raw[i : i + TEXT_PART] for i in range(0, len(text.raw), TEXT_PART)] or [""]
        self._add("a", [{"id": (number << 20) + part, "vector": [0.0, 0.0], "file": text.file, "row": head,
                         "article": number, "part": part, "text": piece} for part, piece in enumerate(parts)])

    def delete_article(self, file: str) -> None:
        """Remove one article's passages, sentences and text from this generation."""
        for role, ids in self._ids.pop(file, {}).items():
            self._pending[role] = [row for row in self._pending[role] if row.get("file") != file]
            # By primary key: a real server deletes by expression only from a loaded collection.
            self.client.delete(self.name(role), ids=ids)

    def put_terms(self, vocabulary: dict[str, int], doc_freq: np.ndarray) -> None:
        """Put the vocabulary: each term's column (its id) and how many passages hold it."""
        self._add("t", [{"id": term_id(term), "vector": [0.0, 0.0], "column": column, "term": term, "df": int(doc_freq[column])}
                        for term, column in vocabulary.items()])

    def publish(self, manifest: Manifest) -> Manifest:
        """Make this generation searchable (flush, index, load), write its manifest, then point the alias at it."""
        for role in ROLES:
            self._flush(role)
        # The four collections are sealed, indexed and loaded at once: a real server spends most of it waiting.
        with ThreadPoolExecutor(len(ROLES)) as pool:
            list(pool.map(self._searchable, ROLES))
        sealed = manifest.sealed({})
        self.store.write_manifest(self.generation, sealed)
        self.store.point_alias(self.generation)
        return sealed

    def _searchable(self, role: str) -> None:
        """Flush, index and load one collection: a real server searches unflushed rows only in part."""
        client, name = self.client, self.name(role)
        tick = time.monotonic()
        client.flush(name)
        params = client.prepare_index_params()
        if role == "p" and self.dense["index"] == "HNSW":
            params.add_index("vector", index_type="HNSW", metric_type="IP",
                             params={"M": self.dense["M"], "efConstruction": self.dense["ef_construction"]})
        elif role == "s" and not self.store.lite:
            # Sentence vectors are fetched by id, never searched, but a collection loads only with an index on its
            # vectors. A FLAT index holds every vector in the query node's memory; an index without the raw vectors
            # (IVF_PQ: a few bytes a sentence) makes Milvus load them as a field, which a server with
            # queryNode.mmapDirPath maps from files. 4-bit codes train in a fraction of 8-bit codes' time, and
            # no question reads them. Milvus Lite has no IVF_PQ (and no mapped fields): FLAT there.
            params.add_index("vector", index_type="IVF_PQ", metric_type="IP",
                             params={"nlist": SENTENCE_NLIST, "m": _subquantizers(self.dimension), "nbits": 4})
        else:
            params.add_index("vector", index_type="FLAT", metric_type="IP")
        if role == "p" and self.store.sparse:
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        client.create_index(name, params)
        self._wait_indexed(name)
        client.load_collection(name)
        log.info("%s flushed, indexed and loaded in %.1f s", name, time.monotonic() - tick)

    def _wait_indexed(self, collection: str, seconds: float = 3600) -> None:
        """Return once every flushed row of `collection` is indexed (a real server indexes in the background)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            described = self.client.describe_index(collection, "vector") or {}
            if described.get("state", "Finished") == "Finished" and not described.get("pending_index_rows", 0):
                return
            time.sleep(0.2)
        raise StoreError(f"Milvus did not finish indexing {collection} in {seconds:.0f} s: run the build again")

    def abandon(self) -> None:
        """Drop this generation's collections (a build that failed before publishing)."""
        for role in (*ROLES, MANIFEST):
            if self.client.has_collection(self.name(role)):
                self.client.drop_collection(self.name(role))


class MilvusStore:
    """The `Store` of one Milvus collection name (an alias over the live generation)."""

    kind = KIND

    def __init__(self, uri: str, collection: str, shown: str) -> None:
        self.uri = uri
        self.collection = collection
        self.where = f"milvus {shown}/{collection}"
        self._shown = shown

    @classmethod
    def from_uri(cls, text: str) -> MilvusStore:
        """Return the store of `milvus://HOST:PORT/COLLECTION` or `milvus:///PATH/FILE.db[?collection=NAME]`."""
        parts = urlsplit(text)
        query = parse_qs(parts.query)
        if parts.netloc:
            uri, shown, collection = f"http://{parts.netloc}", parts.netloc, parts.path.strip("/")
        else:
            uri, shown = parts.path, parts.path
            collection = (query.get("collection") or ["rag"])[0]
        if not uri or not NAME.fullmatch(collection or "") or "__" in collection:
            raise StoreError(f"RAG_STORE={text!r} is not milvus://HOST:PORT/COLLECTION or milvus:///PATH/FILE.db: "
                             "a collection name is letters, digits and single underscores, starting with a letter")
        return cls(uri, collection, shown)

    @cached_property
    def client(self) -> Any:
        """Return the Milvus client, connected, or raise the one-line error saying the store cannot be reached."""
        pymilvus = _pymilvus()
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                client = pymilvus.MilvusClient(self.uri, timeout=30)
                client.list_collections()
                return client
            except Exception as error:  # pymilvus raises MilvusException, grpc and OS errors alike
                first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
                # gRPC shares a connection between clients of one address; one the server just closed
                # ("too many pings" after an idle spell) fails once, then reconnects.
                time.sleep(0.5 * (attempt + 1))
        raise StoreError(f"cannot reach Milvus at {self._shown} ({first}): start the server, or fix RAG_STORE")

    @cached_property
    def version(self) -> str:
        """Return the server's version ("milvus_lite-3.2.2", "v2.3.5-lite", "v2.4.1")."""
        return str(self.client.get_server_version())

    @cached_property
    def sparse(self) -> bool:
        """Return whether the server has sparse vectors (Milvus 2.4 on, and Milvus Lite), which BM25 needs."""
        match = re.match(r"v?(\d+)\.(\d+)", self.version)
        return self.lite or (match is not None and (int(match[1]), int(match[2])) >= (2, 4))

    @cached_property
    def lite(self) -> bool:
        """Return whether the server is Milvus Lite (`milvus-lite server` or a .db file), which has index types of its own."""
        return self.version.startswith("milvus_lite")

    # --- the manifest and the alias ---

    @property
    def _meta(self) -> str:
        """The collection that held every generation's manifest before each had its own (read, never written)."""
        return f"{self.collection}__meta"

    def _create_manifest_collection(self, name: str) -> None:
        data_type = _pymilvus().DataType
        schema = self.client.create_schema(auto_id=True, enable_dynamic_field=False)
        schema.add_field("id", data_type.INT64, is_primary=True)
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=2)
        schema.add_field("generation", data_type.VARCHAR, max_length=256)
        schema.add_field("part", data_type.INT64)
        schema.add_field("text", data_type.VARCHAR, max_length=65_535)
        params = self.client.prepare_index_params()
        params.add_index("vector", index_type="FLAT", metric_type="IP")
        # Strong: a reader must see a manifest as soon as the alias that names its generation does.
        self.client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")

    def write_manifest(self, generation: str, manifest: Manifest) -> None:
        """Write a generation's manifest, in parts, into a collection of its own: a server killed while writing it
        (Milvus Lite can leave the last segment it flushed half written) damages only the build that died, never the
        manifest of the generation readers use."""
        name = f"{generation}_{MANIFEST}"
        if self.client.has_collection(name):
            self.client.drop_collection(name)
        self._create_manifest_collection(name)
        text = json.dumps(manifest.to_json(), ensure_ascii=False)
        parts = [text[i : i + TEXT_PART] for i in range(0, len(text), TEXT_PART)]
        if len(parts) > MAX_RESULT:
            raise StoreError(f"the manifest of {self.where} is over {MAX_RESULT * TEXT_PART:,} characters: "
                             "split the articles over several collections")
        for start in range(0, len(parts), INSERT_ROWS):
            self.client.insert(name, [{"vector": [0.0, 0.0], "generation": generation, "part": start + n, "text": p}
                                            for n, p in enumerate(parts[start : start + INSERT_ROWS])])
        self.client.flush(name)

    def live(self) -> str | None:
        """Return the generation the alias points at, or None before the first publish."""
        try:
            known = self.collection in self.client.list_aliases().get("aliases", [])
            target = str(self.client.describe_alias(self.collection)["collection_name"]) if known else ""
        except Exception:  # pymilvus raises MilvusException for an alias that does not exist
            known = False
        if not known:
            if self.client.has_collection(self.collection):
                raise IndexMismatchError(
                    f"{self.where} is a collection rag did not build: choose another collection name in RAG_STORE",
                    "not_an_index") from None
            return None
        if not re.fullmatch(rf"{re.escape(self.collection)}__g\d+_p", target):
            raise IndexMismatchError(f"{self.where} is an alias rag did not make: choose another collection name in RAG_STORE",
                                     "not_an_index")
        return target.removesuffix("_p")

    def point_alias(self, generation: str) -> None:
        """Point the alias at `generation`'s passages (one atomic switch for readers); drop all but the last two."""
        previous = self.live()
        if previous is None:
            self.client.create_alias(f"{generation}_p", self.collection)
        else:
            self.client.alter_alias(f"{generation}_p", self.collection)
        keep = {generation, previous}
        for old in self._generations():
            if old not in keep:
                self._drop_generation(old)
        if self.client.has_collection(self._meta) and all(self.client.has_collection(f"{kept}_{MANIFEST}") for kept in keep if kept):
            self.client.drop_collection(self._meta)  # no generation left reads its manifest there

    def _generations(self) -> list[str]:
        pattern = re.compile(rf"{re.escape(self.collection)}__g\d+")
        names = {name.rsplit("_", 1)[0] for name in self.client.list_collections()}
        return sorted(name for name in names if pattern.fullmatch(name))

    def _drop_generation(self, generation: str) -> None:
        for role in (*ROLES, MANIFEST):
            if self.client.has_collection(f"{generation}_{role}"):
                self.client.drop_collection(f"{generation}_{role}")
        if self.client.has_collection(self._meta):
            self.client.delete(self._meta, filter=f'generation == "{generation}"')

    # --- the Store protocol ---

    @contextmanager
    def _talking(self) -> Iterator[None]:
        """Turn what the server answers with an error into the one-line store error."""
        try:
            yield
        except _pymilvus().exceptions.MilvusException as error:
            first = (str(getattr(error, "message", "")) or str(error)).splitlines()[0][:200]
            raise StoreError(f"Milvus at {self._shown} failed: {first}: check the server, then run the command again") from None

    def loaded(self, *collections: str) -> None:
        """Load these collections where they are not (a restarted server may hold them released)."""
        for name in collections:
            if self.client.has_collection(name) and "Loaded" not in str(self.client.get_load_state(name).get("state")):
                log.info("loading %s, which the server holds released", name)
                self.client.load_collection(name)

    def _manifest_of(self, generation: str) -> Manifest:
        own = f"{generation}_{MANIFEST}"
        held_in = own if self.client.has_collection(own) else self._meta
        rows = []
        if self.client.has_collection(held_in):
            self.loaded(held_in)
            rows = self.client.query(held_in, filter=f'generation == "{generation}"', output_fields=["part", "text"],
                                     limit=MAX_RESULT)
        rows.sort(key=lambda row: int(row["part"]))
        if not rows or [int(r["part"]) for r in rows] != list(range(len(rows))):
            raise index_damaged(self.where, f"the manifest of {generation} is missing from {held_in}")
        try:
            data = json.loads("".join(row["text"] for row in rows))
        except ValueError:
            raise index_damaged(self.where, f"the manifest of {generation} is not readable JSON") from None
        return Manifest.from_json(data, Path(self.where))

    def read_manifest(self) -> Manifest:
        with self._talking():
            generation = self.live()
            if generation is None:
                raise IndexMissingError(f"no index in {self.where}: {REBUILD}")
            return self._manifest_of(generation)

    def check(self, manifest: Manifest, settings: Settings) -> None:
        check_compatible(manifest, settings, Path(self.where))

    def open(self, settings: Settings, verify_all: bool = False) -> Index:
        """Return the live generation as an Index whose parts read Milvus (verify_all: every row count checked)."""
        with self._talking():
            generation = self.live()
            if generation is None:
                raise IndexMissingError(f"no index in {self.where}: {REBUILD}")
            if not self.sparse:
                raise StoreError(f"Milvus {self.version} at {self._shown} has no sparse vectors, which the lexical side "
                                 "needs: use Milvus 2.4 or later")
            manifest = self._manifest_of(generation)
            self.check(manifest, settings)
            return self._index(generation, manifest, settings)

    def _index(self, generation: str, manifest: Manifest, settings: Settings) -> Index:
        from rag.index.store import _article_text, _chunk, _sentence

        self.loaded(*(f"{generation}_{role}" for role in ROLES))
        counts, dimension = manifest.counts, manifest.model.dimension
        found = self._dimension(f"{generation}_p")
        if found != dimension:
            detail = f"{self.where} holds vectors of dimension {found}, its manifest's model {manifest.model.name} makes {dimension}"
            raise IndexMismatchError(f"{detail}: {REBUILD}", "model", detail)
        where = self.where
        client = Guarded(self.client, self._shown)
        chunks = MilvusRows(client, f"{generation}_p", counts.chunks, lambda i, row: _chunk(counts.sentences, i, row), where)
        sentences = MilvusRows(client, f"{generation}_s", counts.sentences, _sentence, where, window=(8, 24))
        texts = MilvusTexts(client, f"{generation}_a", counts.articles,
                            lambda head, raw: _article_text(0, {**head, "raw": raw}), where)
        vectors = MilvusVectors(client, f"{generation}_p", f"{generation}_s", (counts.chunks, counts.sentences),
                                dimension, manifest.dense, where, chunks)
        lexical = MilvusLexicon(client, f"{generation}_p", f"{generation}_t", counts.chunks,
                                counts.vocabulary or 0, settings.index.bm25_k1, settings.index.bm25_b, where, chunks)
        for role, wanted in (("p", counts.chunks), ("s", counts.sentences)):
            held = int(self.client.get_collection_stats(f"{generation}_{role}")["row_count"])
            if held != wanted:
                raise index_damaged(where, f"{generation}_{role} holds {held} rows, its manifest says {wanted}")
        return Index(Path(where), manifest, chunks, sentences, vectors, lexical, None, texts)  # type: ignore[arg-type]

    def _dimension(self, collection: str) -> int:
        for field in self.client.describe_collection(collection)["fields"]:
            if field["name"] == "vector":
                return int(field["params"]["dim"])
        raise index_damaged(self.where, f"{collection} has no vector field")

    def dense(self) -> MilvusVectors:
        """Return the live generation's dense side alone (a server without sparse vectors can still search it)."""
        with self._talking():
            generation = self.live()
            if generation is None:
                raise IndexMissingError(f"no index in {self.where}: {REBUILD}")
            manifest = self._manifest_of(generation)
            counts = manifest.counts
            self.loaded(f"{generation}_p", f"{generation}_s")
            return MilvusVectors(self.client, f"{generation}_p", f"{generation}_s", (counts.chunks, counts.sentences),
                                 manifest.model.dimension, manifest.dense, self.where)

    def new_vectors(self, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, settings: Settings,
                    alone_vectors: np.ndarray | None = None, reader_vectors: np.ndarray | None = None) -> ArrayVectors:
        return ArrayVectors(chunk_vectors, sentence_vectors, dense_index(len(chunk_vectors), settings))

    def stage(self, dimension: int, dense: dict[str, Any]) -> Staged:
        """Return a new, empty generation to fill and publish."""
        self.live()  # a collection of that name that is not ours is reported before anything is written
        return Staged(self, f"{self.collection}__g{time.time_ns() // 1000}", dimension, dense)

    def write(self, index: Index) -> Manifest:
        with self._talking():
            if not self.sparse:
                raise StoreError(f"Milvus {self.version} at {self._shown} has no sparse vectors, which the lexical side "
                                 "needs: use Milvus 2.4 or later")
            staged = self.stage(index.manifest.model.dimension, index.vectors.record())
            try:
                self.fill(staged, index)
                return staged.publish(index.manifest)
            except BaseException:
                staged.abandon()
                raise

    def fill(self, staged: Staged, index: Index, progress: Any = None) -> None:
        """Put every article of `index` (its rows, vectors, BM25 weights where the server has sparse vectors, and
        text) and its vocabulary into `staged`; `progress(articles done)` is told as it goes."""
        weights = _tf_parts(index.lexical.weights) if self.sparse else None
        for number, (entry, text) in enumerate(zip(index.manifest.articles, index.texts)):
            (c0, nc), (s0, ns) = entry.chunks, entry.sentences
            staged.put_article(
                number, text,
                [_plain(asdict(c)) for c in index.chunks[c0 : c0 + nc]], index.vectors.passage_vectors(np.arange(c0, c0 + nc)),
                [_row_weights(weights, row) for row in range(c0, c0 + nc)] if weights is not None else None,
                [_plain(asdict(s)) for s in index.sentences[s0 : s0 + ns]],
                index.vectors.sentence_vectors(np.arange(s0, s0 + ns)),
            )
            if progress is not None and number % 1000 == 999:
                progress(number + 1)
        staged.put_terms(index.lexical.vocabulary, np.diff(index.lexical.weights.tocsc().indptr))

    def describe(self) -> dict[str, Any]:
        return {"kind": KIND, "collection": self.collection}

    def _sibling(self, collection: str) -> MilvusStore:
        """Return the store of another collection name on the same server, sharing this one's connection."""
        store = MilvusStore(self.uri, collection, self._shown)
        store.__dict__["client"] = self.client
        return store

    def shard(self, number: int, count: int) -> MilvusStore:
        # "Shard" capitalised: a knowledge base's suffix (kb_collection) never holds an S, so no name is both.
        return self._sibling(f"{self.collection}_Shard{number}of{count}")

    def shards(self) -> list[MilvusStore]:
        """Return every shard with collections on the server: those that published lend their rows to the final
        build, and the final build drops them all, so a worker killed before publishing leaves nothing behind."""
        pattern = re.compile(rf"({re.escape(self.collection)}_Shard\d+of\d+)__g\d+_[{''.join(ROLES) + MANIFEST}]")
        names = sorted({m[1] for m in map(pattern.fullmatch, self.client.list_collections()) if m})
        return [self._sibling(name) for name in names]

    def knowledge_bases(self) -> list[str]:
        """Return the names of the knowledge bases published beside this collection (`<collection>_<suffix>`)."""
        with self._talking():
            aliases = self.client.list_aliases().get("aliases", [])
        head = f"{self.collection}_"
        names = (kb_name(alias[len(head):]) for alias in aliases if alias.startswith(head))
        return sorted(name for name in names if name is not None)

    def drop(self) -> None:
        if self.live() is not None:
            self.client.drop_alias(self.collection)
        for generation in self._generations():
            self._drop_generation(generation)
        if self.client.has_collection(self._meta):
            self.client.drop_collection(self._meta)



def kb_collection(name: str) -> str:
    """Return the collection suffix of knowledge base `name` ([a-z0-9][a-z0-9_-]*): `-` as `H`, and `_` as `U` where it
    would make `__` (which separates generations) or end the name; one suffix per name, since names are lowercase."""
    out: list[str] = []
    for n, ch in enumerate(name):
        if ch == "-":
            out.append("H")
        elif ch == "_" and (n == len(name) - 1 or (out and out[-1] == "_")):
            out.append("U")
        else:
            out.append(ch)
    return "".join(out)


def kb_name(suffix: str) -> str | None:
    """Return the knowledge base whose collection suffix is `suffix`, or None when it is no knowledge base's (a shard)."""
    from rag.kbs.catalog import NAME as KB_NAME

    name = suffix.replace("H", "-").replace("U", "_")
    return name if KB_NAME.fullmatch(name) and kb_collection(name) == suffix else None


def kb_uri(text: str, name: str) -> str:
    """Return the RAG_STORE of knowledge base `name` beside the collection `text` names: `<collection>_<suffix>`."""
    store = MilvusStore.from_uri(text)
    collection = f"{store.collection}_{kb_collection(name)}"
    parts = urlsplit(text)
    if parts.netloc:
        return urlunsplit(parts._replace(path=f"/{collection}"))
    query = {key: values for key, values in parse_qs(parts.query).items() if key != "collection"}
    # Built by hand: urlunsplit drops the empty host of milvus:///PATH.
    return f"milvus://{parts.path}?{urlencode({**query, 'collection': collection}, doseq=True)}"


def _subquantizers(dimension: int) -> int:
    """Return the product quantizer's sub-vector count for the sentence index: at most 16, dividing the dimension."""
    return max(m for m in range(1, 17) if dimension % m == 0)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Return a record's fields as JSON holds them (tuples as lists)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in row.items()}


def _tf_parts(weights: sparse.spmatrix) -> sparse.csr_matrix:
    """Return the BM25 weights without their idf (the tf and length part): the question's side applies the idf."""
    csc = weights.tocsc()
    n_docs = max(csc.shape[0], 1)
    doc_freq = np.diff(csc.indptr)
    idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
    parts = csc.copy().astype(np.float64)
    parts.data /= np.repeat(idf, doc_freq)
    return parts.tocsr()


def _row_weights(weights: sparse.csr_matrix, row: int) -> dict[int, float]:
    start, end = weights.indptr[row], weights.indptr[row + 1]
    return {int(c): float(v) for c, v in zip(weights.indices[start:end], weights.data[start:end])}
