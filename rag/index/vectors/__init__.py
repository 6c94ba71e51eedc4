"""Dense vectors behind one protocol (`VectorIndex`): search, vectors of rows, save and load, and what is
recorded in the manifest. `base.py` is the protocol, `factory.py` picks an implementation by
`settings.index.vector_store`, `faiss_index.py` is the first one (one file per implementation).
"""
from __future__ import annotations
