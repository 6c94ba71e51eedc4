"""Dense vectors behind one protocol (`VectorIndex`): search, vectors of rows, save and load, and what is
recorded in the manifest. FAISS is the first implementation.
"""
from __future__ import annotations
