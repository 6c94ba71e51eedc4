"""The HTTP API's routes: they translate requests to the assistant and its answers to JSON, nothing more."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from rag.answer.assistant import Assistant
from rag.answer.schema import AnswerJSON, answer_to_dict
from rag.apps.feedback import FeedbackError, feedback_from_json, open_store
from rag.apps.ratelimit import RateLimiter, retry_after
from rag.apps.server import sse
from rag.apps.service import Service, not_ready_message
from rag.errors import IndexDamagedError, QuestionError, QuestionTooLongError
from rag.ingest.sources import SourceLines, SourceNotFoundError, SourceRangeError, SourceUnreadableError, source_lines
from rag.kbs import DEFAULT_KB, KnowledgeBaseError, check_name
from rag.records import Turn

if TYPE_CHECKING:
    from rag.apps.library import Library

# Most lines one sources request returns; the articles are news pages, far shorter.
MAX_SOURCE_LINES = 2000
# Seconds a client is told to wait while the index is being built.
BUILDING_RETRY_SECONDS = 5


class ApiError(Exception):
    """An error the API answers with `{"error": message}` and the given status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class TurnIn(BaseModel):
    """One earlier exchange of the conversation."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="What was asked.", examples=["Sora是在哪一天发布的？"])
    answer: str = Field("", description="What the bot answered (its `answer` field).")


class AskRequest(BaseModel):
    """A question about the articles, with the conversation's earlier turns when it is a follow-up."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in Chinese or English.", examples=["Sora是在哪一天发布的？"])
    top_k: int | None = Field(None, ge=1, le=100, description="Passages to list (default from the server's settings).")
    kb: str | None = Field(None, description="Knowledge base to answer from (default: default); GET /api/kbs lists them.",
                           examples=["default"])
    history: list[TurnIn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first, so a follow-up (\"它是谁发布的？\", \"What about its length?\") is "
        "understood; at most `max_history_turns` (413 past it).",
    )
    stream: bool = Field(
        False, description="Answer as server-sent events (as does `Accept: text/event-stream`): `question`, `draft`, "
        "`delta`…, then `answer` with this same JSON, or `error` (docs/streaming.md).",
    )


class FeedbackIn(BaseModel):
    """A reader's thumbs up or down on an answer, with what the answer said."""

    model_config = ConfigDict(extra="forbid")
    rating: Literal["up", "down"] = Field(description="Thumbs up or down.")
    question: str = Field(description="The question as asked.", max_length=4000)
    answer: str = Field("", description="The answer's `answer` field.", max_length=20000)
    citations: list[dict[str, Any]] = Field(default_factory=list, description="The answer's `citations`.", max_length=50)
    understood_as: str | None = Field(None, description="The answer's `understood_as`, when it had one.", max_length=4000)
    refused: bool = False
    comment: str = Field("", description="What the reader adds, optional.", max_length=2000)
    kb: str | None = Field(None, description="Knowledge base that answered (as in its /api/ask request).")


class FeedbackOut(BaseModel):
    id: int = Field(description="The stored verdict's number.")


class SourceLine(BaseModel):
    n: int = Field(description="Line number in the file, 1-based.")
    text: str = Field(description="The line as in the file, markup included.")
    clean: str = Field(
        description="The line as the index read it: markup removed, HTML entities decoded (`&amp;` is `&`), "
        "empty when nothing of it was kept. A citation's quote stands in its cited lines' `clean` text."
    )
    page: int | None = Field(None, description="In a PDF: the page the line is on, 1-based.")
    page_line: int | None = Field(None, description="In a PDF: the line's number on its page, 1-based.")


class SourceOut(BaseModel):
    file: str
    title: str
    line_start: int
    line_end: int
    total_lines: int
    lines: list[SourceLine]
    stale: bool = Field(False, description="The file changed since the index was built: the lines are those indexed.")


class HealthOut(BaseModel):
    status: Literal["ready", "loading", "building", "failed"]
    message: str = ""
    index: dict[str, Any] | None = Field(None, description="Summary of the index manifest, once it is loaded.")


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong and what to do about it, in one line.")


ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routers: Sequence[APIRouter], path: str) -> list[str]:
    """Return the methods the routes of `routers` take at `path` (relative to where they are included), catch-alls
    left out; empty when none of them is there."""
    methods: set[str] = set()
    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute) and not route.path.endswith("{path:path}") and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut} for status in statuses}


def ready_assistant(service: Service) -> Assistant:
    """Return the loaded assistant, or raise a 503 saying it is getting ready (building the index or loading) or why
    it could not start."""
    if service.assistant is not None:
        return service.assistant
    if service.error is not None:
        raise ApiError(503, f"the assistant cannot answer: {service.error}")
    raise ApiError(
        503,
        f"{not_ready_message(service)}: try again in a few seconds",
        {"Retry-After": str(BUILDING_RETRY_SECONDS)},
    )


def index_summary(assistant: Assistant) -> dict[str, Any]:
    """Return what a health check shows of the manifest: model, counts, build time, index type."""
    manifest = assistant.index.manifest
    return {
        "model": manifest.model.name,
        "dimension": manifest.model.dimension,
        "articles": manifest.counts.articles,
        "chunks": manifest.counts.chunks,
        "sentences": manifest.counts.sentences,
        "built_at": manifest.built_at,
        "format_version": manifest.format_version,
        "dense": manifest.dense,
    }


def client_key(request: Request) -> str:
    """Return the address the rate limit counts requests against."""
    return request.client.host if request.client else "unknown"


def spend_allowance(limiter: RateLimiter, request: Request) -> None:
    """Take one request from the client's allowance, or raise a 429 saying how long to wait."""
    wait = limiter.take(client_key(request))
    if wait > 0:
        raise ApiError(
            429,
            f"too many requests from this address: wait {retry_after(wait)} s and try again",
            {"Retry-After": retry_after(wait)},
        )


def _line(found: SourceLines, n: int, text: str, clean: str) -> dict[str, Any]:
    """Return one line of a sources answer; a PDF's lines also name their page and their line on it."""
    where = found.page_of(n)
    return {"n": n, "text": text, "clean": clean, **({} if where is None else {"page": where[0], "page_line": where[1]})}


def make_router(
    service: Service, limiter: RateLimiter, name: str, library: Library | None = None, beside: Sequence[APIRouter] = (),
) -> APIRouter:
    """Return the ask/sources/health routes; who may call them is the access policy's business (rag/server/access.py).
    `beside` are the routers included under the same prefix before it: a path of theirs asked with a method they do
    not take gets a 405 too, not a 404.

    The rate limit is spent inside each route, after its input was validated, so a malformed request (422)
    costs no allowance. A request's `kb` picks the library's knowledge base; without one, `service` answers.
    """
    router = APIRouter(tags=[name])

    def pick(kb: str | None) -> Service:
        """Return the service of knowledge base `kb`: 422 for a name that is not one, 404 for one there is none of."""
        if not kb or library is None:
            if kb and kb != DEFAULT_KB:
                raise ApiError(404, f"there is no knowledge base {kb!r}: this server answers from one index only")
            return service
        try:
            check_name(kb)
        except KnowledgeBaseError as error:
            raise ApiError(422, str(error)) from None
        try:
            return library.service(kb)
        except KnowledgeBaseError as error:
            raise ApiError(404, str(error)) from None

    @router.post(
        "/ask",
        response_model=AnswerJSON,
        response_model_exclude_none=True,
        responses={**_errors(401, 413, 422, 429, 503), 200: {"content": {"text/event-stream": {}}}},
        summary="Answer a question, every sentence cited to its lines",
    )
    def ask(body: AskRequest, request: Request) -> Any:
        """Return the same JSON as `python -m rag ask --json`, or server-sent events ending with it when asked to stream."""
        assistant = ready_assistant(pick(body.kb))
        try:
            question = assistant.validate(body.question)
            history = [Turn(turn.question, turn.answer) for turn in body.history]
            spend_allowance(limiter, request)
            if sse.wants_stream(body.stream, request.headers.get("accept")):
                # Whatever fails before the first event is answered with its status; after it, as an `error` event.
                events = assistant.ask_stream(question, top_k=body.top_k, history=history)
                return StreamingResponse(sse.event_stream(events), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
            answer = assistant.ask(question, top_k=body.top_k, history=history)
        except QuestionTooLongError as error:
            raise ApiError(413, str(error)) from None
        except QuestionError as error:
            raise ApiError(422, str(error)) from None
        except IndexDamagedError as error:  # found while answering: the service now reports it in health too
            raise ApiError(503, str(error)) from None
        return answer_to_dict(answer)

    @router.post(
        "/feedback",
        response_model=FeedbackOut,
        status_code=201,
        responses=_errors(401, 413, 422, 429, 503),
        summary="Store a reader's thumbs up or down on an answer",
    )
    def feedback(body: FeedbackIn, request: Request) -> dict[str, Any]:
        """Return the id of the stored verdict; `python -m rag feedback` exports them."""
        chosen = pick(body.kb)
        spend_allowance(limiter, request)
        kb = (library.name_of(chosen) if library is not None else None) or body.kb or DEFAULT_KB
        try:
            stored = open_store(chosen.settings).add(feedback_from_json(body.model_dump(), name, kb), chosen.settings)
        except FeedbackError as error:
            raise ApiError(503, str(error)) from None
        return {"id": stored}

    @router.get(
        "/sources/{file:path}",
        response_model=SourceOut,
        responses=_errors(401, 404, 422, 429),
        summary="Lines of a corpus article, with their numbers",
    )
    def sources(
        request: Request,
        file: str,
        start: int = Query(1, ge=1, description="First line, 1-based."),
        end: int | None = Query(None, ge=1, description="Last line, inclusive (default: the end of the file)."),
        kb: str | None = Query(None, description="Knowledge base the article is in (default: default)."),
    ) -> dict[str, Any]:
        """Return lines start..end of an article of the corpus (clipped to the file); any other path is a 404."""
        if end is not None and end < start:
            raise ApiError(422, f"end ({end}) is before start ({start}): ask for start <= end")
        chosen = pick(kb)
        assistant = chosen.assistant  # taken once: an update swapping it meanwhile never mixes two indexes' lines
        spend_allowance(limiter, request)
        try:
            indexed = assistant.index.text_of(file) if assistant is not None else None
            found = source_lines(chosen.settings.index.corpus_dir, file, start, end, indexed)
        except SourceNotFoundError as error:
            raise ApiError(404, str(error)) from None
        except (SourceUnreadableError, SourceRangeError) as error:
            raise ApiError(422, str(error)) from None
        if found.line_end - found.line_start + 1 > MAX_SOURCE_LINES:
            raise ApiError(422, f"at most {MAX_SOURCE_LINES} lines per request: narrow start..end")
        titles = assistant.titles if assistant is not None else {}
        return {
            "file": found.file,
            "title": titles.get(found.file, ""),
            "line_start": found.line_start,
            "line_end": found.line_end,
            "total_lines": found.total_lines,
            "stale": found.stale,
            "lines": [_line(found, found.line_start + i, text, clean) for i, (text, clean) in enumerate(zip(found.lines, found.clean))],
        }

    @router.get(
        "/health",
        response_model=HealthOut,
        responses={503: {"model": HealthOut}, 401: {"model": ErrorOut}},
        summary="Whether the assistant is ready, and what its index holds",
    )
    def health() -> Any:
        """Return 200 with the index summary when ready; 503 while building the index or loading, or after a failed
        start."""
        if service.assistant is not None:
            return {"status": "ready", "message": "", "index": index_summary(service.assistant)}
        if service.error is not None:
            return JSONResponse({"status": "failed", "message": service.error, "index": None}, status_code=503)
        return JSONResponse(
            {"status": service.state, "message": not_ready_message(service), "index": None},
            status_code=503,
            headers={"Retry-After": str(BUILDING_RETRY_SECONDS)},
        )

    @router.head("/health", include_in_schema=False)
    def health_head() -> Response:
        """Return the status and headers GET /health answers, without a body (for uptime checks and load balancers)."""
        full = health()
        if not isinstance(full, Response):
            return Response(status_code=200)
        headers = {k: v for k, v in full.headers.items() if k.lower() not in ("content-length", "content-type")}
        return Response(status_code=full.status_code, headers=headers)

    @router.api_route("/{path:path}", methods=list(ANY_METHOD), include_in_schema=False)
    def unknown(path: str, request: Request) -> None:
        allowed = allowed_methods([*beside, router], f"/{path}")
        if allowed:  # the endpoint is there, asked with another method ("GET /api/ask")
            raise ApiError(405, f"{request.method} is not what {request.url.path} takes: send {' or '.join(allowed)}",
                           {"Allow": ", ".join(allowed)})
        raise ApiError(404, f"there is no endpoint {request.url.path} here: see /docs for the API's endpoints")

    return router

