"""The widget: the /embed page made for an iframe, its assets, its own routes to the assistant, and widget.js."""
from __future__ import annotations

import html
import json
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from rag.apps.library import Library
from rag.apps.ratelimit import RateLimiter
from rag.apps.server.api import make_router
from rag.apps.service import Service
from rag.apps.web.text import STRINGS

ASSETS = Path(__file__).resolve().parent / "assets"


def embed_template(max_chars: int) -> str:
    """Return the /embed page's HTML with the limit and the words of both languages filled in; `__BASE__` is left."""
    # Inside <script type="application/json"> only "</" could end the element early; escape "<" altogether.
    strings = json.dumps(STRINGS, ensure_ascii=False).replace("<", "\\u003c")
    return (
        (ASSETS / "embed.html").read_text(encoding="utf-8")
        .replace("__STRINGS__", strings)
        .replace("__MAX_CHARS__", str(max_chars))
    )


def add_widget(app: FastAPI, service: Service, limiter: RateLimiter, library: Library | None = None) -> None:
    """Serve /embed, /embed/static/*, /embed/api/* and /widget.js on the app (the access policy guards /embed/api)."""
    pages = APIRouter(include_in_schema=False)
    template = embed_template(service.settings.answer.max_question_chars)
    script = (ASSETS / "widget.js").read_text(encoding="utf-8")

    @pages.get("/embed", response_class=HTMLResponse)
    def embed(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""), quote=True)
        return HTMLResponse(template.replace("__BASE__", root), headers={"Cache-Control": "no-cache"})

    @pages.get("/widget.js")
    def widget() -> Response:
        return Response(
            script,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )

    app.include_router(pages)
    app.include_router(make_router(service, limiter, name="widget", library=library), prefix="/embed/api", include_in_schema=False)
    app.mount("/embed/static", StaticFiles(directory=ASSETS), name="embed-static")
