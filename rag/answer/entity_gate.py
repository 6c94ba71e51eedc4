"""Whose attribute a question asks about, and whether the articles ever speak of the two together.

"英伟达的股价涨跌了多少" asks for an attribute (股价) of a named entity (英伟达). If no passage holds both words,
the passages that match the question best speak of the attribute for someone else (Adobe's share price)
and of the entity for something else (its scientist's comment): an answer stitched from them would be
about the wrong company, and every signal that adds up evidence passage by passage rates it highly. So the
question is declined. Two shapes are read from jieba's part-of-speech tags:

- an entity, then 的, then a word ("英伟达的股价", "谷歌公司的股价": the entity may stand two words back);
- an entity directly followed by a noun ("英伟达股价").

Entities are words tagged as names of people, places, organisations or other proper nouns, and Latin words.
An entity the corpus never uses is left to the unknown-word signal, and an entity in more than
`topic_share` of the passages is what the corpus is about (Sora, OpenAI): nearly everything is said of it,
so its pairs are not checked.
"""
from __future__ import annotations

from typing import Sequence

from rag.index.lexical import LexicalIndex

ENTITY_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "eng"})
POSSESSIVE = "的"


def owned_pairs(
    words: Sequence[tuple[str, str]], lexical: LexicalIndex, topic_share: float
) -> list[tuple[str, str]]:
    """Return the (entity, attribute) pairs the tagged question words name, both words known to the index."""

    def entity(word: str, tag: str) -> bool:
        return tag in ENTITY_TAGS and word in lexical.vocabulary and lexical.share(word) < topic_share

    pairs = []
    for at, (word, tag) in enumerate(words):
        if word == POSSESSIVE:
            owners = [w for w, t in words[max(0, at - 2) : at] if entity(w, t)]
            owned = [w for w, _ in words[at + 1 : at + 3] if w in lexical.vocabulary]
            if owners and owned:
                pairs.append((owners[-1], owned[0]))
        elif at + 1 < len(words) and entity(word, tag):
            following, following_tag = words[at + 1]
            if following_tag.startswith("n") and following_tag not in ENTITY_TAGS and following in lexical.vocabulary:
                pairs.append((word, following))
    return list(dict.fromkeys(pairs))


def unbound_pair(
    words: Sequence[tuple[str, str]], lexical: LexicalIndex, topic_share: float
) -> tuple[str, str] | None:
    """Return the first (entity, attribute) pair of the question that no passage holds together, if any."""
    for owner, owned in owned_pairs(words, lexical, topic_share):
        if not lexical.held_together(owner, owned):
            return owner, owned
    return None
