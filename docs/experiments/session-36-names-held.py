"""Session 36, measured and not taken further (docs/answers.md, *An organisation as a kind of answer*): of the answers
given, how often the first 300 characters hold the question's names beyond its cited articles' titles, answerable
questions against unanswerable ones. RUN is a bench.held_out OUT (its fitted-on-all answers); the Sora sets are read
from SORA, a `rag eval` OUT over them with the shipped files.

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. .venv/bin/python docs/experiments/session-36-names-held.py RUN SORA
"""
import json
import sys

from rag.answer.questions import names_in
from rag.index.lexical import Tokenizer
from rag.ingest.textnorm import to_simplified


def read(path: str) -> dict[str, dict]:
    with open(path, encoding="utf-8") as lines:
        return {row["id"]: row for row in map(json.loads, lines)}


def shares(run: str, tags: dict[str, str]) -> dict[bool, list[float | None]]:
    """Each answered question's share of its names beyond the cited titles that the answer's first 300 characters
    hold (None when it has no such name), by whether it is answerable."""
    questions, answers = read(f"{run}/questions.jsonl"), read(f"{run}/answers.jsonl")
    out: dict[bool, list[float | None]] = {True: [], False: []}
    for qid, question in questions.items():
        if question["refused"]:
            continue
        answer = answers[qid]
        titles = to_simplified(" ".join(c.get("title", "") for c in answer.get("citations", []))).lower()
        beyond = [n for n in names_in(answer["question"], tags) if n.lower() not in titles]
        text = to_simplified(answer["answer"][:300]).lower()
        out[question["answerable"]].append(sum(n.lower() in text for n in beyond) / len(beyond) if beyond else None)
    return out


def main() -> None:
    run, sora = sys.argv[1], sys.argv[2]
    tags = Tokenizer().word_tags()
    sets = [("cmrc", f"{run}/fitted-on-all/gold"), ("xquad-zh", f"{run}/fitted-on-all/gold-zh"),
            ("public", f"{run}/fitted-on-all/gold_public")]
    sets += [(name, f"{sora}/{name}") for name in ("sora_fresh", "sora_blind2", "sora_blind3")]
    for name, path in sets:
        for answerable, values in shares(path, tags).items():
            held = [v for v in values if v is not None]
            if values:
                print(f"{name:12s} answerable={answerable!s:5s} answered={len(values)} with names={len(held)} "
                      f"some missing={sum(v < 1 for v in held)} all missing={sum(v == 0 for v in held)}")


if __name__ == "__main__":
    main()
