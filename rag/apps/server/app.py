"""One FastAPI app: the HTTP API under /api, the widget under /embed, the Gradio chat page at /."""
from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag import __version__
from rag.apps.library import Library
from rag.apps.ratelimit import RateLimiter
from rag.apps.server.access import AccessGuard, AccessPolicy
from rag.apps.server.api import ApiError, make_router
from rag.apps.server.embed import add_widget
from rag.apps.server.guards import BodyLimit, CrossSiteGuard, FramingPolicy
from rag.apps.server.kbs import make_kb_router, upload_limit
from rag.apps.server.sessions import session_routes
from rag.apps.service import Service
from rag.apps.web.page import launch_options
from rag.settings import Settings

DESCRIPTION = (
    "Answers from the articles, every sentence cited to the lines it came from; a decline when they do not say. "
    "Send `Authorization: Bearer <token>` when the server sets RAG_API_TOKEN (browsers use a session from "
    "`POST /api/sessions` instead)."
)


# What each endpoint that reads a JSON body takes, shown when a body is malformed (the widget's own routes, under
# /embed/api, take the same).
EXAMPLE_BODIES = {
    "ask": '{"question": "…", "top_k": 5}',
    "feedback": '{"rating": "up", "question": "…", "answer": "…"}',
    "sessions": '{"hours": 8}',
}


def example_body(path: str) -> str:
    """Return an example of the JSON body the endpoint at `path` takes ({"question": "…"} for any other)."""
    return EXAMPLE_BODIES.get(path.rstrip("/").rsplit("/", 1)[-1], '{"question": "…"}')


def validation_message(error: RequestValidationError, path: str = "/api/ask") -> str:
    """Return the first problem of a malformed request to `path` as one line that says what to send instead."""
    first = (error.errors() or [{}])[0]
    example = example_body(path)
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON: send {example}"
    if tuple(first.get("loc", ())) == ("body",):
        return f"the body must be a JSON object such as {example}, sent with Content-Type: application/json"
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path"))
    what = first.get("msg", "invalid value")
    hint = f" (send {example})" if first.get("loc", ("",))[0] == "body" else ""
    return f"{where or 'the body'}: {what}{hint}"


# What FastAPI says of a body it could not read at all (bytes that are not UTF-8): a 400 of its own.
_UNPARSED_BODY = "There was an error parsing the body"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def make_limiter(settings: Settings) -> RateLimiter:
    """Return the one rate limiter the API, the widget and the chat page share."""
    return RateLimiter(settings.server.rate_limit_per_minute, settings.server.rate_limit_burst)


def create_app(
    service: Service, page: gr.Blocks | None = None, limiter: RateLimiter | None = None, library: Library | None = None
) -> FastAPI:
    """Return the server's app over the service; with a page, the chat page is mounted at / as well.

    Pass the limiter the page's handlers spend from, so a client has one allowance across every route, and the
    library of knowledge bases the service is the default one of (without it, the service's index is the only one).
    """
    settings = service.settings
    app = FastAPI(title="Answers you can check · 可核查的问答", version=__version__, description=DESCRIPTION)
    limiter = limiter or make_limiter(settings)
    policy = AccessPolicy(settings.server.api_token, settings.server.session_secret)
    minting, installing = session_routes(policy, settings.server.session_hours)
    app.include_router(minting, prefix="/api")
    app.include_router(installing)
    library = library or Library.single(service)
    kbs = make_kb_router(library)
    app.include_router(kbs, prefix="/api")
    app.include_router(make_router(service, limiter, "api", library, beside=(minting, kbs)), prefix="/api")
    add_widget(app, service, limiter, library)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, validation_message(error, request.url.path))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Any:
        if request.url.path.startswith(("/api/", "/embed/")):
            if error.status_code == 400 and error.detail == _UNPARSED_BODY:  # as any other body that is not JSON
                return _error(422, f"the body is not valid JSON (send UTF-8 text): send {example_body(request.url.path)}")
            return _error(error.status_code, str(error.detail), getattr(error, "headers", None))
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=getattr(error, "headers", None))

    if page is not None:
        gr.mount_gradio_app(app, page, path="/", **launch_options())
    # Added innermost first: the access guard runs before the body is read, the body limit before any route,
    # and CORS outermost so even a 401, 413 or 429 reaches an allowed origin's script.
    app.add_middleware(BodyLimit, limit=settings.server.max_request_bytes, upload_limit=upload_limit(settings))
    app.add_middleware(AccessGuard, policy=policy)
    app.add_middleware(CrossSiteGuard, origins=settings.server.cors_origins)
    app.add_middleware(FramingPolicy, origins=settings.server.frame_ancestors)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.server.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-RAG-Session"],
            max_age=600,
        )
    return app
