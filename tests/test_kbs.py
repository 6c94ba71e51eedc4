"""Knowledge bases: each its own documents and index folder; named, listed and chosen in the CLI and the API."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.apps.cli import main
from rag.apps.library import Library
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.index.build import build_index
from rag.kbs import Catalog, KnowledgeBaseError, check_name
from rag.settings import load_settings

from support import SEEDS, write_corpus

APPLES = {"apple.md": "# 苹果公司发布新手机\n\n苹果公司今天发布了新手机。新手机的价格是五千元。\n"}
LEAVE = {"leave.md": "# 休假制度\n\n员工每年有带薪年假。\n\n年假是10天，可以分次休完。\n\n病假需要医生证明。\n",
         "food.md": "# 食堂\n\n食堂中午十二点开门。\n"}
LEAVE_FILES = {"corpus/leave.md", "corpus/food.md"}


def _root(tmp_path: Path, corpus: Path):
    """Settings of a server whose default knowledge base reads `corpus`, indexes under tmp_path/index."""
    return load_settings(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", documents_dir=tmp_path / "documents",
                         embed_model="hash:64", rate_limit_per_minute=0)


def _cli(tmp_path: Path, monkeypatch, *argv: str) -> int:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    return main(list(argv))


@pytest.mark.parametrize("name", ["../../x", "A", "", "-x", "a/b", "x" * 41, "名字", "a b"])
def test_a_name_that_is_no_knowledge_base_name_is_a_one_line_error(name, tmp_path, monkeypatch, capsys):
    with pytest.raises(KnowledgeBaseError, match="is not a knowledge base name: use 1-40 lowercase letters"):
        check_name(name)
    assert _cli(tmp_path, monkeypatch, "ask", "年假几天", f"--kb={name}") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "is not a knowledge base name" in err[0]


def test_building_one_knowledge_base_never_touches_another(tmp_path, monkeypatch, capsys):
    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    assert _cli(tmp_path, monkeypatch, "build", "--corpus", str(apples)) == 0  # the default knowledge base
    assert _cli(tmp_path, monkeypatch, "build", "--kb", "leave", "--corpus", str(leave)) == 0
    default = tmp_path / "index" / "default"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in default.iterdir()}
    (leave / "more.md").write_text("# 病假\n\n病假需要医生证明。\n", encoding="utf-8")
    assert _cli(tmp_path, monkeypatch, "build", "--kb", "leave") == 0  # its folder is remembered
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in default.iterdir()} == before
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == ["default", "leave"]
    capsys.readouterr()
    assert _cli(tmp_path, monkeypatch, "kbs", "--json") == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert (listed["default"]["articles"], listed["leave"]["articles"]) == (1, 3)
    assert listed["leave"]["built_at"] and listed["leave"]["corpus"] == str(leave.resolve())
    # each answers from its own articles
    assert _cli(tmp_path, monkeypatch, "ask", "年假是几天？", "--kb", "leave", "--json") == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["passages"] and all(p["file"].startswith("corpus/") for p in answer["passages"])
    assert {p["file"] for p in answer["passages"]} <= LEAVE_FILES | {"corpus/more.md"}
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "苹果手机多少钱？"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert _cli(tmp_path, monkeypatch, "batch", str(questions), "-o", "out.jsonl", "--kb", "leave") == 0
    (record,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert record["passages"] and {p["file"] for p in record["passages"]} <= LEAVE_FILES | {"corpus/more.md"}


def test_a_knowledge_base_or_corpus_that_does_not_exist_is_an_error_never_the_seeds(tmp_path, monkeypatch, capsys):
    assert _cli(tmp_path, monkeypatch, "ask", "Sora是什么", "--kb", "nope") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "there is no knowledge base 'nope'" in err[0] and "--kb nope --corpus DIR" in err[0]
    assert _cli(tmp_path, monkeypatch, "build", "--kb", "notes", "--corpus", "no/such/folder") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "corpus folder no/such/folder does not exist" in err[0]
    assert not (tmp_path / "index" / "notes").exists()
    assert _cli(tmp_path, monkeypatch, "build", "--kb", "x", "--index", "elsewhere") == 1
    assert "not both" in capsys.readouterr().err


def test_a_flat_index_from_before_knowledge_bases_is_moved_whole_with_a_message(tmp_path, monkeypatch, capsys, fake_embedder):
    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = _root(tmp_path, apples)
    build_index(root, fake_embedder)  # the old layout: the index right in index/
    files = {p.name: p.read_bytes() for p in (tmp_path / "index").iterdir()}
    assert _cli(tmp_path, monkeypatch, "ask", "苹果手机多少钱？", "--corpus", str(apples), "--json") == 0
    captured = capsys.readouterr()
    assert "moved the index in index to index/default" in captured.err
    assert json.loads(captured.out)["passages"][0]["file"] == "corpus/apple.md"
    assert {p.name: p.read_bytes() for p in (tmp_path / "index" / "default").iterdir()} == files  # nothing rebuilt, nothing lost
    # an old flat index of another folder keeps its own name rather than becoming the default
    other = tmp_path / "other"
    build_index(_root(other, leave), fake_embedder)
    catalog = Catalog(_root(other, apples))
    assert "index/corpus" in (catalog.migrate() or "")
    assert catalog.names() == ["default", "corpus"] and catalog.get("corpus").corpus_dir == leave.resolve()


@pytest.fixture()
def two_kbs(tmp_path, fake_embedder):
    """A server whose default knowledge base holds apples and whose `leave` one holds the leave policy."""
    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = _root(tmp_path, apples)
    catalog = Catalog(root)
    build_index(catalog.create("leave", leave).settings(root), fake_embedder)
    default = Service(catalog.settings_for("default")).start()
    library = Library(root, default)
    for name in ("default", "leave"):
        assert library.service(name).wait(60) and library.service(name).assistant is not None
    return TestClient(create_app(default, library=library), raise_server_exceptions=False)


def test_two_knowledge_bases_answer_from_their_own_documents_only(two_kbs):
    for kb, own in ((None, {"corpus/apple.md"}), ("default", {"corpus/apple.md"}), ("leave", LEAVE_FILES)):
        for question in ("苹果手机多少钱？", "员工的年假是多少天"):
            response = two_kbs.post("/api/ask", json={"question": question, "kb": kb})
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["passages"] and {p["file"] for p in answer["passages"]} <= own, (kb, question)
            assert {c["file"] for c in answer["citations"]} <= own
            # a citation opens in its own knowledge base's sources
            for c in answer["citations"]:
                shown = two_kbs.get(f"/api/sources/{c['file']}", params={"kb": kb or "default", "start": c["line_start"]})
                assert shown.status_code == 200 and c["quote"][:4] in "".join(line["clean"] for line in shown.json()["lines"])
    leave_answer = two_kbs.post("/api/ask", json={"question": "员工的年假是多少天", "kb": "leave"}).json()
    assert "10天" in leave_answer["answer"] and leave_answer["citations"][0]["file"] == "corpus/leave.md"


def test_the_api_lists_knowledge_bases_with_their_own_example_questions(two_kbs):
    listed = two_kbs.get("/api/kbs").json()["kbs"]
    assert [(row["name"], row["status"]) for row in listed] == [("default", "ready"), ("leave", "ready")]
    leave = listed[1]
    assert leave["articles"] == 2 and leave["built_at"] and "corpus" not in leave  # no server paths
    assert sorted(leave["examples"]) == ["休假制度讲了什么？", "食堂讲了什么？"]  # drawn from its titles: nothing about Sora
    assert not any("Sora" in q for row in listed for q in row["examples"])
    documents = two_kbs.get("/api/kbs/leave").json()["documents"]
    assert documents == [{"name": name, "bytes": len(LEAVE[name].encode())} for name in ("food.md", "leave.md")]


def test_an_unknown_or_malformed_knowledge_base_is_a_clear_4xx(two_kbs):
    response = two_kbs.post("/api/ask", json={"question": "年假是几天？", "kb": "nope"})
    assert response.status_code == 404 and "there is no knowledge base 'nope'" in response.json()["error"]
    response = two_kbs.post("/api/ask", json={"question": "年假是几天？", "kb": "../../etc"})
    assert response.status_code == 422 and "is not a knowledge base name" in response.json()["error"]
    assert two_kbs.get("/api/kbs/nope").status_code == 404
    assert two_kbs.get("/api/sources/corpus/leave.md", params={"kb": "Bad Name"}).status_code == 422


def test_the_seeds_suggest_their_own_questions_written_in_their_kb_json(tmp_path):
    from rag.kbs import example_questions

    written = json.loads((SEEDS / "kb.json").read_text(encoding="utf-8"))["examples"]
    assert example_questions(SEEDS, ["anything"]) == written and any("Sora" in q for q in written)
    assert example_questions(tmp_path, ["Travel policy", "差旅报销"]) == ["What does “Travel policy” say?", "差旅报销讲了什么？"]
    # A long Western title is cut at a word: "What does “Platform Team Weekly Sync - Ap…” say?" cut one inside a word.
    long = "Platform Team Weekly Sync - April 2, 2025 - Minutes of the Meeting held in Berlin"
    assert example_questions(tmp_path, [long]) == ["What does “Platform Team Weekly Sync - April 2, 2025 - Minutes of the…” say?"]


def test_a_library_without_a_given_default_gets_every_knowledge_base_ready_itself(tmp_path, fake_embedder):
    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = _root(tmp_path, apples)
    build_index(Catalog(root).create("leave", leave).settings(root), fake_embedder)
    library = Library(root)  # the default knowledge base is built by its own service, the others share its model
    for name in ("default", "leave"):
        assert library.service(name).wait(60) and library.service(name).assistant is not None, library.service(name).error
    assert library.service("leave").assistant.embedder is library.service("default").assistant.embedder


def test_a_folders_knowledge_base_answers_while_the_default_is_still_being_built(tmp_path, fake_embedder, monkeypatch):
    # `app.py --corpus DIR` on a fresh clone: DIR's index was built, the seeds' was not. DIR waited for the seeds'
    # build to share its model, and answered "the index is being built" for as long.
    import threading

    import rag.apps.library as library_module
    import rag.index.build as build_module

    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = _root(tmp_path, apples)
    build_index(Catalog(root).create("leave", leave).settings(root), fake_embedder)
    release, building = threading.Event(), build_module.build_index

    def held(settings, *args, **options):
        if settings.index.corpus_dir == apples:  # the default's build, held until the other is checked
            release.wait(30)
        return building(settings, *args, **options)

    monkeypatch.setattr(build_module, "build_index", held)
    monkeypatch.setattr(library_module, "build_index", held)
    library = Library(root)
    try:
        assert library.service("leave").wait(10) and library.service("leave").assistant is not None
        assert library.service("default").assistant is None  # still building
    finally:
        release.set()
    assert library.service("default").wait(30) and library.service("default").assistant is not None
    assert library.service("leave").assistant.embedder is library.service("default").assistant.embedder  # one model


def test_the_server_refuses_to_open_on_a_knowledge_base_there_is_none_of(tmp_path, monkeypatch, capsys):
    import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    assert app.main(["--kb", "nope", "--port", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: there is no knowledge base 'nope'")


def test_app_corpus_of_no_folder_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    assert app.main(["--corpus", "no/such/folder", "--port", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: corpus folder no/such/folder does not exist: pass --corpus DIR with your documents"]
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").iterdir())


def _folder(folder: Path, files: dict[str, str]) -> Path:
    """Write `files` into `folder` itself (its name is what a knowledge base made of it is called); return it."""
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_folder_given_to_the_server_is_a_knowledge_base_of_its_own(tmp_path, fake_embedder):
    seeds = write_corpus(tmp_path / "seeds", APPLES)
    catalog = Catalog(_root(tmp_path, seeds))
    assert catalog.for_folder(seeds).name == "default"
    notes = _folder(tmp_path / "My Notes", LEAVE)
    kb = catalog.for_folder(notes)
    assert (kb.name, kb.index_dir) == ("my-notes", tmp_path / "index" / "my-notes")
    build_index(kb.settings(catalog.settings), fake_embedder)
    assert catalog.for_folder(notes) == catalog.get("my-notes")  # the same folder again: the same knowledge base
    other = _folder(tmp_path / "elsewhere" / "my notes", APPLES)
    assert catalog.for_folder(other).name == "my-notes-2"  # never another folder's index
    assert catalog.for_folder(other, "apples").name == "apples"
    with pytest.raises(Exception, match="reads .* not .*--kb OTHER_NAME"):
        catalog.for_folder(other, "my-notes")


def test_app_corpus_answers_from_that_folder_and_leaves_the_seeds_index_alone(tmp_path):
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from servers import ROOT, app_env, free_port, wait_until_serving

    seeds = _folder(tmp_path / "seeds", APPLES)
    notes = _folder(tmp_path / "notes", LEAVE)
    port, log = free_port(), tmp_path / "app.log"
    env = app_env(seeds, tmp_path / "index", {"RAG_DOCUMENTS_DIR": str(tmp_path / "documents")})
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--corpus", str(notes)],
                                   cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}/api/"
    try:
        wait_until_serving(base + "health", process, log)

        def ask(body: dict) -> dict:
            # The folder's knowledge base answers as soon as its index is loaded; the default may still be building
            # (503 with Retry-After), and a client asks again, as this one does.
            deadline = time.monotonic() + 120
            while True:
                request = urllib.request.Request(base + "ask", json.dumps(body).encode(), {"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        return json.loads(response.read())
                except urllib.error.HTTPError as error:
                    if error.code != 503 or "Retry-After" not in error.headers or time.monotonic() > deadline:
                        raise
                time.sleep(0.2)

        files = {p["file"] for p in ask({"question": "年假是几天？"})["passages"]}
        assert files and files <= {"notes/leave.md", "notes/food.md"}  # a request naming no knowledge base: the folder's
        files = {p["file"] for p in ask({"question": "苹果手机多少钱？", "kb": "default"})["passages"]}
        assert files == {"seeds/apple.md"}
        with urllib.request.urlopen(base + "kbs", timeout=10) as response:
            listed = {row["name"]: row["articles"] for row in json.loads(response.read())["kbs"]}
        assert listed == {"default": 1, "notes": 2}
        assert sorted(p.name for p in (tmp_path / "index").iterdir()) == ["default", "notes"]
        assert "answering from the knowledge base 'notes'" in log.read_text()
        # The page's named endpoints for gradio_client: /answer as before (the opened one), /answer_kb by name.
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        answered = client.predict("年假是几天？", 3, api_name="/answer")
        assert {p["file"] for p in answered["passages"]} <= {"notes/leave.md", "notes/food.md"}
        answered = client.predict("苹果手机多少钱？", "default", 3, api_name="/answer_kb")
        assert {p["file"] for p in answered["passages"]} == {"seeds/apple.md"}
        answered = client.predict(question="年假是几天？", kb="notes", api_name="/answer_kb")
        assert answered["passages"][0]["file"].startswith("notes/")
        with pytest.raises(Exception, match="there is no knowledge base 'nope'"):
            client.predict("年假是几天？", "nope", 3, api_name="/answer_kb")
    finally:
        process.terminate()
        process.wait(10)


def test_feedback_names_the_knowledge_base_that_answered(tmp_path, fake_embedder):
    import sqlite3
    from types import SimpleNamespace

    from rag.apps.feedback import FeedbackStore
    from rag.apps.web.chat import ChatHandlers

    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = _root(tmp_path, apples).with_overrides(feedback_dir=tmp_path / "feedback")
    # A store written before knowledge bases: its verdicts stay, counted as the default one's.
    (tmp_path / "feedback").mkdir()
    with sqlite3.connect(tmp_path / "feedback" / "feedback.sqlite3") as old:
        old.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, rating TEXT NOT NULL, "
                    "comment TEXT NOT NULL, question TEXT NOT NULL, understood_as TEXT, answer TEXT NOT NULL, refused INTEGER "
                    "NOT NULL, citations TEXT NOT NULL, origin TEXT NOT NULL, settings TEXT NOT NULL)")
        old.execute("INSERT INTO feedback VALUES (1, 't', 'up', '', '苹果?', NULL, 'a', 0, '[]', 'api', '{}')")
    catalog = Catalog(root)
    build_index(catalog.create("leave", leave).settings(root), fake_embedder)
    default = Service(catalog.settings_for("default")).start()
    library = Library(root, default)
    assert all(library.service(name).wait(60) for name in ("default", "leave"))
    client = TestClient(create_app(default, library=library), raise_server_exceptions=False)
    answer = client.post("/api/ask", json={"question": "员工的年假是多少天", "kb": "leave"}).json()
    body = {"rating": "up", "question": answer["question"], "answer": answer["answer"], "citations": answer["citations"]}
    assert client.post("/api/feedback", json={**body, "kb": "leave"}).status_code == 201
    assert client.post("/api/feedback", json=body).status_code == 201
    assert client.post("/api/feedback", json={**body, "kb": "nope"}).status_code == 404
    handlers = ChatHandlers(default, frame_delay=0, library=library)
    *_, (_, chat) = handlers.ask("员工的年假是多少天", [], locale="zh-CN", kb="leave")
    like = SimpleNamespace(index=len(chat) - 1, liked=True, value="")
    assert "谢谢反馈" in handlers.feedback(chat, "", "zh-CN", like, "leave")[1]
    records = list(FeedbackStore(tmp_path / "feedback").records())
    assert [(r["kb"], r["origin"]) for r in records] == [("default", "api"), ("leave", "api"), ("default", "api"), ("leave", "page")]
    assert records[3]["citations"][0]["file"] == "corpus/leave.md"
    assert records[3]["settings"]["corpus_dir"] == str(leave)


def test_the_examples_of_a_knowledge_base_chosen_while_it_loads_show_once_it_is_ready(tmp_path, fake_embedder):
    import threading

    import gradio as gr

    from rag.answer.assistant import Assistant
    from rag.apps.web.chat import ChatHandlers
    from rag.apps.web.page import build_page

    apples = write_corpus(tmp_path / "a", APPLES)
    leave = write_corpus(tmp_path / "b", LEAVE)
    root = _root(tmp_path, apples)
    catalog = Catalog(root)
    build_index(catalog.settings_for("default"), fake_embedder)
    build_index(catalog.create("leave", leave).settings(root), fake_embedder)
    release = threading.Event()

    def held(settings):
        release.wait(30)
        return Assistant.load(settings, fake_embedder)

    default = Service(catalog.settings_for("default"), lambda s: Assistant.load(s, fake_embedder))
    default.run()
    library = Library(root, default, prepare=held)
    page = build_page(default, ChatHandlers(default, library=library))
    (tick,) = [block.fn for block in page.fns.values() if getattr(block.fn, "__name__", "") == "tick"]
    banner, timer, *examples = tick("zh-CN", "leave")  # chosen while loading: no titles yet
    assert timer.active and all(not isinstance(e, gr.Button) for e in examples)
    release.set()
    assert library.service("leave").wait(30)
    banner, timer, *examples = tick("zh-CN", "leave")
    assert not timer.active
    assert sorted(e.value for e in examples if e.visible) == ["休假制度讲了什么？", "食堂讲了什么？"]
