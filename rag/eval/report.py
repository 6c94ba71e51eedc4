"""Writes an evaluation run to a folder (JSON, JSONL, HTML) and compares two runs."""
from __future__ import annotations

import html
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.eval.metrics import Metrics, Question, QuestionScore, Summary

logger = logging.getLogger(__name__)

METRICS_FILE, QUESTIONS_FILE, HTML_FILE = "metrics.json", "questions.jsonl", "report.html"
# (label, Metrics field) for the terminal table; shares print as 0.00, the rest as whole numbers
TABLE_COLUMNS = (("n", "questions"), ("hit@1", "hit_at_1"), ("hit@5", "hit_at_5"),
                 ("mrr@10", "mrr_at_10"), ("ctx@1500c", "ctx_hit_at_1500c"),
                 ("kw@300c", "answer_keyword_recall_at_300c"),
                 ("has@300c", "answer_contains_at_300c"), ("refusal", "refusal_on_unanswerable"),
                 ("false_ref", "false_refusal"), ("cite_ok", "citation_validity"),
                 ("chars", "answer_chars_median"), ("p50_ms", "latency_p50_ms"))
CHART_METRICS = (("hit@1", "hit_at_1"), ("hit@5", "hit_at_5"), ("mrr@10", "mrr_at_10"),
                 ("ctx_hit@1500c", "ctx_hit_at_1500c"),
                 ("keyword recall@300c", "answer_keyword_recall_at_300c"),
                 ("refusal on unanswerable", "refusal_on_unanswerable"))
TYPE_DELTAS = ("hit@5", "mrr@10", "answer_keyword_recall@300c", "answer_contains@300c", "refusal_on_unanswerable", "false_refusal")
CHART_COLOURS = ("#4e79a7", "#a0cbe8", "#f28e2b", "#59a14f", "#b07aa1", "#e15759")
_WHOLE_NUMBERS = {"questions", "answerable", "unanswerable", "citations", "answer_chars_median",
                  "answer_chars_mean", "latency_p50_ms", "latency_p95_ms"}
_RUN_HINT = "pass two folders written by `python -m rag eval QUESTIONS -o DIR`"
_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;text-align:left}th{background:#f3f3f3}td.num{text-align:right;
font-variant-numeric:tabular-nums}ul{margin:0;padding-left:1.2em}.small{color:#666;font-size:90%}"""


class RunFolderError(RagError, ValueError):
    """A run folder is missing or does not hold a readable evaluation run."""


def _fmt(value: Any, field: str) -> str:
    if value is None:
        return "-"
    if field in _WHOLE_NUMBERS:
        return f"{value:.0f}"
    return f"{value:.2f}"


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)  # a crash never leaves half a file


def question_record(question: Question, result: Mapping[str, Any], score: QuestionScore) -> dict[str, Any]:
    """Return the questions.jsonl row for one question: what was asked, answered and scored."""
    scored = {k: v for k, v in score.to_dict().items() if k not in ("id", "type")}
    return {"id": question.id, "type": question.type, "question": question.question,
            "answer": result.get("answer", ""), "citations": list(result.get("citations") or []),
            **scored}


def write_run(out_dir: Path, questions: Sequence[Question], results: Iterable[Mapping[str, Any]],
              scores: Sequence[QuestionScore], summary: Summary,
              run_info: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write metrics.json, questions.jsonl and report.html into out_dir; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {str(r.get("id")): r for r in results}
    score_by_id = {s.id: s for s in scores}
    records = [question_record(q, by_id.get(q.id, {}), score_by_id[q.id])
               for q in questions if q.id in score_by_id]
    info = {"created": datetime.now(UTC).isoformat(timespec="seconds"),
            "questions": len(records), **(run_info or {})}
    paths = {"metrics": out_dir / METRICS_FILE, "questions": out_dir / QUESTIONS_FILE,
             "report": out_dir / HTML_FILE}
    _write_atomically(paths["metrics"], json.dumps({"run": info, **summary.to_dict()},
                                                   ensure_ascii=False, indent=2) + "\n")
    _write_atomically(paths["questions"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    _write_atomically(paths["report"], render_html(summary, records, info))
    logger.info("wrote evaluation run to %s", out_dir)
    return paths


def format_summary(summary: Summary) -> str:
    """Return a compact plain-text table of the metrics, overall and per question type."""
    rows = [("overall", summary.overall), *summary.by_type.items()]
    cells = [["", *(label for label, _ in TABLE_COLUMNS)]]
    cells += [[name, *(_fmt(getattr(m, field), field) for _, field in TABLE_COLUMNS)] for name, m in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    return "\n".join(lines)


def format_sets(summaries: Sequence[tuple[str, Summary]]) -> str:
    """Return a plain-text table with one row of overall metrics per question set."""
    cells = [["set", *(label for label, _ in TABLE_COLUMNS)]]
    cells += [[name, *(_fmt(getattr(s.overall, field), field) for _, field in TABLE_COLUMNS)] for name, s in summaries]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in cells)


def render_svg_chart(summary: Summary) -> str:
    """Return an inline SVG grouped bar chart of the key metrics, overall and per type."""
    groups = [("overall", summary.overall), *summary.by_type.items()]
    bar, gap, plot_h, left, top, legend_w = 20, 28, 200, 44, 40, 150
    group_w = bar * len(CHART_METRICS) + gap
    width = max(left + group_w * len(groups), left + legend_w * len(CHART_METRICS)) + 10
    height = top + plot_h + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" style="max-width:100%;height:auto" role="img" '
             f'aria-label="key metrics by question type" font-size="10">']
    for i, (label, _) in enumerate(CHART_METRICS):  # legend
        x = left + i * legend_w
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{CHART_COLOURS[i]}"/>'
                     f'<text x="{x + 14}" y="17">{html.escape(label)}</text>')
    for tick in (0, 0.25, 0.5, 0.75, 1):
        y = top + plot_h * (1 - tick)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 3:.1f}" text-anchor="end">{tick:g}</text>')
    for g, (name, metrics) in enumerate(groups):
        x0 = left + g * group_w + gap / 2
        for i, (label, field) in enumerate(CHART_METRICS):
            value, x = getattr(metrics, field), x0 + i * bar
            if value is None:  # no question of this kind: mark it rather than draw a zero
                parts.append(f'<text x="{x + bar / 2}" y="{top + plot_h - 3}" text-anchor="middle" '
                             f'fill="#999">–</text>')
                continue
            h = plot_h * max(0.0, min(1.0, value))
            tip = html.escape(f"{name}: {label} = {value:.2f}")
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 2}" height="{h:.1f}" '
                         f'fill="{CHART_COLOURS[i]}"><title>{tip}</title></rect>'
                         f'<text x="{x + bar / 2 - 1:.1f}" y="{top + plot_h - h - 3:.1f}" font-size="7" '
                         f'text-anchor="middle">{value:.2f}</text>')
        parts.append(f'<text x="{x0 + group_w / 2 - gap / 2:.1f}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle">{html.escape(name)} (n={metrics.questions})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _metrics_table(summary: Summary) -> str:
    groups = [("overall", summary.overall), *summary.by_type.items()]
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in groups)
    rows = [f"<tr><th>{html.escape(field.replace('_at_', '@'))}</th>"
            + "".join(f'<td class="num">{_fmt(getattr(m, field), field)}</td>' for _, m in groups)
            + "</tr>" for field in Metrics.__dataclass_fields__]
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _question_rows(records: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in records:
        problems = "".join(f"<li>{html.escape(p)}</li>" for p in r.get("problems") or [])
        answer = str(r.get("answer") or "")
        answer = answer[:300] + ("…" if len(answer) > 300 else "")
        cells = [r["id"], r.get("type") or "", r.get("question", ""), answer,
                 "-" if r.get("first_rank") is None else r["first_rank"]]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                    + f"<td><ul>{problems}</ul></td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("id", "type", "question", "answer (first 300 chars)",
                                            "evidence rank", "what went wrong"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render_html(summary: Summary, records: Sequence[Mapping[str, Any]], run_info: Mapping[str, Any]) -> str:
    """Return a self-contained HTML report: metrics, a chart by type and the failing questions."""
    failing = [r for r in records if r.get("problems")]
    info = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in run_info.items())
    return ("<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\">"
            f"<title>RAG evaluation</title><style>{_CSS}</style></head><body>"
            f"<h1>RAG evaluation</h1><ul class=\"small\">{info}</ul>"
            "<h2>Metrics</h2><p class=\"small\">Retrieval metrics count answerable questions only; "
            "keyword recall skips English questions; “-” means no question qualifies.</p>"
            f"{_metrics_table(summary)}<h2>Key metrics by question type</h2>{render_svg_chart(summary)}"
            f"<h2>Failing questions ({len(failing)} of {len(records)})</h2>{_question_rows(failing)}"
            f"<details><summary>All questions</summary>{_question_rows(records)}</details>"
            "</body></html>\n")


def _load_run(folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is not a folder: {_RUN_HINT}")
    try:
        metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
        rows = [json.loads(line) for line in
                (folder / QUESTIONS_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
        if not isinstance(metrics.get("overall"), dict) or not all("id" in r for r in rows):
            raise ValueError("unexpected content")
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise RunFolderError(f"{folder} holds no readable run ({exc.__class__.__name__}): {_RUN_HINT}") from None
    return metrics, {str(r["id"]): r for r in rows}


def _delta_line(name: str, a: Any, b: Any, width: int) -> str:
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    delta = "" if not numeric else f"{b - a:+d}" if isinstance(a, int) and isinstance(b, int) else f"{b - a:+.2f}"
    return f"  {name.ljust(width)}  {_fmt_any(a):>8}  {_fmt_any(b):>8}  {delta:>7}"


def _fmt_any(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def question_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Return (better, worse) descriptions of how one question changed from run A to run B."""
    better: list[str] = []
    worse: list[str] = []

    def note(improved: bool, text: str) -> None:
        (better if improved else worse).append(text)

    rank_a, rank_b = a.get("first_rank"), b.get("first_rank")
    if a.get("hit_at_1") is not None and rank_a != rank_b:
        key_a, key_b = (math.inf if r is None else r for r in (rank_a, rank_b))
        note(key_b < key_a, f"evidence rank {rank_a or 'none'} → {rank_b or 'none'}")
    if None not in (rank_a, rank_b) and a.get("ctx_hit_at_1500c") != b.get("ctx_hit_at_1500c"):
        note(bool(b.get("ctx_hit_at_1500c")), "evidence now " + ("inside" if b.get("ctx_hit_at_1500c")
                                                                 else "outside") + " the 1500-char context")
    if a.get("refused") != b.get("refused") and b.get("answerable") is not None:
        now_declines = bool(b.get("refused"))
        note(now_declines != bool(b.get("answerable")),
             ("now declines" if now_declines else "now answers")
             + (" (answerable)" if b.get("answerable") else " (unanswerable)"))
    kw_a, kw_b = a.get("keyword_recall_at_300c"), b.get("keyword_recall_at_300c")
    if kw_a is not None and kw_b is not None and kw_a != kw_b:
        note(kw_b > kw_a, f"keyword recall {kw_a:.2f} → {kw_b:.2f}")
    valid_a, valid_b = (r.get("citations_valid", 0) / r["citations"] if r.get("citations") else None
                        for r in (a, b))
    if valid_a is not None and valid_b is not None and valid_a != valid_b:
        note(valid_b > valid_a, f"valid citations {valid_a:.2f} → {valid_b:.2f}")
    return better, worse


def compare_runs(run_a: Path, run_b: Path) -> str:
    """Return a plain-text comparison of two run folders: metric deltas and changed questions."""
    metrics_a, rows_a = _load_run(run_a)
    metrics_b, rows_b = _load_run(run_b)
    overall_a, overall_b = metrics_a["overall"], metrics_b.get("overall", {})
    names = list(overall_a) + [k for k in overall_b if k not in overall_a]
    width = max(len(n) for n in names) if names else 6
    lines = [f"A: {run_a}", f"B: {run_b}", "", f"  {'metric'.ljust(width)}  {'A':>8}  {'B':>8}  {'delta':>7}"]
    lines += [_delta_line(n, overall_a.get(n), overall_b.get(n), width) for n in names]
    types = [t for t in metrics_a.get("by_type", {}) if t in metrics_b.get("by_type", {})]
    if types:
        lines += ["", "By type (A → B):"]
        for t in types:
            ta, tb = metrics_a["by_type"][t], metrics_b["by_type"][t]
            lines.append(f"  {t}: " + "  ".join(f"{k} {_fmt_any(ta.get(k))} → {_fmt_any(tb.get(k))}"
                                                for k in TYPE_DELTAS if (ta.get(k), tb.get(k)) != (None, None)))
    better, worse, mixed = [], [], []
    for qid in (q for q in rows_a if q in rows_b):
        up, down = question_changes(rows_a[qid], rows_b[qid])
        label = f"  {qid} [{rows_b[qid].get('type') or '-'}] "
        if up and down:
            mixed.append(label + "better: " + "; ".join(up) + " | worse: " + "; ".join(down))
        elif up or down:
            (better if up else worse).append(label + "; ".join(up or down))
    for title, items in (("Better", better), ("Worse", worse), ("Mixed", mixed)):
        lines += ["", f"{title} ({len(items)}):", *(items or ["  (none)"])]
    only_a, only_b = sorted(set(rows_a) - set(rows_b)), sorted(set(rows_b) - set(rows_a))
    if only_a or only_b:
        lines += ["", f"Only in A: {', '.join(only_a) or '-'}", f"Only in B: {', '.join(only_b) or '-'}"]
    return "\n".join(lines)
