"""Read numbered lines of a corpus article for display, refusing any path outside the corpus."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rag.errors import RagError
from rag.ingest.cleaning import clean_lines
from rag.ingest.corpus import SUFFIXES, UndecodableError, read_text
from rag.ingest.formats import page_line
from rag.ingest.textnorm import shown


class SourceNotFoundError(RagError, FileNotFoundError):
    """The requested file is not an article of the corpus."""


class SourceUnreadableError(RagError, ValueError):
    """The file is an article of the corpus, but its bytes are not text that can be shown."""


class SourceRangeError(RagError, ValueError):
    """The requested lines start after the article's last line; `total_lines` says how many it has."""

    def __init__(self, message: str, total_lines: int) -> None:
        super().__init__(message)
        self.total_lines = total_lines


@dataclass(frozen=True)
class SourceLines:
    """Lines line_start..line_end (1-based, inclusive) of an article, and how many lines it has.

    `clean` holds the same lines as the index read them (markup removed, entities decoded): a citation's
    quote stands in the cited lines of `clean`.
    """

    file: str
    line_start: int
    line_end: int
    lines: tuple[str, ...]
    total_lines: int
    clean: tuple[str, ...] = ()
    stale: bool = False  # the file changed (or went) since the build: these are the lines as indexed
    pages: tuple[int, ...] = ()  # a PDF's first line of each page

    def page_of(self, line: int) -> tuple[int, int] | None:
        """Return (page, line on the page) of line `line` of a PDF, or None for other formats."""
        return page_line(self.pages, line) if self.pages else None


class Indexed(Protocol):
    """An article's text as the index holds it (rag/index/store.py ArticleText)."""

    file: str
    sha256: str
    raw: str
    pages: tuple[int, ...]


def _not_an_article(file: str) -> SourceNotFoundError:
    return SourceNotFoundError(f"{shown(file)} is not an article of the corpus: use a file name from a citation")


def resolve_source(corpus_dir: Path, file: str) -> Path:
    """Return the path of `file` (as cited, e.g. "seeds/x.txt") if it is an article inside the corpus folder."""
    root = corpus_dir.resolve()
    relative = Path(file)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts or relative.parts[0] != root.name:
        raise _not_an_article(file)
    candidate = root.parent / relative
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte or a lone surrogate, which no file name holds
        raise _not_an_article(file) from None
    if not resolved.is_relative_to(root) or not resolved.is_file() or resolved.suffix.lower() not in SUFFIXES:
        raise _not_an_article(file)
    return resolved


def _changed(corpus_dir: Path, indexed: Indexed) -> bool:
    """True when the article's file is gone or its bytes are not those the index was built from."""
    try:
        return hashlib.sha256(resolve_source(corpus_dir, indexed.file).read_bytes()).hexdigest() != indexed.sha256
    except (SourceNotFoundError, OSError):
        return True


def source_lines(
    corpus_dir: Path, file: str, line_start: int = 1, line_end: int | None = None, indexed: Indexed | None = None
) -> SourceLines:
    """Return the article's lines in the range, clipped to it; lines are as in the file, markup included.

    With `indexed` (the index's text of this article) the lines are those the index was built from, so a
    citation's quote stands in them even after the file was edited; `stale` then says the file changed.
    Raises SourceNotFoundError (not an article), SourceUnreadableError (not text), SourceRangeError (start past the end).
    """
    stale = False
    if indexed is not None:
        raw, pages, stale = indexed.raw, indexed.pages, _changed(corpus_dir, indexed)
    else:
        raw, pages = _read(corpus_dir, file)
    lines = raw.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the newline that ends the last line opens no line of its own (an editor counts as many)
    if line_start > len(lines):
        raise SourceRangeError(f"{file} has {len(lines)} lines: ask for start <= {len(lines)}", len(lines))
    start = max(1, line_start)
    end = min(len(lines), line_end if line_end is not None else len(lines))
    clean = clean_lines(raw)[start - 1 : end]
    return SourceLines(file, start, max(start, end), tuple(lines[start - 1 : end]), len(lines), tuple(clean), stale,
                       tuple(pages))


def _read(corpus_dir: Path, file: str) -> tuple[str, tuple[int, ...]]:
    """Return the text of the corpus article `file` as it is on disk now, and a PDF's page starts."""
    path = resolve_source(corpus_dir, file)
    try:
        found = read_text(path.read_bytes(), file)
        return found.raw, found.pages
    except UndecodableError as error:
        raise SourceUnreadableError(f"{file} cannot be shown: it {error.reason}") from None
    except OSError as error:
        raise SourceUnreadableError(f"{file} cannot be shown: it cannot be read ({error.strerror})") from None
