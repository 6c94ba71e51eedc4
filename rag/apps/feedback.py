"""Readers' thumbs up and down on answers: stored durably in SQLite, exported as JSONL/CSV or as a question file.

Each record keeps what the reader judged (question, how it was understood, answer, citations) and the settings
that wrote it, so a thumbs-down can be replayed and a thumbs-up can become a gold question.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.settings import Settings, public_settings

DATABASE = "feedback.sqlite3"
RATINGS = ("up", "down")
COLUMNS = (
    "id", "created_at", "rating", "comment", "question", "understood_as", "answer", "refused", "citations", "origin",
    "settings", "kb",
)


class FeedbackError(RagError, ValueError):
    """Feedback that cannot be stored: a wrong rating, or a store that cannot be written."""


@dataclass(frozen=True)
class Feedback:
    """One reader's verdict on one answer."""

    rating: str  # "up" or "down"
    question: str
    answer: str
    citations: tuple[dict[str, Any], ...] = ()  # as in the answer's JSON: n, file, title, line_start, line_end, quote
    understood_as: str | None = None
    refused: bool = False
    comment: str = ""
    origin: str = "api"  # "api", "page" or "widget"
    kb: str = "default"  # the knowledge base that answered: its documents are what the citations point into


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """Return the settings by their own names as JSON-ready data, secrets left out."""
    return {name: value for group in public_settings(settings).values() for name, value in group.items()}


class FeedbackStore:
    """An SQLite file in the feedback folder; every write is committed before it returns."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / DATABASE
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as connection:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, "
                    "rating TEXT NOT NULL, comment TEXT NOT NULL, question TEXT NOT NULL, understood_as TEXT, "
                    "answer TEXT NOT NULL, refused INTEGER NOT NULL, citations TEXT NOT NULL, origin TEXT NOT NULL, "
                    "settings TEXT NOT NULL, kb TEXT NOT NULL DEFAULT 'default')"
                )
                # A store written before knowledge bases: its verdicts were all on the default one.
                known = {row[1] for row in connection.execute("PRAGMA table_info(feedback)")}
                if "kb" not in known:
                    connection.execute("ALTER TABLE feedback ADD COLUMN kb TEXT NOT NULL DEFAULT 'default'")
        except (OSError, sqlite3.Error) as error:
            raise FeedbackError(f"cannot open the feedback store {self.path}: {error}: fix RAG_FEEDBACK_DIR") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add(self, feedback: Feedback, settings: Settings) -> int:
        """Store one verdict; return its id."""
        if feedback.rating not in RATINGS:
            raise FeedbackError(f"rating {feedback.rating!r} is neither 'up' nor 'down': send one of them")
        row = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), feedback.rating, feedback.comment, feedback.question,
            feedback.understood_as, feedback.answer, int(feedback.refused),
            json.dumps(list(feedback.citations), ensure_ascii=False), feedback.origin,
            json.dumps(settings_snapshot(settings), ensure_ascii=False), feedback.kb,
        )
        try:
            with self._lock, self._connect() as connection:
                cursor = connection.execute(
                    "INSERT INTO feedback (created_at, rating, comment, question, understood_as, answer, refused, "
                    "citations, origin, settings, kb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                return int(cursor.lastrowid or 0)
        except sqlite3.Error as error:
            raise FeedbackError(f"cannot store feedback in {self.path}: {error}: check the folder") from None

    def records(self) -> Iterator[dict[str, Any]]:
        """Yield every stored verdict, oldest first, with citations and settings decoded."""
        with self._connect() as connection:
            connection.row_factory = sqlite3.Row
            for row in connection.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id"):
                record = dict(row)
                record["refused"] = bool(record["refused"])
                record["citations"] = json.loads(record["citations"])
                record["settings"] = json.loads(record["settings"])
                yield record


def open_store(settings: Settings) -> FeedbackStore:
    """Return the store in the folder the settings name (`feedback_dir`)."""
    return FeedbackStore(settings.server.feedback_dir)


def to_jsonl(records: Iterable[Mapping[str, Any]]) -> str:
    """Return the records as JSON lines (UTF-8 text, not escaped)."""
    return "".join(json.dumps(dict(record), ensure_ascii=False) + "\n" for record in records)


def to_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """Return the records as CSV with a header; citations and settings as JSON in their cells."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({
            key: json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
            for key, value in record.items()
        })
    return out.getvalue()


def as_questions(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return a question file for `rag eval`: a thumbs-up answer's quotes become its gold evidence; a
    thumbs-down is listed without gold (answerable unknown) for someone to write it."""
    questions = []
    for record in records:
        question: dict[str, Any] = {
            "id": f"feedback-{record['id']}",
            "question": record.get("understood_as") or record["question"],
            "type": f"feedback-{record['rating']}",
        }
        if record["rating"] == "up":
            question["answerable"] = not record["refused"]
            if not record["refused"]:
                # Citations name files from the corpus folder's parent; gold evidence from inside the folder.
                question["evidence"] = [
                    {"file": citation["file"].split("/", 1)[-1], "quote": citation["quote"]}
                    for citation in record["citations"]
                ]
        if record.get("comment"):
            question["comment"] = record["comment"]
        questions.append(question)
    return questions


def feedback_from_json(data: Mapping[str, Any], origin: str, kb: str = "default") -> Feedback:
    """Return the verdict an API body or a page event describes, on the answer of knowledge base `kb`."""
    return Feedback(
        rating=str(data["rating"]),
        question=str(data["question"]),
        answer=str(data.get("answer", "")),
        citations=tuple(dict(c) for c in data.get("citations") or ()),
        understood_as=data.get("understood_as"),
        refused=bool(data.get("refused", False)),
        comment=str(data.get("comment") or ""),
        origin=origin,
        kb=kb,
    )

