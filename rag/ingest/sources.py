"""Read numbered lines of a corpus article for display, refusing any path outside the corpus."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError
from rag.ingest.cleaning import clean_lines
from rag.ingest.corpus import SUFFIXES, UndecodableError, decode
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


def source_lines(corpus_dir: Path, file: str, line_start: int = 1, line_end: int | None = None) -> SourceLines:
    """Return the article's lines in the range, clipped to the file; lines are as in the file, markup included.

    Raises SourceNotFoundError (not an article), SourceUnreadableError (not text), SourceRangeError (start past the end).
    """
    path = resolve_source(corpus_dir, file)
    try:
        raw = decode(path.read_bytes(), file)
    except UndecodableError as error:
        raise SourceUnreadableError(f"{file} cannot be shown: it {error.reason}") from None
    except OSError as error:
        raise SourceUnreadableError(f"{file} cannot be shown: it cannot be read ({error.strerror})") from None
    lines = raw.split("\n")
    if line_start > len(lines):
        raise SourceRangeError(f"{file} has {len(lines)} lines: ask for start <= {len(lines)}", len(lines))
    start = max(1, line_start)
    end = min(len(lines), line_end if line_end is not None else len(lines))
    clean = clean_lines(raw)[start - 1 : end]
    return SourceLines(file, start, max(start, end), tuple(lines[start - 1 : end]), len(lines), tuple(clean))
