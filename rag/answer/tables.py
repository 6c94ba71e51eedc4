"""A table's rows, and the row a question names: "星图一体机A3多少钱？" is answered by the row whose first cell is
星图一体机A3, not by its neighbours, which hold the same words and the same kind of answer."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rag.index.store import Index
from rag.ingest.headings import TABLE_ROW
from rag.records import Sentence

if TYPE_CHECKING:  # extractive.py reads tables with this module's helpers
    from rag.answer.extractive import SentenceScore

# Lines apart that two rows of one table may stand: the header and the first row have the |---| line between them.
ROW_GAP = 2


def is_row(sentence: Sentence) -> bool:
    """Return whether the sentence is a markdown table's row (an HTML one that cleaning wrote as markdown too)."""
    return TABLE_ROW.match(sentence.text.strip()) is not None


def _neighbour_row(index: Index, row: Sentence, step: int) -> Sentence | None:
    """Return the row of the same table just above (`step` -1) or below (+1) `row`, or None."""
    sentence_id = row.sentence_id + step
    if not 0 <= sentence_id < len(index.sentences):
        return None
    other = index.sentences[sentence_id]
    apart = row.line_start - other.line_end if step < 0 else other.line_start - row.line_end
    return other if other.file == row.file and is_row(other) and apart <= ROW_GAP else None


def table_header(index: Index, row: Sentence) -> Sentence | None:
    """Return the first row (the header) of the markdown table that `row` stands in, or None when `row` is no table
    row or is the header itself."""
    if not is_row(row):
        return None
    first = row
    while (above := _neighbour_row(index, first, -1)) is not None:
        first = above
    return first if first is not row else None


def table_rows(index: Index, row: Sentence) -> list[Sentence]:
    """Return every row of the table that `row` stands in, its header first."""
    first = table_header(index, row) or row
    rows = [first]
    while (below := _neighbour_row(index, rows[-1], 1)) is not None:
        rows.append(below)
    return rows


def announcer(index: Index, header: Sentence) -> Sentence | None:
    """Return the sentence that announces the table `header` opens ("各型号的价格如下表："), which brings its rows
    (`answer_block`), or None."""
    if header.sentence_id == 0:
        return None
    before = index.sentences[header.sentence_id - 1]
    return before if before.file == header.file and before.text.rstrip().endswith(("：", ":")) else None


def row_key(row: Sentence) -> str:
    """Return the row's first cell: what names the row ("星图一体机A3", "Aurora S3 Pro")."""
    cells = [cell.strip() for cell in row.text.strip().strip("|").split("|")]
    return next((cell for cell in cells if cell), "")


def named_rows(question_terms: set[str], keys: Sequence[set[str]]) -> set[int]:
    """Return the positions of the keys (each row's first cell, as terms) that the question names.

    A key is named by its own words, those the table's other keys do not all share: the question names "星图一体机A3"
    when it holds "a3", and "Aurora S3 Pro" when it holds "pro". A key with no words of its own ("Aurora S3" above
    "Aurora S3 Pro") is named when the question holds all its words and names no other key."""
    if len(keys) < 2:
        return set()
    common = set.intersection(*keys)
    named = {i for i, key in enumerate(keys) if key - common and key - common <= question_terms}
    if not named and common and common <= question_terms:
        named = {i for i, key in enumerate(keys) if not key - common}
    return named


def rows_holding(question_terms: set[str], rows: Sequence[set[str]]) -> set[int]:
    """Return the positions of the rows (each row's words, every cell's) that hold the most question words the other
    rows do not all hold, when one does: "Which model has a touchscreen?" is answered by the row that says
    touchscreen."""
    if len(rows) < 2:
        return set()
    common = set.intersection(*rows)
    counts = [len((row - common) & question_terms) for row in rows]
    best = max(counts)
    return {i for i, count in enumerate(counts) if count == best} if best else set()


def prefer_named_rows(
    index: Index, scored: Sequence[SentenceScore], question: str, tokens: Callable[[str], list[str]],
) -> list[SentenceScore]:
    """Return the ranked candidates with each table the question names a row of (by its key, else by the words only
    it holds: `rows_holding`) answered by that row: it takes the place of the table's best-ranked row, and the table's
    other rows and the sentence that announces it leave the candidates (the header comes back with the row,
    `answer_block`). When the question also names one of the table's columns ("A3的内存多大？": 内存), the row answers
    before any sentence. A table none of whose rows the question names is left as ranked.

    A row's words are the tokens the build stored (`Sentence.terms`); only the keys, one cell each, are read again."""
    if not any(is_row(s.sentence) for s in scored):
        return list(scored)  # no table among the candidates: the question is not even tokenized
    asked = set(tokens(question))
    best = max((s.score for s in scored), default=0.0)
    out = list(scored)
    done: set[int] = set()
    for candidate in scored:
        if not is_row(candidate.sentence) or candidate.sentence.sentence_id in done:
            continue
        rows = table_rows(index, candidate.sentence)
        done.update(r.sentence_id for r in rows)
        body = rows[1:]
        named = (named_rows(asked, [set(tokens(row_key(row))) for row in body])
                 or rows_holding(asked, [set(row.terms) for row in body]))
        if not named or len(named) == len(body):
            continue
        members = {r.sentence_id for r in rows}
        opening = announcer(index, rows[0])
        if opening is not None:
            members.add(opening.sentence_id)
        top = max(s.score for s in out if s.sentence.sentence_id in members)
        columns = set(rows[0].terms) - set(tokens(row_key(rows[0])))  # the header's words but the key column's
        if asked & columns:
            top = max(top, best + 1e-3)
        out = [s for s in out if s.sentence.sentence_id not in members]
        out.extend(dataclasses.replace(candidate, sentence=body[i], score=top - 1e-6 * n)
                   for n, i in enumerate(sorted(named)))
    return sorted(out, key=lambda s: (-s.score, s.sentence.sentence_id))
