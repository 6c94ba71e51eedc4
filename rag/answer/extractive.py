"""Compose a short extractive answer from retrieved passages, cite every sentence, or decline."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.tables import is_row, table_header
from rag.index.lexical import coverage
from rag.index.store import Index
from rag.ingest.headings import ENDS_SENTENCE, NUMBERED_ITEM_LINE, TABLE_ROW, heading_text, share_a_line, short_question
from rag.ingest.language import WESTERN_SCALE, is_chinese, is_western
from rag.ingest.textnorm import stands_in
from rag.records import Citation, Hit, Sentence

REFUSAL_ZH = "资料中没有找到与此问题相关的内容。"
REFUSAL_EN = "The articles do not contain an answer to this question."
REFUSAL_COUNT_ZH = "资料提到了“{}”，但没有给出数量。"
REFUSAL_COUNT_EN = "The articles mention {} but do not say how many."
REFUSAL_UNUSED_ZH = "资料中没有出现{}，没有找到与此问题相关的内容。"
REFUSAL_UNUSED_EN = "The articles never mention {}, and do not contain an answer to this question."


@dataclass(frozen=True)
class SentenceScore:
    """A candidate answer sentence with the signals that ranked it."""

    sentence: Sentence
    score: float
    dense: float
    coverage: float
    passage_rank: int
    alone: float = 0.0  # cosine of the sentence embedded on its own (0 when the index does not hold those vectors)


# Chinese punctuation and full-width forms ("？", "。。。"): typed on a Chinese keyboard.
_CHINESE_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]")


def refusal_text(question: str, counted: str = "", unused: Sequence[str] = ()) -> str:
    """Return the decline message in the question's language; input of Chinese punctuation without a Latin letter
    ("？") gets the Chinese one. `counted`: what the question asks to count, which the articles mention without
    a count ("公司有多少员工？" over notes that speak of 员工): the message says so instead of finding nothing.
    `unused`: the question's words the articles never use ("Sora有哪些缺点？" over articles that say 弱点): the
    message names them, so that the user can ask again in the articles' words."""
    chinese = is_chinese(question) or (_CHINESE_PUNCTUATION.search(question) is not None
                                       and not re.search(r"[A-Za-z]", question))
    if counted:
        return REFUSAL_COUNT_ZH.format(counted) if chinese else REFUSAL_COUNT_EN.format(counted)
    if unused:
        quoted = [f"“{word}”" for word in unused]
        if chinese:
            return REFUSAL_UNUSED_ZH.format("、".join(quoted))
        listed = ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
        return REFUSAL_UNUSED_EN.format(listed)
    return REFUSAL_ZH if chinese else REFUSAL_EN


def is_heading(sentence: Sentence, title: str = "", index: Index | None = None) -> bool:
    """Return whether a sentence is a heading or bare title (`heading_text`); with the `index` to read its
    neighbours, also a short question on a line of its own ("### Sora能做什么?"), which asks what the lines after
    it answer. Such a line is never quoted on its own."""
    if heading_text(sentence.text, title):
        return True
    return index is not None and short_question(sentence.text) and _alone_on_its_lines(index, sentence)


def _alone_on_its_lines(index: Index, sentence: Sentence) -> bool:
    """Return whether no other sentence of the article shares a source line with this one (a heading's line)."""
    return not any(share_a_line(sentence, index.sentences[near]) for near in (sentence.sentence_id - 1, sentence.sentence_id + 1)
                   if 0 <= near < len(index.sentences))


def _normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _near_duplicate(a: str, b: str) -> bool:
    """True when one sentence is contained in the other or they share most character bigrams."""
    a, b = _normal(a), _normal(b)
    if a in b or b in a:
        return True
    grams_a = {a[i : i + 2] for i in range(len(a) - 1)}
    grams_b = {b[i : i + 2] for i in range(len(b) - 1)}
    return bool(grams_a and grams_b) and len(grams_a & grams_b) / min(len(grams_a), len(grams_b)) > 0.7


def cosines(rows: Callable[[np.ndarray], np.ndarray | None], ids: np.ndarray, vector: np.ndarray) -> np.ndarray | None:
    """Return the rows `rows` gives for `ids` times `vector`, in the order of `ids`, or None when it holds none."""
    order = np.argsort(ids)  # memory-mapped rows are read in ascending order
    found = rows(ids[order])
    if found is None:
        return None
    out = np.empty(len(ids), dtype=np.result_type(found, vector))
    out[order] = found @ vector
    return out


def score_sentences(
    index: Index,
    hits: Sequence[Hit],
    query_vector: np.ndarray,
    weights: dict[str, float],
    passages: int,
    lexical_weight: float,
    rank_weight: float,
) -> list[SentenceScore]:
    """Score every sentence of the top passages: dense similarity, query-term coverage and passage rank."""
    seen: dict[int, int] = {}
    for hit in hits[:passages]:
        for sentence_id in hit.chunk.sentence_ids:
            seen.setdefault(sentence_id, hit.rank)
    if not seen:
        return []
    ids = np.fromiter(seen, dtype=np.int64)
    query = query_vector.astype(np.float32)
    dense = cosines(index.vectors.sentence_vectors, ids, query)
    alone = cosines(index.vectors.alone_vectors, ids, query)
    if alone is None:
        alone = np.zeros(len(ids), dtype=np.float32)
    scored = []
    for sentence_id, similarity, alone_similarity in zip(ids.tolist(), dense.tolist(), alone.tolist()):
        sentence = index.sentences[sentence_id]
        cover = coverage(weights, set(sentence.terms))
        rank = seen[sentence_id]
        score = similarity + lexical_weight * cover + rank_weight / rank
        scored.append(SentenceScore(sentence, score, similarity, cover, rank, alone_similarity))
    return sorted(scored, key=lambda s: (-s.score, s.sentence.sentence_id))


# A sentence that announces what follows (ends with a colon, leaves a quote open) or one the splitter cut where no
# sentence ends (at an initial, "S.G.", or at a ；inside brackets, "牛车水（；）"); or a list item that follows it
# (其一, 第一, 一是, "首先": the first of what the sentence before announced, "…但立刻问题不断。首先，…"), or an example of
# what it says (例如, 比如, "For example"). An article of a regulation ("第四条 住宿费按城市类别限额报销…", 第二章) stands
# on its own: read as a list item, every article after the one that answers was quoted with it.
_LEADS_ON = re.compile(r"[：:]$|[“「][^”」]*$|(?:^|[^A-Za-z])[A-Z]\.$|[；;，,][）)]$")
_CONTINUES = re.compile(
    r"^(?:其[一二三四五六七八九十]|第[一二三四五六七八九十百零〇]+(?![一二三四五六七八九十百零〇条章节款篇部编卷])"
    r"|[一二三四五六七八九十](?:是|就是|则是)|[0-9]+[、.．)]"
    r"|[（(][0-9一二三四五六七八九十]+[)）]|(?:他|她|它)们?(?!们)|其(?![他它中实次])|首先"
    # An example of what the sentence before says ("…无法理解因果关系的具体实例。例如，一个人可能会咬一口饼干…").
    r"|例如|比如|譬如|举例来说|(?i:for (?:example|instance)\b))"
)
# A speaker named after a quote ("…，”某某表示。") whose quote resumes in the next sentence.
_SPEAKER_THEN_QUOTE = re.compile(r"(?:表示|说|称|指出|认为|写道)[。.]$")
# A sentence that goes on about the one before it: its subject is "this …" (这张专辑, 该公司, 此反应).
_POINTS_BACK = re.compile(r"(?:这|该|此(?!外)|上述)")
# A sentence that points back at what came before ("this principle", "these devices", "a similar role") or draws a consequence from
# it (因此, 所以, 于是: the reason a "why" asks for is the sentence before).
_REFERS_BACK = re.compile(r"这一|这种|这个|这些|这位|这样|类似的|上述|同样的|该|^(?:因此|所以|因而|故而|于是|由此|从此|此(?!外))")


def _list_item(index: Index, sentence: Sentence) -> bool:
    """Return whether the sentence is a list's item or a table's row (markdown's, or an HTML one that cleaning wrote
    as markdown, which keeps its pipes)."""
    return is_row(sentence) or index.on_list_item(sentence)


def _unclosed(block: Sequence[Sentence]) -> bool:
    """Return whether the block's text leaves a bracket or wiki markup (-{…}-) open: the splitter cut inside it."""
    text = "".join(s.text for s in block)
    return text.count("（") + text.count("(") > text.count("）") + text.count(")") or text.count("-{") > text.count("}-")


# A procedure is read whole: its steps may take this many times the answer's length (an English one's five steps
# took more than one answer's 250 characters, and came back as steps 3, 4 and 1).
STEPS_READ_WHOLE = 3


def _numbered_list(index: Index, sentence: Sentence, max_chars: int) -> list[Sentence] | None:
    """Return every sentence of the numbered list the sentence stands in, in order ("1. 登录OA系统…", "2. 选择假期类型…"),
    when it has two items or more and fits in max_chars; None otherwise. Its steps are read in order: one alone, or
    out of order, misleads ("请假流程是什么？" quoted step 3, then step 2)."""
    opening = index.source_line(sentence.file, sentence.line_start)
    article = index.text_of(sentence.file)
    if opening is None or article is None or NUMBERED_ITEM_LINE.match(opening) is None:
        return None
    lines = article.raw.split("\n")  # once: the list is found by walking the lines around it

    def numbered(line: int) -> bool:
        return 1 <= line <= len(lines) and NUMBERED_ITEM_LINE.match(lines[line - 1]) is not None

    def blank(line: int) -> bool:
        return 1 <= line <= len(lines) and not lines[line - 1].strip()

    first, last, items = sentence.line_start, sentence.line_end, {sentence.line_start}
    while numbered(first - 1) or (blank(first - 1) and numbered(first - 2)):
        first -= 1 if numbered(first - 1) else 2
        items.add(first)
    while numbered(last + 1) or (blank(last + 1) and numbered(last + 2)):
        last += 1 if numbered(last + 1) else 2
        items.add(last)
    if len(items) < 2:
        return None
    start = end = sentence.sentence_id
    sentences = index.sentences
    while start > 0 and sentences[start - 1].file == sentence.file and sentences[start - 1].line_start >= first:
        start -= 1
    while end + 1 < len(sentences) and sentences[end + 1].file == sentence.file and sentences[end + 1].line_end <= last:
        end += 1
    steps = list(sentences[start:end + 1])
    return steps if sum(len(s.text) for s in steps) <= max_chars else None


def answer_block(index: Index, sentence: Sentence, max_chars: int, title: str = "") -> list[Sentence]:
    """Return the sentence with the neighbours it cannot be read without, in document order, within max_chars: a
    numbered list's steps, all in order; the items of a list it announces, however short; otherwise a heading, or a
    piece of the article's `title`, is never pulled in."""
    steps = _numbered_list(index, sentence, STEPS_READ_WHOLE * max_chars)
    if steps is not None:
        return steps
    block = [sentence]
    used = len(sentence.text)

    def neighbour(sentence_id: int) -> Sentence | None:
        if 0 <= sentence_id < len(index.sentences) and index.sentences[sentence_id].file == sentence.file:
            return index.sentences[sentence_id]
        return None

    previous = neighbour(sentence.sentence_id - 1)
    header = table_header(index, sentence)
    if header is not None:  # a table's row is read with the header that names its columns
        if used + len(header.text) <= max_chars:
            block.insert(0, header)
            used += len(header.text)
    elif previous and not is_heading(previous, title, index) and _REFERS_BACK.search(sentence.text[:12]) and used + len(previous.text) <= max_chars:
        block.insert(0, previous)
        used += len(previous.text)
    before_following = len(block)
    following = neighbour(sentence.sentence_id + 1)
    # The items of a list the block announces ("需要提交以下材料：" then "- 发票原件", "- 行程单"), however short; the
    # rows under a table's header.
    listing = False
    opens_table = header is None and is_row(sentence)  # the header itself
    while following and (listing or opens_table or block[-1].text.rstrip().endswith(("：", ":"))) and _list_item(index, following):
        if used + len(following.text) > max_chars:
            break
        listing = True
        block.append(following)
        used += len(following.text)
        following = neighbour(following.sentence_id + 1)
    while following and not listing and not is_heading(following, title, index) and (
        _LEADS_ON.search(block[-1].text)
        or _unclosed(block)
        or _CONTINUES.match(following.text)
        or (block[-1] is sentence and following.line_start == sentence.line_end and _POINTS_BACK.match(following.text))
        or (_SPEAKER_THEN_QUOTE.search(block[-1].text) and following.text.startswith(("“", '"', "「")))
    ):
        if used + len(following.text) > max_chars:
            break
        block.append(following)
        used += len(following.text)
        following = neighbour(following.sentence_id + 1)
    if len(block) > before_following and _unclosed(block):
        return block[:before_following]  # cut inside brackets by max_chars: the pieces read no better than the sentence
    return block + _rest_of_quote(block, following, max_chars - used, neighbour,
                                  lambda candidate: is_heading(candidate, title, index))


def _open_quotes(text: str) -> int:
    """Return how many quotations the text opens and does not close (“…”, 「…」)."""
    return text.count("“") + text.count("「") - text.count("”") - text.count("」")


def _rest_of_quote(block: Sequence[Sentence], following: Sentence | None, room: int,
                   neighbour: Callable[[int], Sentence | None], heading: Callable[[Sentence], bool]) -> list[Sentence]:
    """Return the sentences that close a quotation the block opens and leaves open ("…概括说：“Sora 主要有四方面的突破：
    其一，…其二，…" runs on to "…其四，具有交互反馈。”"), when they fit in `room` and no heading stands between; none
    otherwise: a quotation cut short reads as its speaker's last word, and a stray quotation mark would pull in
    whatever follows. `neighbour` gives the sentence at an id when it is in the block's article."""
    open_ = _open_quotes("".join(s.text for s in block))
    rest: list[Sentence] = []
    while open_ > 0 and following is not None and not heading(following):
        room -= len(following.text)
        if room < 0:
            return []
        rest.append(following)
        open_ += _open_quotes(following.text)
        following = neighbour(following.sentence_id + 1)
    return rest if open_ <= 0 else []


def select_sentences(
    index: Index, scored: Sequence[SentenceScore], max_blocks: int, max_chars: int, margin: float,
    titles: Mapping[str, str] | None = None,
) -> list[Sentence]:
    """Pick the best-scoring sentences with the neighbours they need, without repeats, within `max_chars`
    (`titles`, each article's by file, so that no piece of one is pulled in as a neighbour).

    The best block is always kept; others join while they fit and score within `margin` of the best. An answer
    whose best sentence is Western has `WESTERN_SCALE` times the characters, to say as much as a Chinese one.
    """
    if scored and is_western(scored[0].sentence.text):
        max_chars *= WESTERN_SCALE
    chosen: list[Sentence] = []
    used = 0
    best = scored[0].score if scored else 0.0
    blocks = 0
    for candidate in scored:
        if blocks >= max_blocks or (chosen and candidate.score < best - margin):
            break
        if any(candidate.sentence.sentence_id == c.sentence_id for c in chosen):
            continue
        block = [
            s for s in answer_block(index, candidate.sentence, max_chars, (titles or {}).get(candidate.sentence.file, ""))
            if not any(s.sentence_id == c.sentence_id or _near_duplicate(s.text, c.text) for c in chosen)
        ]
        size = sum(len(s.text) for s in block)
        if not block or (chosen and used + size > max_chars):
            continue
        chosen.extend(block)
        used += size
        blocks += 1
    return chosen


def _joined(run: Sequence[Sentence], quotes: bool = False, numbers: Mapping[int, str] | None = None) -> str:
    """Join a run's sentences (their quotes with `quotes`) as they read: Western ones with a space, Chinese ones
    directly. A line that ends no sentence (a field, a table's row, a list's item) ends its line, and a table's row,
    a paragraph after a blank line and a numbered list's item (with its number, `numbers`, by sentence id, as the
    file writes it) start one: run together, "参会人：王丽、赵强" and "记录人：李娜" read as "…赵强记录人：李娜"."""
    out = ""
    previous: Sentence | None = None
    for sentence in run:
        text = sentence.quote if quotes else sentence.text
        number = (numbers or {}).get(sentence.sentence_id, "")
        if number:
            text = f"{number} {text}"
        if previous is not None and (number or TABLE_ROW.match(text.strip()) or previous.line_end + 1 < sentence.line_start
                                     or (previous.line_end < sentence.line_start
                                         and not ENDS_SENTENCE.search(previous.text.rstrip()))):
            out += "\n"
        elif out and out[-1].isascii() and not out[-1].isspace() and text[:1].isascii() and text[:1].isalnum():
            out += " "
        out += text
        previous = sentence
    return out


def quote_runs(index: Index, chosen: Sequence[Sentence], numbers: Mapping[int, str] | None = None) -> list[list[Sentence]]:
    """Group the chosen sentences that follow one another in an article into runs, each in the article's order.

    A run is quoted and cited once, so an answer that goes on over two sentences reads as the article wrote it,
    not cut by a [n]. Sentences join only where their joined quote stands in the source lines (nothing the
    cleaner removed lies between them). Runs keep the order of their best sentence.
    """
    runs: list[list[Sentence]] = []
    for sentence in sorted(chosen, key=lambda s: s.sentence_id):
        last = runs[-1][-1] if runs else None
        if last is not None and last.file == sentence.file and last.sentence_id + 1 == sentence.sentence_id:
            text = index.text_of(sentence.file)
            quote = _joined([*runs[-1], sentence], quotes=True, numbers=numbers)
            lines = text.raw.split("\n", sentence.line_end) if text is not None else []  # no further than needed
            if lines and stands_in(lines, runs[-1][0].line_start, sentence.line_end, quote):
                runs[-1].append(sentence)
                continue
        runs.append([sentence])
    place = {s.sentence_id: i for i, s in enumerate(chosen)}
    return sorted(runs, key=lambda run: min(place[s.sentence_id] for s in run))


def cite(index: Index, chosen: Sequence[Sentence], titles: dict[str, str],
         section: Callable[[Sentence], str] = lambda sentence: "") -> tuple[str, tuple[Citation, ...]]:
    """Return the answer text with a [n] after each run of sentences (`quote_runs`), and the numbered citations, each
    with the `section` its first sentence stands in."""
    parts, citations = [], []
    numbers = {s.sentence_id: number for s in chosen if (number := index.list_number(s))}
    for n, run in enumerate(quote_runs(index, chosen, numbers), start=1):
        first, last = run[0], run[-1]
        # After a list's item or a table's row (no sentence end), and before a numbered step, the next quote starts a
        # line of its own: run together they read as one ("电池保修一年| 项目 | 价格 |").
        if parts and (not ENDS_SENTENCE.search(citations[-1].quote.rstrip()) or first.sentence_id in numbers):
            parts.append("\n")
        parts.append(f"{_joined(run, numbers=numbers)}[{n}]")
        citations.append(Citation(n, first.file, titles.get(first.file, first.file), first.line_start, last.line_end,
                                  _joined(run, quotes=True, numbers=numbers), section=section(first)))
    return "".join(parts), tuple(citations)
