"""The chat page: Gradio layout, event handlers and pure HTML formatting of answers and sources."""
from __future__ import annotations

from .chat import ChatHandlers
from .page import CONCURRENCY, build_page, launch_options
from .service import Service

__all__ = ["CONCURRENCY", "ChatHandlers", "Service", "build_page", "launch_options"]
