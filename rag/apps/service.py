"""Get the assistant ready in the background, so the page can open at once and say that it is getting ready."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rag.answer.assistant import Assistant
from rag.apps.console import build_if_needed, reporting_builds
from rag.embedding import load_embedder
from rag.embedding.batching import BatchingEmbedder
from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger(__name__)


def build_and_load(settings: Settings) -> Assistant:
    """Return the assistant, after building or updating the index when it is missing or stale (progress on stderr).

    Its questions are embedded in batches: a server answers many people at once, and the questions that
    arrive together share one forward pass of the model (rag/embedding/batching.py).
    """
    build_if_needed(settings)
    embedder = BatchingEmbedder(load_embedder(settings), settings.retrieval.question_batch_window_ms / 1000)
    return Assistant.load(settings, embedder)


def not_ready_message(service: Service) -> str:
    """Return what a service getting ready is doing, for the one-line answers of the API and the page."""
    return "the index is being built" if service.state == "building" else "the model and the index are loading"


class Service:
    """Holds the one assistant of the process once it is ready, or the error that stopped it.

    An index found damaged after it was loaded (a row that does not parse, a file's background hash) turns the
    service into a failed one: `assistant` is None from then on and `error` says to rebuild.
    """

    def __init__(self, settings: Settings, prepare: Callable[[Settings], Assistant] = build_and_load) -> None:
        self.settings = settings
        self._prepare = prepare
        self._done = threading.Event()
        self._assistant: Assistant | None = None
        self._error: str | None = None
        self._building = False  # getting ready builds the index (else it only loads the model and the index)

    def _damage(self) -> str | None:
        health = getattr(self._assistant.index, "health", None) if self._assistant is not None else None
        return str(health.error) if health is not None and health.error is not None else None

    @property
    def assistant(self) -> Assistant | None:
        """The ready assistant, or None while getting ready, after a failed start or once the index is found damaged."""
        return None if self._damage() else self._assistant

    @assistant.setter
    def assistant(self, assistant: Assistant | None) -> None:
        self._assistant = assistant

    @property
    def error(self) -> str | None:
        """Why the service cannot answer (a failed start, a damaged index), or None."""
        return self._error or self._damage()

    @error.setter
    def error(self, error: str | None) -> None:
        self._error = error

    def start(self) -> Service:
        """Start getting ready in a background thread; return self."""
        threading.Thread(target=self.run, name="rag-prepare", daemon=True).start()
        return self

    def run(self) -> None:
        """Get ready in this thread: build the index if needed, then load the assistant."""
        try:
            with reporting_builds(self._builds):
                self.assistant = self._prepare(self.settings)
        except RagError as error:
            self.error = str(error)
            log.error("cannot start: %s", error)
        except Exception as error:  # the page must say it failed rather than wait for ever
            self.error = f"{type(error).__name__}: {error}"
            log.exception("cannot start")
        finally:
            self._done.set()

    def _builds(self, reason: str) -> None:
        self._building = True

    @property
    def state(self) -> str:
        """What the service is doing: "ready", "failed", "building" (the index, before loading it) or "loading" (the
        model and the index)."""
        if self.assistant is not None:
            return "ready"
        if self.error:
            return "failed"
        return "building" if self._building else "loading"

    def wait(self, timeout: float | None = None) -> bool:
        """Return True once getting ready has finished (ready or failed), waiting at most `timeout` seconds."""
        return self._done.wait(timeout)

    def counts(self) -> tuple[int, int]:
        """Return (articles, passages) of the loaded index, or (0, 0) before it is loaded."""
        if self.assistant is None:
            return 0, 0
        return len(self.assistant.titles), len(self.assistant.index.chunks)
