"""A sentence that states what the question asks before one that reports someone's guess at it.

"Sora的发布时间是什么时候？" opened with "有网友预测，如果按照DALL·E3的发布节奏，2月25日和3月16日附近，值得期待～", a guess at
the next release, before "2月16日凌晨，OpenAI 官方发布了文生视频模型 Sora。": both hold a date and the question's words,
and the ranking reads no difference between a fact and a prediction of one. When the best-ranked candidate reports a
guess, prediction or rumour and one of the next candidates holds the kind of answer the question asks for (a time, a
number, a person, a place, an amount) without one, that one goes first; the rest keep their order. A question that
asks about a guess ("网友预测Sora什么时候开放？") is ranked as it is. Like the identity rule (rag/answer/identity.py),
it orders the shown draft only: the decision judges the ranking it was fitted over.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from rag.answer.extractive import SentenceScore
from rag.answer.questions import asked_kinds, holds_kind
from rag.ingest.textnorm import to_simplified

# Words that report a guess at something rather than state it.
_GUESS = re.compile(r"预测|猜测|推测|猜想|揣测|据传|传闻|传言|坊间|\b(?:predict\w*|speculat\w*|guess\w*|rumou?r\w*)\b", re.I)
_FIGURE = re.compile(r"\d|[一二三四五六七八九十百千万两]+[年月日号时分秒点个位名次倍]")
# The kinds a stated sentence can be told to hold (a reason is no single fact a guess differs from).
_FACTS = ("time", "number", "money", "person", "place")
# How far down the ranking a stated sentence may come from: beyond it, the ranking had reasons of its own.
LOOK_AHEAD = 4


def guesses(text: str) -> bool:
    """Return whether a sentence reports a guess at what it says: a word of guessing before its first figure ("有网友预测，
    …2月25日和3月16日附近"), or anywhere in a sentence without one. After a figure the guess is the sentence's subject
    matter, not its manner ("…first released in 1972, and said to have successfully predicted the 1975 … earthquakes")."""
    text = to_simplified(text)
    found = _GUESS.search(text)
    if found is None:
        return False
    figure = _FIGURE.search(text)
    return figure is None or found.start() < figure.start()


def prefer_stated(scored: Sequence[SentenceScore], question: str, word_tags: Mapping[str, str]) -> list[SentenceScore]:
    """Return the ranked candidates with the best-ranked of the next `LOOK_AHEAD` that holds the asked kind and
    reports no guess first, when the best-ranked one reports a guess; otherwise as ranked."""
    if len(scored) < 2 or _GUESS.search(to_simplified(question)) or not guesses(scored[0].sentence.text):
        return list(scored)
    kinds = [kind for kind in asked_kinds(question) if kind in _FACTS]
    if not kinds:
        return list(scored)
    for candidate in scored[1: 1 + LOOK_AHEAD]:
        sentence = candidate.sentence
        if not guesses(sentence.text) and any(
                holds_kind(kind, sentence.text, sentence.terms, word_tags, question) for kind in kinds):
            first = dataclasses.replace(candidate, score=scored[0].score + 1e-3)
            return [first, *(s for s in scored if s is not candidate)]
    return list(scored)
