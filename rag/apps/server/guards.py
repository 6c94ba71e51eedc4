"""What stands in front of the routes: a body size limit, the bearer token check, framing rules."""
from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

# ASGI types, spelled out to keep this module free of framework imports.
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

def bearer_ok(expected: str, authorization: str | None) -> bool:
    """True when no token is configured, or the Authorization header carries it as `Bearer <token>`."""
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def frame_ancestors_policy(origins: Iterable[str]) -> str:
    """Return the Content-Security-Policy value allowing the same origin and the given origins to frame pages."""
    return " ".join(["frame-ancestors", "'self'", *origins])


async def send_json(send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": payload})


def header(scope: Scope, name: bytes) -> str | None:
    """Return a request header's value (`name` in lower case), or None when the request has none."""
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


# The routes that take a document (POST /api/kbs/{kb}/documents): they get the larger upload limit.
UPLOADS = re.compile(r"^/api/kbs/[^/]+/documents/?$")


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over `limit` bytes on any route (`upload_limit` on an upload
    route), before the route reads it."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int = 0) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = max(limit, upload_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") == "POST" and UPLOADS.match(scope.get("path", "")) is not None
        limit = self.upload_limit if upload else self.limit
        too_big = {"error": f"the request body is over {limit} bytes: "
                            + ("upload a smaller document (RAG_MAX_ARTICLE_BYTES)" if upload else "send a shorter question")}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_json(send, 413, too_big)
            return
        # No length declared (chunked) or within it: read up to the limit, then replay what was read.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await send_json(send, 413, too_big)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class FramingPolicy:
    """ASGI middleware: every response says which origins may frame it (CSP frame-ancestors)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.policy = frame_ancestors_policy(origins).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                headers.append((b"content-security-policy", self.policy))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_policy)


# Methods a browser may send to another origin without asking first (a form, a no-cors fetch): none of them may
# change what the server holds or spend its work for a page the server does not trust.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteGuard:
    """ASGI middleware: refuse (403) a request that is not GET, HEAD or OPTIONS when a browser says it comes from a
    page of another origin than the server's own or `origins`. Without it, any web page the user opens could upload a
    document to a server that has no token, and the bot would quote it. Programs send no Origin and pass."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = {origin.rstrip("/").lower() for origin in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        origin = header(scope, b"origin")
        if origin is None or self._allowed(origin.strip().lower(), header(scope, b"host")):
            await self.app(scope, receive, send)
            return
        await send_json(send, 403, {"error": f"refused a request from a page on {origin}: only this server's own pages "
                                             "may send it; to let that site's scripts call the API, add its origin to "
                                             "RAG_CORS_ORIGINS"})

    def _allowed(self, origin: str, host: str | None) -> bool:
        if origin in self.origins:
            return True
        _, sep, netloc = origin.partition("://")
        # The scheme is not compared: behind a proxy that ends TLS the server sees http while the page says https.
        return bool(sep) and host is not None and netloc == host.strip().lower()
