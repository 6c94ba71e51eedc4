"""The few exceptions the library raises; each message says what to do next."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

# Why an index cannot be used as it is: its format, the settings or model it was built with, damage to its
# files, or a folder that holds something else.
MismatchReason = Literal["format", "settings", "model", "damaged", "not_an_index"]


class RagError(Exception):
    """Base class: a user-facing problem whose message says how to fix it."""


def fitted_over_other_features(what: str, named: Iterable[str], expected: Iterable[str], script: str, variable: str) -> str:
    """Return the message for a fitted file whose features are not the code's: read as it is, the features it lacks
    would weigh 0 and its others nothing, a quietly other model."""
    have, want = set(named), set(expected)
    missing, unknown = sorted(want - have), sorted(have - want)
    return (f"{what} was fitted over other features (missing: {', '.join(missing) or 'none'}; unknown: "
            f"{', '.join(unknown) or 'none'}): refit it with {script} or unset {variable}")


class ModelError(RagError, RuntimeError):
    """The embedding model cannot be prepared or loaded."""


class CorpusError(RagError, ValueError):
    """The corpus folder or one of its files cannot be read."""


class IndexMissingError(RagError, FileNotFoundError):
    """There is no index where one was expected."""


class IndexMismatchError(RagError, ValueError):
    """The index on disk was built with other settings, another model or another format.

    `reason` says which (callers branch on it, never on the message); `detail` is the message without what to do.
    """

    def __init__(self, message: str, reason: MismatchReason, detail: str | None = None) -> None:
        super().__init__(message)
        self.reason: MismatchReason = reason
        self.detail = message if detail is None else detail


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, cut short, altered or unreadable since the build wrote it."""

    def __init__(self, message: str, reason: MismatchReason = "damaged", detail: str | None = None) -> None:
        super().__init__(message, reason, detail)


class QuestionError(RagError, ValueError):
    """A question is empty, too long or otherwise unusable."""


class QuestionTooLongError(QuestionError):
    """A question is over the length limit (the API answers 413 for it)."""


# What every message about an unusable index ends with.
REBUILD = "run `python -m rag build`"


def index_damaged(folder: object, why: str) -> IndexDamagedError:
    """Return the one error every kind of damage to the index in `folder` gives, saying what is wrong."""
    detail = f"index damaged: {why} (in {folder})"
    return IndexDamagedError(f"{detail}: {REBUILD}", "damaged", detail)
