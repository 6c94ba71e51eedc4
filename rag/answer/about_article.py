"""Questions about an article itself: who wrote it, when it was published, where it comes from.

"量子位那篇文章是谁写的？" asks what the article's header or sign-off states ("文章作者: 量子位", "梦晨 西风 发自 凹非寺"),
not what its sentences say: ranked by how much of the question they hold, its sentences answered with the body, and
a word of the asking ("篇文章") that no article uses declined the question. Such a question names the article (by
its source, its title or its subject) and asks for one kind of fact; the article is the one among the retrieved
passages' articles that holds most of what names it, and the answer quotes the lines of that article that state
the fact, each cited. When the article states no such fact, the question is declined with a message that says so;
when no article holds what names it ("人民日报那篇文章是谁写的？" over articles that never mention 人民日报), the
question goes the ordinary way, and is declined there (docs/answers.md, *Who wrote an article, and when*).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.decide import Articles
from rag.index.lexical import Tokenizer
from rag.index.store import Index
from rag.ingest.cleaning import front_matter_end, text_lines
from rag.ingest.headings import BYLINE, HEADER_LINES
from rag.ingest.language import is_chinese
from rag.records import Citation, Decision, Draft, Evidence

# The article itself, as a question refers to it ("这篇文章", "那篇稿子", "该报道", "the article"). 报道 alone is
# mostly the verb ("据新京报报道"), so it counts only after a demonstrative or before what it asks for.
_ARTICLE = (r"(?:[这那该此本]|哪一?)[篇则份]?(?:文章|报道|稿子|稿件|新闻|推文)|[这那该此本哪]一?篇|文章|稿子|稿件|本文|原文"
            r"|报道的(?=作者|记者|来源|出处|发布|发表|刊)")
_ARTICLE_EN = r"\b(?:article|story|piece|report|post|column)\b"
# What is asked of it, by kind. A date is asked of the article only where the article is what was published
# ("这篇文章是什么时候发表的"): "这篇文章说Sora是什么时候发布的" asks Sora's date, not the article's.
_ASKS = {
    "author": (
        r"(?:作者|记者|撰稿人|执笔人?|笔者|采写记者)(?:是|为|叫|有)?(?:谁|哪位|哪个|什么人|哪些人|何人|叫什么)"
        r"|(?:谁|哪位记者|哪位|什么人|何人|哪些人)(?:来)?(?:写|撰写|执笔|采写|编写|撰稿)|出自(?:谁|哪位)之手",
        r"\bwho (?:wrote|authored|penned|reported)\b|\bauthors?\b|\bwritten by\b|\bwhich (?:reporter|journalist|writer)\b",
    ),
    "date": (
        rf"(?:{_ARTICLE})(?:是|是在|于|在)?(?:什么时候|何时|哪天|哪一天|几号|几月几[日号]|什么时间|什么日期|哪年哪月)"
        r"(?:发表|发布|刊登|刊发|刊出|发出|推送|发的|写的|写成|登出)"
        rf"|(?:{_ARTICLE})的?(?:发布|发表|刊发|刊登|推送)(?:时间|日期)",
        rf"\bwhen (?:was|did) (?:the |this |that )?{_ARTICLE_EN}.*\b(?:published|posted|written|released|come out)\b"
        rf"|\bpublication date\b|\bdate of (?:the |this |that )?{_ARTICLE_EN}",
    ),
    "source": (
        rf"(?:{_ARTICLE})(?:是|的)?(?:来源|出处|出自|来自|转载自|发表在|发在|刊登在|发布在|登在)"
        r"|(?:哪家|哪个|什么)(?:媒体|报纸|报社|网站|公众号|平台|杂志|刊物)",
        rf"\bwhich (?:newspaper|outlet|publication|site|website|magazine|account)\b|\bsource of (?:the |this |that )?{_ARTICLE_EN}",
    ),
}
_ASKED = {kind: (re.compile(zh), re.compile(en, re.I)) for kind, (zh, en) in _ASKS.items()}
_MENTIONS = (re.compile(_ARTICLE), re.compile(_ARTICLE_EN, re.I))

# The share of the naming words' weight the article must hold to be the one the question names.
MIN_SHARE = 0.5
# At most this many lines are quoted for one fact.
MAX_FACTS = 3
# Lines longer than this are the article's text, not a header's or a sign-off's.
_LINE_CHARS = 60

_LABEL = r"^\W{{0,3}}(?:文章|本文)?(?:{})\s*[:：|｜/]\s*\S"
# Each kind's lines: labelled anywhere ("文章作者: 量子位", "发布时间: 2024-02-19"), and in the header only.
_LABELLED = {
    "author": re.compile(_LABEL.format("作者|文|采写|记者|撰文|撰稿|执笔|author|by|written by"), re.I),
    "date": re.compile(_LABEL.format("(?:发布|发表|刊发|刊登|出版|更新)?(?:时间|日期)|发布于|发表于|date|published|posted"), re.I),
    "source": re.compile(_LABEL.format("来源|出处|转载自|原文链接|source"), re.I),
}
_HEADER = {
    "author": re.compile(r"^\W{0,6}[\u4e00-\u9fff]{2,4}(?:\s+[\u4e00-\u9fff]{2,4}){0,3}\s*发自\s*\S{1,12}$"
                         r"|^(?:by|written by)\s+[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}$", re.I),
    "date": re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\b\d{4}-\d{1,2}-\d{1,2}\b"),
    "source": re.compile(r"公众号|微信号"),
}
# Inside a longer line, a colophon's clause ("本文来自微信公众号“读懂财经”…，作者：小白，编辑：…").
_INLINE = {
    "author": re.compile(r"(?:作者|记者)[:：]\s*[^，,。；;\s）)]{1,12}"),
    "date": re.compile(r"(?:发布时间|发表于|发布于)[:：]?\s*\d{4}"),
    "source": re.compile(r"本文(?:来自|转载自|来源于|选自)"),
}
_FRONT_FIELDS = {"author": ("author", "authors"), "date": ("date", "published"), "source": ("source",)}
_CLAUSE = re.compile(r"[^。！？!?]*[。！？!?]?")

_DECLINE_ZH = {"author": "资料中《{}》没有写明作者。", "date": "资料中《{}》没有写明发布时间。",
               "source": "资料中《{}》没有写明来源。"}
_DECLINE_EN = {"author": "The article “{}” does not say who wrote it.",
               "date": "The article “{}” does not say when it was published.",
               "source": "The article “{}” does not say where it comes from."}


@dataclass(frozen=True)
class Fact:
    """A line of an article that states a fact about it, and the text of it quoted."""

    line: int  # 1-based source line
    quote: str


@dataclass(frozen=True)
class ArticleAnswer:
    """The answer to a question about an article: a draft quoting its facts, or a decline saying it states none."""

    draft: Draft
    decision: Decision
    refusal: str = ""


def asked_about_article(question: str) -> tuple[str, str] | None:
    """Return the kind of fact a question asks about an article ("author", "date", "source") and the question with
    the asking taken out (what names the article); None for any other question."""
    for language in (0, 1):
        if not _MENTIONS[language].search(question):
            continue
        for kind, patterns in _ASKED.items():
            if patterns[language].search(question):
                rest = _MENTIONS[language].sub(" ", patterns[language].sub(" ", question))
                return kind, rest
    return None


def facts(raw: str, kind: str) -> list[Fact]:
    """Return the lines of an article's text that state its `kind` of fact, in the order the article has them: a
    labelled line, a byline or a header's line, a colophon's clause, a front matter's field."""
    found: list[Fact] = []
    for seen, (number, text) in enumerate(text_lines(raw), start=1):  # a citation's quote stands in its line's text
        short = len(text) <= _LINE_CHARS
        if short and (_LABELLED[kind].match(text) or (kind == "author" and BYLINE.match(text))
                      or (seen <= HEADER_LINES and _HEADER[kind].search(text))):
            found.append(Fact(number, text))
        elif _INLINE[kind].search(text):
            clause = next(c for c in _CLAUSE.findall(text) if _INLINE[kind].search(c))
            found.append(Fact(number, clause.strip()))
    front = front_matter_end(raw)
    if front:
        for number, line in enumerate(raw[:front].split("\n")[1:], start=2):  # its closing "---" is no field
            field, colon, value = line.partition(":")
            if colon and field.strip().lower() in _FRONT_FIELDS[kind] and value.strip():
                found.append(Fact(number, line.strip()))
    return found[:MAX_FACTS]


class ArticleQuestions:
    """Answers the questions about an article itself from the lines it states them in (`facts`)."""

    def __init__(self, index: Index, tokenizer: Tokenizer, articles: Articles) -> None:
        self.index = index
        self.tokenizer = tokenizer
        self.articles = articles

    def answer(self, question: str, evidence: Evidence) -> ArticleAnswer | None:
        """Return the answer to a question about an article, or None when it is none or names no article here."""
        asked = asked_about_article(question)
        if asked is None or not evidence.hits:
            return None
        kind, naming = asked
        named = self._named(naming, [hit.chunk.file for hit in evidence.hits], evidence.same_language)
        if named is None:
            return None
        file, share = named
        text = self.index.text_of(file)
        found = facts(text.raw, kind) if text is not None else []
        title = self.articles.titles.get(file, file)
        if not found:
            message = (_DECLINE_ZH if is_chinese(question) else _DECLINE_EN)[kind].format(title)
            return ArticleAnswer(Draft("", (), (), None), Decision(0.0, True), message)
        citations = tuple(Citation(n, file, title, fact.line, fact.line, fact.quote) for n, fact in enumerate(found, start=1))
        answer = "\n".join(f"{fact.quote}[{n}]" for n, fact in enumerate(found, start=1))
        return ArticleAnswer(Draft(answer, citations, (), None), Decision(share, False))

    def _named(self, naming: str, files: Sequence[str], same_language: bool) -> tuple[str, float] | None:
        """Return the article the question names, of the retrieved passages' articles, and the share of the naming
        words' weight it holds: the top passage's article when nothing but the asking is left ("这篇文章是谁写
        的？") or the corpus has one article; None when none holds `MIN_SHARE` of what names it. A question in
        another language than the articles' cannot be matched word for word: only a one-article corpus answers it."""
        ordered = list(dict.fromkeys(files))
        if len(self.articles.rows) == 1:
            return ordered[0], 1.0
        if not same_language:
            return None
        lexical = self.index.lexical
        tokens = self.tokenizer.question_tokens(naming, lexical.vocabulary)
        weights = lexical.term_weights(tokens)
        if not sum(weights.values()):  # nothing left but the asking, or words every passage holds
            return ordered[0], 1.0
        rows = self.articles.rows
        shares = {file: float(lexical.row_coverage(list(rows[file]), weights, together=True)[0])
                  for file in ordered if file in rows}
        best = max(shares, key=lambda file: (shares[file], -ordered.index(file)), default=None)
        if best is None or shares[best] < MIN_SHARE:
            return None
        return best, round(shares[best], 4)
