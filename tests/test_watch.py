"""Watching a knowledge base's folder: an edited, added or removed document is indexed without anyone running build."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

from fastapi.testclient import TestClient

from rag.apps.library import Library
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.kbs import Catalog
from rag.kbs.watch import watch
from rag.settings import load_settings

from servers import ROOT
from support import write_corpus

LEAVE = {"leave.md": "# 休假制度\n\n员工每年有带薪年假。\n\n年假是10天，可以分次休完。\n\n病假需要医生证明。\n",
         "food.md": "# 食堂\n\n食堂中午十二点开门。\n"}


def _until(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_watch_reports_each_added_changed_and_removed_document_once_settled(tmp_path):
    folder = write_corpus(tmp_path, LEAVE)
    seen: list[list[str]] = []
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(folder, seen.append, 0.05, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        (folder / "new.md").write_text("# 新\n\n新的制度。\n", encoding="utf-8")
        _until(lambda: seen == [["new.md"]])
        (folder / "food.md").write_text("# 食堂\n\n食堂中午十一点半开门。\n", encoding="utf-8")
        (folder / "notes.tmp").write_text("not a document", encoding="utf-8")  # ignored
        _until(lambda: len(seen) == 2)
        (folder / "leave.md").unlink()
        _until(lambda: len(seen) == 3)
    finally:
        stop.set()
        thread.join(5)
    assert seen == [["new.md"], ["food.md"], ["leave.md"]]


def test_a_server_watching_its_folders_answers_and_shows_the_edited_line(tmp_path):
    corpus = write_corpus(tmp_path, LEAVE)
    settings = load_settings(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", documents_dir=tmp_path / "documents",
                             embed_model="hash:64", rate_limit_per_minute=0)
    default = Service(Catalog(settings).settings_for("default")).start()
    library = Library(settings, default)
    assert default.wait(60) and default.assistant is not None
    client = TestClient(create_app(default, library=library), raise_server_exceptions=False)
    stop = threading.Event()
    library.watch(0.05, stop)
    try:
        leave = corpus / "leave.md"
        leave.write_text(leave.read_text(encoding="utf-8").replace("10天", "12天"), encoding="utf-8")

        def answered_anew() -> bool:
            answer = client.post("/api/ask", json={"question": "员工的年假是多少天"}).json()
            return any("12天" in c["quote"] for c in answer["citations"])

        _until(answered_anew)
        answer = client.post("/api/ask", json={"question": "员工的年假是多少天"}).json()
        cited = next(c for c in answer["citations"] if "12天" in c["quote"])
        shown = client.get(f"/api/sources/{cited['file']}", params={"start": cited["line_start"], "end": cited["line_end"]}).json()
        assert shown["stale"] is False and "12天" in "".join(line["clean"] for line in shown["lines"])
    finally:
        stop.set()


def test_rag_watch_rebuilds_a_knowledge_base_when_a_file_changes(tmp_path):
    notes = write_corpus(tmp_path, LEAVE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_EMBED_MODEL="hash:64", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "rag", "watch", "--kb", "notes", "--interval", "0.1"]
    # `watch` over a knowledge base that does not exist yet says how to make one
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "there is no knowledge base 'notes'" in done.stderr
    built = subprocess.run([sys.executable, "-m", "rag", "build", "--kb", "notes", "--corpus", str(notes)],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    manifest = tmp_path / "index" / "notes" / "manifest.json"

    def sha_of(name: str) -> str:
        articles = json.loads(manifest.read_text(encoding="utf-8"))["articles"]
        return next(a["sha256"] for a in articles if a["file"] == f"corpus/{name}")

    log = (tmp_path / "watch.log").open("w")
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        _until(lambda: "watching" in (tmp_path / "watch.log").read_text())
        food = notes / "food.md"
        food.write_text("# 食堂\n\n食堂中午十一点半开门。\n", encoding="utf-8")
        _until(lambda: sha_of("food.md") == hashlib.sha256(food.read_bytes()).hexdigest())
        assert "changed: food.md" in (tmp_path / "watch.log").read_text()
    finally:
        process.terminate()
        process.wait(10)
        log.close()
