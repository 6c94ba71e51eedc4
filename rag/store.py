"""The index on disk: a folder of plain files with a manifest that is checked on load, replaced atomically."""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import faiss
import numpy as np

from . import __version__
from .dense import load_dense
from .errors import REBUILD, IndexMismatchError, IndexMissingError
from .lexical import LexicalIndex
from .records import Chunk, Sentence
from .rows import LazyRows, write_rows
from .settings import Settings

log = logging.getLogger(__name__)

# 2: rows read on demand through byte offsets (*.offsets.npy); sentences carry their tokens (`terms`).
# 3: chunks carry their article offsets; sentence vectors are pooled from their chunk's forward pass.
FORMAT_VERSION = 3
FILES = (
    "chunks.jsonl", "chunks.offsets.npy", "sentences.jsonl", "sentences.offsets.npy", "vectors.npy",
    "sentence_vectors.npy", "dense.faiss", "lexical.npz", "vocabulary.json",
)
# Evenly spaced sentence vectors held in memory as the corpus's background similarity (rag/calibration.py).
SENTENCE_SAMPLE = 1024


@dataclass(frozen=True)
class Index:
    """Everything a question needs, loaded from an index folder. Row i of every array is chunk i.

    Loading reads no rows: `chunks` and `sentences` parse a row when it is asked for, and the vectors and
    the dense index are memory-mapped, so a question touches only its candidates.
    """

    folder: Path
    manifest: dict[str, Any]
    chunks: Sequence[Chunk]
    sentences: Sequence[Sentence]
    vectors: np.ndarray  # chunk vectors, float32, L2-normalised
    sentence_vectors: np.ndarray  # float16, L2-normalised; read only for candidate sentences
    dense: faiss.Index
    lexical: LexicalIndex

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
    """Write manifest.json with this format and package version; written last, it marks the folder complete."""
    manifest = dict(manifest, format_version=FORMAT_VERSION, package_version=__version__)
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
    return not folder.exists() or (folder / "manifest.json").exists() or not any(folder.iterdir())


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
        raise IndexMissingError(f"no index in {folder}: {REBUILD}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexMismatchError(f"the index in {folder} is damaged (manifest.json unreadable): {REBUILD}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {folder} has format {manifest.get('format_version')}, this version reads "
            f"{FORMAT_VERSION}: {REBUILD}"
        )
    return manifest


def check_compatible(manifest: dict[str, Any], settings: Settings, folder: Path) -> None:
    """Raise IndexMismatchError naming the first setting the index was built differently with."""
    built = manifest.get("settings", {})
    for key, wanted in build_settings(settings).items():
        if built.get(key) != wanted:
            raise IndexMismatchError(
                f"the index in {folder} was built with {key}={built.get(key)!r}, settings ask for {wanted!r}: "
                f"{REBUILD} (or set RAG_{key.upper()}={built.get(key)})"
            )


def load_index(settings: Settings) -> Index:
    """Return the index in `settings.index_dir` after checking its manifest against the settings and its files."""
    folder = settings.index_dir
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, folder)
    missing = [name for name in FILES if not (folder / name).exists()]
    if missing:
        raise IndexMismatchError(f"the index in {folder} is incomplete (no {missing[0]}): {REBUILD}")
    chunks = LazyRows(folder / "chunks.jsonl", _chunk)
    sentences = LazyRows(folder / "sentences.jsonl", _sentence)
    for rows in (chunks, sentences):
        if len(rows):  # a row of another shape shows now, not at the first question
            rows[0], rows[-1]
    vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
    sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
    counts = manifest.get("counts", {})
    dense = load_dense(folder / "dense.faiss", manifest.get("dense", {}), counts.get("chunks", -1), vectors.shape[1])
    lexical = LexicalIndex.load(folder, settings.bm25_k1, settings.bm25_b)
    sizes = {
        "chunks": (len(chunks), vectors.shape[0], dense.ntotal, lexical.weights.shape[0]),
        "sentences": (len(sentences), sentence_vectors.shape[0]),
    }
    for name, found in sizes.items():
        if len(set(found)) != 1 or found[0] != counts.get(name):
            raise IndexMismatchError(f"the index in {folder} is damaged ({name} counts {found} disagree): {REBUILD}")
    if manifest.get("package_version") != __version__:
        log.info("index written by rag %s, running %s", manifest.get("package_version"), __version__)
    return Index(folder, manifest, chunks, sentences, vectors, sentence_vectors, dense, lexical)


def _chunk(row_number: int, row: dict[str, Any]) -> Chunk:
    if row["chunk_id"] != row_number:
        raise ValueError("row out of place")
    return Chunk(**{**row, "sentence_ids": tuple(row["sentence_ids"])})


def _sentence(row_number: int, row: dict[str, Any]) -> Sentence:
    if row["sentence_id"] != row_number:
        raise ValueError("row out of place")
    return Sentence(**{**row, "terms": tuple(row["terms"])})
