"""Retrieval: hybrid search over one index, dense and lexical candidates fused into ranked passages.
"""
from __future__ import annotations
