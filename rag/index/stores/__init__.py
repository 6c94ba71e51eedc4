"""Where an index is kept, behind one protocol (`Store`): the embedded folder of plain files (the default) or a
Milvus collection (`RAG_STORE=milvus://…`). `base.py` is the protocol, `factory.py` picks one by `settings.index.store`,
one file per implementation.
"""
from __future__ import annotations

from rag.index.stores.base import Store
from rag.index.stores.factory import open_store

__all__ = ["Store", "open_store"]
