"""Answer a file of questions, and for `eval`, score the answers and write a run folder with a report."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.answer.assistant import Assistant
from rag.answer.schema import answer_to_dict
from rag.errors import QuestionError
from rag.eval.generation import format_generation, generation_summary
from rag.eval.metrics import Question, QuestionFile, Summary, corpus_relative, evidence_in_corpus, read_questions, score_questions, summarize
from rag.eval.report import format_sets, format_summary, write_run
from rag.settings import Settings, public_settings

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
    generation: dict[str, Any] | None = None  # generated sentences kept and dropped, in a run with a language model
    unknown_evidence: tuple[str, ...] = ()  # gold evidence files the corpus has none of: scored as misses

    def describe(self) -> str:
        """Return the terminal text for the run: the metrics table and where the files are."""
        if self.summary:
            lines = [format_summary(self.summary)]
        elif self.answered:
            lines = ["no gold fields in the question file: answers only"]
        else:
            lines = ["no question could be answered: see the errors"]
        if self.generation:
            lines.append(format_generation(self.generation))
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        if self.unknown_evidence:
            lines.append(unknown_evidence_warning(self.unknown_evidence))
        return "\n".join(lines)


def unknown_evidence_warning(files: Sequence[str]) -> str:
    """Return the line that says which gold evidence files the corpus has none of, and what to write instead."""
    shown = ", ".join(files[:3]) + (", …" if len(files) > 3 else "")
    return (f"warning: {len(files)} evidence file(s) of the gold are not in the corpus ({shown}), so their questions "
            "score as misses: give each file's path relative to the corpus folder")


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


@dataclass(frozen=True)
class EvalSet:
    """One question set of an evaluation and the corpus and index it is asked over."""

    name: str
    questions: Path
    settings: Settings


def evaluate_set(eval_set: EvalSet, folder: Path, progress: Progress | None = None) -> EvalRun:
    """Answer and score one question set into `folder`: answers, metrics, per-question records, a report, and
    the settings and index manifest it ran with. Lines that are not usable questions are left out of the
    scores and returned as the run's errors."""
    settings = eval_set.settings
    found = read_questions(eval_set.questions)
    assistant = Assistant.load(settings)
    named, unknown = evidence_in_corpus(found.questions, {corpus_relative(a.file) for a in assistant.index.manifest.articles},
                                        settings.index.corpus_dir.name)
    found = dataclasses.replace(found, questions=named)
    results = answer_all(assistant, found.questions, progress)
    records = in_file_order(found, results)
    write_jsonl(folder / "answers.jsonl", records)
    generation = generation_summary(records)
    if generation:
        (folder / "generation.json").write_text(json.dumps(generation, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    manifest = folder / "index-manifest.json"
    manifest.write_text(json.dumps(assistant.index.manifest.to_json(), ensure_ascii=False, indent=2, default=str) + "\n",
                        encoding="utf-8")
    files = {"answers": folder / "answers.jsonl", "index manifest": manifest}
    if generation:
        files["generation"] = folder / "generation.json"
    errors = tuple(record for record in records if "error" in record)
    answered = [(q, r) for q, r in zip(found.questions, results) if "error" not in r]
    questions = [q for q, _ in answered]
    if not any(q.answerable is not None for q in questions):
        return EvalRun(folder, None, files, errors, len(answered), generation, unknown)
    scores = score_questions(questions, [r for _, r in answered], settings.index.corpus_dir.resolve().parent)
    summary = summarize(scores)
    info = {
        "set": eval_set.name,
        "questions_file": str(eval_set.questions),
        "corpus": str(settings.index.corpus_dir),
        "index": str(settings.index.index_dir),
        "model": assistant.index.manifest.model.name,
        "built_at": assistant.index.manifest.built_at,
        "settings": public_settings(settings),
    }
    files.update(write_run(folder, questions, [r for _, r in answered], scores, summary, info))
    return EvalRun(folder, summary, files, errors, len(answered), generation, unknown)


def run_eval(settings: Settings, questions_path: Path, out_dir: Path | None, progress: Progress | None = None) -> EvalRun:
    """Answer and score a question file; write answers, metrics, per-question records and a report."""
    folder = out_dir or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    return evaluate_set(EvalSet(Path(questions_path).stem, Path(questions_path), settings), folder, progress)


@dataclass(frozen=True)
class MultiRun:
    """A run over several question sets: one sub-folder each, and sets.json with each set's overall metrics."""

    folder: Path
    sets: tuple[tuple[str, EvalRun], ...]

    @property
    def errors(self) -> tuple[dict[str, Any], ...]:
        """Return every set's error records, each naming its set."""
        return tuple(dict(record, set=name) for name, run in self.sets for record in run.errors)

    def describe(self) -> str:
        """Return the terminal text: one row of overall metrics per set, then where each set's files are."""
        summaries = [(name, run.summary) for name, run in self.sets if run.summary]
        lines = [format_sets(summaries)] if summaries else []
        for name, run in self.sets:
            if not run.summary:
                lines.append(f"{name}: " + ("no gold fields in the question file: answers only" if run.answered
                                            else "no question could be answered: see the errors"))
            lines.append(f"{name}: {run.folder}")
            if run.unknown_evidence:
                lines.append(f"{name}: {unknown_evidence_warning(run.unknown_evidence)}")
        lines.append(f"per-set metrics: {self.folder / 'sets.json'}")
        return "\n".join(lines)


def run_eval_sets(sets: Sequence[EvalSet], out_dir: Path | None, progress: Progress | None = None) -> MultiRun:
    """Evaluate several question sets, each into its own sub-folder of the run folder, and summarise them."""
    folder = out_dir or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    runs = tuple((s.name, evaluate_set(s, folder / s.name, progress)) for s in sets)
    table = {name: (run.summary.overall.to_dict() if run.summary else None) for name, run in runs}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sets.json").write_text(json.dumps(table, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return MultiRun(folder, runs)
