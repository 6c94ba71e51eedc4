"""The server: the chat page, the HTTP API and the widget from one process, on one port."""
from __future__ import annotations

from rag.apps.server.app import create_app, make_limiter

__all__ = ["create_app", "make_limiter"]
