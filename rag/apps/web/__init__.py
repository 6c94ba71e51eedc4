"""The chat page: Gradio layout, event handlers and pure HTML formatting of answers and sources."""
from __future__ import annotations

from rag.apps.web.chat import ChatHandlers
from rag.apps.web.page import CONCURRENCY, build_page, launch_options

__all__ = ["CONCURRENCY", "ChatHandlers", "build_page", "launch_options"]
