"""Read numbered lines of a corpus article for display, refusing any path outside the corpus."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .corpus import SUFFIXES, decode
from .errors import RagError


class SourceNotFoundError(RagError, FileNotFoundError):
    """The requested file is not an article of the corpus."""


@dataclass(frozen=True)
class SourceLines:
    """Lines line_start..line_end (1-based, inclusive) of an article, and how many lines it has."""

    file: str
    line_start: int
    line_end: int
    lines: tuple[str, ...]
    total_lines: int


def resolve_source(corpus_dir: Path, file: str) -> Path:
    """Return the path of `file` (as cited, e.g. "seeds/x.txt") if it is an article inside the corpus folder."""
    root = corpus_dir.resolve()
    relative = Path(file)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts or relative.parts[0] != root.name:
        raise SourceNotFoundError(f"{file} is not an article of the corpus: use a file name from a citation")
    candidate = root.parent / relative
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise SourceNotFoundError(f"{file} is not an article of the corpus: use a file name from a citation") from None
    if not resolved.is_relative_to(root) or not resolved.is_file() or resolved.suffix.lower() not in SUFFIXES:
        raise SourceNotFoundError(f"{file} is not an article of the corpus: use a file name from a citation")
    return resolved


def source_lines(corpus_dir: Path, file: str, line_start: int = 1, line_end: int | None = None) -> SourceLines:
    """Return the article's lines in the range, clipped to the file; lines are as in the file, markup included."""
    path = resolve_source(corpus_dir, file)
    lines = decode(path.read_bytes(), file).split("\n")
    start = max(1, line_start)
    end = min(len(lines), line_end if line_end is not None else len(lines))
    return SourceLines(file, start, max(start, end), tuple(lines[start - 1 : end]), len(lines))
