"""The knowledge-base routes: list them, show one, add and remove its documents (the access policy asks for the token)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rag.apps.library import Library
from rag.apps.server.api import ApiError, ErrorOut
from rag.kbs import KnowledgeBaseError, check_name
from rag.kbs.documents import DocumentError
from rag.settings import Settings

# The form field an upload's files come in (several files: the field repeated).
UPLOAD_FIELD = "file"


class KbOut(BaseModel):
    name: str = Field(description="The knowledge base's name, as `kb` in /api/ask.")
    title: str = Field(description="Its title (its kb.json's `title`, else its name).")
    articles: int = Field(description="Articles in its index (0 before its first build).")
    built_at: str | None = Field(None, description="When its index was built (UTC, ISO 8601), or null.")
    examples: list[str] = Field(description="Questions to suggest: its kb.json's, else drawn from its articles' titles.")
    update: dict[str, Any] = Field(default_factory=dict, description="Its background update: state, stage, done, total, message.")
    status: str = Field("idle", description="Whether it answers: ready, building (its index), loading (model and index), failed, or idle (not loaded).")


class KbsOut(BaseModel):
    kbs: list[KbOut]


class KbStatusOut(KbOut):
    error: str | None = None
    documents: list[dict[str, Any]] = Field(description="Documents directly in its folder: name and bytes.")


class UploadOut(BaseModel):
    kb: str
    documents: list[str] = Field(description="The names the documents were stored under.")
    update: dict[str, Any]


# Bytes a multipart body adds around a document: boundaries, headers and a file name.
MULTIPART_OVERHEAD = 64 * 1024


def upload_limit(settings: Settings) -> int:
    """Return the largest body an upload route accepts: one document at the article size limit, with its wrapping."""
    return settings.index.max_article_bytes + MULTIPART_OVERHEAD


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut} for status in statuses}


def _known(library: Library, kb: str) -> None:
    """Raise 422 for a name that is no knowledge base name, 404 for one that names none."""
    try:
        check_name(kb)
        library.kb(kb)
    except KnowledgeBaseError as error:
        raise ApiError(422 if "is not a knowledge base name" in str(error) else 404, str(error)) from None


def make_kb_router(library: Library) -> APIRouter:
    """Return the /kbs routes over the library."""
    router = APIRouter(tags=["knowledge bases"])

    @router.get("/kbs", response_model=KbsOut, responses=_errors(401), summary="The knowledge bases")
    def kbs() -> dict[str, Any]:
        """Return every knowledge base: name, title, articles, when built, example questions."""
        return {"kbs": library.listing()}

    @router.get("/kbs/{kb}", response_model=KbStatusOut, responses=_errors(401, 404, 422), summary="One knowledge base and its update")
    def kb_status(kb: str) -> dict[str, Any]:
        """Return the knowledge base's listing, whether it answers, its update's progress and its documents."""
        _known(library, kb)
        library.service(kb)  # loading starts now, so `status` moves on from idle
        return library.status(kb)

    @router.post(
        "/kbs/{kb}/documents",
        response_model=UploadOut,
        status_code=202,
        responses=_errors(401, 413, 415, 422),
        summary="Add documents (multipart field `file`); a new name makes a new knowledge base",
    )
    async def upload(kb: str, request: Request) -> dict[str, Any]:
        """Check every document, store them, and start updating the index in the background (progress: GET /api/kbs/{kb})."""
        try:
            check_name(kb)
        except KnowledgeBaseError as error:
            raise ApiError(422, str(error)) from None
        try:
            form = await request.form()
        except Exception:  # the multipart parser raises several kinds on a malformed body
            raise ApiError(422, f"send the documents as multipart/form-data, each in a field named {UPLOAD_FIELD!r}") from None
        files = [item for item in form.getlist(UPLOAD_FIELD) if isinstance(item, UploadFile) or hasattr(item, "read")]
        if not files:
            raise ApiError(422, f"no document in the request: send each file in a multipart field named {UPLOAD_FIELD!r}")
        try:
            documents = [(item.filename or "", await item.read()) for item in files]
            stored = await run_in_threadpool(library.add_documents, kb, documents)
        except DocumentError as error:
            raise ApiError(error.status, str(error)) from None
        except KnowledgeBaseError as error:
            raise ApiError(404, str(error)) from None
        finally:
            await form.close()
        return {"kb": kb, "documents": stored, "update": library.status(kb)["update"]}

    @router.delete(
        "/kbs/{kb}/documents/{name}",
        response_model=UploadOut,
        status_code=202,
        responses=_errors(401, 404, 422),
        summary="Remove a document; its answers are gone once the update is done",
    )
    def delete(kb: str, name: str) -> dict[str, Any]:
        """Delete the document and start updating the index in the background."""
        _known(library, kb)
        try:
            library.remove_document(kb, name)
        except DocumentError as error:
            raise ApiError(error.status, str(error)) from None
        return {"kb": kb, "documents": [name], "update": library.status(kb)["update"]}

    return router
