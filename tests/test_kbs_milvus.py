"""Knowledge bases on Milvus: with RAG_STORE set, each knowledge base is its own collection `<collection>_<name>`.

Against a `milvus-lite server` on loopback (tests/milvus_servers.py): the command line builds, lists and asks each
knowledge base from its own collection, and the server's library answers from them and indexes uploads into them.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.apps.cli import main
from rag.apps.library import Library
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.index.build import build_index
from rag.index.stores.milvus import MilvusStore, kb_collection, kb_name, kb_uri
from rag.kbs import Catalog
from rag.settings import load_settings

from milvus_servers import lite_server, need_pymilvus
from support import write_corpus

APPLES = {"apple.md": "# 苹果公司发布新手机\n\n苹果公司今天发布了新手机。新手机的价格是五千元。\n"}
LEAVE = {"leave.md": "# 休假制度\n\n员工每年有带薪年假。\n\n年假是10天，可以分次休完。\n\n病假需要医生证明。\n",
         "food.md": "# 食堂\n\n食堂中午十二点开门。\n"}
LEAVE_FILES = {"corpus/leave.md", "corpus/food.md"}
TRAVEL = "# 差旅报销制度\n\n出差的住宿标准是每晚五百元。\n\n高铁可以坐二等座。\n\n报销需要在出差结束后三十天内提交。\n"
_names = itertools.count()


@pytest.fixture(scope="module")
def lite_address(tmp_path_factory):
    """The `host:port` of one `milvus-lite server` on loopback for the module (each test has its own collection)."""
    need_pymilvus()
    with lite_server(tmp_path_factory.mktemp("milvus") / "data") as server:
        yield server.address


@pytest.fixture()
def store(lite_address) -> str:
    """Return a RAG_STORE of this test's own collection name on the module's server."""
    return f"milvus://{lite_address}/kbs{next(_names)}"


def _cli(tmp_path: Path, monkeypatch, store: str, *argv: str) -> int:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    monkeypatch.setenv("RAG_STORE", store)
    return main(list(argv))


def _generations(store: str) -> dict[str, int]:
    """Return the collections of `store`'s server whose name starts with its collection, with their row counts."""
    milvus = MilvusStore.from_uri(store)
    return {name: int(milvus.client.get_collection_stats(name)["row_count"])
            for name in milvus.client.list_collections() if name.startswith(milvus.collection)}


@pytest.mark.parametrize("name", ["leave", "my-notes", "my_notes", "a_", "a__b", "a-_-b", "shard1of2", "0"])
def test_every_knowledge_base_name_is_one_collection_name_of_its_own(name):
    suffix = kb_collection(name)
    assert "__" not in suffix and not suffix.endswith("_")  # `__` separates a collection from its generations
    assert kb_name(suffix) == name
    assert kb_name("Shard1of2") is None  # a shard's collection is never taken for a knowledge base
    assert len({kb_collection(n) for n in ("my-notes", "my_notes", "mynotes")}) == 3
    MilvusStore.from_uri(kb_uri("milvus://127.0.0.1:1/rag", name))  # a collection name Milvus takes
    assert kb_uri("milvus:///tmp/x.db", "my-notes") == "milvus:///tmp/x.db?collection=rag_myHnotes"


def test_on_milvus_each_knowledge_base_is_built_listed_and_asked_from_its_own_collection(tmp_path, monkeypatch, capsys,
                                                                                          store):
    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    assert _cli(tmp_path, monkeypatch, store, "build", "--corpus", str(apples)) == 0  # the default knowledge base
    assert _cli(tmp_path, monkeypatch, store, "build", "--kb", "leave-policy", "--corpus", str(leave)) == 0
    collection = store.rsplit("/", 1)[1]
    before = {name: rows for name, rows in _generations(store).items() if not name.startswith(f"{collection}_leave")}
    assert any(name.startswith(f"{collection}__g") for name in before)
    assert any(name.startswith(f"{collection}_leaveHpolicy__g") for name in _generations(store))
    (leave / "more.md").write_text("# 病假\n\n病假需要医生证明。\n", encoding="utf-8")
    assert _cli(tmp_path, monkeypatch, store, "build", "--kb", "leave-policy") == 0  # its folder is remembered
    after = _generations(store)
    assert {name: rows for name, rows in after.items() if not name.startswith(f"{collection}_leave")} == before
    assert not (tmp_path / "index" / "leave-policy").exists()  # no index folder: the collection is the index
    capsys.readouterr()
    assert _cli(tmp_path, monkeypatch, store, "kbs", "--json") == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert sorted(listed) == ["default", "leave-policy"]
    assert (listed["default"]["articles"], listed["leave-policy"]["articles"]) == (1, 3)
    assert listed["leave-policy"]["corpus"] == str(leave.resolve())
    for kb, question, own in (("leave-policy", "年假是几天？", LEAVE_FILES | {"corpus/more.md"}),
                              ("default", "年假是几天？", {"corpus/apple.md"}),
                              ("leave-policy", "苹果手机多少钱？", LEAVE_FILES | {"corpus/more.md"})):
        corpus = ["--corpus", str(apples)] if kb == "default" else []  # the default one reads RAG_CORPUS_DIR
        assert _cli(tmp_path, monkeypatch, store, "ask", question, "--kb", kb, *corpus, "--json") == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["passages"] and {p["file"] for p in answer["passages"]} <= own, (kb, question)


def test_the_server_answers_each_knowledge_base_from_its_collection_and_indexes_uploads_into_it(tmp_path, store,
                                                                                                  fake_embedder):
    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = load_settings(env={}, corpus_dir=apples, index_dir=tmp_path / "index", documents_dir=tmp_path / "documents",
                         embed_model="hash:64", rate_limit_per_minute=0, store=store)
    catalog = Catalog(root)
    build_index(catalog.create("leave", leave).settings(root), fake_embedder)
    default = Service(catalog.settings_for("default")).start()
    library = Library(root, default)
    for name in ("default", "leave"):
        assert library.service(name).wait(60) and library.service(name).assistant is not None, library.service(name).error
    client = TestClient(create_app(default, library=library), raise_server_exceptions=False)
    for kb, own in (("default", {"corpus/apple.md"}), ("leave", LEAVE_FILES)):
        for question in ("苹果手机多少钱？", "员工的年假是多少天"):
            answer = client.post("/api/ask", json={"question": question, "kb": kb}).json()
            assert answer["passages"] and {p["file"] for p in answer["passages"]} <= own, (kb, question)
    leave_answer = client.post("/api/ask", json={"question": "员工的年假是多少天", "kb": "leave"}).json()
    assert "10天" in leave_answer["answer"] and leave_answer["citations"][0]["file"] == "corpus/leave.md"
    listed = [(row["name"], row["articles"]) for row in client.get("/api/kbs").json()["kbs"]]
    assert listed == [("default", 1), ("leave", 2)]

    # an upload into a new knowledge base makes its own collection and answers from it
    response = client.post("/api/kbs/travel/documents", files=[("file", ("travel.md", TRAVEL.encode()))])
    assert response.status_code == 202, response.text
    assert library.wait_updated("travel", 60)
    found = client.get("/api/kbs/travel").json()
    assert (found["status"], found["update"]["state"], found["articles"]) == ("ready", "ready", 1), found
    answer = client.post("/api/ask", json={"question": "出差的住宿标准是多少？", "kb": "travel"}).json()
    assert "五百元" in answer["answer"] and answer["citations"][0]["file"] == "travel/travel.md"
    assert "travel" in Catalog(root).names()
    assert any(name.startswith(f"{store.rsplit('/', 1)[1]}_travel__g") for name in _generations(store))
    # an upload into the leave one is answered from, and the default one never sees it
    response = client.post("/api/kbs/leave/documents", files=[("file", ("travel.md", TRAVEL.encode()))])
    assert response.status_code == 202 and library.wait_updated("leave", 60)
    answer = client.post("/api/ask", json={"question": "出差的住宿标准是多少？", "kb": "leave"}).json()
    assert "五百元" in answer["answer"] and answer["citations"][0]["file"] == "corpus/travel.md"
    answer = client.post("/api/ask", json={"question": "出差的住宿标准是多少？", "kb": "default"}).json()
    assert all(p["file"] == "corpus/apple.md" for p in answer["passages"])
    assert client.delete("/api/kbs/leave/documents/travel.md").status_code == 202 and library.wait_updated("leave", 60)
    answer = client.post("/api/ask", json={"question": "出差的住宿标准是多少？", "kb": "leave"}).json()
    assert "五百元" not in answer["answer"] and {p["file"] for p in answer["passages"]} <= LEAVE_FILES
