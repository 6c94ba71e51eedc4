"""Adding and removing a knowledge base's documents over the API: checked first, indexed in the background, swapped whole."""
from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from test_documents import encrypted_pdf, scanned_pdf, tiny_docx, tiny_pdf, zip_bomb_docx

from rag.apps.library import Library
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.kbs import Catalog
from rag.settings import load_settings

from servers import free_port, wait_until_serving
from support import write_corpus

TOKEN = "upload-test-token"
LEAVE = {"leave.md": "# 休假制度\n\n员工每年有带薪年假。\n\n年假是10天，可以分次休完。\n\n病假需要医生证明。\n",
         "food.md": "# 食堂\n\n食堂中午十二点开门。\n"}
TRAVEL = "# 差旅报销制度\n\n出差的住宿标准是每晚五百元。\n\n高铁可以坐二等座。\n\n报销需要在出差结束后三十天内提交。\n"
QUESTION = "出差的住宿标准是多少？"


def _library(tmp_path: Path, **overrides) -> tuple[Library, Service]:
    corpus = write_corpus(tmp_path, LEAVE)
    settings = load_settings(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", documents_dir=tmp_path / "documents",
                             embed_model="hash:64", rate_limit_per_minute=0, **overrides)
    default = Service(Catalog(settings).settings_for("default")).start()
    library = Library(settings, default)
    assert default.wait(60) and default.assistant is not None, default.error
    return library, default


@pytest.fixture()
def open_kb(tmp_path):
    """An app without a token (a laptop's) over a default knowledge base of two notes; with its library."""
    library, default = _library(tmp_path)
    return TestClient(create_app(default, library=library), raise_server_exceptions=False), library, tmp_path


def _upload(client: TestClient, kb: str, *files: tuple[str, bytes], headers: dict | None = None):
    return client.post(f"/api/kbs/{kb}/documents", files=[("file", (name, data)) for name, data in files], headers=headers or {})


def _settled(client: TestClient, library: Library, kb: str) -> dict:
    assert library.wait_updated(kb, 60)
    found = client.get(f"/api/kbs/{kb}").json()
    assert found["update"]["state"] == "ready" and found["status"] == "ready", found
    return found


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_document_uploaded_is_answered_from_and_gone_once_deleted(open_kb):
    client, library, _ = open_kb
    before = client.post("/api/ask", json={"question": QUESTION}).json()
    assert all(p["file"] != "corpus/travel.md" for p in before["passages"])
    response = _upload(client, "default", ("travel.md", TRAVEL.encode()))
    assert response.status_code == 202 and response.json()["documents"] == ["travel.md"]
    found = _settled(client, library, "default")
    assert found["articles"] == 3 and found["update"]["message"].startswith("1 added, 0 changed, 0 removed")
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    assert "五百元" in answer["answer"] and answer["citations"][0]["file"] == "corpus/travel.md"
    response = client.delete("/api/kbs/default/documents/travel.md")
    # This update's own progress, not the last one's: it said "updating" with "1 added…" and done 12/12.
    assert response.status_code == 202 and response.json()["update"]["message"] == ""
    found = _settled(client, library, "default")
    assert found["articles"] == 2 and "travel.md" not in {d["name"] for d in found["documents"]}
    after = client.post("/api/ask", json={"question": QUESTION}).json()
    assert "五百元" not in after["answer"] and all(p["file"] != "corpus/travel.md" for p in after["passages"])
    assert client.delete("/api/kbs/default/documents/travel.md").status_code == 404


def test_uploading_into_a_new_name_makes_a_new_knowledge_base(open_kb):
    client, library, tmp_path = open_kb
    pdf = tiny_pdf([["差旅报销制度"], ["出差的住宿标准是每晚五百元。", "高铁可以坐二等座。"]])
    docx = tiny_docx(["会议室预订办法", "大会议室需要提前两天预订。"])
    response = _upload(client, "policies", ("travel.pdf", pdf), ("rooms.docx", docx))
    assert response.status_code == 202, response.text
    found = _settled(client, library, "policies")
    assert found["articles"] == 2 and sorted(d["name"] for d in found["documents"]) == ["rooms.docx", "travel.pdf"]
    assert (tmp_path / "documents" / "policies" / "travel.pdf").read_bytes() == pdf
    listed = [row["name"] for row in client.get("/api/kbs").json()["kbs"]]
    assert listed == ["default", "policies"]
    answer = client.post("/api/ask", json={"question": QUESTION, "kb": "policies"}).json()
    cited = answer["citations"][0]
    assert cited["file"] == "policies/travel.pdf" and (cited["page"], cited["page_line"]) == (2, 1)
    # the default one is as it was
    assert {p["file"] for p in client.post("/api/ask", json={"question": QUESTION}).json()["passages"]} <= {
        "corpus/leave.md", "corpus/food.md"}
    # once its last document is removed, it answers nothing rather than quote what is gone
    for name in ("travel.pdf", "rooms.docx"):
        assert client.delete(f"/api/kbs/policies/documents/{name}").status_code == 202
        assert library.wait_updated("policies", 60)
    response = client.post("/api/ask", json={"question": QUESTION, "kb": "policies"})
    assert response.status_code == 503 and "no documents left" in response.json()["error"]
    emptied = client.get("/api/kbs/policies").json()
    assert (emptied["articles"], emptied["examples"], emptied["documents"]) == (0, [], [])
    listed = {row["name"]: row for row in client.get("/api/kbs").json()["kbs"]}
    assert (listed["policies"]["articles"], listed["policies"]["examples"]) == (0, [])


def _exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("../../x.md", b"# x\n\nx\n", 422, "is not a document name"),
        ("..", b"# x\n\nx\n", 422, "is not a document name"),
        (".hidden.md", b"# x\n\nx\n", 422, "is not a document name"),
        ("setup.exe", _exe(), 415, "is not a type this bot reads"),
        ("setup.pdf", _exe(), 422, "is not a PDF"),
        ("locked.pdf", encrypted_pdf(), 422, "is an encrypted PDF"),
        ("scan.pdf", scanned_pdf(), 422, "no text layer"),
        ("bomb.docx", zip_bomb_docx(), 422, "over the limits"),
        ("empty.md", b"", 422, "is empty"),
    ],
)
def test_a_bad_upload_is_a_clear_4xx_and_the_knowledge_base_stays_as_it_was(open_kb, name, data, status, says):
    client, library, tmp_path = open_kb
    before = _tree(tmp_path)
    response = _upload(client, "default", ("fine.md", b"# fine\n\nfine text\n"), (name, data))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert says in error and "\n" not in error
    assert _tree(tmp_path) == before  # the good file of the same request was not stored either; no index touched
    assert library.wait_updated("default", 1)


def test_the_same_document_under_a_second_name_is_refused_and_nothing_is_stored(open_kb):
    # Stored twice, it was indexed twice, and every answer from it cited both copies.
    client, library, tmp_path = open_kb
    before = _tree(tmp_path)
    copy = LEAVE["leave.md"].encode()
    response = _upload(client, "default", ("fine.md", b"# fine\n\nfine text\n"), ("leave copy.md", copy))
    assert response.status_code == 409
    assert response.json()["error"] == ("leave copy.md is the same file as leave.md, already in default: upload it as "
                                        "leave.md to replace it, or remove leave.md first")
    assert _tree(tmp_path) == before
    # Twice in one upload, likewise; under its own name it replaces itself.
    response = _upload(client, "default", ("a.md", TRAVEL.encode()), ("b.md", TRAVEL.encode()))
    assert response.status_code == 409 and "b.md is the same file as a.md" in response.json()["error"]
    assert _tree(tmp_path) == before
    assert _upload(client, "default", ("leave.md", copy)).status_code == 202
    assert library.wait_updated("default", 60)


def test_a_bad_knowledge_base_name_stores_nothing(open_kb):
    client, _, tmp_path = open_kb
    before = _tree(tmp_path)
    for kb, status in (("..", 404), ("Bad", 422), ("a%2F..%2F..", 404)):
        response = _upload(client, kb, ("x.md", b"# x\n\nx\n"))
        assert response.status_code in (status, 404, 422) and response.status_code >= 400
    assert _tree(tmp_path) == before


def test_a_200_mb_upload_is_refused_before_it_is_read(tmp_path):
    library, default = _library(tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(default, library=library), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/embed", None, None)
        before = _tree(tmp_path)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("POST", "/api/kbs/default/documents")
        connection.putheader("Content-Type", "multipart/form-data; boundary=x")
        connection.putheader("Content-Length", str(200 * 1024 * 1024))
        connection.endheaders()  # the body never follows: the answer must come from the declared length alone
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 413 and "upload a smaller document" in body["error"]
        assert _tree(tmp_path) == before
    finally:
        server.should_exit = True
        thread.join(10)


def test_adding_and_removing_documents_needs_the_token_not_a_session(tmp_path):
    library, default = _library(tmp_path, api_token=TOKEN)
    client = TestClient(create_app(default, library=library), raise_server_exceptions=False)
    session = client.post("/api/sessions", json={"hours": 1}, headers={"Authorization": f"Bearer {TOKEN}"}).json()["session"]
    before = _tree(tmp_path)
    for headers in ({}, {"X-RAG-Session": session}, {"Authorization": "Bearer wrong"}):
        response = _upload(client, "default", ("travel.md", TRAVEL.encode()), headers=headers)
        assert response.status_code == 401 and "needs the server's token" in response.json()["error"]
        assert client.delete("/api/kbs/default/documents/leave.md", headers=headers).status_code == 401
    assert _tree(tmp_path) == before
    # a session still reads the list; the token adds
    assert client.get("/api/kbs", headers={"X-RAG-Session": session}).status_code == 200
    response = _upload(client, "default", ("travel.md", TRAVEL.encode()), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202


def _without_timing(answer: dict) -> str:
    return json.dumps({k: v for k, v in answer.items() if k != "latency_ms"}, ensure_ascii=False, sort_keys=True)


def test_questions_asked_during_an_upload_are_answered_from_the_old_or_the_new_index_never_a_mix(tmp_path):
    library, default = _library(tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(default, library=library), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def ask(question: str) -> tuple[int, dict]:
        request = urllib.request.Request(f"{base}/api/ask", json.dumps({"question": question}).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    questions = [QUESTION, "员工的年假是多少天", "食堂几点开门？"]
    try:
        wait_until_serving(f"{base}/embed", None, None)
        old = {q: _without_timing(ask(q)[1]) for q in questions}
        seen: list[tuple[str, int, dict]] = []
        stop = threading.Event()

        def client(offset: int) -> None:
            n = offset
            while not stop.is_set():
                question = questions[n % len(questions)]
                status, answer = ask(question)
                seen.append((question, status, answer))
                n += 1

        clients = [threading.Thread(target=client, args=(i,)) for i in range(5)]
        for c in clients:
            c.start()
        time.sleep(0.5)
        data = (b"-----b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"travel.md\"\r\n\r\n"
                + TRAVEL.encode() + b"\r\n-----b--\r\n")
        upload = urllib.request.Request(f"{base}/api/kbs/default/documents", data,
                                        {"Content-Type": "multipart/form-data; boundary=---b"})
        with urllib.request.urlopen(upload, timeout=30) as response:
            assert response.status == 202
        assert library.wait_updated("default", 60)
        time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join(30)
        new = {q: _without_timing(ask(q)[1]) for q in questions}
    finally:
        server.should_exit = True
        thread.join(10)
    assert old[QUESTION] != new[QUESTION]  # the new document answers it
    assert len(seen) > 20 and all(status == 200 for _, status, _ in seen), [a for _, s, a in seen if s != 200][:3]
    kinds = [("old" if _without_timing(a) == old[q] else "new" if _without_timing(a) == new[q] else "mixed") for q, _, a in seen]
    assert "mixed" not in kinds and "old" in kinds and "new" in kinds


def test_an_update_shows_its_progress_while_questions_are_answered_from_the_index_before_it(open_kb, monkeypatch):
    import rag.apps.library as library_module

    client, library, _ = open_kb
    reached, release = threading.Event(), threading.Event()
    real = library_module.build_index

    def held(settings, embedder, progress=None, stage=None):
        stage("embedding 1 new or changed article")
        progress(0, 3)
        reached.set()
        release.wait(30)
        return real(settings, embedder, progress, stage)

    monkeypatch.setattr(library_module, "build_index", held)
    assert _upload(client, "default", ("travel.md", TRAVEL.encode())).status_code == 202
    assert reached.wait(30)
    update = client.get("/api/kbs/default").json()["update"]
    assert (update["state"], update["stage"], update["done"], update["total"]) == (
        "updating", "embedding 1 new or changed article", 0, 3)
    answer = client.post("/api/ask", json={"question": QUESTION})
    assert answer.status_code == 200 and all(p["file"] != "corpus/travel.md" for p in answer.json()["passages"])
    release.set()
    _settled(client, library, "default")
    assert any(p["file"] == "corpus/travel.md" for p in client.post("/api/ask", json={"question": QUESTION}).json()["passages"])
