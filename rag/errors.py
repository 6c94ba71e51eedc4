"""The few exceptions the library raises; each message says what to do next."""
from __future__ import annotations


class RagError(Exception):
    """Base class: a user-facing problem whose message says how to fix it."""


class ModelError(RagError, RuntimeError):
    """The embedding model cannot be prepared or loaded."""


class CorpusError(RagError, ValueError):
    """The corpus folder or one of its files cannot be read."""


class IndexMissingError(RagError, FileNotFoundError):
    """There is no index where one was expected."""


class IndexMismatchError(RagError, ValueError):
    """The index on disk was built with other settings, another model or another format."""


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, cut short, altered or unreadable since the build wrote it."""


class QuestionError(RagError, ValueError):
    """A question is empty, too long or otherwise unusable."""


class QuestionTooLongError(QuestionError):
    """A question is over the length limit (the API answers 413 for it)."""


# What every message about an unusable index ends with.
REBUILD = "run `python -m rag build`"


def index_damaged(folder: object, why: str) -> IndexDamagedError:
    """Return the one error every kind of damage to the index in `folder` gives, saying what is wrong."""
    return IndexDamagedError(f"index damaged: {why} (in {folder}): {REBUILD}")
