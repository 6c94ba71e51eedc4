"""Text out of PDF (its text layer, lines numbered per page) and DOCX (one line per paragraph) files.

Both are untrusted input: a file that is not what its name says, an encrypted or scanned PDF, or a DOCX
that would expand past the limits raises UndecodableError with one line saying what to do, before any
text is produced, so the build reports it as skipped rather than indexing an empty article.
"""
from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass

from rag.errors import CorpusError

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".pdf", ".docx")
# A DOCX is a zip: its parts may not expand past this many bytes in all, nor any part past this ratio to its
# compressed size (a zip bomb does both), checked from the zip's directory before anything is decompressed.
MAX_DOCX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_DOCX_RATIO = 200
MAX_DOCX_PARTS = 2000


class UndecodableError(CorpusError):
    """A file's bytes are not text in a format the corpus reads; `reason` says what they are and what to do."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Extracted:
    """A document's text with LF line breaks and, for a PDF, the first line (1-based) of each page."""

    raw: str
    pages: tuple[int, ...] = ()
    title: str = ""  # what the document names as its title (a DOCX's Title or first Heading 1 paragraph), or ""


def page_line(pages: tuple[int, ...], line: int) -> tuple[int, int]:
    """Return (page, line on that page), both 1-based, of the document's line `line`."""
    page = max((i for i, first in enumerate(pages) if first <= line), default=0)
    return page + 1, line - pages[page] + 1


def extract(data: bytes, name: str, suffix: str) -> Extracted:
    """Return the text of a PDF or DOCX file's bytes, or raise UndecodableError saying why it cannot be read."""
    if suffix == ".pdf":
        return _pdf(data, name)
    if suffix == ".docx":
        return _docx(data, name)
    raise UndecodableError(name, f"has a format this version does not read ({suffix}): use .txt, .md, .html, .pdf or .docx")


def _pdf(data: bytes, name: str) -> Extracted:
    from pypdf import PdfReader

    if not data.lstrip()[:5] == b"%PDF-":
        raise UndecodableError(name, "is not a PDF (it does not start with %PDF-): remove it or save it as a real PDF")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UndecodableError(name, "is an encrypted PDF: save a copy without a password")
        texts = [page.extract_text() or "" for page in reader.pages]
    except UndecodableError:
        raise
    except Exception as error:  # pypdf raises many kinds on a damaged file; any of them means "cannot be read"
        log.info("%s: %s: %s", name, type(error).__name__, error)
        raise UndecodableError(name, "is a damaged PDF that cannot be read: save it again from its program") from None
    lines: list[str] = []
    pages: list[int] = []
    for text in texts:
        pages.append(len(lines) + 1)
        # pypdf ends a page's text with a line break: that is the page's end, not an empty line on it
        lines.extend(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n"))
    if not any(line.strip() for line in lines):
        raise UndecodableError(name, "has no text layer (a scanned PDF?): run OCR on it, or add its text as a .txt file")
    return Extracted("\n".join(lines), tuple(pages))


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


def _docx_lines(block) -> list[str]:  # block: a python-docx Paragraph or Table
    """Return a paragraph as one line, or a table as one markdown row per row ("| 一线城市 | 500元 |"), so a row
    can be quoted and read with its header (rag/answer/extractive.py); a cell merged across columns counts once."""
    if not hasattr(block, "rows"):
        return [_one_line(block.text)]
    rows = []
    for row in block.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:  # a merged cell is the same element under each column it spans
                seen.add(id(cell._tc))
                cells.append(_one_line(cell.text).strip().replace("|", "｜"))
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def _docx(data: bytes, name: str) -> Extracted:
    from docx import Document

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UndecodableError(name, "is not a Word .docx file: save it as .docx (Word 2007 or later)") from None
    expanded = sum(part.file_size for part in parts)
    if (len(parts) > MAX_DOCX_PARTS or expanded > MAX_DOCX_EXPANDED_BYTES
            or any(part.file_size > MAX_DOCX_RATIO * max(part.compress_size, 1) for part in parts)):
        raise UndecodableError(
            name, f"would expand to {expanded:,} bytes in {len(parts)} parts, over the limits for a document: "
                  f"split it or save it again from Word")
    try:
        document = Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
        lines = [line for block in blocks for line in _docx_lines(block)]
        title = _docx_title(blocks)
    except Exception as error:  # python-docx and lxml raise many kinds on a damaged file
        log.info("%s: %s: %s", name, type(error).__name__, error)
        raise UndecodableError(name, "is a damaged or unusual .docx that cannot be read: save it again from Word") from None
    if not any(line.strip() for line in lines):
        raise UndecodableError(name, "has no paragraphs of text: check that it is an article")
    return Extracted("\n".join(lines), title=title)


# The paragraph styles that name a document (Word's built-in names, which python-docx reports in English).
_TITLE_STYLES = ("Title", "Heading 1")
# A title stands among a document's first paragraphs.
_TITLE_WITHIN = 5


def _docx_title(blocks: list) -> str:
    """Return the text of the first Title or Heading 1 paragraph among the first few, or "" (a document with none is
    named by its first sentence, as a text file is)."""
    for block in blocks[:_TITLE_WITHIN]:
        style = getattr(getattr(block, "style", None), "name", "") or ""
        if not hasattr(block, "rows") and style in _TITLE_STYLES and block.text.strip():
            return _one_line(block.text).strip()
    return ""
