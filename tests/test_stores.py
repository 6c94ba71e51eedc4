"""The store seam (rag/index/stores): every store test runs against each implementation the machine can run.

`store_settings` gives settings whose index lives in one store: the embedded folder (always), Milvus Lite
through its gRPC server started on loopback, and Milvus Lite on a local .db file (tests/milvus_servers.py).
A build, questions and rebuilds through a store must give what the embedded folder gives.
"""
from __future__ import annotations

import pytest

from rag.answer.assistant import Assistant
from rag.apps.cli import main
from rag.embedding import HashingEmbedder
from rag.errors import IndexMismatchError, IndexMissingError
from rag.index.build import build_index, stale_reason
from rag.index.store import load_index
from rag.index.stores import open_store

from support import TINY, fake_settings, write_corpus

QUESTIONS = ["新手机的价格是多少？", "香蕉富含什么元素？", "明天北京天气怎么样？", "火星上有水吗？"]
EMBEDDER = HashingEmbedder(64)


def seen(assistant: Assistant) -> list[tuple]:
    """Return what a user sees of each question's answer: text, decline, citations, passages and their scores."""
    out = []
    for question in QUESTIONS:
        answer = assistant.ask(question)
        out.append((answer.text, answer.refused, answer.citations,
                    [(h.chunk, round(h.score, 4)) for h in answer.hits]))
    return out


def test_the_manifest_records_the_store_it_was_built_in(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, EMBEDDER)
    assert open_store(settings).read_manifest().extra["store"] == {"kind": "files"}
    assert load_index(settings).manifest.extra["store"]["kind"] == "files"


def test_a_store_that_is_no_store_is_one_line_saying_what_to_write(tmp_path, monkeypatch, capsys):
    corpus = write_corpus(tmp_path, TINY)
    monkeypatch.setenv("RAG_STORE", "postgres://localhost/rag")
    assert main(["build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", "hash:64"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: RAG_STORE='postgres://localhost/rag' names no store") and "milvus://" in err
    assert "\n" not in err


def test_a_shard_store_lives_beside_the_index_and_is_found_once_published(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    store = open_store(settings)
    shard = store.shard(1, 2)
    assert shard.where != store.where and store.shards() == []
    build_index(settings.with_overrides(index_dir=shard.folder), EMBEDDER)
    assert [s.where for s in store.shards()] == [shard.where]
    shard.drop()
    assert store.shards() == []


def test_missing_and_stale_through_the_store(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    with pytest.raises(IndexMissingError):
        open_store(settings).read_manifest()
    assert stale_reason(settings) == "there is no index yet"
    build_index(settings, EMBEDDER)
    assert stale_reason(settings) is None
    with pytest.raises(IndexMismatchError) as why:
        open_store(settings).check(open_store(settings).read_manifest(), settings.with_overrides(chunk_size=100))
    assert "chunk_size=220" in str(why.value)
    assert seen(Assistant.load(settings, EMBEDDER))[0][1] is False
