"""Builds killed while they write, and a server killed while a build publishes: readers keep the published index.

Against a `milvus-lite server` on loopback (tests/milvus_servers.py). `python -m rag build` (whole, or one
`--shard i/n` worker) runs as a process of its own and is killed with SIGKILL the moment the server holds rows
of the generation it is writing (the test watches the server, no fixed sleep). Questions must still be answered
from the published generation, with its citations, and the build run again must complete and leave nothing of
the killed one behind. The server itself is killed between writing a new generation's manifest and pointing the
alias at it, then restarted on the same data.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.embedding import HashingEmbedder
from rag.errors import RagError
from rag.index.build import build_index, shard_of
from rag.index.stores import open_store
from rag.index.stores.milvus import MilvusStore

from milvus_servers import lite_server
from support import TINY, fake_settings, write_corpus

ROOT = Path(__file__).resolve().parent.parent
EMBEDDER = HashingEmbedder(64)
QUESTION = "新手机的价格是多少？"
# Filler for the articles beside TINY: enough rows that writing a generation takes seconds, none of them about phones.
WORDS = "长城 熊猫 竹子 葡萄 法国 北京 天气 火星 香蕉 心脏 气温 大雨 山林 河流 草原 沙漠 海洋 森林 冰川 湖泊".split()
FILLER = 400


def big_corpus(folder: Path) -> Path:
    """Write TINY and FILLER articles of made-up sentences (about 25 sentences each) into folder/corpus."""
    rng = random.Random(0)
    files = dict(TINY)
    for n in range(FILLER):
        paragraphs = ["".join("".join(rng.choices(WORDS, k=8)) + "。" for _ in range(4)) for _ in range(6)]
        files[f"f{n:04d}.txt"] = f"# 文章{n}\n\n" + "\n\n".join(paragraphs) + "\n"
    return write_corpus(folder, files)


def what_a_user_sees(settings) -> tuple:
    """Return the answer to QUESTION from an Assistant opened now: its text, decline and citations."""
    answer = Assistant.load(settings, EMBEDDER).ask(QUESTION)
    return answer.text, answer.refused, answer.citations


def build_process(settings, *extra: str) -> subprocess.Popen:
    """Start `python -m rag build` into the settings' store as a process of its own (the same corpus, model, index)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAG_")}
    env.update(RAG_STORE=settings.index.store, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "rag", "build", "--corpus", str(settings.index.corpus_dir),
               "--index", str(settings.index.index_dir), "--model", "hash:64", *extra]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_build(settings, *extra: str) -> str:
    """Run `python -m rag build` to the end; return what it printed on stderr (it must succeed)."""
    process = build_process(settings, *extra)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    return err


def kill_once_writing(process: subprocess.Popen, store: MilvusStore, prefix: str) -> str:
    """SIGKILL the build the moment the server holds rows of a generation of `prefix` that is not published;
    return that generation."""
    client = store.client
    staging = re.compile(rf"{re.escape(prefix)}__g\d+_s")
    known = set(client.list_collections())  # the published generations: the build writes a new one
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        for name in set(client.list_collections()) - known:
            if staging.fullmatch(name) and int(client.get_collection_stats(name)["row_count"]) > 0:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return name.removesuffix("_s")
        time.sleep(0.01)
    process.kill()
    _, err = process.communicate()
    pytest.fail(f"the build ended (exit {process.returncode}) before it wrote any rows the test could see:\n{err[-2000:]}")


def collections(store: MilvusStore) -> set[str]:
    """Return every collection on the server whose name starts with the store's collection."""
    return {name for name in store.client.list_collections() if name.startswith(store.collection)}


def manifests(store: MilvusStore) -> set[str]:
    """Return the generations with a manifest collection (not read: a build killed while writing it may have left it
    unreadable, which is why each generation has its own)."""
    return {name.removesuffix("_m") for name in collections(store) if name.endswith("_m")}


def built_then_changed(tmp_path, store_url):
    """Build the big corpus into `store_url`, then change a.txt's price: return the settings, the store, the
    published generation, its manifest and what a user sees before the next build."""
    corpus = big_corpus(tmp_path)
    settings = fake_settings(tmp_path, corpus).with_overrides(store=store_url)
    run_build(settings)
    store = open_store(settings)
    published, manifest, before = store.live(), store.read_manifest().to_json(), what_a_user_sees(settings)
    (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "六千元"), encoding="utf-8")
    return settings, store, published, manifest, before


@pytest.fixture(scope="module")
def lite_address(tmp_path_factory):
    """The `host:port` of one `milvus-lite server` on loopback for the module (each test has its own collection)."""
    with lite_server(tmp_path_factory.mktemp("milvus") / "data") as server:
        yield server.address


def test_a_build_killed_while_writing_leaves_questions_answered_from_the_published_index_and_the_rerun_completes(
        lite_address, tmp_path):
    settings, store, published, manifest, before = built_then_changed(tmp_path, f"milvus://{lite_address}/killed")
    assert "五千元" in before[0] and before[2][0].file == "corpus/a.txt"

    killed = kill_once_writing(build_process(settings), store, store.collection)
    assert f"{killed}_p" in collections(store)  # half a generation is on the server
    assert store.live() == published and store.read_manifest().to_json() == manifest
    assert what_a_user_sees(settings) == before  # the old answer, with its citations

    assert f"(0 added, 1 changed, 0 removed, {FILLER + len(TINY) - 1} unchanged)" in run_build(settings)
    after = what_a_user_sees(settings)
    assert "六千元" in after[0] and after[2][0].file == "corpus/a.txt"
    generations = store._generations()
    assert generations[0] == published and killed not in generations and len(generations) == 2
    assert collections(store) == {f"{g}_{role}" for g in generations for role in "psatm"}
    assert manifests(store) == set(generations)


def test_shard_workers_killed_while_writing_leave_the_published_index_and_the_final_build_leaves_nothing_of_them(
        lite_address, tmp_path):
    settings, store, published, manifest, before = built_then_changed(tmp_path, f"milvus://{lite_address}/sharded")

    mine = shard_of("corpus/a.txt", 2)  # the worker whose slice holds the changed article
    kill_once_writing(build_process(settings, "--shard", f"{mine}/2"), store, f"sharded_Shard{mine}of2")
    assert store.live() == published and store.read_manifest().to_json() == manifest
    assert [shard.live() for shard in store.shards()] == [None]  # its collections are there, never published
    assert what_a_user_sees(settings) == before
    run_build(settings, "--shard", f"{mine}/2")  # run again, as a worker that died is
    # The other worker dies too, and is not run again: the final build embeds its slice itself.
    kill_once_writing(build_process(settings, "--shard", f"{3 - mine}/2"), store, f"sharded_Shard{3 - mine}of2")
    assert store.live() == published and what_a_user_sees(settings) == before  # workers publish nothing

    run_build(settings)
    after = what_a_user_sees(settings)
    assert "六千元" in after[0] and after[2][0].file == "corpus/a.txt"
    generations = store._generations()
    assert generations[0] == published and len(generations) == 2
    assert collections(store) == {f"{g}_{role}" for g in generations for role in "psatm"}


def test_a_server_killed_between_the_manifest_and_the_alias_answers_from_the_previous_index_once_restarted(
        tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path, TINY)
    data = tmp_path / "data"
    with lite_server(data) as server:
        settings = fake_settings(tmp_path, corpus).with_overrides(store=f"milvus://{server.address}/restarted")
        build_index(settings, EMBEDDER)
        published, before = open_store(settings).live(), what_a_user_sees(settings)
        (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "六千元"), encoding="utf-8")
        write_manifest = MilvusStore.write_manifest

        def then_die(store, generation, manifest):
            write_manifest(store, generation, manifest)
            server.process.send_signal(signal.SIGKILL)  # the manifest is written, the alias not yet moved
            server.process.wait()

        monkeypatch.setattr(MilvusStore, "write_manifest", then_die)
        with pytest.raises(RagError):
            build_index(settings, EMBEDDER)
        monkeypatch.undo()
    with lite_server(data) as server:  # the same data on a new port
        settings = settings.with_overrides(store=f"milvus://{server.address}/restarted")
        store = open_store(settings)
        assert store.live() == published and len(manifests(store)) == 2  # the dead build's manifest is there, unused
        assert what_a_user_sees(settings) == before
        assert build_index(settings, EMBEDDER).changed == ("corpus/a.txt",)
        assert "六千元" in what_a_user_sees(settings)[0]
        generations = store._generations()
        assert generations[0] == published and len(generations) == 2
        assert manifests(store) == set(generations)  # the dead build's manifest went with its collections


def test_a_store_whose_manifests_are_in_the_shared_meta_collection_is_read_then_moved_on_by_the_next_build(
        lite_address, tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = fake_settings(tmp_path, corpus).with_overrides(store=f"milvus://{lite_address}/legacy")
    build_index(settings, EMBEDDER)
    store = open_store(settings)
    published, manifest, before = store.live(), store.read_manifest().to_json(), what_a_user_sees(settings)
    # The layout of stores built before each generation had its manifest collection: every manifest in `__meta`.
    own = f"{published}_m"
    store.loaded(own)
    rows = store.client.query(own, filter="part >= 0", output_fields=["generation", "part", "text"], limit=16_384)
    store.client.drop_collection(own)
    store._create_manifest_collection("legacy__meta")
    store.client.insert("legacy__meta", [{"vector": [0.0, 0.0], **row} for row in rows])
    store.client.flush("legacy__meta")

    assert store.read_manifest().to_json() == manifest and what_a_user_sees(settings) == before
    (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "六千元"), encoding="utf-8")
    assert build_index(settings, EMBEDDER).changed == ("corpus/a.txt",)
    assert "六千元" in what_a_user_sees(settings)[0]
    assert "legacy__meta" in collections(store)  # the previous generation, kept for servers that loaded it, reads it
    (corpus / "a.txt").write_text(TINY["a.txt"].replace("五千元", "七千元"), encoding="utf-8")
    build_index(settings, EMBEDDER)  # the generation whose manifest was in `__meta` goes, and `__meta` with it
    assert "legacy__meta" not in collections(store) and manifests(store) == set(store._generations())
