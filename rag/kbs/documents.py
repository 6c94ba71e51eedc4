"""Documents added to and removed from a knowledge base's folder: names sanitised, size and type checked first.

An upload is read the way a build reads it (rag/ingest) before anything is stored, so a file the build would
skip (not what its name says, an encrypted PDF, a DOCX that would expand past the limits, no text) is refused
with the build's own reason, and the knowledge base stays as it was.
"""
from __future__ import annotations

import os
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError, RagError
from rag.ingest.cleaning import clean
from rag.ingest.corpus import SUFFIXES, read_text
from rag.kbs.catalog import KB_FILE

# Longest document name kept, in characters: names show in citations and the page's lists.
MAX_NAME_CHARS = 120


class DocumentError(RagError, ValueError):
    """A document cannot be added or removed; `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StoredDocument:
    """A document of a knowledge base's folder: its file name and size in bytes."""

    name: str
    bytes: int


def document_name(name: str) -> str:
    """Return the document's file name when it is a plain name of a readable type, else raise DocumentError.

    A name is one file name, never a path: `../../x.md`, `a/b.md`, hidden or control characters are refused.
    """
    cleaned = unicodedata.normalize("NFC", (name or "").strip())
    if (not cleaned or len(cleaned) > MAX_NAME_CHARS or cleaned.startswith(".") or cleaned == KB_FILE
            or any(ch in cleaned for ch in '/\\:') or any(unicodedata.category(ch)[0] == "C" for ch in cleaned)):
        raise DocumentError(
            f"{name[:60]!r} is not a document name: use a plain file name such as report.pdf, at most {MAX_NAME_CHARS} "
            "characters, without / \\ : or a leading dot"
        )
    if Path(cleaned).suffix.lower() not in SUFFIXES:
        raise DocumentError(f"{cleaned} is not a type this bot reads: upload {', '.join(SUFFIXES)}", 415)
    return cleaned


def check_document(name: str, data: bytes, max_bytes: int) -> None:
    """Raise DocumentError unless `data` is a document the build would index: within the size limit, readable, with text."""
    if len(data) > max_bytes:
        raise DocumentError(f"{name} is {len(data):,} bytes, over the limit of {max_bytes:,} for one document: split it", 413)
    if not data:
        raise DocumentError(f"{name} is empty: upload the document itself")
    try:
        extracted = read_text(data, name)
    except CorpusError as error:
        raise DocumentError(str(error)) from None
    if not clean(extracted.raw).text.strip():
        raise DocumentError(f"{name} has no text left after cleaning: check that it is an article")


def same_document(folder: Path, documents: Sequence[StoredDocument], name: str, data: bytes) -> str | None:
    """Return the name of another of `folder`'s `documents` (`list_documents`) with exactly these bytes, or None. One
    of the same name is not another: an upload under its name replaces it. Only documents of the same size are read."""
    for stored in documents:
        if stored.name != name and stored.bytes == len(data) and (folder / stored.name).read_bytes() == data:
            return stored.name
    return None


def store_document(folder: Path, name: str, data: bytes) -> Path:
    """Write the document into `folder` under `name` (replacing one of that name) all at once; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    # A hidden name with no readable suffix: a build that lists the folder meanwhile never sees half a file.
    staged = folder / f".{secrets.token_hex(6)}.uploading"
    try:
        staged.write_bytes(data)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return target


def remove_document(folder: Path, name: str) -> None:
    """Delete the document `name` from `folder`, or raise DocumentError (404) when there is none of that name."""
    name = document_name(name)
    path = folder / name
    if not path.is_file() or path.is_symlink():
        raise DocumentError(f"there is no document {name} in this knowledge base: GET /api/kbs/{{kb}} lists them", 404)
    path.unlink()


def list_documents(folder: Path) -> list[StoredDocument]:
    """Return the documents directly in `folder` (those an upload may replace or delete), by name."""
    if not folder.is_dir():
        return []
    return [
        StoredDocument(path.name, path.stat().st_size)
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in SUFFIXES
    ]
