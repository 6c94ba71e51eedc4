"""Who may use the server: one policy in front of every route, so a new route is closed until it is listed as public.

Without a token the server is open, as on a laptop. With `RAG_API_TOKEN` set, every route that answers a
question or serves a document (the API, the widget's API, the chat page and every Gradio endpoint) needs
either the token as a bearer token (programs) or a browser session the server issued and signed; adding or
removing a knowledge base's documents needs the token itself. The
token never reaches a browser: a person opens a session link (`/session?s=…`, made with
`python -m rag session` or `POST /api/sessions`), which sets an HttpOnly cookie; a wiki's server mints a
session per page view and hands it to the widget, which sends it in a header. Only static assets (scripts,
styles, icons and the empty widget shell) are served to anyone.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from rag.apps.server.guards import ASGIApp, Receive, Scope, Send, bearer_ok, header, send_json

SESSION_COOKIE = "rag_session"
SESSION_HEADER = "x-rag-session"
# A session longer than this is refused when minted: a lost link should not work for weeks.
MAX_SESSION_HOURS = 24 * 7

# GET/HEAD paths anyone may load: the shells and assets of the page and the widget, which hold no article
# text and answer nothing. Anything not matched here needs authorisation when a token is set.
PUBLIC = re.compile(
    r"^/(?:"
    r"widget\.js|embed|session|favicon\.ico|theme\.css|robots\.txt|manifest\.json|pwa_icon(?:/\d+)?"
    r"|embed/static/[^?]*|static/[^?]*|assets/[^?]*|svelte/[^?]*|gradio_api/theme\.css"
    r")$"
)
PUBLIC_METHODS = frozenset({"GET", "HEAD"})
# Routes that change a knowledge base: with a token set, only the token opens them, never a browser session.
ADMIN = re.compile(r"^/(?:embed/)?api/kbs/[^/]+/documents(?:/.*)?$")
ADMIN_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_public(method: str, path: str) -> bool:
    """True when `path` is a static asset or shell that anyone may load, without a token."""
    return method in PUBLIC_METHODS and PUBLIC.match(path) is not None


def is_admin(method: str, path: str) -> bool:
    """True when the request would change a knowledge base (add or remove a document)."""
    return method in ADMIN_METHODS and ADMIN.match(path) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A signed browser session: its value (cookie or header) and when it stops working (Unix seconds)."""

    value: str
    expires_at: int


class SessionSigner:
    """Issues and checks sessions signed with a key derived from the API token (a new token ends every session)."""

    def __init__(self, token: str, secret: str = "", clock: Callable[[], float] = time.time) -> None:
        material = (secret or token).encode()
        self._key = hmac.new(material, b"rag browser session v1", hashlib.sha256).digest()
        self._clock = clock

    def issue(self, hours: float) -> Session:
        """Return a new session valid for `hours` (at most MAX_SESSION_HOURS)."""
        if not 0 < hours <= MAX_SESSION_HOURS:
            raise ValueError(f"a session lasts more than 0 and at most {MAX_SESSION_HOURS} hours: ask for fewer")
        expires = int(self._clock() + hours * 3600)
        body = _b64(json.dumps({"exp": expires, "id": secrets.token_hex(8)}, separators=(",", ":")).encode())
        return Session(f"{body}.{self._sign(body)}", expires)

    def check(self, value: str | None) -> Session | None:
        """Return the session when `value` is one this server signed and it has not expired, else None."""
        if not value or value.count(".") != 1 or len(value) > 512:
            return None
        body, signature = value.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            claims = json.loads(_unb64(body))
            expires = int(claims["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        return Session(value, expires) if expires > self._clock() else None

    def valid(self, value: str | None) -> bool:
        """True when `value` is a session this server signed and it has not expired."""
        return self.check(value) is not None

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def session_of(scope: Scope) -> str | None:
    """Return the session a request carries: the widget's header, else the page's cookie."""
    sent = header(scope, SESSION_HEADER.encode())
    if sent:
        return sent.strip()
    cookie = header(scope, b"cookie")
    if not cookie:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie)
    except Exception:  # http.cookies raises CookieError on a malformed header; that is no session
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else None


class AccessPolicy:
    """The one rule every route answers to: open without a token; with one, the token or a signed session."""

    def __init__(self, token: str, secret: str = "", clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.sessions = SessionSigner(token, secret, clock) if token else None

    @property
    def enabled(self) -> bool:
        """True when a token is set and so routes need authorisation."""
        return bool(self.token)

    def holds_token(self, scope: Scope) -> bool:
        """True when the request carries the API token itself (what minting a session needs)."""
        return self.enabled and bearer_ok(self.token, header(scope, b"authorization"))

    def allows(self, scope: Scope) -> bool:
        """True when the request may reach its route."""
        if not self.enabled or is_public(scope.get("method", "GET"), scope["path"]):
            return True
        if is_admin(scope.get("method", "GET"), scope["path"]):
            return self.holds_token(scope)
        if self.holds_token(scope):
            return True
        return self.sessions is not None and self.sessions.valid(session_of(scope))


DENIED = (
    "this server needs authorisation: programs send `Authorization: Bearer <token>` (the server's RAG_API_TOKEN); "
    "people open a session link from `python -m rag session`"
)
DENIED_ADMIN = (
    "adding or removing documents needs the server's token: send `Authorization: Bearer <token>` (RAG_API_TOKEN); "
    "a browser session is not enough"
)
DENIED_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>需要访问链接 · Access link needed</title>
<style>body{font:16px/1.6 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}</style></head>
<body><h1>需要访问链接 · Access link needed</h1>
<p>这个问答服务只对持有访问链接的人开放。请向管理员索取链接（管理员用 <code>python -m rag session</code> 生成）。</p>
<p>This assistant is open to people with an access link. Ask whoever runs it for one
(they make it with <code>python -m rag session</code>).</p></body></html>"""


def _wants_page(scope: Scope) -> bool:
    accept = header(scope, b"accept") or ""
    return scope.get("method") in ("GET", "HEAD") and "text/html" in accept


class AccessGuard:
    """ASGI middleware: a request the policy does not allow gets 401 (a short page for a browser) before any route runs."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.policy.allows(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if _wants_page(scope):
            body = DENIED_PAGE.encode()
            await send({
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())],
            })
            await send({"type": "http.response.body", "body": body})
            return
        denied = DENIED_ADMIN if is_admin(scope.get("method", "GET"), scope["path"]) else DENIED
        await send_json(send, 401, {"error": denied}, [(b"www-authenticate", b"Bearer")])


def session_cookie(session: Session, secure: bool, root_path: str = "") -> str:
    """Return the Set-Cookie value that keeps a session in the browser, out of reach of page scripts."""
    max_age = max(0, session.expires_at - int(time.time()))
    attributes = [f"{SESSION_COOKIE}={session.value}", f"Path={root_path or '/'}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


def describe(session: Session, base: str = "") -> dict[str, Any]:
    """Return the JSON a new session is handed out as: the value, its expiry and the page link that installs it."""
    return {"session": session.value, "expires_at": session.expires_at, "url": f"{base}/session?s={session.value}"}
