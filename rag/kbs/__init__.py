"""Knowledge bases: several sets of documents, each with its own source folder and index folder."""
from __future__ import annotations

from rag.kbs.catalog import (
    DEFAULT_KB,
    Catalog,
    KnowledgeBase,
    KnowledgeBaseError,
    check_name,
    describe,
    describe_all,
    example_questions,
)

__all__ = [
    "DEFAULT_KB", "Catalog", "KnowledgeBase", "KnowledgeBaseError", "check_name", "describe", "describe_all", "example_questions",
]
