"""Corpora about one subject cut from a dev set, for the decision's fit: each article's paragraphs as files of their own.

The dev corpora span many subjects, so the best sentence for a question stands far above the rest of the corpus
(`dense_z`) and the decision learns to lean on it. A team's corpus is often about one subject, as the Sora articles
are about one event: there every passage is near every question, and a decision fitted on the dev sets alone declined
a fifth of the Sora questions held out. Cutting one article into its paragraphs makes such a corpus from questions
with known answers: the questions of the paragraphs kept are answerable, and those of the one paragraph left out
are questions on the same subject that the corpus does not answer. `bench/fit_decision.py --one-subject SET` asks
them and fits on them as a fold of their own, left out with SET (docs/answers.md, *Corpora about one subject*).

An article of one paragraph (CMRC's) is cut into runs of whole sentences instead. With nothing left out
(`--one-article SET`), every question is answerable: a corpus of one short article, where no passage stands out from
the rest as one does among many subjects (docs/answers.md, *One short article as a corpus*).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.small_corpora import by_article
from rag.eval.metrics import Question

# An article needs this many paragraphs to leave one out and still be a corpus of several files.
MIN_PARAGRAPHS = 3
# An article of one paragraph (CMRC's are) is cut into this many runs of whole sentences instead, of about equal length.
SENTENCE_RUNS = 4
# A sentence ends at a full stop, question or exclamation mark, with the closing quotes and brackets after it.
_SENTENCE = re.compile(r".+?(?:[。！？!?][”’」』\"')）]*|$)", re.S)
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


def sentence_runs(paragraph: str, runs: int = SENTENCE_RUNS) -> list[str]:
    """Return a paragraph cut into at most `runs` runs of whole sentences of about equal length (fewer when its
    sentences are too few or too long to fill them)."""
    sentences = [s for s in _SENTENCE.findall(paragraph) if s.strip()]
    total = sum(len(s) for s in sentences)
    ends, reached = set(), 0
    for i, sentence in enumerate(sentences[:-1], 1):
        reached += len(sentence)
        if reached * runs >= total * (len(ends) + 1):
            ends.add(i)
    bounds = [0, *sorted(ends), len(sentences)]
    return ["".join(sentences[a:b]).strip() for a, b in zip(bounds, bounds[1:])]


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


def cuts(corpus: Path, questions: list[Question], leave_out: bool = True) -> list[Cut]:
    """Return one cut per article of `corpus` (sorted by name) with MIN_PARAGRAPHS or more paragraphs (or runs of
    sentences, for an article of one paragraph) and questions placed in them. With `leave_out`, the n-th such article
    leaves out its paragraph n modulo its count, so every position is left out somewhere and the choice is the same
    on every run; without it, every paragraph is kept and every question is answerable."""
    by_file = by_article(questions)
    found: list[Cut] = []
    for path in sorted(corpus.glob("*.txt")):
        title, parts = paragraphs(path.read_text(encoding="utf-8"))
        if len(parts) == 1:
            parts = sentence_runs(parts[0])
        squeezed = [_squeezed(part) for part in parts]
        asked = [(q, placed(q, squeezed)) for q in by_file.get(path.name, [])]
        asked = [(q, where) for q, where in asked if where is not None]
        if len(parts) < MIN_PARAGRAPHS or not asked:
            continue
        left = len(found) % len(parts) if leave_out else -1
        head = f"{title}\n\n" if title else ""
        files = {f"{path.stem}_{i:02d}.txt": f"{head}{part}\n" for i, part in enumerate(parts) if i != left}
        kept = "".join(squeezed[i] for i in range(len(parts)) if i != left)
        # A question of the part left out whose answer the kept parts also state is neither: it is not asked.
        gone = tuple(q for q, where in asked if where == left and not any(_squeezed(a) in kept for a in q.accepted))
        answered = tuple(q for q, where in asked if where != left)
        if answered or gone:
            found.append(Cut(path.name, files, answered, gone))
    return found
