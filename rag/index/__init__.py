"""The index: a folder of plain files with a checked manifest. Building it (incremental by article hash), the
rows read on demand, the BM25 lexical side, integrity checks, and the dense vectors behind `vectors/`.
"""
from __future__ import annotations
