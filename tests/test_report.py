"""Run folders: what a person opens (metrics.json, questions.jsonl, report.html) and run comparison."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.errors import RagError
from rag.eval.metrics import Question, score_questions, summarize
from rag.eval.report import RunFolderError, compare_runs, format_summary, render_svg_chart, write_run

QUESTIONS = [
    Question(id="q1", question="Sora哪天发布？", answerable=True, keywords=("2月16日",),
             evidence=(("a.txt", "2月16日凌晨发布Sora"),), type="number"),
    Question(id="q2", question="<img src=x> 谁说的？", answerable=True, keywords=("杨立昆",),
             evidence=(("a.txt", "杨立昆提出世界模型"),), type="who"),
    Question(id="q3", question="Sora多少钱？", answerable=False, type="unanswerable"),
]


def run_results(q1_rank: int | None, q2_rank: int | None, q3_refused: bool) -> list[dict[str, Any]]:
    """Results where q1/q2's evidence sits at the given rank (None: not retrieved)."""
    texts = {"q1": "2月16日凌晨发布Sora", "q2": "杨立昆提出世界模型"}
    out = []
    for qid, rank in (("q1", q1_rank), ("q2", q2_rank)):
        passages = [{"rank": r, "file": "seeds/a.txt", "line_start": r, "line_end": r,
                     "text": texts[qid] if r == rank else "无关内容", "score": 1.0 / r} for r in range(1, 6)]
        out.append({"id": qid, "question": "?", "answer": f"答案：{texts[qid]}", "refused": False,
                    "citations": [], "passages": passages, "latency_ms": 12.0})
    out.append({"id": "q3", "question": "?", "answer": "文章没有提到。", "refused": q3_refused,
                "citations": [], "passages": [], "latency_ms": 8.0})
    return out


def write(tmp_path: Path, name: str, results: list[dict[str, Any]]) -> dict[str, Path]:
    scores = score_questions(QUESTIONS, results, tmp_path)
    return write_run(tmp_path / name, QUESTIONS, results, scores, summarize(scores), {"model": "fake"})


def test_write_run_files_hold_what_a_reader_looks_for(tmp_path: Path) -> None:
    results = run_results(q1_rank=1, q2_rank=4, q3_refused=False)
    paths = write(tmp_path, "run", results)
    assert all(p.exists() for p in paths.values())

    metrics = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    summary = summarize(score_questions(QUESTIONS, results, tmp_path))
    assert {"overall": metrics["overall"], "by_type": metrics["by_type"]} == summary.to_dict()
    assert metrics["overall"]["hit@1"] == 0.5  # q1 at rank 1, q2 at rank 4 → 1/2
    assert metrics["run"]["model"] == "fake" and metrics["run"]["questions"] == 3

    rows = [json.loads(line) for line in paths["questions"].read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    assert rows[1]["evidence"][0]["rank"] == 4 and rows[1]["first_rank"] == 4
    assert "answered an unanswerable question" in rows[2]["problems"]
    assert "杨立昆" in paths["questions"].read_text(encoding="utf-8")  # ensure_ascii=False

    page = paths["report"].read_text(encoding="utf-8")
    assert "<svg" in page and "</svg>" in page
    assert "&lt;img src=x&gt; 谁说的？" in page and "<img src=x>" not in page
    assert "<script" not in page and "<link" not in page  # self-contained
    assert "answered an unanswerable question" in page  # q3 in the failing-questions table
    # only q3 has a problem: q1 (rank 1) and q2 (rank 4, inside the top 5) are fine
    assert "Failing questions (1 of 3)" in page


def test_chart_marks_metrics_without_questions(tmp_path: Path) -> None:
    results = run_results(q1_rank=1, q2_rank=4, q3_refused=True)
    svg = render_svg_chart(summarize(score_questions(QUESTIONS, results, tmp_path)))
    # the unanswerable group has a refusal bar; the number group has none ("–" instead of a zero bar)
    assert "unanswerable: refusal on unanswerable = 1.00" in svg
    assert "number: refusal on unanswerable" not in svg and "–" in svg
    assert "who: hit@1 = 0.00" in svg and "who: hit@5 = 1.00" in svg


def test_format_summary_lists_overall_and_each_type(tmp_path: Path) -> None:
    results = run_results(q1_rank=1, q2_rank=4, q3_refused=True)
    text = format_summary(summarize(score_questions(QUESTIONS, results, tmp_path)))
    lines = text.splitlines()
    assert "hit@1" in lines[0] and "mrr@10" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["overall", "number", "unanswerable", "who"]
    # overall mrr@10 = (1/1 + 1/4) / 2 = 0.625 → "0.62"; hit@1 = 1/2
    assert lines[1].split()[1:5] == ["3", "0.50", "1.00", "0.62"]


def test_compare_names_improved_and_worsened_questions(tmp_path: Path) -> None:
    write(tmp_path, "a", run_results(q1_rank=4, q2_rank=1, q3_refused=False))
    write(tmp_path, "b", run_results(q1_rank=1, q2_rank=None, q3_refused=True))
    text = compare_runs(tmp_path / "a", tmp_path / "b")
    better = text.split("Better (")[1].split("Worse (")[0]
    worse = text.split("Worse (")[1].split("Mixed (")[0]
    assert "q1" in better and "evidence rank 4 → 1" in better
    assert "q3" in better and "now declines (unanswerable)" in better
    assert "q2" in worse and "evidence rank 1 → none" in worse
    assert "q1" not in worse and "q2" not in better
    # hit@1 stays 1/2 (q1 gains it, q2 loses it); refusal on unanswerable goes 0 → 1
    assert any(line.split()[:4] == ["hit@1", "0.50", "0.50", "+0.00"] for line in text.splitlines())
    assert any(line.split()[:4] == ["refusal_on_unanswerable", "0.00", "1.00", "+1.00"]
               for line in text.splitlines())


def test_compare_rejects_missing_or_invalid_run_folders(tmp_path: Path) -> None:
    write(tmp_path, "a", run_results(q1_rank=1, q2_rank=1, q3_refused=True))
    with pytest.raises(RunFolderError, match="python -m rag eval") as info:
        compare_runs(tmp_path / "a", tmp_path / "nowhere")
    assert isinstance(info.value, RagError) and "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match="empty"):
        compare_runs(tmp_path / "empty", tmp_path / "a")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RunFolderError):
        compare_runs(tmp_path / "a", tmp_path / "broken")
