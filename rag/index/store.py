"""The index on disk: a folder of plain files with a manifest that is checked on load, replaced atomically."""
from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Sequence

from rag import __version__
from rag.errors import REBUILD, IndexMismatchError, IndexMissingError, index_damaged
from rag.index.integrity import IndexHealth, file_records, reading, verify_files
from rag.index.lexical import LexicalIndex
from rag.index.manifest import FORMAT_VERSION, Manifest
from rag.index.rows import LazyRows, write_rows
from rag.index.vectors.base import VectorIndex
from rag.index.vectors.factory import open_vectors
from rag.ingest.headings import LIST_ITEM_LINE, NUMBERED_ITEM_LINE
from rag.index.vectors.faiss_index import FILES as FAISS_FILES
from rag.records import Chunk, Sentence
from rag.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["FILES", "FORMAT_VERSION", "ArticleText", "Index", "build_settings", "check_compatible", "corpus_of", "load_folder_index", "load_index", "read_manifest",
           "recover", "replace_folder", "write_index", "write_manifest"]

# The rows and the lexical index, then the vector store's files (a second store will make these follow its record).
FILES = ("chunks.jsonl", "chunks.offsets.npy", "sentences.jsonl", "sentences.offsets.npy", *FAISS_FILES,
         "lexical.npz", "vocabulary.json", "articles.jsonl", "articles.offsets.npy")


@dataclass(frozen=True)
class ArticleText:
    """One article's text as the build read it (line breaks as LF): what its citations quote, shown for its lines."""

    file: str
    sha256: str
    raw: str
    pages: tuple[int, ...] = ()  # a PDF's first line (1-based) of each page; empty for other formats


@dataclass(frozen=True)
class Index:
    """Everything a question needs, loaded from an index folder. Row i of `chunks`, of the passage vectors and of
    the lexical weights is chunk i; row i of `sentences` and of the sentence vectors is sentence i.

    Loading reads no rows: `chunks` and `sentences` parse a row when it is asked for, and the vector store is
    opened without reading its vectors, so a question touches only its candidates. `health` says whether a
    check after loading (a row that does not parse, a file's background hash) found the index damaged; the
    rows ask it before every read, so every question after that raises the damaged error.
    """

    folder: Path
    manifest: Manifest
    chunks: Sequence[Chunk]
    sentences: Sequence[Sentence]
    vectors: VectorIndex  # passage and sentence vectors, dense search (rag/index/vectors)
    lexical: LexicalIndex
    health: IndexHealth | None = None
    texts: Sequence[ArticleText] = ()  # row i is the text of manifest.articles[i]

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {entry.file: i for i, entry in enumerate(self.manifest.articles)}

    def text_of(self, file: str) -> ArticleText | None:
        """Return the indexed text of article `file` (as cited), or None when the index does not hold it."""
        row = self._rows.get(file)
        return self.texts[row] if row is not None and row < len(self.texts) else None

    def source_line(self, file: str, line: int) -> str | None:
        """Return line `line` (1-based) of article `file` as the build read it, or None when there is no such line."""
        text = self.text_of(file)
        if text is None or line < 1:
            return None
        lines = text.raw.split("\n", line)
        return lines[line - 1] if len(lines) >= line else None

    def list_number(self, sentence: Sentence) -> str:
        """Return the marker of the numbered list item the sentence opens ("1.", "（2）"), "" when it opens none (a
        second sentence on the item's line, or a line of no numbered list)."""
        line = self.source_line(sentence.file, sentence.line_start)
        found = NUMBERED_ITEM_LINE.match(line) if line is not None else None
        if found is None:
            return ""
        rest = "".join(line[found.end():].split())
        return found.group("marker") if rest and rest.startswith("".join(sentence.text.split())[:4]) else ""

    def on_list_item(self, sentence: Sentence) -> bool:
        """Return whether the sentence stands on a list item's source line ("- 电池保修一年"). Cleaning drops the
        item's marker, so a short item reads as a heading; only its source line tells them apart."""
        line = self.source_line(sentence.file, sentence.line_start)
        return line is not None and LIST_ITEM_LINE.match(line) is not None


def build_settings(settings: Settings) -> dict[str, Any]:
    """Return the settings that shape an index's contents: a loaded index must match them."""
    return {
        "embed_model": settings.index.embed_model,
        "chunk_size": settings.index.chunk_size,
        "chunk_overlap": settings.index.chunk_overlap,
        "passage_template": settings.index.passage_template,
        "bm25_k1": settings.index.bm25_k1,
        "bm25_b": settings.index.bm25_b,
    }


def write_manifest(folder: Path, manifest: Manifest) -> Manifest:
    """Write manifest.json with this format and package version, the size and hashes of every file of the
    folder and its own checksum; written last, it marks the folder complete. Return what was written."""
    manifest = manifest.sealed(file_records(folder, FILES))
    (folder / "manifest.json").write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def write_index(folder: Path, index: Index) -> Manifest:
    """Write every file of `index` into an empty `folder`, the manifest last; return the manifest written."""
    write_rows(folder / "chunks.jsonl", (asdict(c) for c in index.chunks))
    write_rows(folder / "sentences.jsonl", (asdict(s) for s in index.sentences))
    write_rows(folder / "articles.jsonl", (asdict(t) for t in index.texts))
    index.vectors.save(folder)
    index.lexical.save(folder)
    return write_manifest(folder, index.manifest)


def _is_index_or_empty(folder: Path) -> bool:
    """True for no folder, an empty one, an index, or what damage left of one (only index files)."""
    if not folder.exists() or (folder / "manifest.json").exists():
        return True
    return all(path.name in FILES for path in folder.iterdir())


# renameat2's flag that swaps two paths in one step (Linux 3.15+, glibc 2.28+), and its "relative to the working
# folder" descriptor.
_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _exchange(staged: Path, target: Path) -> bool:
    """Swap two folders in one step, so that no reader finds `target` missing; False where the system cannot (not
    Linux, an older libc, a file system without it), and nothing has moved."""
    try:
        swap = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    return swap(_AT_FDCWD, os.fsencode(staged), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0


def replace_folder(staged: Path, target: Path) -> None:
    """Move a fully written `staged` folder to `target`; the old index is removed only once the new one is there.
    Where the system swaps folders in one step, the old index is never missing either: a server that reads it while
    `rag watch` rebuilds it finds one index or the other, never none (two renames leave a moment with no folder)."""
    if not _is_index_or_empty(target):
        shutil.rmtree(staged, ignore_errors=True)
        detail = f"{target} exists and is not an index"
        raise IndexMismatchError(f"{detail}: choose another folder with --index", "not_an_index", detail)
    if target.exists() and _exchange(staged, target):
        shutil.rmtree(staged, ignore_errors=True)  # it holds the old index now
        return
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


def read_manifest(folder: Path) -> Manifest:
    """Return the manifest of the index in `folder`, or raise with what to do."""
    recover(folder)
    path = folder / "manifest.json"
    if not path.exists():
        if any((folder / name).exists() for name in FILES):
            raise index_damaged(folder, "manifest.json is missing")
        raise IndexMissingError(f"no index in {folder}: {REBUILD}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise index_damaged(folder, "manifest.json is not readable JSON") from None
    return Manifest.from_json(data, folder)


def check_compatible(manifest: Manifest, settings: Settings, folder: Path) -> None:
    """Raise IndexMismatchError naming the first setting the index was built differently with."""
    built = manifest.settings
    for key, wanted in build_settings(settings).items():
        if built.get(key) != wanted:
            detail = f"the index in {folder} was built with {key}={built.get(key)!r}, settings ask for {wanted!r}"
            raise IndexMismatchError(
                f"{detail}: {REBUILD} (or set RAG_{key.upper()}={built.get(key)})",
                "model" if key == "embed_model" else "settings",
                detail,
            )


def corpus_of(manifest: Manifest) -> Path | None:
    """Return the corpus folder the index was built from, resolved, or None when the manifest does not say."""
    if not manifest.corpus_dir:
        return None
    return Path(manifest.corpus_dir).resolve()


def other_corpus(manifest: Manifest, corpus_dir: Path) -> Path | None:
    """Return the corpus folder the index was built from when it is not `corpus_dir`, else None."""
    built = corpus_of(manifest)
    return built if built is not None and built != corpus_dir.resolve() else None


def load_index(settings: Settings, verify_all: bool = False) -> Index:
    """Return the index of the store the settings name (rag/index/stores: the index folder unless RAG_STORE says
    otherwise), checked against the settings; `verify_all` as for `load_folder_index`."""
    from rag.index.stores import open_store

    return open_store(settings).open(settings, verify_all)


def load_folder_index(settings: Settings, verify_all: bool = False) -> Index:
    """Return the index in `settings.index.index_dir` after checking its manifest against the settings and its files.

    Args:
        verify_all: hash every file whole before returning, whatever `index_verify_bytes` allows (a build
            that reuses the index's rows and vectors must not copy damage into the new index).
    """
    folder = settings.index.index_dir
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, folder)
    health = IndexHealth(folder)
    verify_files(folder, FILES, manifest.files, None if verify_all else settings.index.index_verify_bytes, health)
    counts = manifest.counts
    with reading(folder, "chunks.jsonl"):
        chunks = LazyRows(folder / "chunks.jsonl", partial(_chunk, counts.sentences), health)
    with reading(folder, "sentences.jsonl"):
        sentences = LazyRows(folder / "sentences.jsonl", _sentence, health)
    with reading(folder, "articles.jsonl"):
        texts = LazyRows(folder / "articles.jsonl", _article_text, health)
    for rows in (chunks, sentences):
        if len(rows):  # a row of another shape shows now, not at the first question
            rows[0], rows[-1]
    vectors = open_vectors(folder, manifest.dense, counts, manifest.model.dimension, settings)
    with reading(folder, "lexical.npz"):
        lexical = LexicalIndex.load(folder, settings.index.bm25_k1, settings.index.bm25_b)
    sizes = {
        "chunks": ((len(chunks), len(vectors), lexical.weights.shape[0]), counts.chunks),
        "sentences": ((len(sentences),), counts.sentences),
        "articles": ((len(texts), len(manifest.articles)), counts.articles),
    }
    for name, (found, wanted) in sizes.items():
        if len(set(found)) != 1 or found[0] != wanted:
            raise index_damaged(folder, f"{name} counts {found} disagree with the manifest's {wanted}")
    if manifest.package_version != __version__:
        log.info("index written by rag %s, running %s", manifest.package_version, __version__)
    return Index(folder, manifest, chunks, sentences, vectors, lexical, health, texts)


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
          "char_start": int, "char_end": int, "section": str}
_SENTENCE = {"sentence_id": int, "file": str, "text": str, "quote": str, "line_start": int, "line_end": int,
             "char_start": int, "char_end": int}


def _chunk(sentence_count: int, row_number: int, row: dict[str, Any]) -> Chunk:
    _fields(row, _CHUNK, {"sentence_ids": int}, {"sentence_ids", "char_start", "char_end", "section"})
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


def _article_text(row_number: int, row: dict[str, Any]) -> ArticleText:
    _fields(row, {"file": str, "sha256": str, "raw": str}, {"pages": int}, {"pages"})
    return ArticleText(row["file"], row["sha256"], row["raw"], tuple(row.get("pages", ())))
