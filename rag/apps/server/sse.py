"""An answer as server-sent events (docs/streaming.md): what `/api/ask` sends when asked to stream.

Events: `question` (the question as understood), `draft` (a language model was asked: the `delta`s that follow
are its unchecked draft), `delta` (a piece of text), then `answer` (the whole answer JSON, the same as without
streaming) or `error` (`{"error", "status"}`): a failure after the stream began still ends with a message.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from rag.answer.streaming import Event, event_data
from rag.errors import IndexDamagedError, QuestionError, QuestionTooLongError, RagError

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
# No proxy may hold the events back to send them at once, nor cache them.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def wants_stream(flag: bool, accept: str | None) -> bool:
    """Return whether the client asked for events: `"stream": true` in the body, or `Accept: text/event-stream`."""
    return flag or MEDIA_TYPE in (accept or "").lower()


def sse(event: str, data: dict[str, Any]) -> str:
    """Return one server-sent event: its name and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _status(error: RagError) -> int:
    if isinstance(error, QuestionTooLongError):
        return 413
    if isinstance(error, QuestionError):
        return 422
    return 503 if isinstance(error, IndexDamagedError) else 500


def event_stream(events: Iterator[Event]) -> Iterator[str]:
    """Yield the events as server-sent events; a failure becomes a last `error` event, never a cut connection."""
    try:
        for event in events:
            yield sse(*event_data(event))
    except RagError as error:
        log.warning("streamed answer failed: %s", error)
        yield sse("error", {"error": str(error), "status": _status(error)})
    except Exception:
        log.exception("streamed answer failed")
        yield sse("error", {"error": "the answer failed on the server: try again, and tell its operator if it keeps failing",
                            "status": 500})
