"""The server's knowledge bases: one Service each, started when first asked for, and their updates in the background.

An update (a document added or removed) rebuilds the knowledge base's index incrementally in a background
thread while its questions go on being answered from the loaded index; the new index is written to a staging
folder and renamed into place (rag/index/build.py), then loaded, and the service's assistant is replaced in
one assignment. A question takes the assistant once and keeps it to the end, so no answer mixes the two.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer.assistant import Assistant
from rag.apps.console import build_if_needed
from rag.apps.service import Service
from rag.embedding import Embedder, load_embedder
from rag.embedding.batching import BatchingEmbedder
from rag.errors import RagError
from rag.index.build import build_index, stale_reason
from rag.index.manifest import Manifest
from rag.ingest.corpus import list_sources
from rag.kbs import DEFAULT_KB, Catalog, KnowledgeBase, KnowledgeBaseError, check_name, describe, example_questions
from rag.kbs.documents import (
    DocumentError,
    check_document,
    document_name,
    list_documents,
    remove_document,
    same_document,
    store_document,
)
from rag.kbs.watch import Snapshot, changes, snapshot
from rag.settings import Settings

log = logging.getLogger(__name__)

NO_DOCUMENTS = "no documents left"


@dataclass
class UpdateState:
    """Where a knowledge base's update stands (guarded by the library's lock)."""

    state: str = "ready"  # "ready", "updating" or "failed"
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    running: bool = False
    pending: bool = False
    empty: bool = False  # its last document was removed: the index on disk still lists them, nothing answers from it

    def to_json(self) -> dict[str, Any]:
        """Return the state as GET /api/kbs/{kb} shows it."""
        return {"state": self.state, "stage": self.stage, "done": self.done, "total": self.total, "message": self.message}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """Return a knowledge base's description without its folder: readers of the API need not learn the server's paths."""
    return {key: value for key, value in row.items() if key != "corpus"}


class Library:
    """The knowledge bases one server answers from, each over its own index."""

    def __init__(
        self,
        settings: Settings,
        default: Service | None = None,
        prepare: Callable[[Settings], Assistant] | None = None,
        catalog: bool = True,
    ) -> None:
        """`settings` name the index root (RAG_INDEX_DIR); `default` serves the default knowledge base when given;
        without `catalog` the library holds that one only (a server started over one index folder). Every knowledge
        base there is starts getting ready at once, each in its own thread."""
        self.settings = settings
        self.catalog = Catalog(settings) if catalog else None
        self._prepare = prepare or self._build_and_load
        self._lock = threading.Lock()
        self._embedder_lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._services: dict[str, Service] = {}
        self._updates: dict[str, UpdateState] = {}
        # A default service given ready-made loads its own model, which the others then share; one the library makes
        # shares the library's, and nothing waits on its build (a folder's knowledge base waited for the seeds').
        self._given_default = default is not None
        if default is not None:
            self._services[DEFAULT_KB] = default
        for name in self.names():
            self.service(name)

    def _shared_embedder(self, settings: Settings) -> Embedder:
        """Return the embedder every knowledge base shares (one model in memory): a given default's once it is ready,
        else the library's own."""
        default = self._services.get(DEFAULT_KB) if self._given_default else None
        if default is not None and default.settings.index.index_dir != settings.index.index_dir:  # never wait on itself
            default.wait()
            if default.assistant is not None:
                return default.assistant.embedder
        with self._embedder_lock:
            if self._embedder is None:
                window = settings.retrieval.question_batch_window_ms / 1000
                self._embedder = BatchingEmbedder(load_embedder(settings), window)
            return self._embedder

    def _build_and_load(self, settings: Settings) -> Assistant:
        """Return the assistant of a knowledge base, after building its index when it is missing or stale."""
        embedder = self._shared_embedder(settings)
        build_if_needed(settings, embedder=embedder)  # with progress on the console
        return Assistant.load(settings, embedder)

    @classmethod
    def single(cls, service: Service) -> Library:
        """Return a library of one knowledge base, the default, served by `service` over its own folders."""
        return cls(service.settings, service, catalog=False)

    def names(self) -> list[str]:
        """Return the knowledge bases' names, the default first (one being built for the first time included)."""
        if self.catalog is None:
            return [DEFAULT_KB]
        known = self.catalog.names()
        return [*known, *sorted(set(self._services) - set(known))]

    def open(self, kb: KnowledgeBase) -> Service:
        """Return the service of `kb`, started over its folders when new: one named on the command line is answered
        from (and listed) while its first index is built."""
        with self._lock:
            found = self._services.get(kb.name)
            if found is None:
                found = Service(kb.settings(self.settings), self._prepare).start()
                self._services[kb.name] = found
        return found

    def kb(self, name: str) -> KnowledgeBase:
        """Return the knowledge base called `name`, or raise KnowledgeBaseError."""
        check_name(name)
        running = self._services.get(name)
        if running is not None:
            index = running.settings.index
            return KnowledgeBase(name, index.corpus_dir, index.index_dir, index.store)
        if self.catalog is None:
            raise KnowledgeBaseError(f"there is no knowledge base {name!r}: this server answers from one index only")
        return self.catalog.get(name)

    def service(self, name: str | None = None) -> Service:
        """Return the service of knowledge base `name` (the default when None), started when first asked for."""
        name = name or DEFAULT_KB
        with self._lock:
            found = self._services.get(name)
            if found is None:
                kb = self.kb(name)
                found = Service(kb.settings(self.settings), self._prepare).start()
                self._services[name] = found
        return found

    def name_of(self, service: Service) -> str | None:
        """Return the name of the knowledge base `service` answers from, or None when it is none of the library's."""
        with self._lock:
            return next((name for name, found in self._services.items() if found is service), None)

    def status(self, name: str) -> dict[str, Any]:
        """Return what GET /api/kbs/{kb} shows: the listing's fields, whether it is ready, its update and its documents."""
        kb = self.kb(name)
        service = self._services.get(name)
        row = self._row(kb)
        update = row.pop("update")
        return {
            **row,
            "error": service.error if service is not None else None,
            "update": update,
            "documents": [{"name": d.name, "bytes": d.bytes} for d in list_documents(kb.corpus_dir)],
        }

    def _row(self, kb: KnowledgeBase) -> dict[str, Any]:
        """Return the listing's row of a knowledge base: what answers (its loaded index), whether it does, its update."""
        with self._lock:
            update = self._updates.get(kb.name, UpdateState())
            empty, shown = update.empty, update.to_json()
        row = _public(describe(kb, self._loaded_manifest(kb.name)))
        if empty:  # the index on disk still lists the removed documents: neither counted nor suggested
            row.update(articles=0, examples=example_questions(kb.corpus_dir, []))
        row["status"] = self._answering(kb.name)
        row["update"] = shown
        return row

    def _loaded_manifest(self, name: str) -> Manifest | None:
        """Return the manifest of the index knowledge base `name` answers from, or None before it is loaded."""
        service = self._services.get(name)
        assistant = service.assistant if service is not None else None
        return assistant.index.manifest if assistant is not None else None

    def _answering(self, name: str) -> str:
        """Return whether knowledge base `name` answers: ready, building (its index), loading (the model and the index),
        failed, or idle (not started)."""
        service = self._services.get(name)
        if service is None:
            return "idle"
        return service.state

    def listing(self) -> list[dict[str, Any]]:
        """Return the listing of every knowledge base (GET /api/kbs)."""
        rows = []
        for name in self.names():
            try:
                rows.append(self._row(self.kb(name)))
            except KnowledgeBaseError:  # removed meanwhile
                continue
        return rows

    def add_documents(self, name: str, documents: list[tuple[str, bytes]]) -> list[str]:
        """Store documents in knowledge base `name` (made when new) and start updating its index; return their stored names.

        Every document is checked before any is stored, so one bad file leaves the knowledge base as it was.
        """
        check_name(name)
        checked: list[tuple[str, bytes]] = []
        existing = self._existing_folder(name)
        stored = list_documents(existing) if existing is not None else []  # listed once for every file of the upload
        for filename, data in documents:
            filename = document_name(filename)
            check_document(filename, data, self.settings.index.max_article_bytes)
            # The same document under a second name is indexed twice, and every answer from it cites both.
            twin = next((other for other, same in checked if same == data and other != filename), None)
            if twin is None and existing is not None:
                twin = same_document(existing, stored, filename, data)
            if twin is not None:
                raise DocumentError(f"{filename} is the same file as {twin}, already in {name}: upload it as {twin} to "
                                    f"replace it, or remove {twin} first", 409)
            checked.append((filename, data))
        folder = existing if existing is not None else self._new_folder(name)
        for filename, data in checked:
            store_document(folder, filename, data)
        self.update(name)
        return [filename for filename, _ in checked]

    def remove_document(self, name: str, filename: str) -> None:
        """Delete a document from knowledge base `name` and start updating its index."""
        remove_document(self.kb(name).corpus_dir, filename)
        self.update(name)

    def _existing_folder(self, name: str) -> Path | None:
        """Return the documents' folder of knowledge base `name`, or None when it does not exist yet."""
        try:
            return self.kb(name).corpus_dir
        except KnowledgeBaseError:
            return None

    def _new_folder(self, name: str) -> Path:
        """Return the documents' folder of knowledge base `name`, made now; without a catalog, the lookup's error."""
        if self.catalog is None:
            return self.kb(name).corpus_dir  # raises: a library of one knowledge base makes no other
        return self.catalog.create(name).corpus_dir

    def update(self, name: str) -> None:
        """Re-index knowledge base `name` in the background; changes made while it runs get one more pass after it."""
        with self._lock:
            state = self._updates.setdefault(name, UpdateState())
            state.pending = True
            # The last update's counts and message say nothing of this one: "updating" with "2 added … done 12/12".
            state.state, state.stage, state.done, state.total, state.message = "updating", "waiting", 0, 0, ""
            if state.running:
                return
            state.running = True
        threading.Thread(target=self._update, args=(name, state), name=f"rag-update-{name}", daemon=True).start()

    def watch(self, interval: float = 2.0, stop: threading.Event | None = None) -> threading.Thread:
        """Start a thread that updates a knowledge base each time the documents in its folder change; return it."""
        stop = stop or threading.Event()

        def look(seen: dict[str, Snapshot]) -> None:
            for name in self.names():
                try:
                    now = snapshot(self.kb(name).corpus_dir)
                except KnowledgeBaseError:  # removed meanwhile
                    continue
                if name in seen and seen[name] != now:
                    log.info("documents of %s changed: %s", name, ", ".join(changes(seen[name], now)[:5]))
                    self.update(name)
                seen[name] = now

        seen: dict[str, Snapshot] = {}
        look(seen)  # now, so a change made right after this call is one

        def run() -> None:
            while not stop.wait(interval):
                look(seen)

        thread = threading.Thread(target=run, name="rag-watch", daemon=True)
        thread.start()
        return thread

    def wait_updated(self, name: str, timeout: float = 60.0) -> bool:
        """Return True once no update of `name` is running or pending (for tests and the watch command)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                state = self._updates.get(name)
                if state is None or not (state.running or state.pending):
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _update(self, name: str, state: UpdateState) -> None:
        try:
            service = self.service(name)
        except RagError as error:
            with self._lock:
                state.state, state.stage, state.message, state.running, state.pending = "failed", "", str(error), False, False
            return
        service.wait()  # the first build of a new knowledge base is the service's own; never two builds of one folder
        while True:
            with self._lock:
                if not state.pending:
                    state.running = False
                    return
                state.pending = False
            try:
                message = self._rebuild(service, state)
                with self._lock:
                    state.empty = service.assistant is None and message == NO_DOCUMENTS
                with self._lock:
                    state.state, state.stage = ("updating" if state.pending else "ready"), ""
                    state.message = state.message if message is None else message
            except RagError as error:
                log.warning("updating %s failed: %s", name, error)
                with self._lock:
                    state.state, state.stage, state.message = "failed", "", str(error)
            except Exception as error:  # the panel must say it failed rather than show "updating" for ever
                log.exception("updating %s failed", name)
                with self._lock:
                    state.state, state.stage, state.message = "failed", "", f"{type(error).__name__}: {error}"

    def _rebuild(self, service: Service, state: UpdateState) -> str | None:
        """Build the knowledge base's index again if its folder changed, load it and swap it in; return what changed
        (None when nothing had: a file touched, or the service's own first build read everything already)."""
        settings = service.settings
        if not list_sources(settings.index.corpus_dir):
            # Its last document was removed: answering from the index would quote what is gone.
            service.assistant = None
            service.error = f"the knowledge base has no documents left in {settings.index.corpus_dir}: upload some"
            return NO_DOCUMENTS
        if service.assistant is not None and stale_reason(settings) is None:
            return None

        def progress(done: int, total: int) -> None:
            with self._lock:
                state.done, state.total = done, total

        def stage(line: str) -> None:
            with self._lock:
                state.stage = line

        current = service.assistant
        embedder = current.embedder if current is not None else self._shared_embedder(settings)
        report = build_index(settings, embedder, progress, stage)
        with self._lock:
            state.stage = "loading the new index"
        fresh = Assistant.load(settings, embedder)
        service.assistant = fresh  # one assignment: a question in flight keeps the assistant it took
        service.error = None
        parts = [f"{len(report.added)} added", f"{len(report.changed)} changed", f"{len(report.removed)} removed"]
        skipped = "".join(f"; skipped {name}: {why}" for name, why in report.skipped)
        return ", ".join(parts) + skipped
