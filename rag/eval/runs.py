"""Answer a file of questions, and for `eval`, score the answers and write a run folder with a report."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from rag.errors import QuestionError
from rag.eval.metrics import Question, QuestionFile, Summary, read_questions, score_questions, summarize
from rag.answer.assistant import Assistant
from rag.answer.schema import answer_to_dict
from rag.eval.report import format_summary, write_run
from rag.settings import Settings

# Called after each answered question with (done, total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EvalRun:
    """Where a run was written, what it measured (no summary without gold fields) and the lines it could not answer."""

    folder: Path
    summary: Summary | None
    files: dict[str, Path]
    errors: tuple[dict[str, Any], ...] = ()  # error records, as in answers.jsonl: {"line", "id"?, "question"?, "error"}
    answered: int = 0

    def describe(self) -> str:
        """Return the terminal text for the run: the metrics table and where the files are."""
        if self.summary:
            lines = [format_summary(self.summary)]
        elif self.answered:
            lines = ["no gold fields in the question file: answers only"]
        else:
            lines = ["no question could be answered: see the errors"]
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def error_record(line: int, error: str, question_id: str | None = None, question: str | None = None) -> dict[str, Any]:
    """Return the output record of a question line that got no answer: where it is, what it said, and why."""
    record: dict[str, Any] = {} if question_id is None else {"id": question_id}
    record["line"] = line
    if question is not None:
        record["question"] = question
    record["error"] = error
    return record


def answer_all(assistant: Assistant, questions: Sequence[Question], progress: Progress | None = None) -> list[dict[str, Any]]:
    """Answer every question in a warm process; return the JSON records in question order.

    A question the assistant will not take (over-long, not valid text) gets an error record instead of an
    answer, and the rest are still answered.
    """
    assistant.ask("Sora")  # warm-up, so each latency_ms is that of a warm process
    results = []
    for done, question in enumerate(questions, start=1):
        try:
            results.append(answer_to_dict(assistant.ask(question.question), question.id))
        except QuestionError as error:
            results.append(error_record(question.line, str(error), question.id, question.question))
        if progress:
            progress(done, len(questions))
    return results


def in_file_order(found: QuestionFile, results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the records of `found`'s questions and of its bad lines, in the order of the file's lines."""
    numbered = [(q.line, r) for q, r in zip(found.questions, results)]
    numbered += [(bad.line, error_record(bad.line, bad.error, bad.id)) for bad in found.bad_lines]
    return [record for _, record in sorted(numbered, key=lambda pair: pair[0])]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows as UTF-8 JSON lines (a lone surrogate read from a question file is written as its \\u escape)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", errors="backslashreplace") as sink:
        for row in rows:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_eval(settings: Settings, questions_path: Path, out_dir: Path | None, progress: Progress | None = None) -> EvalRun:
    """Answer and score a question file; write answers, metrics, per-question records and a report.

    Lines that are not usable questions are left out of the scores and returned as the run's errors.
    """
    found = read_questions(questions_path)
    assistant = Assistant.load(settings)
    results = answer_all(assistant, found.questions, progress)
    folder = out_dir or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    records = in_file_order(found, results)
    write_jsonl(folder / "answers.jsonl", records)
    files = {"answers": folder / "answers.jsonl"}
    errors = tuple(record for record in records if "error" in record)
    answered = [(q, r) for q, r in zip(found.questions, results) if "error" not in r]
    questions = [q for q, _ in answered]
    if not any(q.answerable is not None for q in questions):
        return EvalRun(folder, None, files, errors, len(answered))
    scores = score_questions(questions, [r for _, r in answered], settings.corpus_dir.resolve().parent)
    summary = summarize(scores)
    info = {
        "questions_file": str(questions_path),
        "index": str(settings.index_dir),
        "model": assistant.index.manifest.model.name,
        "built_at": assistant.index.manifest.built_at,
    }
    files.update(write_run(folder, questions, [r for _, r in answered], scores, summary, info))
    return EvalRun(folder, summary, files, errors, len(answered))
