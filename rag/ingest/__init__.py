"""Ingest: read a corpus folder, clean each article with a map back to its source lines, split it into
sentences and overlapping passages. Nothing here knows about vectors or indexes.
"""
from __future__ import annotations
