"""What the page's events do: answer a question into the chat, open a source, report readiness.

The chat's earlier turns go with each question as its history, so a follow-up ("它是谁发布的？") is
understood with the subject of the turns before it (rag/answer/conversation.py).
"""
from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.answer.streaming import AnswerEvent, DraftingEvent, QuestionEvent, TextEvent, event_data
from rag.apps.feedback import Feedback, FeedbackError, open_store
from rag.apps.ratelimit import RateLimiter, retry_after
from rag.apps.service import Service, not_ready_message
from rag.apps.web.text import Language, language, say
from rag.apps.web.view import (
    PANEL_WINDOW,
    answer_frames,
    draft_html,
    notice_html,
    panel_html,
    panel_missing_html,
    panel_notice_html,
    panel_placeholder_html,
    parse_source_href,
    question_html,
    status_html,
)
from rag.errors import QuestionError, QuestionTooLongError, RagError
from rag.ingest.sources import SourceNotFoundError, SourceRangeError, SourceUnreadableError, source_lines
from rag.ingest.textnorm import shown
from rag.kbs import DEFAULT_KB, example_questions
from rag.records import Turn

if TYPE_CHECKING:
    from rag.apps.library import Library

log = logging.getLogger(__name__)

Message = dict[str, Any]

_TAGS = re.compile(r"<[^>]*>")
_TEXT_DIV = re.compile(r'<div class="rag-text">(.*?)</div>', re.S)
_MARKER = re.compile(r'<a class="rag-cite" href="([^"]*)"[^>]*>\[\d+\]</a>')
_UNDERSTOOD = re.compile(r'<div class="rag-understood">(.*?)</div>', re.S)
_REFUSAL = re.compile(r'<div class="rag-refusal">(.*?)</div>', re.S)


def _plain(content: Any) -> str:
    """Return a chat message's text without its markup (Gradio may hand content back as a list of parts)."""
    if isinstance(content, list):
        content = " ".join(_plain(part) for part in content)
    elif isinstance(content, dict):
        content = content.get("text") or content.get("content") or ""
    return html.unescape(_TAGS.sub("", str(content or "").replace("<br>", "\n"))).strip()


def turns_from_chat(history: list[Message], limit: int, max_chars: int) -> list[Turn]:
    """Return the chat's last `limit` question-and-answer turns, oldest first, in plain text."""
    turns: list[Turn] = []
    for position, message in enumerate(history):
        # The page writes each question as a rag-question message; notices answer no question.
        content = message.get("content")
        if message.get("role") != "user" or "rag-question" not in str(content):
            continue
        following = history[position + 1] if position + 1 < len(history) else {}
        answer = _plain(following.get("content")) if following.get("role") == "assistant" else ""
        turns.append(Turn(_plain(content)[:max_chars], answer[:max_chars]))
    return turns[-limit:] if limit > 0 else []


def _bot(content: str) -> Message:
    return {"role": "assistant", "content": content}


def _user(content: str) -> Message:
    return {"role": "user", "content": content}


def verdict_from_chat(history: list[Message], index: int, rating: str, comment: str) -> Feedback | None:
    """Return the feedback on the chat's answer at `index`, read back from the message the page wrote; None
    when that message is no answer (a notice, a question)."""
    if not 0 <= index < len(history) or history[index].get("role") != "assistant":
        return None
    content = str(history[index].get("content") or "")
    if "rag-answer" not in content:
        return None
    question = next(
        (_plain(m.get("content")) for m in reversed(history[:index]) if m.get("role") == "user"), ""
    )
    understood = _UNDERSTOOD.search(content)
    understood_as = _plain(understood.group(1)).split("：", 1)[-1].split(": ", 1)[-1] if understood else None
    refusal = _REFUSAL.search(content)
    citations = []
    text_div = _TEXT_DIV.search(content)
    answer = _plain(refusal.group(1)) if refusal else _plain(text_div.group(1)) if text_div else _plain(content)
    if text_div and not refusal:
        # The quote of each citation is the text just before its marker.
        parts = _MARKER.split(text_div.group(1))
        for position in range(1, len(parts), 2):
            target = parse_source_href(html.unescape(parts[position]))
            if target is not None:
                citations.append({
                    "n": target.n, "file": target.file, "line_start": target.line_start,
                    "line_end": target.line_end, "quote": _plain(parts[position - 1]),
                })
    return Feedback(rating, question, answer, tuple(citations), understood_as, bool(refusal), comment, "page")


class ChatHandlers:
    """The event handlers of one page, over one service; they keep no state between calls."""

    def __init__(
        self, service: Service, frame_delay: float = 0.04, frames: int = 8, limiter: RateLimiter | None = None,
        library: Library | None = None,
    ) -> None:
        self.service = service
        # The knowledge bases the page's selector chooses from; `service` is the default one.
        self.library = library
        # The server's limiter, shared with the API and the widget, so the page is no way around it.
        self.limiter = limiter
        self.frame_delay = frame_delay  # seconds between streamed frames: visibly streaming, done in a third of a second
        self.frames = frames

    def ask(
        self,
        question: str | None,
        history: list[Message] | None,
        top_k: float | None = None,
        show_passages: bool = False,
        locale: str | None = "",
        kb: str | None = None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[str, list[Message]]]:
        """Yield (what the question box should hold, the chat) while the answer streams in, from knowledge base `kb`."""
        question = question or ""
        history = list(history or [])
        lang: Language = language(locale, question)
        if not question.strip():
            yield question, history + [_bot(notice_html(say(lang, "empty_question"), "hint"))]
            return
        service = self.service_of(kb)
        assistant = service.assistant
        if assistant is None:
            key, kind = ("failed", "error") if service.error else ("not_ready_reply", "hint")
            yield question, history + [_bot(notice_html(say(lang, key, error=service.error), kind))]
            return
        try:
            question = assistant.validate(question)
        except QuestionTooLongError:
            # The question stays in the box to shorten (an empty one was answered above).
            limit = assistant.settings.answer.max_question_chars
            message = say(lang, "too_long", length=len(question.strip()), limit=limit)
            yield question, history + [_bot(notice_html(message, "limit"))]
            return
        except QuestionError:
            # Characters that are not text (lone surrogates) cannot reach the browser: the box shows them as U+FFFD.
            yield shown(question), history + [_bot(notice_html(say(lang, "not_text"), "limit"))]
            return
        wait = self._wait(request)
        if wait:
            yield question, history + [_bot(notice_html(say(lang, "too_many", seconds=wait), "limit"))]
            return
        settings = assistant.settings
        turns = turns_from_chat(history, settings.answer.max_history_turns, settings.answer.max_history_chars)
        history.append(_user(question_html(question)))
        yield "", history + [_bot(notice_html(say(lang, "thinking"), "thinking"))]
        understood_as: str | None = None
        draft: str | None = None  # a language model's tokens so far, shown as a draft until the checked answer
        shown_at = 0.0
        try:
            for event in assistant.ask_stream(question, top_k=int(top_k) if top_k else None, history=turns):
                if isinstance(event, QuestionEvent):
                    understood_as = event.understood_as
                elif isinstance(event, DraftingEvent):
                    draft = ""
                elif isinstance(event, TextEvent) and event.draft and draft is not None:
                    draft += event.text
                    # Each frame costs a round of serialising the chat: at most one per frame delay.
                    if time.monotonic() - shown_at >= self.frame_delay:
                        shown_at = time.monotonic()
                        yield "", history + [_bot(draft_html(lang, draft, understood_as))]
                elif isinstance(event, AnswerEvent):
                    answer = event.answer
        except RagError as error:
            log.warning("question failed: %s", error)
            yield "", history + [_bot(notice_html(say(lang, "error_reply", error=error), "error"))]
            return
        # After a draft the checked answer replaces it at once; a quoted answer streams in a few frames.
        frames = list(answer_frames(answer, lang, assistant.titles, bool(show_passages), 1 if draft is not None else self.frames))
        for position, frame in enumerate(frames):
            if position:
                time.sleep(self.frame_delay)
            yield "", history + [_bot(frame)]

    def answer(self, question: str, top_k: int = 10, request: gr.Request | None = None) -> Iterator[dict[str, Any]]:
        """Yield the answer's progress as the events of the HTTP API's stream (`{"event": "question" | "draft" |
        "delta", …}`), then the answer as `python -m rag ask --json` prints it: the page's named endpoint for
        gradio_client, whose `predict` returns that last one (docs/streaming.md)."""
        yield from self._answer(self.service, question, top_k, request)

    def answer_kb(
        self, question: str, kb: str = DEFAULT_KB, top_k: int = 10, request: gr.Request | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the answer of knowledge base `kb` as `answer` gives it: the named endpoint /answer_kb, so /answer's
        arguments stay as they were."""
        if self.library is None:
            if kb != DEFAULT_KB:
                raise gr.Error(f"there is no knowledge base {kb!r}: this server answers from one index only")
            yield from self._answer(self.service, question, top_k, request)
            return
        try:
            service = self.library.service(kb)
        except RagError as error:  # not a name, or none there is: said, never answered from another one
            raise gr.Error(str(error)) from None
        yield from self._answer(service, question, top_k, request)

    def _answer(self, service: Service, question: str, top_k: int, request: gr.Request | None) -> Iterator[dict[str, Any]]:
        """Yield the answer of `service` as the page's named endpoints stream it, or raise gr.Error with the one line
        the API would answer."""
        assistant = service.assistant
        if assistant is None:
            raise gr.Error(service.error or f"{not_ready_message(service)}: try again in a few seconds")
        try:
            question = assistant.validate(question)
            wait = self._wait(request)
            if wait:
                raise gr.Error(f"too many requests from this address: wait {wait} s and try again")
            for event in assistant.ask_stream(question, top_k=int(top_k) if top_k else None):
                if isinstance(event, TextEvent) and not event.draft:
                    # The finished answer's own pieces come at once, and its text is in the answer that follows.
                    continue
                name, data = event_data(event)
                yield data if name == "answer" else {"event": name, **data}
        except RagError as error:
            raise gr.Error(str(error)) from None

    def service_of(self, kb: str | None) -> Service:
        """Return the service of the knowledge base the page's selector names (the default one without a library)."""
        if not kb or self.library is None:
            return self.service
        try:
            return self.library.service(kb)
        except RagError:  # a name the selector never offered: the default answers
            return self.service

    def name_of(self, service: Service, kb: str | None) -> str:
        """Return the name of the knowledge base `service` answers from (`kb` as the selector gave it, when it is that)."""
        if self.library is None:
            return DEFAULT_KB
        return self.library.name_of(service) or kb or DEFAULT_KB

    def kb_choices(self) -> list[tuple[str, str]]:
        """Return the selector's (label, name) choices: every knowledge base, with its title."""
        if self.library is None:
            return [(DEFAULT_KB, DEFAULT_KB)]
        return [(row["title"] if row["title"] == row["name"] else f"{row['title']} ({row['name']})", row["name"])
                for row in self.library.listing()]

    def examples(self, kb: str | None) -> list[str]:
        """Return the example questions of knowledge base `kb`: its kb.json's, else drawn from its titles."""
        service = self.service_of(kb)
        assistant = service.assistant
        titles = list(assistant.titles.values()) if assistant is not None else []
        return example_questions(service.settings.index.corpus_dir, titles)

    def _wait(self, request: gr.Request | None) -> str:
        """Spend one question of the caller's allowance; return the seconds to wait ("" when allowed)."""
        if self.limiter is None:
            return ""
        client = getattr(request, "client", None) if request is not None else None
        wait = self.limiter.take(getattr(client, "host", None) or "unknown")
        return retry_after(wait) if wait > 0 else ""

    def feedback(
        self, history: list[Message] | None, comment: str | None, locale: str | None, like: gr.LikeData,
        kb: str | None = None,
    ) -> tuple[str, str]:
        """Store a thumbs up or down on the clicked answer of knowledge base `kb` (the chat is emptied when another
        is chosen); return (the comment box emptied, a one-line notice)."""
        lang = language(locale or "zh")
        liked = like.liked
        rating = "up" if liked is True or liked == "Like" else "down" if liked is False or liked == "Dislike" else None
        index = like.index if isinstance(like.index, int) else like.index[0]
        verdict = verdict_from_chat(list(history or []), index, rating or "", (comment or "").strip())
        if rating is None or verdict is None:
            return comment or "", ""
        service = self.service_of(kb)
        verdict = replace(verdict, kb=self.name_of(service, kb))
        try:
            open_store(service.settings).add(verdict, service.settings)
        except FeedbackError as error:
            log.warning("feedback not stored: %s", error)
            return comment or "", notice_html(say(lang, "error_reply", error=error), "error")
        return "", notice_html(say(lang, "feedback_thanks"), "hint")

    def open_source(self, href: str | None, locale: str | None = "", kb: str | None = None) -> str:
        """Return the sources panel for a clicked link's address (`#src/...`) in knowledge base `kb`, or the placeholder."""
        lang = language(locale or "zh")
        target = parse_source_href(href or "")
        if target is None:
            return panel_placeholder_html(lang)
        service = self.service_of(kb)
        assistant = service.assistant  # taken once: the lines and the title come from one index
        try:
            source = source_lines(
                service.settings.index.corpus_dir,
                target.file,
                target.line_start - PANEL_WINDOW,
                target.line_end + PANEL_WINDOW,
                assistant.index.text_of(target.file) if assistant is not None else None,
            )
        except SourceNotFoundError:
            return panel_missing_html(lang, shown(target.file))
        except SourceUnreadableError:
            return panel_notice_html(lang, "panel_unreadable", file=target.file)
        except SourceRangeError as error:
            return panel_notice_html(lang, "panel_past_end", file=target.file, total=error.total_lines, start=target.line_start)
        titles = assistant.titles if assistant is not None else {}
        return panel_html(lang, target, source, titles.get(target.file, ""))

    def status(self, locale: str | None = "", kb: str | None = None) -> tuple[str, bool]:
        """Return the readiness banner of knowledge base `kb` and whether getting ready has finished."""
        lang = language(locale or "zh")
        service = self.service_of(kb)
        if service.assistant is not None:
            articles, passages = service.counts()
            return status_html(lang, "ready", articles=articles, passages=passages), True
        if service.error:
            return status_html(lang, "failed", error=service.error), True
        return status_html(lang, "building_index" if service.state == "building" else "getting_ready"), False

    def clear(self, locale: str | None = "") -> tuple[str, list[Message], str]:
        """Return an empty question box, an empty chat and the panel's placeholder."""
        return "", [], panel_placeholder_html(language(locale or "zh"))
