"""A question framed by the article it asks about: "据齐鲁晚报，除了东京街头的时尚女子，OpenAI还放出了哪些演示视频？",
"网上疯传的那段东京街头女子视频，齐鲁晚报说它到底有多长？", "……（按齐鲁晚报的说法）", "新快报举了哪条示范视频……".

The frame names a source that one article states in its header or sign-off (its paper, its account, its reporter:
"■采写：新快报记者 郑志辉", "量子位 | 公众号 QbitAI", a last line "齐鲁晚报"). Searched with it, the question weighed the
paper's name among its words, another article's passages came first and another article's figure answered
(一分钟 where the named paper says 59秒). Read here, the question is searched in the passages of that article alone,
and its answer ranked without its source's words: in the article they name, they say which article, not what the
answer holds, and a sentence that holds them ("电影学者李超在接受齐鲁晚报采访时……") came first. The decision still
weighs them: that the article holds its source is part of what it holds of the question (docs/answers.md, *A
question framed by its article*). A frame that names no article's source, or more than one article's, is left as it
is: "郭全中说……" quotes a person the text names, not a source.
"""
from __future__ import annotations

import re
from functools import lru_cache

from rag.answer.decide import Articles
from rag.index.lexical import Tokenizer
from rag.index.store import Index
from rag.ingest.cleaning import text_lines
from rag.ingest.headings import HEADER_LINES, source_names
from rag.records import Frame

# The frames, each with the source it names. The first three say "according to" or "in the article of"; the last two
# say the source speaks or shows (说, 称, 举了, 提到), which a person the text quotes also does: any of them counts only
# for a source an article states.
_FRAMES = (
    re.compile(r"^(?:据|根据|按照?|依照|依据)(?P<source>[^，,。？?！!（(]{2,16}?)的?(?:报道|说法|介绍|文章|稿子|消息|描述)?[，,：:]"),
    re.compile(r"[（(](?:按照?|据|根据|依照)(?P<source>[^）)]{2,16}?)的?(?:报道|说法|介绍|文章)?[）)]"),
    re.compile(r"(?P<source>[\u4e00-\u9fffA-Za-z0-9]{2,8}?)(?=那篇|这篇|的报道[里中]|报道[里中]|的文章[里中]|文章[里中])"),
    re.compile(r"(?P<source>[\u4e00-\u9fffA-Za-z0-9]{2,8}?)(?:报道说|报道称|说|称)(?![明话])"),
    re.compile(r"(?P<source>[\u4e00-\u9fffA-Za-z0-9]{2,8}?)(?=举了|举的|提到|写道|介绍了)"),
)
# How many of an article's last non-blank lines are its sign-off (its first `HEADER_LINES` its header), and how long
# a line that states its source may be.
FOOT_LINES = 5
SOURCE_LINE_CHARS = 40
# A line of the article's text: a sentence ends on it.
_TEXT_LINE = re.compile(r"[。！？!?…；;]\W{0,3}$")
# A line of an account or a dispatch ("量子位 | 公众号 QbitAI", "梦晨 西风 发自 凹非寺"), and a short line of names alone,
# with no punctuation ("N 新京报 澎湃新闻", "齐鲁晚报").
_ACCOUNT = re.compile(r"公众号|微信号|发自")
_NAMES_ALONE = re.compile(r"^[^，,。．.；;：:！!？?、“”\"'()（）<>《》]{2,20}$")
# A piece of a source named with others ("新京报、澎湃新闻").
_PIECES = re.compile(r"[、,，和与及\s]+")
# At most this many passages holding the source's words are read for the articles that may state it.
_CANDIDATE_ROWS = 200


class Framing:
    """Reads the frame of a question that names the article it asks about (`read`)."""

    def __init__(self, index: Index, tokenizer: Tokenizer, articles: Articles) -> None:
        self.index = index
        self.tokenizer = tokenizer
        self.articles = articles
        self._lines = lru_cache(maxsize=4096)(self._source_lines)

    def read(self, question: str) -> Frame | None:
        """Return the article the question's frame names and the source it names it by; None when it has no frame,
        or its frame names no article's source or several articles'."""
        for pattern in _FRAMES:
            for found in pattern.finditer(question):
                source = found.group("source").strip()
                words = self.tokenizer.tokens(source)
                files = self._stating(source, words)
                if len(files) == 1:
                    return Frame(files[0], source, self.articles.rows[files[0]], frozenset(words))
        return None

    def _stating(self, source: str, tokens: list[str]) -> list[str]:
        """Return the articles whose header or sign-off lines hold every piece of `source` (its `tokens` searched)."""
        pieces = [piece for piece in _PIECES.split(source) if len(piece) >= 2]
        if not pieces:
            return []
        rows = [row for row, _ in self.index.lexical.top(tokens, _CANDIDATE_ROWS)] if tokens else []
        files = dict.fromkeys(self.index.chunks[row].file for row in rows)
        return [file for file in files if all(any(piece in line for line in self._lines(file)) for piece in pieces)]

    def _source_lines(self, file: str) -> tuple[str, ...]:
        """Return the lines of an article that state its source: of its first `HEADER_LINES` and last `FOOT_LINES`
        non-blank lines, a line that says who wrote it or where it comes from (`source_names`: "文章作者: 量子位",
        "■采写：新快报记者 郑志辉", "记者 刘宗智"), an account's or a dispatch's line ("量子位 | 公众号 QbitAI", "梦晨 西风 发自 凹非寺"), or, before
        its text starts or after it ends (a line of its text ends a sentence or is long), a short line of names alone
        ("N 新京报 澎湃新闻", a last line "齐鲁晚报"); its title, a section's heading ("焦点1") and a line of keywords
        ("OpenAI, Sora, AI视频模型") are none."""
        text = self.index.text_of(file)
        if text is None:
            return ()
        lines = [line for _, line in text_lines(text.raw)]
        text_at = [at for at, line in enumerate(lines) if _TEXT_LINE.search(line) or len(line) > SOURCE_LINE_CHARS]
        title = self.articles.titles.get(file, "")
        first, last = (text_at[0], text_at[-1]) if text_at else (len(lines), len(lines))
        near = {at: line for at, line in enumerate(lines[:HEADER_LINES])}
        near.update({at: line for at, line in enumerate(lines) if at >= len(lines) - FOOT_LINES})
        return tuple(line for at, line in sorted(near.items()) if len(line) <= SOURCE_LINE_CHARS and line not in title
                     and (source_names(line) or _ACCOUNT.search(line)
                          or ((at < first or at > last) and _NAMES_ALONE.match(line))))
