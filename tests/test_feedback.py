"""Readers' thumbs up/down: stored durably with the answer and settings, exported, turned into a question file."""
from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from rag.answer.assistant import Assistant
from rag.apps.cli import main
from rag.apps.feedback import FeedbackStore
from rag.apps.server.app import create_app
from rag.apps.service import Service
from rag.apps.web.chat import ChatHandlers, verdict_from_chat
from rag.eval.metrics import read_questions

QUESTION = "Adobe股价在Sora发布后怎么样了？"


@pytest.fixture()
def settings(seeds_settings, tmp_path):
    return seeds_settings.with_overrides(
        rate_limit_per_minute=0, feedback_dir=tmp_path / "feedback", api_token="tok-not-to-be-stored"
    )


@pytest.fixture()
def service(settings, fake_embedder) -> Service:
    service = Service(settings, prepare=lambda s: Assistant.load(s, fake_embedder))
    service.run()
    return service


def test_api_feedback_is_stored_with_answer_citations_and_settings_but_no_secret(service, settings, capsys):
    client = TestClient(create_app(service))
    auth = {"Authorization": "Bearer tok-not-to-be-stored"}
    answer = client.post("/api/ask", json={"question": QUESTION}, headers=auth).json()
    body = {k: answer[k] for k in ("question", "answer", "citations", "refused")}
    reply = client.post("/api/feedback", json={**body, "rating": "down", "comment": "少了 Shutterstock"}, headers=auth)
    assert reply.status_code == 201 and reply.json() == {"id": 1}
    assert client.post("/api/feedback", json={**body, "rating": "up"}, headers=auth).json() == {"id": 2}
    bad = client.post("/api/feedback", json={**body, "rating": "meh"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"].startswith("rating:")

    # A new store over the same folder (a restarted server) reads what was stored.
    records = list(FeedbackStore(settings.server.feedback_dir).records())
    assert [r["rating"] for r in records] == ["down", "up"]
    assert records[0]["comment"] == "少了 Shutterstock" and records[0]["origin"] == "api"
    assert records[0]["citations"] == answer["citations"] and records[0]["answer"] == answer["answer"]
    assert records[0]["settings"]["refusal_threshold"] == settings.answer.refusal_threshold
    assert "api_token" not in records[0]["settings"]
    assert "tok-not-to-be-stored" not in (settings.server.feedback_dir / "feedback.sqlite3").read_bytes().decode("utf-8", "replace")

    assert main(["feedback", "--dir", str(settings.server.feedback_dir)]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in exported] == [1, 2] and exported[0]["question"] == QUESTION
    assert main(["feedback", "--dir", str(settings.server.feedback_dir), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["rating"] for row in rows] == ["down", "up"] and json.loads(rows[0]["citations"]) == answer["citations"]


def test_feedback_becomes_a_question_file_eval_reads(service, settings, tmp_path, capsys):
    client = TestClient(create_app(service))
    auth = {"Authorization": "Bearer tok-not-to-be-stored"}
    answer = client.post("/api/ask", json={"question": QUESTION}, headers=auth).json()
    body = {k: answer[k] for k in ("question", "answer", "citations", "refused")}
    client.post("/api/feedback", json={**body, "rating": "up"}, headers=auth)
    client.post("/api/feedback", json={"question": "它跌了多少？", "understood_as": "Adobe跌了多少？", "rating": "down"}, headers=auth)
    out = tmp_path / "questions.jsonl"
    assert main(["feedback", "--dir", str(settings.server.feedback_dir), "--as-questions", "-o", str(out)]) == 0
    found = read_questions(out)
    assert [q.question for q in found.questions] == [QUESTION, "Adobe跌了多少？"]
    up, down = found.questions
    assert up.answerable is True and up.evidence[0] == (
        answer["citations"][0]["file"].split("/", 1)[1], answer["citations"][0]["quote"]
    )
    assert down.answerable is None and down.evidence == ()


def test_feedback_export_without_any_stored_says_where_it_looked(tmp_path, capsys):
    assert main(["feedback", "--dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("error: no feedback stored in ")


def test_page_thumbs_store_the_clicked_answer_with_its_citations_and_comment(service, settings):
    handlers = ChatHandlers(service, frame_delay=0)
    *_, (_, chat) = handlers.ask("Sora是在哪一天发布的？", [], locale="zh-CN")
    *_, (_, chat) = handlers.ask("它是哪家公司发布的？", chat, locale="zh-CN")
    like = SimpleNamespace(index=3, liked=False, value=chat[3]["content"])
    box, notice = handlers.feedback(chat, "  不是我想问的  ", "zh-CN", like)
    assert box == "" and "谢谢反馈" in notice
    (record,) = FeedbackStore(settings.server.feedback_dir).records()
    assert record["rating"] == "down" and record["origin"] == "page" and record["comment"] == "不是我想问的"
    assert record["question"] == "它是哪家公司发布的？" and record["understood_as"] == "Sora是哪家公司发布的？"
    direct = service.assistant.ask("Sora是哪家公司发布的？")
    assert [(c["file"], c["line_start"], c["line_end"], c["quote"]) for c in record["citations"]] == [
        (c.file, c.line_start, c.line_end, c.quote) for c in direct.citations
    ]
    assert record["answer"] == direct.text
    # A click on a question or a notice stores nothing.
    assert verdict_from_chat(chat, 2, "up", "") is None
    assert handlers.feedback(chat, "x", "zh-CN", SimpleNamespace(index=0, liked=True, value="")) == ("x", "")
