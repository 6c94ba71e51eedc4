"""Pick the `Store` named by `settings.index.store`: empty for the index folder, `milvus://…` for Milvus."""
from __future__ import annotations

from rag.errors import RagError
from rag.index.stores.base import Store
from rag.settings import Settings


class StoreError(RagError, ValueError):
    """The settings name a store this version cannot open, or the store cannot be reached."""


def open_store(settings: Settings) -> Store:
    """Return the store `settings.index.store` names (the folder `settings.index.index_dir` when empty)."""
    uri = settings.index.store.strip()
    if not uri:
        from rag.index.stores.files import FolderStore

        return FolderStore(settings.index.index_dir)
    if uri.startswith("milvus://"):
        from rag.index.stores.milvus import MilvusStore

        return MilvusStore.from_uri(uri)
    raise StoreError(f"RAG_STORE={uri!r} names no store: leave it empty for the index folder, or write "
                     "milvus://HOST:PORT/COLLECTION or milvus:///PATH/FILE.db")
