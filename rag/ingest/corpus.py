"""Read a corpus folder into cleaned articles; a file that cannot be read is reported, never fatal to the rest."""
from __future__ import annotations

import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError
from rag.ingest.cleaning import clean, line_numbers
from rag.ingest.formats import DOCUMENT_SUFFIXES, Extracted, UndecodableError, extract
from rag.records import Article

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", *DOCUMENT_SUFFIXES)

__all__ = ["SUFFIXES", "SourceFile", "UndecodableError", "decode", "list_sources", "read_article", "read_text"]
# Share of characters that must be printable text for bytes without a byte-order mark to be read as UTF-16.
_MIN_TEXT_SHARE = 0.95


@dataclass(frozen=True)
class SourceFile:
    """A corpus file on disk: its path, its name in citations, and a hash of its bytes."""

    path: Path
    name: str  # relative to the corpus folder's parent, with forward slashes
    sha256: str


def list_sources(corpus_dir: Path) -> list[SourceFile]:
    """Return the corpus's article files in a stable order, with their content hashes."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist: pass --corpus DIR with your articles")
    root = corpus_dir.resolve()
    sources = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()):
        if not path.resolve().is_relative_to(root):
            log.warning("skipping %s: it links outside the corpus folder", path)
            continue
        name = path.relative_to(root.parent).as_posix()
        sources.append(SourceFile(path=path, name=name, sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    return sources


def _looks_chinese(text: str) -> bool:
    """True when most non-ASCII characters are CJK ideographs or punctuation, as real GB text decodes to."""
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide:
        return True
    cjk = sum(1 for ch in wide if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" or ch in "“”‘’—…·")
    return cjk / len(wide) >= 0.8


def _looks_like_text(text: str) -> bool:
    """True when nearly every character is assigned, printable or a line/tab break, as real text decodes to."""
    if not text:
        return False
    odd = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs") and ch not in "\t\n\r\f")
    return odd <= len(text) * (1 - _MIN_TEXT_SHARE)


def _utf16_without_bom(data: bytes) -> str | None:
    """Return the text of UTF-16 bytes that have no byte-order mark, or None when they are not UTF-16 text.

    ASCII characters (line breaks, digits, Latin letters) put a zero byte at each character's high half,
    so the zeros fall on odd offsets in little-endian text and on even ones in big-endian text.
    """
    if len(data) % 2:
        return None
    zeros_odd = data[1::2].count(0)
    zeros_even = data[0::2].count(0)
    if zeros_odd == zeros_even:
        return None
    try:
        text = data.decode("utf-16-le" if zeros_odd > zeros_even else "utf-16-be")
    except UnicodeDecodeError:
        return None
    return text if "\x00" not in text and _looks_like_text(text) else None


def _line_breaks(text: str) -> str:
    """Return text with CRLF and lone CR (old Mac files) line breaks as LF, so every reader numbers lines alike."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode(data: bytes, name: str) -> str:
    """Return the text of a UTF-8 (with or without BOM), UTF-16 or GBK/GB18030 file, line breaks as LF, or raise UndecodableError."""
    return _line_breaks(_decode(data, name))


def _decode(data: bytes, name: str) -> str:
    """Return the file's text with its line breaks as they are, or raise UndecodableError naming the file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UndecodableError(name, "starts like UTF-16 but is not valid UTF-16: save it as UTF-8") from None
    if b"\x00" in data:
        text = _utf16_without_bom(data)
        if text is None:
            raise UndecodableError(name, "looks binary, not text: remove it from the corpus folder")
        return text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and _looks_chinese(text):
        return text
    raise UndecodableError(name, "is not UTF-8, UTF-16 or GB18030 text: save it as UTF-8")


def read_text(data: bytes, name: str) -> Extracted:
    """Return the text of a corpus file's bytes (a PDF's or DOCX's extracted, any other decoded), or raise UndecodableError."""
    suffix = Path(name).suffix.lower()
    if suffix in DOCUMENT_SUFFIXES:
        return extract(data, name, suffix)
    return Extracted(decode(data, name))


def read_article(source: SourceFile) -> Article:
    """Return the cleaned article of one source file with its line map."""
    extracted = read_text(source.path.read_bytes(), source.name)
    raw = extracted.raw
    cleaned = clean(raw)
    if not cleaned.text.strip():
        raise CorpusError(f"{source.name} has no text left after cleaning: check that it is an article")
    return Article(
        file=source.name,
        title=extracted.title or cleaned.title or source.path.stem,
        text=cleaned.text,
        raw=raw,
        origin=cleaned.origin,
        line_of=line_numbers(raw, cleaned.origin),
        sha256=source.sha256,
        pages=extracted.pages,
    )
