"""The benchmark's figures as a short plain-text table for the terminal."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _mib(size: float) -> str:
    return f"{size / 1024**2:.1f} MiB"


def _within(value: Any, low: float = -math.inf, high: float = math.inf) -> bool | None:
    """Return whether low <= value <= high, None when the value was not measured."""
    return None if value is None or math.isnan(value) else low <= value <= high


def targets(result: Mapping[str, Any]) -> dict[str, bool | None]:
    """Return whether each target of the issue is met (None when not measured in this result)."""
    ours = result["ours"]
    seeds = result["corpus"]["name"] == "seeds"
    met: dict[str, bool | None] = {
        "build <= 20 s (seeds, model load included)": _within(ours["build"]["total_s"], high=20) if seeds else None,
        "pipeline/bare embedding >= 0.9": _within(ours["embedding"]["pipeline_over_bare"], low=0.9),
        "question p95 <= 50 ms": _within(ours["questions"]["total_ms_p95"], high=50),
    }
    theirs = result.get("langchain")
    if theirs:
        key = "hit@5" if "hit@5" in ours["quality"] else "known_item_hit@5"
        met[f"{key} ours >= LangChain"] = (ours["quality"][key] or 0) >= (theirs["quality"][key] or 0)
    return met


def format_result(result: Mapping[str, Any]) -> str:
    """Return the figures of one benchmark result as lines of text."""
    corpus, ours, build = result["corpus"], result["ours"], result["ours"]["build"]
    machine = result["machine"]
    q = ours["questions"]
    lines = [
        f"corpus {corpus['name']}: {corpus['files']} files, {corpus['chars']:,} characters; "
        f"{_num(build['chunks'], 0)} chunks, {_num(build['sentences'], 0)} sentences; medians of {result['runs']} run(s)",
        f"machine: {machine['nproc']} cores {machine['cpu_model']}, {machine['memory_gib']} GiB, "
        f"load {machine['load_average']} -> {machine.get('load_average_end')}, torch threads {machine.get('torch_threads')}",
        f"build {_num(build['total_s'], 1)} s = model load {_num(build['model_load_s'], 1)} + jieba "
        f"{_num(build['tokenizer_load_s'], 1)} + clean/chunk {_num(build['clean_and_chunk_s'], 1)} + embed "
        f"{_num(build['embed_s'], 1)} + BM25/FAISS {_num(build['lexical_and_dense_s'], 1)} + write {_num(build['write_s'], 2)}"
        f" (build CPU time {_num(build.get('build_cpu_s'), 1)} s over all threads)",
        f"embedding: the build {_num(ours['embedding']['pipeline_texts_per_s'], 1)} texts/s; warm, the pipeline's encode "
        f"{_num(ours['embedding'].get('pipeline_warm_texts_per_s'), 1)} vs bare encode {_num(ours['embedding']['bare_texts_per_s'], 1)} "
        f"in the same arithmetic ({ours['embedding'].get('passage_precision')}): ratio {_num(ours['embedding']['pipeline_over_bare'])}; "
        f"bare float32 encode {_num(ours['embedding'].get('bare_float32_texts_per_s'), 1)} texts/s",
        f"question ({q['count']} warm) p50 {_num(q['total_ms_p50'], 1)} ms, p95 {_num(q['total_ms_p95'], 1)} ms; "
        f"p50 embed {_num(q['embed_ms_p50'], 1)} / retrieve {_num(q['retrieve_ms_p50'], 1)} / compose "
        f"{_num(q['compose_ms_p50'], 1)} ms; p95 {_num(q['embed_ms_p95'], 1)} / {_num(q['retrieve_ms_p95'], 1)} / "
        f"{_num(q['compose_ms_p95'], 1)} ms; CPU time p50 {_num(q.get('cpu_ms_p50'), 1)} ms",
        f"peak memory: build {_num(ours['peak_rss_mib']['build'], 0)} MiB, serving {_num(ours['peak_rss_mib']['serve'], 0)} "
        f"MiB; start-up {_num(ours['serve']['ready_s'], 1)} s; index {_mib(ours['index_bytes_total'])}",
        "quality: " + ", ".join(f"{k} {_num(v)}" for k, v in ours["quality"].items()),
    ]
    theirs = result.get("langchain")
    if theirs:
        ratios = result["ratios"]
        lines += [
            f"LangChain ensemble: build {_num(theirs['build_s'], 1)} s, question p50 "
            f"{_num(theirs['questions'].get('langchain_ms_p50'), 1)} ms, p95 {_num(theirs['questions'].get('langchain_ms_p95'), 1)} ms; "
            + ", ".join(f"{k} {_num(v)}" for k, v in theirs["quality"].items()),
            f"ratios ours/LangChain (same run): build {_num(ratios['build_ours_over_langchain'])} "
            f"(CPU time {_num(ratios['build_cpu_ours_over_langchain'])}), question p50 "
            f"{_num(ratios['question_p50_ours_over_langchain'])}, p95 {_num(ratios['question_p95_ours_over_langchain'])}, "
            f"CPU time p50 {_num(ratios['question_cpu_p50_ours_over_langchain'])}, "
            f"retrieval only p50 {_num(ratios['retrieval_p50_ours_over_langchain'])}",
        ]
    lines += [f"target {'met' if ok else 'MISSED'}: {name}" for name, ok in targets(result).items() if ok is not None]
    return "\n".join(lines)
