"""A table's rows, and the row a question names: "星图一体机A3多少钱？" is answered by the row whose first cell is
星图一体机A3, not by its neighbours, which hold the same words and the same kind of answer; "哪个型号最便宜？" by the
row with the lowest price."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rag.answer.questions import holds_kind
from rag.index.store import Index
from rag.ingest.headings import TABLE_ROW
from rag.records import Sentence

if TYPE_CHECKING:  # extractive.py reads tables with this module's helpers
    from rag.answer.extractive import SentenceScore

# Lines apart that two rows of one table may stand: the header and the first row have the |---| line between them.
ROW_GAP = 2

# A superlative asks for the row at one end of a column: "哪个型号内存最大？", "Which model is the cheapest?". A cheap or
# dear one is asked of the column that holds prices; any other of the column the question names.
_CHEAP, _DEAR = "min-price", "max-price"
_SUPERLATIVES = (
    (re.compile(r"最便宜|最实惠|最低价|\bcheapest\b|\bleast expensive\b|\blowest[- ]priced\b"), _CHEAP),
    (re.compile(r"最贵|最昂贵|\bmost expensive\b|\bpriciest\b|\bhighest[- ]priced\b"), _DEAR),
    (re.compile(r"最[大多高长重快强]|\b(?:largest|biggest|most|highest|longest|heaviest|fastest|greatest)\b"), "max"),
    (re.compile(r"最[小少低短轻慢弱]|\b(?:smallest|fewest|least|lowest|shortest|lightest|slowest)\b"), "min"),
)
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)\s*(kb|mb|gb|tb|k|m|千|万|亿)?", re.IGNORECASE)
_SCALE = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "k": 1e3, "m": 1e6, "千": 1e3, "万": 1e4, "亿": 1e8}
_NOTHING = re.compile(r"^(?:none|no|nil|无|没有|[-—–])$", re.IGNORECASE)


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


def _cells(row: Sentence) -> list[str]:
    """Return a markdown row's cells, stripped."""
    return [cell.strip() for cell in row.text.strip().strip("|").split("|")]


def row_key(row: Sentence) -> str:
    """Return the row's first cell: what names the row ("星图一体机A3", "Aurora S3 Pro")."""
    return next((cell for cell in _cells(row) if cell), "")


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


def _amount(cell: str) -> float | None:
    """Return the number a cell states, in its unit's scale ("128GB", "1TB", "29800元", "$1,299"); 0 for a cell that
    says none; None for a cell that states no number."""
    if _NOTHING.match(cell):
        return 0.0
    found = _NUMBER.search(cell)
    if found is None:
        return None
    value = float(found.group(1).replace(",", ""))
    return value * _SCALE.get((found.group(2) or "").lower(), 1.0)


def extreme_row(question: str, asked: set[str], header: Sentence, body: Sequence[Sentence],
                tokens: Callable[[str], list[str]]) -> int | None:
    """Return the position in `body` of the row a superlative question asks for ("哪个型号最便宜？": the lowest price;
    "Which model has the most sensors?": the most in the column the question names), or None when the question asks
    no superlative, names no column the rows all state a number in, or two rows tie."""
    wanted = next((end for pattern, end in _SUPERLATIVES if pattern.search(question.lower())), None)
    if wanted is None or len(body) < 2:
        return None
    names = _cells(header)
    cells = [_cells(row) for row in body]
    columns = range(1, len(names))
    if wanted in (_CHEAP, _DEAR):
        column = next((c for c in columns if all(c < len(row) and holds_kind("money", row[c], (), {}) for row in cells)),
                      None)
    else:
        named = [c for c in columns if set(tokens(names[c])) & asked]
        column = named[0] if len(named) == 1 else None
    if column is None:
        return None
    amounts = [_amount(row[column]) if column < len(row) else None for row in cells]
    if any(amount is None for amount in amounts):
        return None
    pick = max(amounts) if wanted in ("max", _DEAR) else min(amounts)  # type: ignore[type-var]
    at = [i for i, amount in enumerate(amounts) if amount == pick]
    return at[0] if len(at) == 1 else None


def prefer_named_rows(
    index: Index, scored: Sequence[SentenceScore], question: str, tokens: Callable[[str], list[str]],
) -> list[SentenceScore]:
    """Return the ranked candidates with each table the question names a row of (by its key, else by the words only
    it holds: `rows_holding`) answered by that row: it takes the place of the table's best-ranked row, and the table's
    other rows and the sentence that announces it leave the candidates (the header comes back with the row,
    `answer_block`). A superlative ("哪个型号内存最大？", "Which model is the cheapest?") names the row at that end of
    the column it asks of (`extreme_row`). When the question also names one of the table's columns ("A3的内存多大？":
    内存), or asks a superlative, the row answers before any sentence. A table none of whose rows the question names
    is left as ranked.

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
        extreme = extreme_row(question, asked, rows[0], body, tokens)
        named = ({extreme} if extreme is not None else
                 named_rows(asked, [set(tokens(row_key(row))) for row in body])
                 or rows_holding(asked, [set(row.terms) for row in body]))
        if not named or len(named) == len(body):
            continue
        members = {r.sentence_id for r in rows}
        opening = announcer(index, rows[0])
        if opening is not None:
            members.add(opening.sentence_id)
        top = max(s.score for s in out if s.sentence.sentence_id in members)
        columns = set(rows[0].terms) - set(tokens(row_key(rows[0])))  # the header's words but the key column's
        if asked & columns or extreme is not None:
            top = max(top, best + 1e-3)
        out = [s for s in out if s.sentence.sentence_id not in members]
        out.extend(dataclasses.replace(candidate, sentence=body[i], score=top - 1e-6 * n)
                   for n, i in enumerate(sorted(named)))
    return sorted(out, key=lambda s: (-s.score, s.sentence.sentence_id))
