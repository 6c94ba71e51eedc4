"""The chat page: Gradio layout, event handlers and pure HTML formatting of answers and sources."""
from __future__ import annotations

from rag.apps.web.chat import ChatHandlers
from rag.apps.web.page import CONCURRENCY, build_page, launch_options
from rag.apps.web.service import Service

__all__ = ["CONCURRENCY", "ChatHandlers", "Service", "build_page", "launch_options"]
