"""The index's manifest as typed records: one builder (`Manifest.create`), one reader (`Manifest.from_json`).

The JSON on disk is what `to_json` writes; `from_json` checks every part loading and answering read and
raises the one-line damaged (or format) error on anything else. Parts the product only records for people
(chunking, lexical, and any key it does not know, such as a synthetic index's `synthetic`) pass through as
they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag import __version__
from rag.errors import REBUILD, IndexMismatchError, index_damaged
from rag.index.integrity import manifest_checksum

# 2: rows read on demand through byte offsets (*.offsets.npy); sentences carry their tokens (`terms`).
# 3: chunks carry their article offsets; sentence vectors are pooled from their chunk's forward pass.
# 4: the manifest records each file's size and sha256, and a checksum of its own content.
# 5: the text of every article as read (articles.jsonl), so sources show what was indexed after a file changes.
# 6: the lexical tokens (BM25 columns, sentences' `terms`) are in simplified script, traditional characters mapped.
# 7: each sentence is also embedded on its own (sentence_alone_vectors.npy), for questions in another language.
# 8: each sentence as a second model reads it (sentence_reader_vectors.npy), for the answer-sentence ranking.
# 9: a semicolon ends a clause, not a sentence, and an end inside a bracketed aside ends neither (rag/ingest/sentences.py).
# 10: a Western article's passages and overlong sentences are cut at three times a Chinese one's characters, and a
#     Western sentence only at a break or a space (rag/ingest/chunking.py, rag/ingest/sentences.py).
# 11: each passage keeps the headings of the section it starts in (Chunk.section), which BM25 reads with its text.
FORMAT_VERSION = 11
# What the dense side's scores mean, recorded for whoever reads the manifest.
SIMILARITY = "cosine = inner product of L2-normalised float32 vectors"


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model the vectors come from; the optional parts are omitted from the JSON when None."""

    name: str
    dimension: int
    query_prompt: str | None = None
    passage_prompt: str | None = None
    sentence_vectors: str | None = None  # how sentence vectors were made
    precision: str | None = None
    similarity: str = SIMILARITY


@dataclass(frozen=True)
class Counts:
    """How many articles, chunks (passages) and sentences the index holds, and its vocabulary's size."""

    articles: int
    chunks: int
    sentences: int
    vocabulary: int | None = None


@dataclass(frozen=True)
class ArticleEntry:
    """One article of the index: its file, title, hash and its (first row, count) of chunks and of sentences."""

    file: str
    title: str
    sha256: str
    chunks: tuple[int, int]
    sentences: tuple[int, int]


@dataclass(frozen=True)
class SkippedEntry:
    """A source file the build left out, and why."""

    file: str
    reason: str | None = None


@dataclass(frozen=True)
class Manifest:
    """What manifest.json records: versions, the build settings, the model, counts, articles, the vector
    store's record (`dense`) and every file's checksums (`files`, filled when the folder is written)."""

    settings: dict[str, Any]  # the settings that shape the contents (rag/index/store.py `build_settings`)
    model: ModelInfo
    counts: Counts
    articles: tuple[ArticleEntry, ...]
    dense: dict[str, Any]  # written and read by the vector store (rag/index/vectors)
    skipped: tuple[SkippedEntry, ...] = ()
    chunking: dict[str, Any] = field(default_factory=dict)
    lexical: dict[str, Any] = field(default_factory=dict)
    corpus_dir: str | None = None
    built_at: str | None = None
    format_version: int = FORMAT_VERSION
    package_version: str = __version__
    files: dict[str, Any] = field(default_factory=dict)  # name -> {bytes, sha256, sample_sha256}; rag/index/integrity.py checks them
    checksum: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not read, kept as they are

    @classmethod
    def create(
        cls,
        settings: dict[str, Any],
        model: ModelInfo,
        counts: Counts,
        articles: tuple[ArticleEntry, ...],
        dense: dict[str, Any],
        **parts: Any,
    ) -> Manifest:
        """Return the manifest of a new build, stamped now; `files` and `checksum` come with `sealed`."""
        built_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(settings, model, counts, tuple(articles), dense, built_at=built_at, **parts)

    def sealed(self, files: dict[str, Any]) -> Manifest:
        """Return this manifest for this format and package version with the folder's file records and its checksum."""
        unsealed = replace(self, format_version=FORMAT_VERSION, package_version=__version__, files=files, checksum=None)
        return replace(unsealed, checksum=manifest_checksum(unsealed.to_json()))

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as manifest.json holds it (the checksum last, when there is one)."""
        model = {key: value for key, value in vars(self.model).items() if value is not None}
        counts = {key: value for key, value in vars(self.counts).items() if value is not None}
        data: dict[str, Any] = {
            "built_at": self.built_at,
            "settings": dict(self.settings),
            "model": model,
            "chunking": dict(self.chunking),
            "dense": dict(self.dense),
            "lexical": dict(self.lexical),
            "counts": counts,
            "corpus_dir": self.corpus_dir,
            "articles": [
                {"file": a.file, "title": a.title, "sha256": a.sha256, "chunks": list(a.chunks), "sentences": list(a.sentences)}
                for a in self.articles
            ],
            "skipped": [
                {"file": s.file, **({} if s.reason is None else {"reason": s.reason})} for s in self.skipped
            ],
            **self.extra,
            "format_version": self.format_version,
            "package_version": self.package_version,
            "files": dict(self.files),
        }
        for key in ("built_at", "corpus_dir"):
            if data[key] is None:
                del data[key]
        if self.checksum is not None:
            data["checksum"] = self.checksum
        return data

    @classmethod
    def from_json(cls, data: Any, folder: Path) -> Manifest:
        """Return the manifest read from manifest.json's `data`, or raise the damaged error (or, for another
        format, the mismatch error) saying what is wrong."""
        if not isinstance(data, dict):
            raise index_damaged(folder, "manifest.json is not a JSON object")
        checksum = data.get("checksum")
        if checksum is not None and checksum != manifest_checksum(data):
            raise index_damaged(folder, "manifest.json does not match its checksum")
        if data.get("format_version") != FORMAT_VERSION:
            detail = f"the index in {folder} has format {data.get('format_version')}, this version reads {FORMAT_VERSION}"
            raise IndexMismatchError(f"{detail}: {REBUILD}", "format", detail)
        if checksum is None:
            raise index_damaged(folder, "manifest.json carries no checksum")
        for key, kind in _PARTS.items():
            if not isinstance(data.get(key), kind):
                raise index_damaged(folder, f"manifest.json's {key} is not a JSON {'object' if kind is dict else 'array'}")
        return _parse(data, folder)


# The manifest's parts a load and a question read, with their JSON types.
_PARTS = {"settings": dict, "model": dict, "dense": dict, "counts": dict, "files": dict, "articles": list, "skipped": list}
_KNOWN = {*_PARTS, "chunking", "lexical", "corpus_dir", "built_at", "format_version", "package_version", "checksum"}


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_count(v) for v in value)


def _optional(value: Any, kind: type) -> bool:
    return value is None or isinstance(value, kind)


def _parse(data: dict[str, Any], folder: Path) -> Manifest:
    """Return the typed manifest of a JSON object whose parts have their JSON types, or raise the damaged error."""
    counts, model = data["counts"], data["model"]
    problems = []
    if not (all(_count(counts.get(k)) for k in ("articles", "chunks", "sentences"))
            and _optional(counts.get("vocabulary"), int)):
        problems.append("counts")
    if not (isinstance(model.get("name"), str) and type(model.get("dimension")) is int
            and all(_optional(model.get(k), str) for k in ("query_prompt", "passage_prompt", "sentence_vectors",
                                                           "precision", "similarity"))):
        problems.append("model")
    if not all(isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("file", "title", "sha256"))
               and _pair(e.get("chunks")) and _pair(e.get("sentences")) for e in data["articles"]):
        problems.append("articles")
    if not all(isinstance(e, dict) and isinstance(e.get("file"), str) and _optional(e.get("reason"), str)
               for e in data["skipped"]):
        problems.append("skipped")
    if not (all(isinstance(data.get(k, {}), dict) for k in ("chunking", "lexical"))
            and all(_optional(data.get(k), str) for k in ("corpus_dir", "built_at", "package_version"))):
        problems.append("descriptions")
    if problems:
        raise index_damaged(folder, f"manifest.json's {problems[0]} do not have the types the build writes")
    return Manifest(
        settings=dict(data["settings"]),
        model=ModelInfo(**{k: v for k, v in model.items() if k in ModelInfo.__dataclass_fields__}),
        counts=Counts(counts["articles"], counts["chunks"], counts["sentences"], counts.get("vocabulary")),
        articles=tuple(
            ArticleEntry(e["file"], e["title"], e["sha256"], tuple(e["chunks"]), tuple(e["sentences"]))  # type: ignore[arg-type]
            for e in data["articles"]
        ),
        dense=dict(data["dense"]),
        skipped=tuple(SkippedEntry(e["file"], e.get("reason")) for e in data["skipped"]),
        chunking=dict(data.get("chunking", {})),
        lexical=dict(data.get("lexical", {})),
        corpus_dir=data.get("corpus_dir"),
        built_at=data.get("built_at"),
        format_version=data["format_version"],
        package_version=data.get("package_version") or "",
        files=dict(data["files"]),
        checksum=data["checksum"],
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )

