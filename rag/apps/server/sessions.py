"""Browser sessions: minted with the API token (`POST /api/sessions`), installed by opening `/session?s=…`."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from rag.apps.server.access import DENIED_PAGE, MAX_SESSION_HOURS, AccessPolicy, describe, session_cookie
from rag.apps.server.api import ApiError, ErrorOut


class SessionRequest(BaseModel):
    """How long the new session should last."""

    model_config = ConfigDict(extra="forbid")
    hours: float | None = Field(None, gt=0, le=MAX_SESSION_HOURS, description="Hours until it expires (default: the server's RAG_SESSION_HOURS).")


class SessionOut(BaseModel):
    session: str = Field(description="Send it as the X-RAG-Session header, or give it to the widget as data-session.")
    expires_at: int = Field(description="When it stops working, in Unix seconds.")
    url: str = Field(description="A link (relative to the server) that opens the chat page with this session.")


def _refused(reason: str) -> ApiError:
    return ApiError(401, reason, {"WWW-Authenticate": "Bearer"})


def session_routes(policy: AccessPolicy, default_hours: float) -> tuple[APIRouter, APIRouter]:
    """Return the API route that mints sessions and the page route that installs one in a browser."""
    api = APIRouter(tags=["sessions"])
    pages = APIRouter(include_in_schema=False)

    @api.post(
        "/sessions",
        response_model=SessionOut,
        responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
        summary="Mint a browser session for the chat page or the widget (needs the API token itself)",
    )
    def mint(request: Request, body: SessionRequest | None = None) -> dict[str, Any]:
        """Return a new signed session; a session cannot mint another, only the token can."""
        if policy.sessions is None:
            raise ApiError(404, "sessions exist only when the server sets RAG_API_TOKEN: without it everything is open")
        if not policy.holds_token(request.scope):
            raise _refused("minting a session needs the API token: send `Authorization: Bearer <token>`")
        hours = (body.hours if body and body.hours else None) or default_hours
        base = request.scope.get("root_path", "")
        return describe(policy.sessions.issue(hours), base)

    @pages.get("/session")
    def install(request: Request, s: str = "") -> Response:
        """Set the session cookie from a session link and go to the chat page; a bad link gets the access page."""
        base = request.scope.get("root_path", "")
        if policy.sessions is None:
            return RedirectResponse(f"{base}/", status_code=303)
        session = policy.sessions.check(s)
        if session is None:
            return HTMLResponse(DENIED_PAGE, status_code=401, headers={"Cache-Control": "no-store"})
        response = RedirectResponse(f"{base}/", status_code=303)
        response.headers["set-cookie"] = session_cookie(session, secure=request.url.scheme == "https", root_path=base)
        response.headers["cache-control"] = "no-store"
        return response

    return api, pages
