"""Pure formatting of the chat page: answers, sources lists and the sources panel as escaped HTML."""
from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from rag.apps.web.text import Language, say
from rag.ingest.sources import SourceLines
from rag.records import Answer, Citation, Hit

# Lines of context kept visible above the cited lines when the panel scrolls to them.
CONTEXT_LINES = 3
# Most article lines the panel holds on each side of a citation; longer articles are cut around it.
PANEL_WINDOW = 150
# Related passages listed under a decline; more would read like an answer.
RELATED_SHOWN = 3
# Fewest characters a streamed frame adds, so a short answer does not trickle in letter by letter.
MIN_FRAME_CHARS = 6
# Characters of a passage shown in a list before it is cut with an ellipsis.
EXCERPT_CHARS = 120

Kind = Literal["cite", "related", "passage"]
# A citation's link carries its quote (`?q=`), so the panel can mark the sentence inside a long line.
_TARGET = re.compile(r"^#?src/(cite|related|passage)/(\d+)/(\d+)-(\d+)/([^/?#\s]+)(?:\?q=([^#\s]*))?$")
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class SourceTarget:
    """What a clicked link asks the sources panel to open: which lines of which file, and why."""

    kind: Kind
    n: int  # citation number, or the passage's rank for related reading and passages
    file: str
    line_start: int
    line_end: int
    quote: str = ""  # a citation's quoted sentence, marked where it stands in the cited lines


def escape(text: str) -> str:
    """Return text as HTML that shows exactly those characters, line breaks kept."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def source_href(target: SourceTarget) -> str:
    """Return the link address that asks the page to open `target` in the sources panel."""
    href = f"#src/{target.kind}/{target.n}/{target.line_start}-{target.line_end}/{quote(target.file, safe='')}"
    return f"{href}?q={quote(target.quote, safe='')}" if target.quote else href


def parse_source_href(href: str) -> SourceTarget | None:
    """Return the target a link address names, or None when it is not one of ours."""
    match = _TARGET.match((href or "").strip())
    if not match:
        return None
    kind, n, start, end, file, quoted = match.groups()
    line_start, line_end = int(start), int(end)
    if line_start < 1 or line_end < line_start:
        return None
    return SourceTarget(kind, int(n), unquote(file), line_start, line_end, unquote(quoted or ""))  # type: ignore[arg-type]


def line_range(lang: Language, line_start: int, line_end: int) -> str:
    """Return "第 5 行" / "lines 5–7" for a range of lines."""
    if line_start == line_end:
        return say(lang, "line", start=line_start)
    return say(lang, "lines", start=line_start, end=line_end)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Return the text on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def question_html(question: str) -> str:
    """Return the user's question as a chat message that shows it as typed, never as markup."""
    return f'<div class="rag-question">{escape(question)}</div>'


def notice_html(text: str, kind: str = "hint") -> str:
    """Return a short bot notice (hint, limit, not ready, error) as an escaped chat message."""
    return f'<div class="rag-notice rag-{kind}">{escape(text)}</div>'


def answer_segments(answer: Answer) -> list[tuple[str, Citation | None]]:
    """Return the answer split into (text, citation that follows it); markers of unknown numbers stay text."""
    by_number = {citation.n: citation for citation in answer.citations}
    segments: list[tuple[str, Citation | None]] = []
    position = 0
    for match in _MARKER.finditer(answer.text):
        citation = by_number.get(int(match.group(1)))
        if citation is None:
            continue
        segments.append((answer.text[position : match.start()], citation))
        position = match.end()
    if position < len(answer.text):
        segments.append((answer.text[position:], None))
    return segments


def _cite_target(citation: Citation) -> SourceTarget:
    return SourceTarget("cite", citation.n, citation.file, citation.line_start, citation.line_end, citation.quote)


def _hit_target(kind: Kind, hit: Hit) -> SourceTarget:
    return SourceTarget(kind, hit.rank, hit.chunk.file, hit.chunk.line_start, hit.chunk.line_end)


def _title_of(titles: Mapping[str, str], file: str, fallback: str = "") -> str:
    return titles.get(file) or fallback or file


def _marker_html(citation: Citation, lang: Language) -> str:
    title = f"{citation.title} › {citation.section}" if citation.section else citation.title
    where = f"{title} · {citation.file} · {line_range(lang, citation.line_start, citation.line_end)}"
    return (
        f'<a class="rag-cite" href="{source_href(_cite_target(citation))}" title="{html.escape(where)}">'
        f"[{citation.n}]</a>"
    )


def _section_html(section: str) -> str:
    """Return the headings a quote or passage stands under, after its article's title ("› 着装规范"); "" for none."""
    return f'<span class="rag-section">› {escape(section)}</span> ' if section else ""


def _sources_list_html(answer: Answer, lang: Language) -> str:
    items = []
    for citation in answer.citations:
        items.append(
            f'<li><a class="rag-cite rag-source-link" href="{source_href(_cite_target(citation))}">[{citation.n}]</a> '
            f'<span class="rag-source-title">{escape(citation.title)}</span> '
            + _section_html(citation.section)
            + f'<span class="rag-where">{escape(citation.file)} · '
            f"{escape(line_range(lang, citation.line_start, citation.line_end))}</span></li>"
        )
    return f'<div class="rag-sources"><div class="rag-heading">{escape(say(lang, "sources"))}</div><ul>{"".join(items)}</ul></div>'


def _hits_html(hits: Sequence[Hit], kind: Kind, lang: Language, titles: Mapping[str, str]) -> str:
    items = []
    for hit in hits:
        chunk = hit.chunk
        items.append(
            f'<li><a class="rag-{kind}-link" href="{source_href(_hit_target(kind, hit))}">'
            f"{escape(_title_of(titles, chunk.file, chunk.title))}</a> "
            + _section_html(chunk.section)
            + f'<span class="rag-where">{escape(chunk.file)} · {escape(line_range(lang, chunk.line_start, chunk.line_end))}</span>'
            f'<div class="rag-excerpt">{escape(excerpt(chunk.text))}</div></li>'
        )
    return "".join(items)


def _passages_html(answer: Answer, lang: Language, titles: Mapping[str, str]) -> str:
    return (
        f'<details class="rag-passages"><summary>{escape(say(lang, "passages", count=len(answer.hits)))}</summary>'
        f'<ol>{_hits_html(answer.hits, "passage", lang, titles)}</ol></details>'
    )


def _answer_text_html(answer: Answer, lang: Language, shown: int | None) -> str:
    # A marker appears only once its whole sentence is shown, so a click never lands on half a claim.
    parts: list[str] = []
    budget = shown if shown is not None else len(answer.text)
    for text, citation in answer_segments(answer):
        parts.append(escape(text[: max(0, budget)]))
        budget -= len(text)
        if budget < 0:
            break
        if citation is not None:
            parts.append(_marker_html(citation, lang))
    return "".join(parts)


def answer_html(
    answer: Answer,
    lang: Language,
    titles: Mapping[str, str],
    show_passages: bool = False,
    shown: int | None = None,
) -> str:
    """Return the bot's chat message for an answer or a decline; `shown` reveals only that many characters."""
    complete = shown is None or shown >= len(answer.text)
    understood = (
        f'<div class="rag-understood">{escape(say(lang, "understood_as", question=answer.understood_as))}</div>'
        if answer.understood_as else ""
    )
    if answer.notice:
        understood += f'<div class="rag-understood rag-answer-notice">{escape(answer.notice)}</div>'
    if answer.small_talk:
        return f'<div class="rag-answer rag-small-talk"><div class="rag-text">{escape(answer.text)}</div></div>'
    if answer.refused:
        related = answer.hits[:RELATED_SHOWN]
        body = (
            f'<div class="rag-refusal"><strong>{escape(say(lang, "refused_title"))}</strong> '
            f"{escape(answer.text)}</div>"
        )
        if related:
            body += (
                f'<div class="rag-related"><div class="rag-heading">{escape(say(lang, "related"))}</div>'
                f'<ul>{_hits_html(related, "related", lang, titles)}</ul></div>'
            )
        if show_passages and answer.hits:
            body += _passages_html(answer, lang, titles)
        return f'<div class="rag-answer rag-refused">{understood}{body}</div>'
    body = understood + f'<div class="rag-text">{_answer_text_html(answer, lang, None if complete else shown)}</div>'
    if complete:
        body += _sources_list_html(answer, lang)
        if show_passages and answer.hits:
            body += _passages_html(answer, lang, titles)
    return f'<div class="rag-answer">{body}</div>'


def draft_html(lang: Language, text: str, understood_as: str | None = None) -> str:
    """Return the chat message for a language model's draft as it streams in: marked as a draft to be checked."""
    understood = (
        f'<div class="rag-understood">{escape(say(lang, "understood_as", question=understood_as))}</div>'
        if understood_as else ""
    )
    note = f'<div class="rag-understood rag-draft-note">{escape(say(lang, "drafting"))}</div>'
    return f'<div class="rag-draft">{understood}{note}<div class="rag-draft-text">{escape(text)}</div></div>'


def answer_frames(
    answer: Answer,
    lang: Language,
    titles: Mapping[str, str],
    show_passages: bool = False,
    frames: int = 8,
) -> Iterator[str]:
    """Yield the answer message growing in about `frames` steps; the last frame is the whole message."""
    if not answer.refused:
        text_length = sum(len(text) for text, _ in answer_segments(answer))
        # Each frame costs the server a round of serialising the chat, so a long answer takes bigger steps.
        step = max(MIN_FRAME_CHARS, -(-text_length // max(1, frames)))
        for shown in range(step, text_length, step):
            yield answer_html(answer, lang, titles, show_passages, shown)
    yield answer_html(answer, lang, titles, show_passages)


def panel_placeholder_html(lang: Language) -> str:
    """Return the sources panel before any citation was clicked."""
    return f'<div class="rag-panel rag-panel-empty">{escape(say(lang, "panel_empty"))}</div>'


def panel_missing_html(lang: Language, file: str) -> str:
    """Return the sources panel saying the requested article does not exist."""
    return f'<div class="rag-panel rag-panel-empty">{escape(say(lang, "panel_missing", file=file))}</div>'


def panel_notice_html(lang: Language, key: str, **values: object) -> str:
    """Return the sources panel saying, in the string `key`, why the requested lines cannot be shown."""
    return f'<div class="rag-panel rag-panel-empty">{escape(say(lang, key, **values))}</div>'


def _panel_kind(lang: Language, target: SourceTarget) -> str:
    if target.kind == "cite":
        return say(lang, "panel_cited", n=target.n)
    return say(lang, "panel_related" if target.kind == "related" else "panel_passage")


def quote_spans(lines: Sequence[str], quote: str) -> dict[int, tuple[int, int]]:
    """Return where `quote` stands in `lines`: {index of a line: (first, past last character)}, empty when it is not
    there. Spaces and line breaks are ignored, so a sentence that runs over several lines is found too."""
    places = [(i, j) for i, line in enumerate(lines) for j, ch in enumerate(line) if not ch.isspace()]
    text = "".join(lines[i][j] for i, j in places)
    needle = "".join(quote.split())
    at = text.find(needle) if needle else -1
    spans: dict[int, tuple[int, int]] = {}
    if at < 0:
        return spans
    for i, j in places[at: at + len(needle)]:
        first, _ = spans.get(i, (j, j))
        spans[i] = (first, j + 1)
    return spans


def _code_html(text: str, span: tuple[int, int] | None) -> str:
    """Return a panel line's text as HTML, the quoted part (when `span` is given) in a <mark>."""
    if span is None:
        return html.escape(text) or " "
    first, end = span
    return (f'{html.escape(text[:first])}<mark class="rag-mark">{html.escape(text[first:end])}</mark>'
            f"{html.escape(text[end:])}")


def panel_html(lang: Language, target: SourceTarget, source: SourceLines, title: str = "") -> str:
    """Return the sources panel: the article around the target as the index read it (no markup), numbered as in the
    file, the target lines highlighted and a citation's sentence marked where it stands.

    `source` holds the lines the panel shows (the window around the target); lines of the
    target are marked `rag-hl`, and the first line to scroll to is marked `rag-anchor`.
    """
    cited_start = max(target.line_start, source.line_start)
    cited_end = min(target.line_end, source.line_end)
    anchor = max(source.line_start, cited_start - CONTEXT_LINES)
    where_key = "panel_line" if cited_start == cited_end else "panel_lines"
    where = say(lang, where_key, start=cited_start, end=cited_end, total=source.total_lines)
    on_page = source.page_of(cited_start)
    if on_page is not None:
        where += " · " + say(lang, "panel_page", page=on_page[0], line=on_page[1])
    # The cleaned text is what a quote stands in; the raw lines only when the source came without it.
    texts = source.clean if len(source.clean) == len(source.lines) else source.lines
    first_cited = cited_start - source.line_start
    cited = texts[first_cited: cited_end - source.line_start + 1] if cited_end >= cited_start else ()
    spans = {first_cited + i: span for i, span in quote_spans(cited, target.quote).items()} if target.quote else {}
    rows = []
    if source.line_start > 1:
        rows.append(f'<div class="rag-elided">{escape(say(lang, "panel_elided", count=source.line_start - 1))}</div>')
    for index, line in enumerate(texts):
        number = source.line_start + index
        classes = ["rag-line"]
        if cited_start <= number <= cited_end:
            classes.append("rag-hl")
            if index in spans:
                classes.append("rag-marked")
        elif cited_start - CONTEXT_LINES <= number <= cited_end + CONTEXT_LINES:
            classes.append("rag-context")
        if number == anchor:
            classes.append("rag-anchor")
        rows.append(
            f'<div class="{" ".join(classes)}" data-line="{number}">'
            f'<span class="rag-ln">{number}</span><span class="rag-code">{_code_html(line, spans.get(index))}</span></div>'
        )
    if source.line_end < source.total_lines:
        rows.append(f'<div class="rag-elided">{escape(say(lang, "panel_elided", count=source.total_lines - source.line_end))}</div>')
    heading = (
        f'<div class="rag-panel-head"><div class="rag-panel-kind rag-kind-{target.kind}">{escape(_panel_kind(lang, target))}</div>'
        + (f'<div class="rag-panel-title">{escape(title)}</div>' if title else "")
        + f'<div class="rag-where">{escape(target.file)} · {escape(where)}</div>'
        + (f'<div class="rag-stale">{escape(say(lang, "panel_stale"))}</div>' if source.stale else "")
        + "</div>"
    )
    return (
        f'<div class="rag-panel" data-target="{html.escape(source_href(target))}">{heading}'
        f'<div class="rag-panel-body">{"".join(rows)}</div></div>'
    )


def status_html(lang: Language, key: str, **values: object) -> str:
    """Return the readiness banner ("getting_ready", "building_index", "ready" or "failed") in the page's language."""
    return f'<div class="rag-status rag-status-{key}">{escape(say(lang, key, **values))}</div>'
