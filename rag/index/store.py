"""The index on disk: a folder of plain files with a manifest that is checked on load, replaced atomically."""
from __future__ import annotations

import json
import logging
import os
import shutil
import tokenize
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Iterator, Sequence

import faiss
import numpy as np

from rag import __version__
from rag.index.vectors.faiss_index import load_dense
from rag.errors import REBUILD, IndexMismatchError, IndexMissingError, RagError, index_damaged
from rag.index.integrity import IndexHealth, file_records, manifest_checksum, verify_files
from rag.index.lexical import LexicalIndex
from rag.records import Chunk, Sentence
from rag.index.rows import LazyRows, write_rows
from rag.settings import Settings

log = logging.getLogger(__name__)

# 2: rows read on demand through byte offsets (*.offsets.npy); sentences carry their tokens (`terms`).
# 3: chunks carry their article offsets; sentence vectors are pooled from their chunk's forward pass.
# 4: the manifest records each file's size and sha256, and a checksum of its own content.
FORMAT_VERSION = 4
FILES = (
    "chunks.jsonl", "chunks.offsets.npy", "sentences.jsonl", "sentences.offsets.npy", "vectors.npy",
    "sentence_vectors.npy", "dense.faiss", "lexical.npz", "vocabulary.json",
)
# Evenly spaced sentence vectors held in memory as the corpus's background similarity (rag/answer/decide.py).
SENTENCE_SAMPLE = 1024


@dataclass(frozen=True)
class Index:
    """Everything a question needs, loaded from an index folder. Row i of every array is chunk i.

    Loading reads no rows: `chunks` and `sentences` parse a row when it is asked for, and the vectors and
    the dense index are memory-mapped, so a question touches only its candidates. `health` says whether a
    check after loading (a row that does not parse, a file's background hash) found the index damaged; the
    rows ask it before every read, so every question after that raises the damaged error.
    """

    folder: Path
    manifest: dict[str, Any]
    chunks: Sequence[Chunk]
    sentences: Sequence[Sentence]
    vectors: np.ndarray  # chunk vectors, float32, L2-normalised
    sentence_vectors: np.ndarray  # float16, L2-normalised; read only for candidate sentences
    dense: faiss.Index
    lexical: LexicalIndex
    health: IndexHealth | None = None

    @cached_property
    def sentence_sample(self) -> np.ndarray:
        """Return up to SENTENCE_SAMPLE evenly spaced sentence vectors as float32, read from disk once."""
        step = max(1, len(self.sentences) // SENTENCE_SAMPLE)
        return np.asarray(self.sentence_vectors[::step][:SENTENCE_SAMPLE], dtype=np.float32)


def build_settings(settings: Settings) -> dict[str, Any]:
    """Return the settings that shape an index's contents: a loaded index must match them."""
    return {
        "embed_model": settings.embed_model,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "passage_template": settings.passage_template,
        "bm25_k1": settings.bm25_k1,
        "bm25_b": settings.bm25_b,
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write manifest.json with this format and package version, the size and hashes of every file of the
    folder and its own checksum; written last, it marks the folder complete."""
    manifest = dict(manifest, format_version=FORMAT_VERSION, package_version=__version__, files=file_records(folder, FILES))
    manifest["checksum"] = manifest_checksum(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def write_index(folder: Path, index: Index) -> None:
    """Write every file of `index` into an empty `folder`, the manifest last."""
    write_rows(folder / "chunks.jsonl", (asdict(c) for c in index.chunks))
    write_rows(folder / "sentences.jsonl", (asdict(s) for s in index.sentences))
    np.save(folder / "vectors.npy", np.asarray(index.vectors, dtype=np.float32), allow_pickle=False)
    np.save(folder / "sentence_vectors.npy", np.asarray(index.sentence_vectors, dtype=np.float16), allow_pickle=False)
    faiss.write_index(index.dense, str(folder / "dense.faiss"))
    index.lexical.save(folder)
    write_manifest(folder, index.manifest)


def _is_index_or_empty(folder: Path) -> bool:
    """True for no folder, an empty one, an index, or what damage left of one (only index files)."""
    if not folder.exists() or (folder / "manifest.json").exists():
        return True
    return all(path.name in FILES for path in folder.iterdir())


def replace_folder(staged: Path, target: Path) -> None:
    """Move a fully written `staged` folder to `target`; the old index is removed only once the new one is there."""
    if not _is_index_or_empty(target):
        shutil.rmtree(staged, ignore_errors=True)
        raise IndexMismatchError(f"{target} exists and is not an index: choose another folder with --index")
    retired = target.with_name(target.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        os.rename(target, retired)
    os.rename(staged, target)
    shutil.rmtree(retired, ignore_errors=True)


def recover(target: Path) -> None:
    """Put back an index left aside by a build that died between the two renames of `replace_folder`."""
    retired = target.with_name(target.name + ".old")
    if (retired / "manifest.json").exists() and not (target / "manifest.json").exists():
        if target.exists() and not any(target.iterdir()):
            target.rmdir()
        if not target.exists():
            os.rename(retired, target)
            log.warning("restored the previous index in %s after an interrupted build", target)


def read_manifest(folder: Path) -> dict[str, Any]:
    """Return the manifest of the index in `folder`, or raise with what to do."""
    recover(folder)
    path = folder / "manifest.json"
    if not path.exists():
        if any((folder / name).exists() for name in FILES):
            raise index_damaged(folder, "manifest.json is missing")
        raise IndexMissingError(f"no index in {folder}: {REBUILD}")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise index_damaged(folder, "manifest.json is not readable JSON") from None
    if not isinstance(manifest, dict):
        raise index_damaged(folder, "manifest.json is not a JSON object")
    checksum = manifest.get("checksum")
    if checksum is not None and checksum != manifest_checksum(manifest):
        raise index_damaged(folder, "manifest.json does not match its checksum")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {folder} has format {manifest.get('format_version')}, this version reads "
            f"{FORMAT_VERSION}: {REBUILD}"
        )
    if checksum is None:
        raise index_damaged(folder, "manifest.json carries no checksum")
    _check_shape(manifest, folder)
    return manifest


# The manifest's parts a load and a question read, with their JSON types.
_PARTS = {"settings": dict, "model": dict, "dense": dict, "counts": dict, "files": dict, "articles": list, "skipped": list}


def _check_shape(manifest: dict[str, Any], folder: Path) -> None:
    """Raise the damaged error unless the manifest's parts have the types loading and answering rely on."""

    def ints(value: Any, n: int) -> bool:
        return isinstance(value, list) and len(value) == n and all(type(v) is int and v >= 0 for v in value)

    for key, kind in _PARTS.items():
        if not isinstance(manifest.get(key), kind):
            raise index_damaged(folder, f"manifest.json's {key} is not a JSON {'object' if kind is dict else 'array'}")
    counts, model = manifest["counts"], manifest["model"]
    problems = [
        not ints([counts.get("articles"), counts.get("chunks"), counts.get("sentences")], 3) and "counts",
        not (isinstance(model.get("name"), str) and type(model.get("dimension")) is int) and "model",
        not isinstance(manifest["dense"].get("faiss"), str) and "dense",
    ]
    for entry in manifest["articles"]:
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("file", "title", "sha256"))
                and ints(entry.get("chunks"), 2) and ints(entry.get("sentences"), 2)):
            problems.append("articles")
            break
    for entry in manifest["skipped"]:
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)):
            problems.append("skipped")
            break
    wrong = [p for p in problems if p]
    if wrong:
        raise index_damaged(folder, f"manifest.json's {wrong[0]} do not have the types the build writes")


def check_compatible(manifest: dict[str, Any], settings: Settings, folder: Path) -> None:
    """Raise IndexMismatchError naming the first setting the index was built differently with."""
    built = manifest.get("settings", {})
    for key, wanted in build_settings(settings).items():
        if built.get(key) != wanted:
            raise IndexMismatchError(
                f"the index in {folder} was built with {key}={built.get(key)!r}, settings ask for {wanted!r}: "
                f"{REBUILD} (or set RAG_{key.upper()}={built.get(key)})"
            )


# What a damaged file can make numpy, scipy, zipfile or FAISS raise while it is read.
_UNREADABLE = (
    OSError, ValueError, EOFError, SyntaxError, OverflowError, MemoryError, TypeError, KeyError, IndexError,
    AttributeError, RuntimeError, RecursionError, zipfile.BadZipFile, tokenize.TokenError,
)


@contextmanager
def _reading(folder: Path, name: str) -> Iterator[None]:
    """Turn any error from reading `name` into the damaged error (the library's own errors pass unchanged)."""
    try:
        yield
    except RagError:
        raise
    except _UNREADABLE as error:
        raise index_damaged(folder, f"{name} cannot be read ({type(error).__name__})") from None


def _matrix(folder: Path, name: str, dtype: type, dimension: int) -> np.ndarray:
    """Return the memory-mapped (rows × dimension) matrix `name`, or raise the damaged error."""
    with _reading(folder, name):
        matrix = np.load(folder / name, mmap_mode="r", allow_pickle=False)
    if matrix.dtype != dtype or matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise index_damaged(folder, f"{name} holds {matrix.dtype} {matrix.shape}, not {np.dtype(dtype)} rows of {dimension}")
    return matrix


def load_index(settings: Settings, verify_all: bool = False) -> Index:
    """Return the index in `settings.index_dir` after checking its manifest against the settings and its files.

    Args:
        verify_all: hash every file whole before returning, whatever `index_verify_bytes` allows (a build
            that reuses the index's rows and vectors must not copy damage into the new index).
    """
    folder = settings.index_dir
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, folder)
    health = IndexHealth(folder)
    verify_files(folder, FILES, manifest["files"], None if verify_all else settings.index_verify_bytes, health)
    counts = manifest["counts"]
    dimension = manifest["model"]["dimension"]
    with _reading(folder, "chunks.jsonl"):
        chunks = LazyRows(folder / "chunks.jsonl", partial(_chunk, counts["sentences"]), health)
    with _reading(folder, "sentences.jsonl"):
        sentences = LazyRows(folder / "sentences.jsonl", _sentence, health)
    for rows in (chunks, sentences):
        if len(rows):  # a row of another shape shows now, not at the first question
            rows[0], rows[-1]
    vectors = _matrix(folder, "vectors.npy", np.float32, dimension)
    sentence_vectors = _matrix(folder, "sentence_vectors.npy", np.float16, dimension)
    with _reading(folder, "dense.faiss"):
        dense = load_dense(folder / "dense.faiss", manifest["dense"], counts["chunks"], dimension)
    with _reading(folder, "lexical.npz"):
        lexical = LexicalIndex.load(folder, settings.bm25_k1, settings.bm25_b)
    sizes = {
        "chunks": (len(chunks), vectors.shape[0], dense.ntotal, lexical.weights.shape[0]),
        "sentences": (len(sentences), sentence_vectors.shape[0]),
    }
    for name, found in sizes.items():
        if len(set(found)) != 1 or found[0] != counts[name]:
            raise index_damaged(folder, f"{name} counts {found} disagree with the manifest's {counts[name]}")
    if manifest.get("package_version") != __version__:
        log.info("index written by rag %s, running %s", manifest.get("package_version"), __version__)
    return Index(folder, manifest, chunks, sentences, vectors, sentence_vectors, dense, lexical, health)


def _fields(row: dict[str, Any], kinds: dict[str, type], lists: dict[str, type], optional: set[str]) -> None:
    """Raise TypeError unless `row` has these fields (all but the `optional` ones) of these types, its lists
    holding items of these types."""
    if not set(kinds).union(lists) >= set(row) >= set(kinds).union(lists) - optional:
        raise TypeError("fields differ")
    if not all(isinstance(row[key], kind) for key, kind in kinds.items() if key in row):
        raise TypeError("a field of another type")
    if not all(isinstance(row[key], list) and all(isinstance(v, kind) for v in row[key])
               for key, kind in lists.items() if key in row):
        raise TypeError("a list of another type")


# Each row's fields and types, as the build writes them; those with a default in the record may be absent.
_CHUNK = {"chunk_id": int, "file": str, "title": str, "text": str, "line_start": int, "line_end": int,
          "char_start": int, "char_end": int}
_SENTENCE = {"sentence_id": int, "file": str, "text": str, "quote": str, "line_start": int, "line_end": int,
             "char_start": int, "char_end": int}


def _chunk(sentence_count: int, row_number: int, row: dict[str, Any]) -> Chunk:
    _fields(row, _CHUNK, {"sentence_ids": int}, {"sentence_ids", "char_start", "char_end"})
    if row["chunk_id"] != row_number:
        raise ValueError("row out of place")
    if not all(0 <= i < sentence_count for i in row.get("sentence_ids", ())):
        raise ValueError("a sentence id out of range")
    return Chunk(**{**row, "sentence_ids": tuple(row.get("sentence_ids", ()))})


def _sentence(row_number: int, row: dict[str, Any]) -> Sentence:
    _fields(row, _SENTENCE, {"terms": str}, {"terms"})
    if row["sentence_id"] != row_number:
        raise ValueError("row out of place")
    return Sentence(**{**row, "terms": tuple(row.get("terms", ()))})
