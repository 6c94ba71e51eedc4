"""Pick the `Store` named by `settings.index.store`: empty for the index folder, `milvus://…` for Milvus."""
from __future__ import annotations

from pathlib import Path

from rag.errors import RagError
from rag.index.stores.base import Store
from rag.settings import Settings


class StoreError(RagError, ValueError):
    """The settings name a store this version cannot open, or the store cannot be reached."""


def open_store(settings: Settings) -> Store:
    """Return the store `settings.index.store` names (the folder `settings.index.index_dir` when empty)."""
    return store_at(settings.index.store, settings.index.index_dir)


def store_at(uri: str, folder: Path) -> Store:
    """Return the store the RAG_STORE value `uri` names (the index folder `folder` when empty)."""
    uri = uri.strip()
    if not uri:
        from rag.index.stores.files import FolderStore

        return FolderStore(folder)
    if uri.startswith("milvus://"):
        from rag.index.stores.milvus import MilvusStore

        return MilvusStore.from_uri(uri)
    raise _no_store(uri)


def kb_store(uri: str, name: str) -> str:
    """Return the RAG_STORE of knowledge base `name` beside the store `uri` names: empty for folders (each knowledge
    base has its own index folder), the collection `<collection>_<name>` on the same Milvus."""
    uri = uri.strip()
    if not uri:
        return ""
    if uri.startswith("milvus://"):
        from rag.index.stores.milvus import kb_uri

        return kb_uri(uri, name)
    raise _no_store(uri)


def kb_names(uri: str) -> list[str]:
    """Return the knowledge bases published beside the store `uri` names (none for folders: the catalog lists those)."""
    uri = uri.strip()
    if not uri:
        return []
    if uri.startswith("milvus://"):
        from rag.index.stores.milvus import MilvusStore

        return MilvusStore.from_uri(uri).knowledge_bases()
    raise _no_store(uri)


def _no_store(uri: str) -> StoreError:
    return StoreError(f"RAG_STORE={uri!r} names no store: leave it empty for the index folder, or write "
                      "milvus://HOST:PORT/COLLECTION or milvus:///PATH/FILE.db")
