"""Build or update the index: embed only articles that were added or changed since the last build."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.ingest.chunking import SEPARATORS, article_sentences, chunk_article, make_splitters
from rag.ingest.corpus import SourceFile, list_sources, read_article
from rag.ingest.language import WESTERN_SCALE
from rag.embedding import Embedder
from rag.embedding.reader import READER_DIMENSION, shared_reader
from rag.errors import CorpusError, IndexMismatchError, IndexMissingError, index_damaged
from rag.index.lexical import build_lexical, shared_tokenizer
from rag.index.manifest import ArticleEntry, Counts, Manifest, ModelInfo, SkippedEntry
from rag.index.stores import Store, open_store
from rag.index.vectors.factory import check_store
from rag.records import Chunk, Sentence
from rag.ingest.sentences import MAX_SENTENCE_CHARS
from rag.index.pooling import pooled_spans
from rag.settings import Settings
from rag.index.store import ArticleText, Index, build_settings

log = logging.getLogger(__name__)

# Called as (texts_done, texts_total) while embedding; the CLI draws a progress bar from it.
BuildProgress = Callable[[int, int], None]
# Called with one line saying which stage the build has reached ("embedding 95 passages"); the CLI prints it.
BuildStage = Callable[[str], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI to show."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (file, reason)
    chunks: int
    sentences: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _ArticleParts:
    """One article's chunks, sentences and their vectors, numbered from zero within the article."""

    source: SourceFile
    title: str
    chunks: tuple[Chunk, ...]
    sentences: tuple[Sentence, ...]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    raw: str = ""  # the article's text as read, kept with the index (store.py ArticleText)
    pages: tuple[int, ...] = ()  # a PDF's first line of each page
    alone_vectors: np.ndarray | None = None  # each sentence embedded on its own; None where the store keeps none
    reader_vectors: np.ndarray | None = None  # each sentence as the second reader reads it; None until read


def _without_name(message: str, name: str) -> str:
    """Return why a file was skipped without the name it opens with ("corpus/a.txt looks binary, …" gives "looks
    binary, …"): the report and the log name the file before it."""
    return message[len(name):].lstrip(" :") if message.startswith(name) else message


def _previous(settings: Settings, store: Store) -> Index | None:
    """Return the existing index if it can be reused for an incremental build (checked whole: damage in the
    rows or vectors it lends would pass into the new index under fresh checksums)."""
    try:
        return store.open(settings, verify_all=True)
    except IndexMissingError:
        return None
    except IndexMismatchError as why:
        log.info("rebuilding from scratch (%s): %s", why.reason, why.detail)
        return None


def _reuse(index: Index, entry: ArticleEntry, source: SourceFile) -> _ArticleParts:
    first_chunk, n_chunks = entry.chunks
    first_sentence, n_sentences = entry.sentences
    chunks = tuple(
        dataclasses.replace(c, chunk_id=c.chunk_id - first_chunk, sentence_ids=tuple(i - first_sentence for i in c.sentence_ids))
        for c in index.chunks[first_chunk : first_chunk + n_chunks]
    )
    sentences = tuple(
        dataclasses.replace(s, sentence_id=s.sentence_id - first_sentence)
        for s in index.sentences[first_sentence : first_sentence + n_sentences]
    )
    return _ArticleParts(
        source,
        entry.title,
        chunks,
        sentences,
        index.vectors.passage_vectors(np.arange(first_chunk, first_chunk + n_chunks)),
        index.vectors.sentence_vectors(np.arange(first_sentence, first_sentence + n_sentences)).astype(np.float16),
        *_kept_text(index, entry),
        _float16(index.vectors.alone_vectors(np.arange(first_sentence, first_sentence + n_sentences))),
        _float16(index.vectors.reader_vectors(np.arange(first_sentence, first_sentence + n_sentences))),
    )


def _read(kept: dict[str, _ArticleParts], stage: BuildStage | None) -> dict[str, _ArticleParts]:
    """Return the articles whose sentences the second reader has not read yet (new, changed), with their readings
    (rag/embedding/reader.py; each sentence on its own, so an unchanged article's readings are reused as they are)."""
    unread = [name for name, part in kept.items() if part.reader_vectors is None]
    if not unread:
        return {}
    texts = [s.text for name in unread for s in kept[name].sentences]
    _stage(stage, f"reading {len(texts)} sentences with the second reader")
    read = shared_reader().read(texts).astype(np.float16)
    out, at = {}, 0
    for name in unread:
        part = kept[name]
        out[name] = dataclasses.replace(part, reader_vectors=read[at : at + len(part.sentences)])
        at += len(part.sentences)
    return out


def _float16(vectors: np.ndarray | None) -> np.ndarray | None:
    return None if vectors is None else vectors.astype(np.float16)


def _kept_text(index: Index, entry: ArticleEntry) -> tuple[str, tuple[int, ...]]:
    """Return the text (and a PDF's page starts) the previous build read for an unchanged article."""
    kept = index.text_of(entry.file)
    if kept is None or kept.sha256 != entry.sha256:
        raise index_damaged(index.folder, f"articles.jsonl does not hold the text of {entry.file}")
    return kept.raw, kept.pages


def _renumber(parts: list[_ArticleParts]) -> tuple[list[Chunk], list[Sentence], list[ArticleEntry]]:
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    entries = []
    for part in parts:
        c0, s0 = len(chunks), len(sentences)
        chunks.extend(
            dataclasses.replace(c, chunk_id=c.chunk_id + c0, sentence_ids=tuple(i + s0 for i in c.sentence_ids))
            for c in part.chunks
        )
        sentences.extend(dataclasses.replace(s, sentence_id=s.sentence_id + s0) for s in part.sentences)
        entries.append(ArticleEntry(part.source.name, part.title, part.source.sha256, (c0, len(part.chunks)),
                                    (s0, len(part.sentences))))
    return chunks, sentences, entries


def _embed_new(
    fresh: list[_ArticleParts], embedder: Embedder, template: str, progress: BuildProgress | None, alone: bool = False
) -> list[_ArticleParts]:
    """Embed the chunks (through the passage template) of new or changed articles; each sentence's vector is
    pooled from the forward pass of the chunk holding most of it (rag/index/pooling.py). With `alone`, each
    sentence is also embedded on its own: read without its passage it matches a question in another language
    better (docs/answers.md, *Sentence vectors embedded alone*)."""
    texts: list[str] = []
    marks: list[list[tuple[int, int]]] = []  # per passage: the character spans pooled from it
    owners: list[list[int]] = []  # per passage: the article's sentence each of those spans belongs to
    for part in fresh:
        first = len(texts)
        texts.extend(template.format(title=part.title, text=chunk.text) for chunk in part.chunks)
        marks.extend([] for _ in part.chunks)
        owners.extend([] for _ in part.chunks)
        head = template.format(title=part.title, text="\0").index("\0")  # where the chunk's text starts
        for span in pooled_spans(part.chunks, part.sentences):
            marks[first + span.chunk].append((head + span.start, head + span.end))
            owners[first + span.chunk].append(span.sentence)
    sentence_texts = [s.text for part in fresh for s in part.sentences] if alone else []
    done = 0
    total = len(texts) + len(sentence_texts)

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    if texts:
        vectors, pooled = embedder.encode_with_spans(texts, marks, tick)
    else:
        vectors, pooled = np.zeros((0, embedder.dimension), np.float32), []
    alone_all = None
    if alone:
        alone_all = (embedder.encode_passages(sentence_texts, tick) if sentence_texts
                     else np.zeros((0, embedder.dimension), np.float32)).astype(np.float16)
    out = []
    first = at = 0  # the next part's first chunk and first sentence
    for part in fresh:
        sentence_vectors = np.zeros((len(part.sentences), embedder.dimension), dtype=np.float16)
        read = np.zeros(len(part.sentences), dtype=bool)
        for row in range(first, first + len(part.chunks)):
            sentence_vectors[owners[row]] = pooled[row]
            read[owners[row]] = True
        unread = np.flatnonzero(~read)
        if len(unread):  # no chunk overlaps them (a heading the splitter dropped): embed them alone
            sentence_vectors[unread] = embedder.encode_passages([part.sentences[i].text for i in unread])
        out.append(dataclasses.replace(
            part, chunk_vectors=vectors[first : first + len(part.chunks)].astype(np.float32),
            sentence_vectors=sentence_vectors,
            alone_vectors=alone_all[at : at + len(part.sentences)] if alone_all is not None else None,
        ))
        first += len(part.chunks)
        at += len(part.sentences)
    return out


def _stage(stage: BuildStage | None, line: str) -> None:
    log.info("%s", line)
    if stage:
        stage(line)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started_at(pid: int) -> float | None:
    """Return when process `pid` started (seconds since the epoch), where /proc says; else None."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def remove_abandoned(target: Path) -> list[Path]:
    """Remove the staging folders (`.<index>.tmp-<pid>`) that killed builds left beside `target`; return them.

    A folder whose build is still running is kept: its pid is alive and the process started before the
    folder was last written. A live pid that started after it is another process that got the dead build's pid.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.tmp-(\d+)")
    removed = []
    for folder in sorted(target.parent.glob(f".{target.name}.tmp-*")):
        match = pattern.fullmatch(folder.name)
        if not match or not folder.is_dir():
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and _alive(pid):
            started = _started_at(pid)
            if started is None or folder.stat().st_mtime >= started - 1:  # /proc's clock counts in ticks
                continue
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("removed %s, left by a build that was stopped while writing", folder)
        removed.append(folder)
    return removed


def shard_of(name: str, count: int) -> int:
    """Return which of `count` shards (1-based) article `name` belongs to: a hash of its name, so the slices are
    the same on every machine and adding an article moves no other."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % count + 1


def _donors(settings: Settings, stores: list[Store], embedder: Embedder) -> dict[tuple[str, str], tuple[Index, ArticleEntry]]:
    """Return, by (file, sha256), the articles other indexes already hold (shards, or the published index) with
    the same model and settings, so a build copies their vectors instead of embedding them again."""
    found: dict[tuple[str, str], tuple[Index, ArticleEntry]] = {}
    for other in stores:
        index = _previous(settings, other)
        if index is not None and index.manifest.settings.get("embed_model") == embedder.name:
            for entry in index.manifest.articles:
                found.setdefault((entry.file, entry.sha256), (index, entry))
    return found


def build_index(
    settings: Settings, embedder: Embedder, progress: BuildProgress | None = None, stage: BuildStage | None = None,
    shard: tuple[int, int] | None = None,
) -> BuildReport:
    """Build or update the index in `settings.index.index_dir` from `settings.index.corpus_dir`; return what changed.

    Args:
        progress: told (texts done, texts total) while passages are embedded.
        stage: told one line as each stage starts: reading, embedding, the dense index, writing.
        shard: (number, count): build only the articles of shard `number` of `count` (`shard_of`) into the
            store's shard `number`; a build without it publishes the whole index, reusing what the shards hold,
            and removes them.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    check_store(settings)  # before any embedding is spent
    store = open_store(settings)
    target = store if shard is None else store.shard(*shard)
    sources = list_sources(settings.index.corpus_dir)
    if not sources:
        raise CorpusError(f"no .txt, .md, .html, .pdf or .docx files in {settings.index.corpus_dir}: add articles or pass --corpus DIR")
    if shard is not None:
        sources = [source for source in sources if shard_of(source.name, shard[1]) == shard[0]]
    if target.kind == "files":
        remove_abandoned(Path(target.where))
    _stage(stage, f"reading {len(sources)} articles in {settings.index.corpus_dir}")
    previous = _previous(settings, target)
    if previous is not None and previous.manifest.settings.get("embed_model") != embedder.name:
        previous = None
    old_entries = {e.file: e for e in previous.manifest.articles} if previous else {}
    donors = _donors(settings, [store] if shard is not None else store.shards(), embedder)

    splitters = make_splitters(settings.index.chunk_size, settings.index.chunk_overlap)
    tokenizer = shared_tokenizer()
    kept: dict[str, _ArticleParts] = {}
    fresh: list[_ArticleParts] = []
    skipped: list[tuple[str, str]] = []
    added, changed, unchanged = [], [], []
    tick = time.perf_counter()
    for source in sources:
        size = source.path.stat().st_size
        if size > settings.index.max_article_bytes:
            why = (f"it is {size:,} bytes, over the limit of {settings.index.max_article_bytes:,} for one article: "
                   f"split it, or raise RAG_MAX_ARTICLE_BYTES")
            log.info("skipping %s: %s", source.name, why)  # the report lists it, once, at the end
            skipped.append((source.name, why))
            continue
        entry = old_entries.get(source.name)
        if previous is not None and entry is not None and entry.sha256 == source.sha256:
            kept[source.name] = _reuse(previous, entry, source)
            unchanged.append(source.name)
            continue
        donor = donors.get((source.name, source.sha256))
        if donor is not None:
            kept[source.name] = _reuse(donor[0], donor[1], source)
            (changed if entry is not None else added).append(source.name)
            continue
        try:
            article = read_article(source)
        except CorpusError as error:
            why = _without_name(str(error), source.name)
            log.info("skipping %s: %s", source.name, why)  # the report lists it, once, at the end
            skipped.append((source.name, why))
            continue
        sentences = [
            dataclasses.replace(s, terms=tuple(dict.fromkeys(tokenizer.tokens(s.text))))
            for s in article_sentences(article, 0)
        ]
        chunks = chunk_article(article, sentences, splitters.for_article(article), 0)
        empty = np.zeros((0, embedder.dimension))
        fresh.append(_ArticleParts(source, article.title, tuple(chunks), tuple(sentences), empty, empty, article.raw,
                                   article.pages))
        (changed if entry is not None else added).append(source.name)
    timings["clean_and_chunk"] = time.perf_counter() - tick
    if shard is None and not kept and not fresh:
        # An index of nothing would replace the one in place, and the knowledge base would answer nothing.
        raise CorpusError(f"none of the {len(sources)} files in {settings.index.corpus_dir} could be read ({skipped[0][0]}: {skipped[0][1]}): fix "
                          f"them or add readable articles; the index was left as it was")

    tick = time.perf_counter()
    alone = target.kind == "files"  # the Milvus store keeps the sentences' pooled vectors only
    # As many texts as the progress bar counts: the passages, and each sentence read alone when the store keeps them.
    sentences = f" and {sum(len(p.sentences) for p in fresh)} sentences" if alone else ""
    _stage(stage, f"embedding {sum(len(p.chunks) for p in fresh)} passages{sentences} of {len(fresh)} new or changed "
                  f"articles ({len(unchanged)} unchanged)")
    for part in _embed_new(fresh, embedder, settings.index.passage_template, progress, alone):
        kept[part.source.name] = part
    timings["embed"] = time.perf_counter() - tick
    if alone:  # the Milvus store keeps neither
        tick = time.perf_counter()
        kept.update(_read(kept, stage))
        timings["read"] = time.perf_counter() - tick

    tick = time.perf_counter()
    parts = [kept[s.name] for s in sources if s.name in kept]
    chunks, sentences, entries = _renumber(parts)
    dimension = embedder.dimension
    vectors = np.concatenate([p.chunk_vectors for p in parts]) if parts else np.zeros((0, dimension), np.float32)
    sentence_vectors = np.concatenate([p.sentence_vectors for p in parts]) if parts else np.zeros((0, dimension))
    _stage(stage, f"building the dense and lexical indexes over {len(chunks)} passages")
    alone_vectors = (np.concatenate([p.alone_vectors for p in parts]) if parts else np.zeros((0, dimension))) if alone else None
    reader_vectors = (np.concatenate([p.reader_vectors for p in parts]) if parts
                      else np.zeros((0, READER_DIMENSION), np.float16)) if alone else None
    dense = store.new_vectors(vectors, sentence_vectors, settings, alone_vectors, reader_vectors)
    # A passage is searched under its section's headings: "Sora能做什么？" finds the one under "### Sora能做什么?" that
    # lists what it does without saying so. Its vector is not: a heading that asks pulls its passages toward every
    # question (docs/answers.md, *A passage under its section's headings*).
    lexical = build_lexical([tokenizer.tokens(c.searched) for c in chunks], settings.index.bm25_k1, settings.index.bm25_b)
    timings["lexical_and_dense"] = time.perf_counter() - tick

    removed = sorted(set(old_entries) - {s.name for s in sources})
    manifest = Manifest.create(
        build_settings(settings),
        ModelInfo(
            embedder.name, dimension, embedder.query_prompt, embedder.passage_prompt,
            sentence_vectors="mean of the token embeddings over the sentence, from its chunk's forward pass"
                             + ("; sentence_alone_vectors.npy: each sentence embedded on its own" if alone else ""),
            precision=getattr(embedder, "precision", "float32"),
        ),
        Counts(len(parts), len(chunks), len(sentences), len(lexical.vocabulary)),
        tuple(entries),
        dense.record(),
        skipped=tuple(SkippedEntry(f, r) for f, r in skipped),
        chunking={
            "splitter": "langchain RecursiveCharacterTextSplitter",
            "chunk_size": settings.index.chunk_size,
            "chunk_overlap": settings.index.chunk_overlap,
            "separators": SEPARATORS,
            "max_sentence_chars": MAX_SENTENCE_CHARS,
            "western_scale": WESTERN_SCALE,
        },
        lexical={"tokenizer": "jieba search mode + rag/data/userdict.txt + stopwords, simplified script (rag/data/simplified.tsv)", "k1": settings.index.bm25_k1, "b": settings.index.bm25_b},
        corpus_dir=str(settings.index.corpus_dir.resolve()),  # absolute: a later load from another folder compares it
        extra={"store": target.describe() if shard is None else {**target.describe(), "shard": f"{shard[0]}/{shard[1]}"}},
    )
    texts = tuple(ArticleText(p.source.name, p.source.sha256, p.raw, p.pages) for p in parts)
    index = Index(settings.index.index_dir, manifest, tuple(chunks), tuple(sentences), dense, lexical, texts=texts)

    tick = time.perf_counter()
    _stage(stage, f"writing the index to {target.where}")
    target.write(index)
    if shard is None:
        for done in store.shards():  # published now: what they held is in the index
            done.drop()
    timings["write"] = time.perf_counter() - tick
    return BuildReport(
        tuple(added), tuple(changed), tuple(removed), tuple(unchanged), tuple(skipped),
        len(chunks), len(sentences), time.perf_counter() - started, timings,
    )


def stale_reason(settings: Settings) -> str | None:
    """Return why the index must be (re)built before use, or None when it is current."""
    store = open_store(settings)
    try:
        manifest = store.read_manifest()
        store.check(manifest, settings)
    except IndexMissingError:
        return "there is no index yet"
    except IndexMismatchError as why:
        if why.reason == "damaged":
            raise  # a damaged index is reported, not silently rebuilt: the user should know their disk lost data
        return why.detail
    built = {e.file: e.sha256 for e in manifest.articles}
    built.update({e.file: "skipped" for e in manifest.skipped})
    try:
        current = {s.name: s.sha256 for s in list_sources(settings.index.corpus_dir)}
    except CorpusError as why:
        return str(why)
    if set(current) != set(built):
        return f"articles were added or removed in {settings.index.corpus_dir}"
    changed = [name for name, digest in current.items() if built[name] not in (digest, "skipped")]
    return f"{changed[0]} changed since the last build" if changed else None
