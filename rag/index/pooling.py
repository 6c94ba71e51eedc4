"""Where each sentence's vector is read from: the passage holding most of it, and its characters there.

A sentence's vector is the mean of the passage's token embeddings over the sentence's characters, taken
from the forward pass that embeds the passage (so sentences cost no encoding of their own, and each is
read in its passage's context). A sentence the splitter cut across two passages is read from the one
holding more of it; on a tie, from the one where it sits further from the passage's edges.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rag.records import Chunk, Sentence


@dataclass(frozen=True)
class PooledSpan:
    """Sentence `sentence` is read from chunk `chunk`, characters [start, end) of the chunk's text."""

    sentence: int
    chunk: int
    start: int
    end: int


def pooled_spans(chunks: Sequence[Chunk], sentences: Sequence[Sentence]) -> list[PooledSpan]:
    """Return one span per sentence, in sentence order, for one article's chunks and sentences.

    Chunks and sentences are numbered within the article (ids are positions) and carry article offsets.
    A sentence no chunk overlaps (a heading the splitter dropped) gets no span.
    """
    best: dict[int, tuple[tuple[int, int], PooledSpan]] = {}
    for position, chunk in enumerate(chunks):
        for sentence_id in chunk.sentence_ids:
            sentence = sentences[sentence_id]
            start = max(sentence.char_start, chunk.char_start)
            end = min(sentence.char_end, chunk.char_end)
            if end <= start:
                continue
            rank = (end - start, min(start - chunk.char_start, chunk.char_end - end))
            if sentence_id not in best or rank > best[sentence_id][0]:
                span = PooledSpan(sentence_id, position, start - chunk.char_start, end - chunk.char_start)
                best[sentence_id] = (rank, span)
    return [best[i][1] for i in sorted(best)]
