"""Corpora about one subject cut from a dev set, for the decision's fit: each article's paragraphs as files of their own.

The dev corpora span many subjects, so the best sentence for a question stands far above the rest of the corpus
(`dense_z`) and the decision learns to lean on it. A team's corpus is often about one subject, as the Sora articles
are about one event: there every passage is near every question, and a decision fitted on the dev sets alone declined
a fifth of the Sora questions held out. Cutting one article into its paragraphs makes such a corpus from questions
with known answers: the questions of the paragraphs kept are answerable, and those of the one paragraph left out
are questions on the same subject that the corpus does not answer. `bench/fit_decision.py --one-subject SET` asks
them and fits on them as a fold of their own, left out with SET (docs/answers.md, *Corpora about one subject*).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.small_corpora import by_article
from rag.eval.metrics import Question

# An article needs this many paragraphs to leave one out and still be a corpus of several files.
MIN_PARAGRAPHS = 3
# A question is placed by this many leading characters of its evidence quote (whitespace removed).
QUOTE_PREFIX = 30


@dataclass(frozen=True)
class Cut:
    """One article cut into paragraph files: what to write (all but the paragraph left out) and the questions asked,
    split by whether their paragraph was kept."""

    article: str
    files: dict[str, str]  # file name -> text, the paragraph left out not among them
    answerable: tuple[Question, ...]
    unanswerable: tuple[Question, ...]


def paragraphs(text: str) -> tuple[str, list[str]]:
    """Return an article's "# title" line (or "") and its paragraphs (blocks between blank lines)."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    if blocks and blocks[0].startswith("#") and "\n" not in blocks[0]:
        return blocks[0], blocks[1:]
    return "", blocks


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def placed(question: Question, squeezed: list[str]) -> int | None:
    """Return the paragraph holding the question's first evidence quote, or None when no paragraph does; the
    paragraphs are given with their whitespace removed, as the quote is compared."""
    if not question.evidence:
        return None
    quote = _squeezed(question.evidence[0][1])[:QUOTE_PREFIX]
    found = [i for i, part in enumerate(squeezed) if quote and quote in part]
    return found[0] if found else None


def cuts(corpus: Path, questions: list[Question]) -> list[Cut]:
    """Return one cut per article of `corpus` (sorted by name) with MIN_PARAGRAPHS or more paragraphs and questions
    placed in them; the n-th such article leaves out its paragraph n modulo its count, so every position is left out
    somewhere and the choice is the same on every run."""
    by_file = by_article(questions)
    found: list[Cut] = []
    for path in sorted(corpus.glob("*.txt")):
        title, parts = paragraphs(path.read_text(encoding="utf-8"))
        squeezed = [_squeezed(part) for part in parts]
        asked = [(q, placed(q, squeezed)) for q in by_file.get(path.name, [])]
        asked = [(q, where) for q, where in asked if where is not None]
        if len(parts) < MIN_PARAGRAPHS or not asked:
            continue
        left = len(found) % len(parts)
        head = f"{title}\n\n" if title else ""
        files = {f"{path.stem}_{i:02d}.txt": f"{head}{part}\n" for i, part in enumerate(parts) if i != left}
        found.append(Cut(path.name, files, tuple(q for q, where in asked if where != left),
                         tuple(q for q, where in asked if where == left)))
    return found
