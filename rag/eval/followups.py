"""Follow-ups answered as well as their standalone forms: each follow-up of a conversation file is asked after its
earlier turns, and its standalone form on its own; the two answers are compared (`python -m rag eval --follow-ups`).

A line of the file: `{"id", "history": [{"question"}, …], "question", "standalone"}`, earlier turns oldest first
(their answers are the assistant's own, asked in turn), e.g. tests/data/followups_sora.jsonl.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer.assistant import Assistant
from rag.answer.schema import answer_to_dict
from rag.errors import RagError
from rag.eval.generation import format_generation, generation_summary
from rag.records import Answer, Turn

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FollowUpCase:
    """One follow-up of the file: the earlier turns' questions, the follow-up and the question it stands for."""

    id: str
    history: tuple[str, ...]
    question: str
    standalone: str


@dataclass(frozen=True)
class FollowUpResult:
    """A follow-up's answer beside its standalone form's."""

    case: FollowUpCase
    follow_up: Answer
    standalone: Answer

    @property
    def same_citations(self) -> bool:
        """Return whether both were answered or both declined, citing the same lines of the same articles."""
        return self.follow_up.refused == self.standalone.refused and _cited(self.follow_up) == _cited(self.standalone)


def _cited(answer: Answer) -> list[tuple[str, int, int]]:
    return [(c.file, c.line_start, c.line_end) for c in answer.citations]


def read_follow_ups(path: Path) -> list[FollowUpCase]:
    """Return the follow-ups of a conversation file; raise RagError naming the first line that is not one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RagError(f"cannot read the follow-up file {path}: {error.strerror or error}: check the path") from None
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            cases.append(FollowUpCase(
                str(record.get("id") or f"line {number}"),
                tuple(str(turn["question"]) for turn in record["history"]),
                str(record["question"]),
                str(record["standalone"]),
            ))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RagError(
                f"{path} line {number} is no follow-up: write "
                '{"id", "history": [{"question": "…"}], "question": "…", "standalone": "…"}'
            ) from None
    if not cases:
        raise RagError(f"{path} holds no follow-ups: one JSON object a line")
    return cases


def ask_follow_ups(assistant: Assistant, cases: Sequence[FollowUpCase], progress: Progress | None = None) -> list[FollowUpResult]:
    """Return each follow-up answered after its earlier turns (answered in turn), beside its standalone form answered alone."""
    results = []
    for done, case in enumerate(cases, 1):
        history: list[Turn] = []
        for question in case.history:
            history.append(Turn(question, assistant.ask(question, history=history).text))
        results.append(FollowUpResult(case, assistant.ask(case.question, history=history), assistant.ask(case.standalone)))
        if progress:
            progress(done, len(cases))
    return results


def follow_up_summary(results: Sequence[FollowUpResult]) -> dict[str, Any]:
    """Return the counts: follow-ups and standalone forms answered, citations the same, understood word for word."""
    return {
        "follow_ups": len(results),
        "follow_ups_answered": sum(not r.follow_up.refused for r in results),
        "standalone_answered": sum(not r.standalone.refused for r in results),
        "same_citations": sum(r.same_citations for r in results),
        "understood_as_standalone": sum((r.follow_up.understood_as or r.case.question) == r.case.standalone for r in results),
    }


def format_follow_ups(results: Sequence[FollowUpResult]) -> str:
    """Return the terminal text: a line per follow-up, then the figures (and, with a language model, its checks)."""
    lines = []
    for r in results:
        verdict = "as its standalone form" if r.same_citations else "UNLIKE its standalone form"
        cited = len(r.follow_up.citations)
        state = "declined" if r.follow_up.refused else f"{cited} citation{'' if cited == 1 else 's'}"
        lines.append(f"{r.case.id}  {r.case.question} → {r.follow_up.understood_as or '(as asked)'}  {state}, {verdict}")
    s = follow_up_summary(results)
    n = s["follow_ups"]
    lines.append(
        f"follow-ups answered {s['follow_ups_answered']} of {n}, their standalone forms {s['standalone_answered']} of {n}; "
        f"same citations as the standalone form {s['same_citations']} of {n}; understood as the standalone form word for "
        f"word {s['understood_as_standalone']} of {n}"
    )
    generation = generation_summary([answer_to_dict(r.follow_up) for r in results])
    if generation:
        lines.append("follow-ups' " + format_generation(generation))
    return "\n".join(lines)
