"""The store seam (rag/index/stores): every store test runs against each implementation the machine can run.

`store_settings` gives settings whose index lives in one store: the embedded folder (always), Milvus Lite
through its gRPC server started on loopback, and Milvus Lite on a local .db file (tests/milvus_servers.py).
A build, questions and rebuilds through a store must give what the embedded folder gives.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from rag.answer.assistant import Assistant
from rag.apps.cli import main
from rag.embedding import HashingEmbedder
from rag.errors import IndexMismatchError, IndexMissingError, RagError
from rag.index.build import build_index, shard_of, stale_reason
from rag.index.lexical import shared_tokenizer
from rag.index.store import load_index
from rag.index.stores import open_store
from rag.ingest.language import is_chinese
from rag.settings import Settings

from milvus_servers import lite_server
from support import SEEDS, TINY, fake_settings, write_corpus

QUESTIONS = ["新手机的价格是多少？", "香蕉富含什么元素？", "明天北京天气怎么样？", "火星上有水吗？"]
EMBEDDER = HashingEmbedder(64)


STORES = ("files", "milvus-lite-server", "milvus-lite-file")
_names = itertools.count()


@pytest.fixture(scope="session")
def lite_address(tmp_path_factory):
    """The `host:port` of one `milvus-lite server` on loopback for the session (each test has its own collection)."""
    with lite_server(tmp_path_factory.mktemp("milvus") / "data") as server:
        yield server.address


@pytest.fixture(params=STORES)
def in_store(request, tmp_path):
    """Return a function that turns settings into settings whose index lives in this test's store."""
    kind = request.param
    if kind == "files":
        return lambda settings: settings
    if kind == "milvus-lite-server":
        uri = f"milvus://{request.getfixturevalue('lite_address')}/t{next(_names)}"
    else:
        from milvus_servers import need_pymilvus

        need_pymilvus()
        pytest.importorskip("milvus_lite", reason="milvus-lite is not installed: run `make milvus-setup` (requirements-milvus.txt)")
        uri = f"milvus://{tmp_path / 'lite.db'}"
    return lambda settings: settings.with_overrides(store=uri)


def seeds_folder(tmp_path_factory) -> Settings:
    """Return settings of the seeds built into a folder with the fake embedder (the reference every store must match)."""
    settings = fake_settings(tmp_path_factory.mktemp("reference"), SEEDS)
    build_index(settings, EMBEDDER)
    return settings


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Settings:
    return seeds_folder(tmp_path_factory)


SEEDS_QUESTIONS = ["Sora是在哪一天发布的？", "Adobe股价在Sora发布后怎么样了？", "英伟达的市值是多少？", "火星上有水吗？",
                   "What is Sora?", "OpenAI发布了什么模型", "视频可以生成多长？"]


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


def test_every_store_answers_the_seeds_as_the_folder_does(in_store, reference, tmp_path):
    settings = in_store(fake_settings(tmp_path, SEEDS))
    report = build_index(settings, EMBEDDER)
    assert report.chunks == load_index(reference).manifest.counts.chunks
    mine, theirs = Assistant.load(settings, EMBEDDER), Assistant.load(reference, EMBEDDER)
    # A Milvus index keeps no sentences embedded alone nor the second reader's readings (docs/milvus.md, Not done):
    # a question in the articles' language gets the same passages there, its sentences ranked without them; one in
    # another language read through the dictionary ("What is Sora?": sora) is fused with the readings' cosines too.
    held = all(v is not None for v in (mine.index.vectors.alone_vectors(np.arange(1)),
                                       mine.index.vectors.reader_vectors(np.arange(1))))
    for question in SEEDS_QUESTIONS:
        a, b = mine.ask(question), theirs.ask(question)
        if held:
            assert (a.text, a.refused, a.citations) == (b.text, b.refused, b.citations), question
        else:
            assert {c.file for c in a.citations} <= {h.chunk.file for h in a.hits}, question
        if held or is_chinese(question):
            assert [(h.chunk, round(h.score, 4)) for h in a.hits] == [(h.chunk, round(h.score, 4)) for h in b.hits], question
    index = load_index(settings)
    assert index.manifest.extra["store"]["kind"] == ("files" if not settings.index.store else "milvus")
    first = index.manifest.articles[0]
    assert index.text_of(first.file) == load_index(reference).text_of(first.file)  # what the sources panel shows


def test_bm25_through_every_store_is_the_folder_s_to_the_last_digits(in_store, reference, tmp_path):
    settings = in_store(fake_settings(tmp_path, SEEDS))
    build_index(settings, EMBEDDER)
    mine, theirs = load_index(settings).lexical, load_index(reference).lexical
    tokenizer = shared_tokenizer()
    for question in SEEDS_QUESTIONS + ["Sora Sora 视频", "的 的 了"]:
        tokens = tokenizer.tokens(question)
        a, b = mine.top(tokens, 30), theirs.top(tokens, 30)
        assert [row for row, _ in a] == [row for row, _ in b], question  # ties broken by id on both sides
        assert np.allclose([s for _, s in a], [s for _, s in b], rtol=2e-6, atol=2e-6)
        assert mine.term_weights(tokens) == theirs.term_weights(tokens)
        rows = [row for row, _ in b] + [0, 5]
        assert np.allclose(mine.row_scores(rows, tokens), theirs.row_scores(rows, tokens), rtol=2e-6, atol=2e-6)
        weights = theirs.term_weights(tokens)
        assert np.allclose(mine.row_coverage(rows, weights), theirs.row_coverage(rows, weights))
        assert np.allclose(mine.row_coverage(rows, weights, together=True), theirs.row_coverage(rows, weights, together=True))
        terms = tokens + ["未知词"]  # what the translated features of an English question read, term by term
        assert np.allclose(mine.row_term_scores(rows, terms), theirs.row_term_scores(rows, terms), rtol=2e-6, atol=2e-6)


def test_a_rebuild_embeds_only_what_changed_and_answers_as_a_fresh_build(in_store, tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = in_store(fake_settings(tmp_path, corpus))
    build_index(settings, EMBEDDER)
    (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "六千元"), encoding="utf-8")
    (corpus / "c.html").unlink()
    (corpus / "d.txt").write_text("葡萄可以酿酒。葡萄酒产自法国。\n", encoding="utf-8")
    report = build_index(settings, EMBEDDER)
    assert (report.added, report.changed, report.removed, report.unchanged) == (
        ("corpus/d.txt",), ("corpus/a.txt",), ("corpus/c.html",), ("corpus/b.md",))
    fresh = fake_settings(tmp_path / "fresh", corpus)
    build_index(fresh, EMBEDDER)
    assert seen(Assistant.load(settings, EMBEDDER)) == seen(Assistant.load(fresh, EMBEDDER))
    assert "六千元" in Assistant.load(settings, EMBEDDER).ask("新手机的价格是多少？").text
    assert stale_reason(settings) is None


def test_a_reader_keeps_answering_from_what_it_loaded_while_a_build_publishes(in_store, tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = in_store(fake_settings(tmp_path, corpus))
    build_index(settings, EMBEDDER)
    reader = Assistant.load(settings, EMBEDDER)
    before = seen(reader)
    (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "六千元"), encoding="utf-8")
    build_index(settings, EMBEDDER)
    assert seen(reader) == before  # the generation it loaded is still there, whole
    assert "六千元" in Assistant.load(settings, EMBEDDER).ask("新手机的价格是多少？").text


def test_a_build_that_fails_while_writing_leaves_the_published_index(in_store, tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path, TINY)
    settings = in_store(fake_settings(tmp_path, corpus))
    build_index(settings, EMBEDDER)
    before = seen(Assistant.load(settings, EMBEDDER))
    (corpus / "d.txt").write_text("葡萄可以酿酒。\n", encoding="utf-8")
    store = open_store(settings)

    def fail(*_args, **_kwargs):
        raise OSError("disk full")

    if store.kind == "files":
        monkeypatch.setattr("rag.index.stores.files.write_index", fail)
    else:
        monkeypatch.setattr("rag.index.stores.milvus.Staged.publish", fail)
    with pytest.raises(OSError):
        build_index(settings, EMBEDDER)
    monkeypatch.undo()
    assert seen(Assistant.load(settings, EMBEDDER)) == before
    if store.kind == "milvus":
        assert len(store._generations()) == 1  # the failed build's collections are gone
    assert build_index(settings, EMBEDDER).added == ("corpus/d.txt",)


def test_an_index_built_with_another_model_or_chunking_is_one_line_saying_what_to_do(in_store, tmp_path, capsys):
    corpus = write_corpus(tmp_path, TINY)
    settings = in_store(fake_settings(tmp_path, corpus))
    build_index(settings, EMBEDDER)
    for other in (settings.with_overrides(embed_model="hash:32"), settings.with_overrides(chunk_size=100)):
        with pytest.raises(IndexMismatchError) as why:
            load_index(other)
        assert "run `python -m rag build`" in str(why.value) and "\n" not in str(why.value)
    assert open_store(settings).where in str(why.value)
    assert stale_reason(settings.with_overrides(chunk_size=100)).endswith("settings ask for 100")


def test_the_dense_path_on_a_real_milvus_server_in_its_own_network(tmp_path):
    """Insert, delete, publish and search against the real Milvus 2.3.5 (dense vectors only): every true
    neighbour found in order once published, a deleted article never, and a reader of the first generation
    still served after the second is published."""
    from milvus_servers import in_own_network

    done = in_own_network(Path(__file__).with_name("milvus_real_check.py"), str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["version"].startswith("v2.3.5") and seen["sparse"] is False
    assert seen["recall_at_10"] == 1.0 and seen["same_order"], seen
    assert not seen["deleted_found"] and seen["vectors_round_trip"] and seen["sentence_vectors_exact"]
    assert seen["old_reader_still_searches"] and seen["new_reader_sees_new"] and seen["generations"] == 2
    assert seen["open_error"].endswith("has no sparse vectors, which the lexical side needs: use Milvus 2.4 or later")


def test_an_unreachable_milvus_is_one_line_saying_what_to_do(tmp_path, monkeypatch, capsys):
    from milvus_servers import need_pymilvus
    from servers import free_port

    need_pymilvus()
    corpus = write_corpus(tmp_path, TINY)
    port = free_port()
    monkeypatch.setenv("RAG_STORE", f"milvus://127.0.0.1:{port}/rag")
    assert main(["ask", "新手机的价格是多少？", "--corpus", str(corpus), "--model", "hash:64"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot reach Milvus at 127.0.0.1:{port}") and err.endswith("start the server, or fix RAG_STORE")
    assert "\n" not in err


def test_a_collection_rag_did_not_build_is_one_line(lite_address, tmp_path):
    from rag.index.stores.milvus import MilvusStore

    MilvusStore.from_uri(f"milvus://{lite_address}/x").client.create_collection("theirs", dimension=8)
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY)).with_overrides(store=f"milvus://{lite_address}/theirs")
    with pytest.raises(RagError) as why:
        build_index(settings, EMBEDDER)
    assert str(why.value) == f"milvus {lite_address}/theirs is a collection rag did not build: choose another collection name in RAG_STORE"


class CountingEmbedder(HashingEmbedder):
    """The fake embedder, counting the passages it embeds."""

    embedded = 0

    def encode_with_spans(self, texts, spans, progress=None):
        self.embedded += len(texts)
        return super().encode_with_spans(texts, spans, progress)


MORE = {**TINY, "d.txt": "葡萄可以酿酒。葡萄酒产自法国。\n", "e.md": "# 长城\n\n长城位于中国北方，全长两万多公里。\n",
        "f.txt": "熊猫生活在四川的山林里，以竹子为食。\n"}


def test_shard_workers_embed_their_slices_and_the_final_build_publishes_them_without_embedding(in_store, tmp_path):
    corpus = write_corpus(tmp_path, MORE)
    settings = in_store(fake_settings(tmp_path, corpus))
    embedder = CountingEmbedder(64)
    slices = [build_index(settings, embedder, shard=(number, 3)).added for number in (1, 2, 3)]
    assert sorted(sum(slices, ())) == sorted(f"corpus/{name}" for name in MORE)  # each article in exactly one slice
    with pytest.raises(IndexMissingError):
        load_index(settings)  # nothing is published until the final build
    embedded = embedder.embedded
    report = build_index(settings, embedder)
    assert embedder.embedded == embedded  # every passage came from a shard
    assert sorted(report.added) == sorted(f"corpus/{name}" for name in MORE)
    assert open_store(settings).shards() == []
    fresh = fake_settings(tmp_path / "fresh", corpus)
    build_index(fresh, EMBEDDER)
    assert seen(Assistant.load(settings, EMBEDDER)) == seen(Assistant.load(fresh, EMBEDDER))


def test_a_rerun_shard_worker_reuses_the_published_index_and_embeds_only_what_changed(in_store, tmp_path):
    corpus = write_corpus(tmp_path, MORE)
    settings = in_store(fake_settings(tmp_path, corpus))
    build_index(settings, EMBEDDER)
    changed = next(name for name in MORE if shard_of(f"corpus/{name}", 2) == 1)
    (corpus / changed).write_text(MORE[changed] + "\n新的一行。\n", encoding="utf-8")
    embedder = CountingEmbedder(64)
    build_index(settings, embedder, shard=(1, 2))
    build_index(settings, embedder, shard=(2, 2))
    assert 0 < embedder.embedded <= 3  # the changed article's passages only
    report = build_index(settings, embedder)
    assert report.changed == (f"corpus/{changed}",)


def test_shards_are_a_hash_of_the_name_so_no_article_moves_when_others_come(tmp_path, capsys):
    names = [f"corpus/{i}.txt" for i in range(200)]
    counts = [sum(shard_of(n, 4) == k for n in names) for k in (1, 2, 3, 4)]
    assert min(counts) > 30 and sum(counts) == 200
    assert [shard_of(n, 4) for n in names] == [shard_of(n, 4) for n in names + ["corpus/new.txt"]][:200]
    assert main(["build", "--shard", "3/2", "--corpus", str(write_corpus(tmp_path, TINY)), "--model", "hash:64"]) == 1
    assert capsys.readouterr().err.strip() == "error: --shard 3/2: write NUMBER/COUNT, e.g. --shard 1/4 (numbers from 1 to COUNT)"


def test_a_server_killed_while_publishing_keeps_answering_from_the_previous_index_and_the_rerun_completes(tmp_path, monkeypatch):
    from rag.index.stores.milvus import Staged

    corpus = write_corpus(tmp_path, TINY)
    data = tmp_path / "data"
    with lite_server(data) as server:
        settings = fake_settings(tmp_path, corpus).with_overrides(store=f"milvus://{server.address}/kept")
        build_index(settings, EMBEDDER)
        before = seen(Assistant.load(settings, EMBEDDER))
        (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "六千元"), encoding="utf-8")
        searchable = Staged._searchable

        def die_after_indexing(staged, role):
            searchable(staged, role)
            server.process.kill()  # the new generation is searchable, its manifest and alias not yet written

        monkeypatch.setattr(Staged, "_searchable", die_after_indexing)
        with pytest.raises(RagError):
            build_index(settings, EMBEDDER)
        monkeypatch.undo()
    with lite_server(data) as server:  # the same data, a new port: everything it held comes back released
        settings = settings.with_overrides(store=f"milvus://{server.address}/kept")
        assert seen(Assistant.load(settings, EMBEDDER)) == before
        assert build_index(settings, EMBEDDER).changed == ("corpus/a.txt",)
        assert "六千元" in Assistant.load(settings, EMBEDDER).ask("新手机的价格是多少？").text


def test_a_milvus_server_gone_while_answering_is_a_503_with_one_line(tmp_path):
    from fastapi.testclient import TestClient

    from rag.apps.server.app import create_app
    from rag.apps.service import Service

    corpus = write_corpus(tmp_path, TINY)
    data = tmp_path / "data"
    with lite_server(data) as server:
        settings = fake_settings(tmp_path, corpus).with_overrides(store=f"milvus://{server.address}/api")
        service = Service(settings)  # the server's own start: build into Milvus (nothing there yet), then load
        service.run()
        client = TestClient(create_app(service), raise_server_exceptions=False)
        assert client.get("/api/health").json()["status"] == "ready"
        answer = client.post("/api/ask", json={"question": "新手机的价格是多少？"}).json()
        assert "五千元" in answer["answer"] and answer["citations"][0]["file"] == "corpus/a.txt"
        source = client.get("/api/sources/corpus/a.txt", params={"start": 1, "end": 3})
        assert source.status_code == 200 and "苹果公司" in source.text  # the article's text, read from Milvus
        server.process.kill()
        server.process.wait()
        response = client.post("/api/ask", json={"question": "香蕉富含什么元素？"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith(f"Milvus at {server.address} failed: ") and error.endswith("check the server, then ask again")
    assert "\n" not in error


def test_bm25_in_milvus_asks_the_server_once_unless_a_tie_runs_past_what_it_returned(lite_address, reference, tmp_path):
    settings = fake_settings(tmp_path, SEEDS).with_overrides(store=f"milvus://{lite_address}/t{next(_names)}")
    build_index(settings, EMBEDDER)
    lexicon = load_index(settings).lexical
    searches = []
    client = lexicon._client
    lexicon._client = type("Counting", (), {"__getattr__": lambda _, name: getattr(client, name),
                                            "search": lambda _, *a, **k: searches.append(1) or client.search(*a, **k)})()
    tokens = shared_tokenizer().tokens("Sora视频模型OpenAI发布")
    found, wanted = lexicon.top(tokens, 3), load_index(reference).lexical.top(tokens, 3)
    assert [row for row, _ in found] == [row for row, _ in wanted]
    assert np.allclose([s for _, s in found], [s for _, s in wanted], rtol=2e-6)
    assert len(searches) == 1


def test_a_collection_whose_vectors_have_another_dimension_is_one_line(lite_address, tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY)).with_overrides(store=f"milvus://{lite_address}/t{next(_names)}")
    build_index(settings, EMBEDDER)
    store = open_store(settings)
    manifest = store.read_manifest()
    store.stage(32, manifest.dense).publish(manifest)  # a generation of 32-dimension vectors under a 64-dimension model
    with pytest.raises(IndexMismatchError) as why:
        load_index(settings)
    assert str(why.value) == (f"{store.where} holds vectors of dimension 32, its manifest's model hash:64 makes 64: "
                              "run `python -m rag build`")
    assert build_index(settings, EMBEDDER).chunks == manifest.counts.chunks  # a rebuild puts it right
    assert load_index(settings).manifest.model.dimension == 64


def test_an_eval_set_may_name_a_milvus_store_instead_of_an_index_folder(tmp_path):
    from rag.apps.cli import eval_sets

    settings = fake_settings(tmp_path, SEEDS).with_overrides(store="milvus://127.0.0.1:19530/everything")
    folder, milvus = eval_sets(["a.jsonl=seeds=runs/index", "b.jsonl=seeds=milvus://10.0.0.5:19530/wiki"], settings)
    assert (folder.settings.index.store, folder.settings.index.index_dir) == ("", Path("runs/index"))
    assert milvus.settings.index.store == "milvus://10.0.0.5:19530/wiki"
