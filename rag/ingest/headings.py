"""Which sentences can be quoted as an answer: not headings, bare titles or short questions.

A heading ("未休年假", "### Sora能做什么?") or an article's title names what the lines after it say and answers
nothing on its own; a short question ("那么，Sora能做什么？") asks what the sentences after it answer. The answer
never quotes them (rag/answer/extractive.py), and a passage that holds nothing else is no hit
(rag/retrieval/search.py): it cannot hold an answer, and it would push one out of the top passages.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.ingest.language import WESTERN_SCALE, is_western
from rag.records import Sentence

# A sentence, or a piece of one, ends with one of these (closing quotes and brackets after them allowed).
_ASKS = re.compile(r"[？?][”’\"'」』）)\]]*$")
ENDS_SENTENCE = re.compile(r"[。！？!?；;…\.．，,：:][”’\"'」』）)\]]*$")
# A byline with no colon, the label then the names alone on the line ("记者 刘宗智", "本报记者 张三 李四"); cleaning
# joins them ("记者刘宗智"), as a line that merely starts with 记者 ("记者了解到") would be if it stood alone.
BYLINE = re.compile(r"^(?:本报|特约)?(?:记者|通讯员|撰文|采写)\s*(?P<names>[\u4e00-\u9fff]{2,4}(?:\s*[、，,\s]\s*[\u4e00-\u9fff]{2,4}){0,3})$")
# The labels of a line that says who wrote an article or where it comes from ("作者：", "来源：", "by:").
_SOURCE_LABELS = "作者|文|采写|记者|撰文|编辑|来源|出处|author|by|source"


def _labelled(labels: str) -> str:
    """Return the pattern of a line that opens with one of `labels` (an alternation) and its colon."""
    return rf"^\W{{0,2}}(?:文章|本文)?(?:{labels})\s*[:：|｜]"


# The labels of a line that says who wrote an article, where it comes from or when.
_METADATA_LABELS = _SOURCE_LABELS + "|原标题|发布时间|发布于|发布地点?|时间|日期|date"
# A line that states who wrote an article, where it comes from or when: an answer, not a heading.
_METADATA = re.compile(
    _labelled(_METADATA_LABELS)
    + r"|" + BYLINE.pattern +
    r"|\d{4}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]",
    re.I,
)
# A line that states by its label who wrote an article, where it comes from or when ("发布时间: 2024-02-19 13:42"),
# its value after the label.
_LABELLED_METADATA = re.compile(_labelled(_METADATA_LABELS) + r"\s*(?P<value>.*)$", re.I)
# A line that says by its label who wrote an article or where it comes from, its value after the label.
_SOURCE = re.compile(_labelled(_SOURCE_LABELS) + r"\s*(?P<names>.+)$", re.I)
HEADING_CHARS = 40
# How many of an article's first non-blank lines its header may take: a byline, a dateline, a dispatch, the paper's name.
HEADER_LINES = 15
# A line that ends on a word no phrase ends with (的, 还, 和, 被…) is a sentence the source broke across lines
# ("Sora的出现也为影视行业的" / "忧参半。"), not a heading, although neither piece ends as a sentence does.
_UNFINISHED = re.compile(r"[的还和与及在是对把被从向为也都就而但且或将让给使比]$")
# A field and its value on a line of their own ("电话：010-62345678", "负责人：王芳"): content, as a row is. A numbered
# heading with a colon ("第一条：适用范围", "一、背景：") stays a heading.
_FIELD = re.compile(
    r"^(?!第[一二三四五六七八九十百零\d]+[章节条篇部]|[一二三四五六七八九十]+、|\d+[.、．])[^：:，。,；;！？!?\s]{1,10}[：:]\s*\S"
)
# A source line that is an item of a list: markdown's "- ", "* ", "1. ", a bullet character, "(1)", HTML's <li>, or
# a row of a markdown table.
LIST_ITEM_LINE = re.compile(
    r"^[ \t]*(?:[*+\-][ \t]+|[•·▪◦●■◆][ \t]*|\d{1,3}[.)．、](?!\d)|[（(]\d{1,3}[)）]|<li\b|\|(?:[^|\n]*\|){2,}[ \t]*$)", re.I
)
# A source line that is an item of a numbered list ("1. 登录OA系统", "2）", "（3）"): a step, whose order is meaning.
NUMBERED_ITEM_LINE = re.compile(r"^[ \t]*(?P<marker>\d{1,3}[.)．、）](?!\d)|[（(]\d{1,3}[)）])[ \t]*")
# A row of a markdown table ("| 一线城市 | 500元 |"): content, however short; cleaning keeps its pipes.
TABLE_ROW = re.compile(r"^\|(?:[^|\n]*\|){2,}$")


def heading_text(text: str, title: str = "") -> bool:
    """Return whether a sentence's text is a heading or bare title: the article's title or a piece of it, or a short
    line that ends no sentence, does not state metadata (author, source, date) and is no table row or field."""
    text = text.strip()
    if title and text in title.strip():  # the title, or a piece of it the splitter cut at its "！"
        return True
    if len(text) > HEADING_CHARS or TABLE_ROW.match(text) or _FIELD.match(text):
        return False
    return not ENDS_SENTENCE.search(text) and not _METADATA.search(text)


def source_names(text: str) -> str:
    """Return who wrote an article or where it comes from, as a line of its own says it after its label ("文章作者:
    量子位" gives 量子位, "■采写：新快报记者郑志辉" 新快报记者郑志辉) or as a byline ("记者刘宗智" gives 刘宗智); "" for
    any other line, a date ("发布时间: 2024-02-19") or a sentence of the text among them."""
    text = text.strip()
    if len(text) > HEADING_CHARS:
        return ""
    found = _SOURCE.match(text) or BYLINE.match(text)
    return found.group("names").strip() if found else ""


def metadata_value(text: str) -> str | None:
    """Return what a line that states an article's author, source or date by its label says after the label
    ("2024-02-19 13:42" of "发布时间: 2024-02-19 13:42"), None for any other line."""
    text = text.strip()
    found = _LABELLED_METADATA.match(text) if len(text) <= HEADING_CHARS else None
    return found.group("value") if found else None


def short_question(text: str) -> bool:
    """Return whether a sentence's text is a short question ("那么，Sora能做什么？"), which asks what the sentences
    after it answer; a long one that ends with a question may state much before it. A Western question may take
    `WESTERN_SCALE` times the characters: an FAQ's "Q: Can I have more than one administrator?" (42) was quoted as
    the answer to the question before it."""
    text = text.strip()
    if not _ASKS.search(text):
        return False
    return len(text) <= HEADING_CHARS or (len(text) <= HEADING_CHARS * WESTERN_SCALE and is_western(text))


def is_candidate(sentence: Sentence, title: str, list_item: Callable[[Sentence], bool] | None = None) -> bool:
    """Return whether a sentence may be quoted as an answer: not a heading or bare title, and not a short question
    ("那么，Sora能做什么？", or a heading that asks), which asks what the sentences after it answer. A long sentence
    that ends with a question may state much before it ("……是物理世界的模拟器，……到底什么是现实？”"). No neighbour
    is read: a short question is left out whichever line it stands on. `list_item` says whether a sentence stands on
    a list item's source line: an item ("- 电池保修一年") is content, however short (a heading's text when cleaned)."""
    if short_question(sentence.text):
        return False
    return not heading_text(sentence.text, title) or (list_item is not None and list_item(sentence))


def quotable(sentences: Sequence[Sentence], title: str, list_item: Callable[[Sentence], bool] | None = None) -> bool:
    """Return whether any of a passage's sentences may be quoted as an answer (`is_candidate`)."""
    return any(is_candidate(sentence, title, list_item) for sentence in sentences)


def share_a_line(one: Sentence, other: Sentence) -> bool:
    """Return whether two sentences stand on a common source line of the same article."""
    return one.file == other.file and one.line_start <= other.line_end and other.line_start <= one.line_end


def _shares_a_line(sentences: Sequence[Sentence], at: int) -> bool:
    """Return whether the sentence at `at` of one article's sentences shares a source line with its neighbour."""
    return any(share_a_line(sentences[at], sentences[near]) for near in (at - 1, at + 1) if 0 <= near < len(sentences))


def section_heading(sentences: Sequence[Sentence], run: Sequence[int], at: int) -> str:
    """Return the headings of `run` (the entry `sections` gives the sentence at `at`) that stand above that sentence,
    as a passage and a citation show them ("焦点1 Sora能做什么?"); "" when none does."""
    return " ".join(sentences[i].text for i in run if i < at)


def sections(sentences: Sequence[Sentence], list_item: Callable[[Sentence], bool]) -> tuple[list[tuple[int, ...]], set[int]]:
    """Return, for each of one article's sentences (by position), the positions of its section's headings: the last
    run of lines above it that may not be quoted (a heading, or a short question, on lines of their own:
    `is_candidate`), such as "焦点2", "Sora 牛在什么地方?", "这些……Sora是怎么做到的?". A list item is content, the
    article's first line is its title, no section's, and a line that breaks off a sentence ("……很多人还") no heading.
    Also the headings right above a section's first quotable sentence."""
    runs: list[tuple[int, ...]] = []
    run: tuple[int, ...] = ()
    heads: set[int] = set()
    after_heading = False
    for at, sentence in enumerate(sentences):
        quotable = is_candidate(sentence, "")
        heading = (at > 0 and not quotable and not list_item(sentence) and not _shares_a_line(sentences, at)
                   and not _UNFINISHED.search(sentence.text.strip()))
        if heading:
            run = run + (at,) if after_heading else (at,)
        elif after_heading and quotable:
            heads.add(at - 1)
        after_heading = heading
        runs.append(run)
    return runs, heads
