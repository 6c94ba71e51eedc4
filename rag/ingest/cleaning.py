"""Turn a raw .txt/.md/.html article into clean text where every character keeps its source line."""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.ingest.headings import BYLINE
from rag.ingest.textnorm import strip_tags

# A replacement piece: a literal string (mapped to the match start) or a group number whose text is kept in place.
Piece = str | int

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_CJK_PUNCT = "，。、；：？！“”‘’（）《》【】…—"


@dataclass(frozen=True)
class Cleaned:
    """Clean text, the source offset of each of its characters, and the title found on the way."""

    text: str
    origin: np.ndarray  # int64, origin[i] = offset in the decoded source of text[i]
    title: str


class _Mapped:
    """Text plus per-character source offsets, rewritten by regex substitutions that keep the map."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.origin = np.arange(len(text), dtype=np.int64)

    def sub(self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], Sequence[Piece]]) -> None:
        texts: list[str] = []
        origins: list[np.ndarray] = []
        prev = 0
        for match in pattern.finditer(self.text):
            texts.append(self.text[prev : match.start()])
            origins.append(self.origin[prev : match.start()])
            for piece in repl(match):
                if isinstance(piece, int):
                    start, end = match.span(piece)
                    if start >= 0:
                        texts.append(self.text[start:end])
                        origins.append(self.origin[start:end])
                elif piece:
                    texts.append(piece)
                    origins.append(np.full(len(piece), self.origin[match.start()], dtype=np.int64))
            prev = match.end()
        if prev == 0 and not texts:
            return
        texts.append(self.text[prev:])
        origins.append(self.origin[prev:])
        self.text = "".join(texts)
        self.origin = np.concatenate(origins) if origins else np.zeros(0, dtype=np.int64)


def _drop(_: re.Match[str]) -> Sequence[Piece]:
    return ()


def _newline(_: re.Match[str]) -> Sequence[Piece]:
    return ("\n",)


def _space_in_cjk(match: re.Match[str]) -> Sequence[Piece]:
    """Drop spaces between Chinese characters (OCR and PDF text put them inside words), but one after a numbered
    provision's number."""
    return (" ",) if _PROVISION_BEFORE.search(match.string, max(0, match.start() - 8), match.start()) else ()


def _keep(group: int) -> Callable[[re.Match[str]], Sequence[Piece]]:
    return lambda _match: (group,)


_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.M)
_INVISIBLE_BLOCKS = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->|<![A-Za-z][^>]*>|<\?xml[^>]*\?>", re.S | re.I)
_BLOCK_TAGS = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|section|article|blockquote|pre|hr|header|footer)\b[^>]*>", re.I
)
_OTHER_TAGS = re.compile(r"</?[A-Za-z][^<>]*>")
# An HTML table's row becomes a markdown row ("| 一线城市 | 500元 |"), on one line however its cells were laid out,
# so it is quoted like one and read with its header (rag/answer/extractive.py).
_ROW_OPENS = re.compile(r"<tr\b[^>]*>\s*<t[dh]\b[^>]*>", re.I)
_CELL_TO_CELL = re.compile(r"</t[dh]\s*>\s*<t[dh]\b[^>]*>", re.I)
_ROW_CLOSES = re.compile(r"</t[dh]\s*>\s*</tr\s*>", re.I)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1")
_LINE_MARKUP = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|[*+\-][ \t]+|>[ \t]?|\d+\.[ \t]+(?=\D))", re.M)
_RULE = re.compile(r"^[ \t]*(?:[-*_=][ \t]*){3,}$", re.M)
_CR = re.compile(r"\r")
_SPACES_IN_CJK = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT},;:?!])[ \t\u3000\xa0]+(?=[{_CJK}{_CJK_PUNCT}])")
# A numbered provision's number ends where its text starts: the space after it ("第一条 员工每年……") is the document's,
# not OCR's, and joined it would read "第一条员工" ("the first employee").
_PROVISION_BEFORE = re.compile(r"第[〇零一二三四五六七八九十百千两\d]{1,6}[条章节款项编篇部卷]$")
_EDGE_SPACES = re.compile(r"^[ \t\u3000\xa0]+|[ \t\u3000\xa0]+$", re.M)
_BLANK_RUNS = re.compile(r"\n{3,}")

# Lines that are credits, sharing prompts or navigation, never content. Matched against a whole clean line. A line
# that is only a web address (a reference, "[1]https://…") is one; an address inside a sentence ("访问
# https://vpn.example.cn 下载客户端") is what the sentence says, and stays.
# An article's own metadata (who wrote it, where it comes from, when it was published) is content: a reader
# may ask for it, so those lines stay and can be quoted.
_BOILERPLATE = re.compile(
    r"^(?:[■●◆▲]?\s*(?:图片|摄影|编辑|责编|美编|校对|审核|监制|统筹|原文链接|封面图链接|"
    r"参考链接|参考资料|报料|声明|免责声明)\s*[:：/|｜].*"
    r"|.{0,40}(?:责编|美编|校对)\s*[/:：].*"
    r"|[—\-\s]*完[—\-\s]*|-?\s*end\s*-?|（完）|\(完\)"
    r"|.*(?:点这里|关注我|记得标星|一键三连|点赞.{0,6}在看|扫码|长按(?:二维码|识别)|阅读原文|日日相见|公益广告|转载请注明).*"
    r"|.{0,20}[|｜]\s*公众号.*|.{0,12}发自.{0,8}"
    r"|原文|\[\d+\]|\d+"
    r"|(?:\[\d+\]\s*)?(?:https?://|www\.)\S+"
    r")$",
    re.M | re.I,
)
_WHOLE_LINE = re.compile(r"[^\n]*")
_TAIL_SHORT_LINES = re.compile(r"(?:\n+[^\n。！？!?；;，,]{1,10})+\n*\Z")
# Short trailing lines are sign-offs and ads only after a real article; a short document keeps them.
_MIN_BODY_FOR_TAIL = 300


def _boilerplate_line(match: re.Match[str]) -> Sequence[Piece]:
    return () if _BOILERPLATE.fullmatch(match.group(0)) else (0,)


def _front_matter_title(block: str) -> str:
    found = _FRONT_TITLE.search(block)
    return found.group(1).strip().strip("'\"").strip() if found else ""


def _heading_title(raw: str) -> str:
    """A headline that opens the document (HTML title/h1, or a markdown heading as the first line)."""
    lines = [line for line in raw.splitlines()[:15] if line.strip()]
    head = "\n".join(lines)
    patterns = [r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"]
    if lines and re.match(r"#{1,3}[ \t]", lines[0]):
        patterns.append(r"\A#{1,3}[ \t]+([^\n]+)")
    for pattern in patterns:
        found = re.search(pattern, head, re.I | re.M | re.S)
        if found:
            title = html.unescape(re.sub(r"<[^>]+>|\*\*", "", found.group(1))).strip()
            if title:
                return title
    return ""


# A plain text's first line that names it ("停车场管理办法"): a few Chinese characters, no sentence end, nothing else
# (a newspaper's name mixes in letters or digits: "N 新京报澎湃新闻"). A byline ("记者 刘宗智") is no title either.
_TITLE_LINE = re.compile(rf"[{_CJK}《》“”（）、·]{{2,30}}")


def _first_sentence(text: str, limit: int = 40) -> str:
    """A first line that names the text alone on its line (`_TITLE_LINE`) with more after it; else the first sentence
    of the first line long enough to be prose (short lines are bylines or kickers)."""
    first, _, rest = text.strip().partition("\n")
    if _TITLE_LINE.fullmatch(first.strip()) and not BYLINE.match(first.strip()) and rest.strip():
        return first.strip()
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 12] or [text.strip()]
    first = re.split(r"[。！？!?]", lines[0], maxsplit=1)[0].strip().strip('"“”')
    return first if len(first) <= limit else first[:limit] + "…"


def front_matter_end(raw: str) -> int:
    """Return where an article's text starts after its front matter ("---" lines of fields), 0 when it has none."""
    front = _FRONT_MATTER.match(raw)
    return front.end() if front else 0


def text_lines(raw: str) -> list[tuple[int, str]]:
    """Return an article's non-blank source lines after its front matter, each with its 1-based line number, as text:
    HTML tags and a markdown heading's marks taken off (what a citation of the line quotes, and the citation check
    reads)."""
    front = front_matter_end(raw)
    first = raw[:front].count("\n") + 1
    found = ((number, strip_tags(line).strip().lstrip("#").strip())
             for number, line in enumerate(raw[front:].split("\n"), start=first))
    return [(number, text) for number, text in found if text]


def clean(raw: str) -> Cleaned:
    """Return the article's clean text with a source offset for every character, and its title."""
    mapped = _Mapped(raw)
    title = ""
    front = _FRONT_MATTER.match(raw)
    if front:
        title = _front_matter_title(front.group(1))
        mapped.sub(_FRONT_MATTER, _drop)
    title = title or _heading_title(raw[front.end() if front else 0 :])

    mapped.sub(_CR, _drop)
    mapped.sub(_INVISIBLE_BLOCKS, _drop)
    mapped.sub(_ROW_OPENS, lambda _m: ("\n| ",))
    mapped.sub(_CELL_TO_CELL, lambda _m: (" | ",))
    mapped.sub(_ROW_CLOSES, lambda _m: (" |\n",))
    mapped.sub(_BLOCK_TAGS, _newline)
    mapped.sub(_OTHER_TAGS, _drop)
    mapped.sub(_ENTITY, lambda m: (html.unescape(m.group(0)),))
    mapped.sub(_MD_IMAGE, _drop)
    mapped.sub(_MD_LINK, _keep(1))
    mapped.sub(_EMPHASIS, _keep(2))
    mapped.sub(_RULE, _drop)
    mapped.sub(_LINE_MARKUP, _drop)
    mapped.sub(_EDGE_SPACES, _drop)
    mapped.sub(_WHOLE_LINE, _boilerplate_line)
    mapped.sub(_SPACES_IN_CJK, _space_in_cjk)
    mapped.sub(_TAIL_SHORT_LINES, lambda m: () if m.start() >= _MIN_BODY_FOR_TAIL else (0,))
    mapped.sub(_BLANK_RUNS, lambda _m: ("\n\n",))

    start = len(mapped.text) - len(mapped.text.lstrip())
    end = len(mapped.text.rstrip())
    text, origin = mapped.text[start:end], mapped.origin[start:end]
    return Cleaned(text=text, origin=origin, title=title or _first_sentence(text))


def line_numbers(raw: str, origin: np.ndarray) -> np.ndarray:
    """Return the 1-based source line of each offset in `origin` (lines split at '\\n')."""
    newlines = np.flatnonzero(np.frombuffer(raw.encode("utf-32-le"), dtype=np.uint32) == 0x0A)
    return np.searchsorted(newlines, origin, side="left") + 1


def clean_lines(raw: str) -> list[str]:
    """Return each line of `raw` (split at '\\n') as the index reads it: markup removed, entities decoded, "" if none kept."""
    cleaned = clean(raw)
    parts: list[list[str]] = [[] for _ in range(raw.count("\n") + 1)]
    for char, line in zip(cleaned.text, line_numbers(raw, cleaned.origin).tolist()):
        parts[line - 1].append(char)
    # A block tag inside a line (</p><p>) became a line break in the clean text: within one line it is a space.
    return [" ".join(piece.strip() for piece in "".join(chars).split("\n") if piece.strip()) for chars in parts]
