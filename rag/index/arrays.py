"""Reading .npy and .npz files one thread at a time.

numpy parses an array file's header with `ast.literal_eval`, and CPython 3.11 keeps the AST constructor's recursion
depth in state its threads share: two threads reading headers at once can fail with "SystemError: AST constructor
recursion depth mismatch" (python/cpython#106905). A knowledge base loading while an upload builds another one did
(tests/test_uploads.py, once in a full run). The lock costs nothing worth measuring: a header is a few hundred bytes,
and the arrays themselves are memory-mapped, not read under it.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from scipy import sparse

_HEADERS = threading.Lock()


def load_array(path: Path) -> np.ndarray:
    """Return the array in the .npy file `path`, memory-mapped read-only (never unpickled)."""
    with _HEADERS:
        return np.load(path, mmap_mode="r", allow_pickle=False)


def load_sparse(path: Path) -> sparse.spmatrix:
    """Return the sparse matrix in the .npz file `path` (scipy's format)."""
    with _HEADERS:
        return sparse.load_npz(path)
