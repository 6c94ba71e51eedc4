"""Answer a file of questions, and for `eval`, score the answers and write a run folder with a report."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from .evaluate import Question, Summary, load_questions, score_questions, summarize
from .pipeline import Assistant, answer_to_dict
from .report import format_summary, write_run
from .settings import Settings

# Called after each answered question with (done, total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EvalRun:
    """Where a run was written and what it measured (no summary for questions without gold fields)."""

    folder: Path
    summary: Summary | None
    files: dict[str, Path]

    def describe(self) -> str:
        """Return the terminal text for the run: the metrics table and where the files are."""
        lines = [format_summary(self.summary)] if self.summary else ["no gold fields in the question file: answers only"]
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def answer_all(assistant: Assistant, questions: Sequence[Question], progress: Progress | None = None) -> list[dict[str, Any]]:
    """Answer every question in a warm process; return the JSON records in question order."""
    assistant.ask("Sora")  # warm-up, so each latency_ms is that of a warm process
    results = []
    for done, question in enumerate(questions, start=1):
        results.append(answer_to_dict(assistant.ask(question.question), question.id))
        if progress:
            progress(done, len(questions))
    return results


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows as UTF-8 JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_eval(settings: Settings, questions_path: Path, out_dir: Path | None, progress: Progress | None = None) -> EvalRun:
    """Answer and score a question file; write answers, metrics, per-question records and a report."""
    questions = load_questions(questions_path)
    assistant = Assistant.load(settings)
    results = answer_all(assistant, questions, progress)
    folder = out_dir or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    write_jsonl(folder / "answers.jsonl", results)
    files = {"answers": folder / "answers.jsonl"}
    if not any(q.answerable is not None for q in questions):
        return EvalRun(folder, None, files)
    scores = score_questions(questions, results, settings.corpus_dir.resolve().parent)
    summary = summarize(scores)
    info = {
        "questions_file": str(questions_path),
        "index": str(settings.index_dir),
        "model": assistant.index.manifest["model"]["name"],
        "built_at": assistant.index.manifest.get("built_at"),
    }
    files.update(write_run(folder, questions, results, scores, summary, info))
    return EvalRun(folder, summary, files)
