"""One benchmark run over one corpus: our build and questions, beside LangChain's ensemble, interleaved run by run."""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import inews
from bench.machine import describe
from bench.probe import build_job, in_fresh_process, serve_job
from bench.stats import known_item_hit, latency_summary, median, median_ratio, medians
from rag.answer.assistant import Assistant
from rag.answer.schema import answer_to_dict
from rag.embedding import Embedder, load_embedder
from rag.eval.metrics import Question, load_questions, score_questions, summarize
from rag.index.store import load_index
from rag.settings import Settings

log = logging.getLogger(__name__)

CORPORA = ("seeds", "inews-1000", "inews-all")
REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
GOLD = REPO.parent / "shared" / "eval" / "gold_public.jsonl"
STAGES = ("embed_ms", "retrieve_ms", "compose_ms", "total_ms")

# Called with one line of progress for the person running the benchmark.
Note = Callable[[str], None]


@dataclass(frozen=True)
class Corpus:
    """A benchmark corpus: its folder and the questions asked of it (gold ones, or titles as known items)."""

    name: str
    folder: Path
    gold: tuple[Question, ...] = ()
    known_items: tuple[inews.KnownItem, ...] = ()

    @property
    def questions(self) -> list[str]:
        """Return the question texts, gold first."""
        return [q.question for q in self.gold] + [k.question for k in self.known_items]


def prepare_corpus(name: str, work_dir: Path, cache_dir: Path, gold: Path = GOLD, known_items: int = 50) -> Corpus:
    """Return the named corpus, writing the inews articles into `work_dir` when it is one of those."""
    if name == "seeds":
        return Corpus(name, SEEDS, gold=tuple(load_questions(gold)))
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}")
    articles = inews.load_articles(cache_dir)
    if name == "inews-1000":
        articles = articles[:1000]
    folder = inews.write_corpus(articles, work_dir / name)
    return Corpus(name, folder, known_items=tuple(inews.title_questions(articles, known_items)))


def corpus_stats(folder: Path) -> dict[str, int]:
    """Return the file count, bytes and characters of a corpus folder's articles."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".txt", ".md", ".html")]
    data = [p.read_bytes() for p in files]
    return {
        "files": len(files),
        "bytes": sum(len(d) for d in data),
        "chars": sum(len(d.decode("utf-8", errors="replace")) for d in data),
    }


def _ask_all(assistant: Assistant, ensemble: Any, corpus: Corpus, top_k: int) -> tuple[list[dict], list[dict], dict]:
    """Ask every question of ours and of LangChain's in turn; return both sides' results and latencies."""
    ours, theirs = [], []
    latencies: dict[str, list[float]] = {stage: [] for stage in STAGES}
    latencies.update(cpu_ms=[], ours_retrieval_ms=[], langchain_ms=[], langchain_cpu_ms=[])
    ids = [q.id for q in corpus.gold] + [f"k{i}" for i in range(len(corpus.known_items))]
    for qid, question in zip(ids, corpus.questions):
        cpu = time.process_time()
        answer = assistant.ask(question)
        latencies["cpu_ms"].append((time.process_time() - cpu) * 1000)
        for stage in ("embed_ms", "retrieve_ms", "compose_ms"):
            latencies[stage].append(answer.timings_ms[stage])
        latencies["total_ms"].append(answer.latency_ms)
        latencies["ours_retrieval_ms"].append(answer.timings_ms["embed_ms"] + answer.timings_ms["retrieve_ms"])
        ours.append(answer_to_dict(answer, qid))
        if ensemble is not None:
            from bench.alternative import retrieve  # LangChain is only imported when it is benchmarked

            passages, elapsed_ms, cpu_ms = retrieve(ensemble, question, top_k)
            latencies["langchain_ms"].append(elapsed_ms)
            latencies["langchain_cpu_ms"].append(cpu_ms)
            theirs.append({"id": qid, "answer": "", "refused": False, "passages": passages, "citations": []})
    return ours, theirs, {k: v for k, v in latencies.items() if v}


def quality(corpus: Corpus, results: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Return retrieval quality: gold metrics (rag.eval.metrics) for seeds, known-item hits for inews titles."""
    out: dict[str, float | None] = {}
    if corpus.gold:
        metrics = summarize(score_questions(corpus.gold, results[: len(corpus.gold)], corpus.folder.parent)).overall
        out.update({"hit@1": metrics.hit_at_1, "hit@5": metrics.hit_at_5, "mrr@10": metrics.mrr_at_10,
                    "recall@5": metrics.recall_at_5})
    if corpus.known_items:
        ranked = [[p["file"] for p in r["passages"]] for r in results[len(corpus.gold):]]
        gold_files = [k.file for k in corpus.known_items]
        out.update({"known_item_hit@1": known_item_hit(ranked, gold_files, 1),
                    "known_item_hit@5": known_item_hit(ranked, gold_files, 5)})
    return out


def _index_files(builds: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(builds[-1]["index_bytes"]) if builds else {}


@dataclass
class _Measured:
    """What the runs collected, before medians are taken."""

    builds: list[dict[str, Any]] = field(default_factory=list)
    langchain_builds: list[float] = field(default_factory=list)
    langchain_build_cpu: list[float] = field(default_factory=list)
    passes: list[dict[str, float]] = field(default_factory=list)
    ours: list[dict[str, Any]] = field(default_factory=list)
    theirs: list[dict[str, Any]] = field(default_factory=list)
    serve: dict[str, Any] = field(default_factory=dict)


def _measure(corpus: Corpus, settings: Settings, runs: int, langchain: bool, bare_limit: int, note: Note) -> _Measured:
    """Build `runs` times (ours in a fresh process, then LangChain's), start a server, ask `runs` passes."""
    measured = _Measured()
    plain: Embedder | None = None
    ensemble = None
    for run in range(runs):
        note(f"run {run + 1}/{runs}: our build in a fresh process")
        build = in_fresh_process(build_job, settings, bare_limit, run)
        measured.builds.append(build)
        note(f"  build {build['build_s']:.1f} s (embed {build['embed_s']:.1f} s), "
             f"{build['chunks']} chunks embedded, {build['sentences']} sentences pooled from them")
        if langchain:
            from bench.alternative import build_ensemble  # LangChain is only imported when it is benchmarked

            # LangChain gets the model as a LangChain user loads it: float32, whatever ours multiplies in.
            plain = plain or load_embedder(dataclasses.replace(settings, embed_precision="float32"))
            ensemble = build_ensemble(load_index(settings).chunks, plain, settings.retrieval.top_k)
            measured.langchain_builds.append(ensemble.build_s)
            measured.langchain_build_cpu.append(ensemble.build_cpu_s)
            note(f"  LangChain FAISS + BM25 ensemble {ensemble.build_s:.1f} s")

    note("serving: load and answer every question in a fresh process")
    measured.serve = in_fresh_process(serve_job, settings, corpus.questions)
    assistant = Assistant.load(settings, load_embedder(settings))
    assistant.ask(corpus.questions[0])  # warm: latencies are those of a running app
    for run in range(runs):
        note(f"questions, pass {run + 1}/{runs}: {len(corpus.questions)} questions")
        measured.ours, measured.theirs, latencies = _ask_all(assistant, ensemble, corpus, settings.retrieval.top_k)
        measured.passes.append(latency_summary(latencies))
    return measured


def _ours(corpus: Corpus, measured: _Measured) -> dict[str, Any]:
    builds, passes = measured.builds, measured.passes
    build = medians([{k: v for k, v in b.items() if isinstance(v, (int, float))} for b in builds])
    return {
        "build": build,
        "build_runs": builds,
        "embedding": {
            "pipeline_texts_per_s": build["pipeline_texts_per_s"],
            "bare_texts_per_s": build["bare_texts_per_s"],
            "pipeline_warm_texts_per_s": build["pipeline_warm_texts_per_s"],
            "pipeline_over_bare": median_ratio(
                [b["pipeline_warm_texts_per_s"] for b in builds], [b["bare_texts_per_s"] for b in builds]),
            "bare_texts": build["bare_texts"],
            "bare_float32_texts_per_s": build.get("bare_float32_texts_per_s", float("nan")),
            "passage_precision": builds[0].get("passage_precision", "float32"),
        },
        "questions": {"count": len(corpus.questions), **medians(passes)},
        "question_runs": passes,
        "serve": measured.serve,
        "peak_rss_mib": {"build": build["peak_rss_mib"], "serve": measured.serve["peak_rss_mib"]},
        "index_bytes": _index_files(builds),
        "index_bytes_total": sum(_index_files(builds).values()),
        "quality": quality(corpus, measured.ours),
    }


def _langchain(corpus: Corpus, measured: _Measured) -> dict[str, Any]:
    return {
        "what": "FAISS.from_documents + BM25Retriever(preprocess_func=jieba.lcut) in "
                "EnsembleRetriever(weights=[0.5, 0.5]), k=top_k each, same chunks, same model",
        "build_s": median(measured.langchain_builds),
        "build_cpu_s": median(measured.langchain_build_cpu),
        "build_runs": measured.langchain_builds,
        "questions": {k: v for k, v in medians(measured.passes).items() if k.startswith("langchain_")},
        "quality": quality(corpus, measured.theirs),
    }


def _ratios(measured: _Measured) -> dict[str, float]:
    builds, passes = measured.builds, measured.passes

    def paired(ours: str, theirs: str) -> float:
        return median_ratio([p[ours] for p in passes], [p[theirs] for p in passes])

    return {
        "build_ours_over_langchain": median_ratio([b["build_s"] for b in builds], measured.langchain_builds),
        "build_cpu_ours_over_langchain": median_ratio(
            [b["build_cpu_s"] for b in builds], measured.langchain_build_cpu),
        "question_p50_ours_over_langchain": paired("total_ms_p50", "langchain_ms_p50"),
        "question_p95_ours_over_langchain": paired("total_ms_p95", "langchain_ms_p95"),
        "question_cpu_p50_ours_over_langchain": paired("cpu_ms_p50", "langchain_cpu_ms_p50"),
        "retrieval_p50_ours_over_langchain": paired("ours_retrieval_ms_p50", "langchain_ms_p50"),
    }


def run_benchmark(
    corpus: Corpus, base: Settings, work_dir: Path, runs: int, langchain: bool = True, bare_limit: int = 2000,
    note: Note = lambda line: None,
) -> dict[str, Any]:
    """Measure build, embedding throughput, question latency, memory, index size and retrieval quality."""
    settings = base.with_overrides(corpus_dir=corpus.folder, index_dir=work_dir / corpus.name / "index")
    result: dict[str, Any] = {"corpus": {"name": corpus.name, **corpus_stats(corpus.folder)}, "runs": runs,
                              "machine": describe(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    measured = _measure(corpus, settings, runs, langchain, bare_limit, note)
    result["ours"] = _ours(corpus, measured)
    if langchain:
        result["langchain"] = _langchain(corpus, measured)
        result["ratios"] = _ratios(measured)
    end = describe()
    result["machine"].update(load_average_end=end["load_average"], torch_threads=end["torch_threads"])
    return result
