"""The index: a folder of plain files with a checked manifest. Building it (incremental by article hash), the
rows read on demand, the BM25 lexical side, integrity checks, the dense vectors behind `vectors/`, and where
the index is kept behind `stores/` (the folder by default, or Milvus).
"""
from __future__ import annotations
