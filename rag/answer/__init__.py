"""Answers: compose an answer from retrieved passages (behind the `Composer` seam), decide whether the articles
hold the answer at all, cite every sentence to its lines; `Assistant` runs validate -> retrieve -> compose -> decide.
"""
from __future__ import annotations
