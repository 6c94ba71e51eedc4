"""What a run with a language model did with the generated sentences: how many were kept, dropped, and why."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def generation_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the counts over the answers whose composer asked a model; None when none did (extractive runs)."""
    asked = [record for record in records if record.get("checks")]
    if not asked:
        return None
    reasons: Counter[str] = Counter()
    for record in asked:
        reasons.update(record["checks"].get("reasons", {}))
    return {
        "answers_asked": len(asked),
        "answers_generated": sum(1 for record in asked if record.get("generated")),
        "answers_fell_back": sum(1 for record in asked if not record.get("generated")),
        "sentences_kept": sum(record["checks"].get("kept", 0) for record in asked),
        "sentences_dropped": sum(record["checks"].get("dropped", 0) for record in asked),
        "dropped_because": dict(reasons.most_common()),
    }


def format_generation(summary: dict[str, Any]) -> str:
    """Return the summary as the lines the terminal shows under the metrics."""
    because = ", ".join(f"{reason}: {count}" for reason, count in summary["dropped_because"].items()) or "none"
    return (
        f"generated answers: {summary['answers_generated']} of {summary['answers_asked']} asked "
        f"({summary['answers_fell_back']} quoted instead); sentences kept {summary['sentences_kept']}, "
        f"dropped {summary['sentences_dropped']} ({because})"
    )
