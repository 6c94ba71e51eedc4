"""Answers streamed as server-sent events: the same final answer as without streaming, a language model's tokens as
they arrive, a failure at any point ending in a message."""
from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from rag.answer.assistant import Assistant
from rag.answer.llm_client import ChatClient, LLMError
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.apps.web import ChatHandlers
from rag.errors import IndexDamagedError

QUESTION = "Adobe股价在Sora发布后怎么样了？"
TRUE = "Sora 发布后，Adobe 股价随即暴跌超 7%。"
KEY = "sk-stream-never-shown-42"


def events_of(text: str) -> list[tuple[str, dict]]:
    """Return the (event, data) pairs of a server-sent event stream."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((fields["event"], json.loads(fields["data"])))
    return found


def without_latency(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "latency_ms"}


def serve(settings, embedder) -> tuple[TestClient, Assistant]:
    """Return a client of the whole app in process over the settings, and the assistant behind it."""
    service = Service(settings.with_overrides(rate_limit_per_minute=0), prepare=lambda s: Assistant.load(s, embedder))
    service.run()
    assert service.assistant is not None, service.error
    return TestClient(create_app(service), raise_server_exceptions=False), service.assistant


@pytest.fixture(scope="module")
def extractive(seeds_settings, fake_embedder) -> TestClient:
    return serve(seeds_settings, fake_embedder)[0]


@pytest.mark.parametrize("route", ["/api/ask", "/embed/api/ask"])
def test_a_streamed_answer_ends_with_the_same_json_as_the_plain_one_and_its_pieces_spell_it(extractive, route):
    plain = extractive.post(route, json={"question": QUESTION, "top_k": 3}).json()
    response = extractive.post(route, json={"question": QUESTION, "top_k": 3, "stream": True})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert events[0] == ("question", {"question": QUESTION})
    assert [name for name, _ in events[1:-1]] == ["delta"] * (len(events) - 2) and len(events) > 3
    assert "".join(data["text"] for _, data in events[1:-1]) == plain["answer"]
    name, final = events[-1]
    assert name == "answer" and without_latency(final) == without_latency(plain) and final["citations"]


def test_accept_event_stream_asks_for_events_and_a_follow_up_says_how_it_was_understood(extractive):
    history = [{"question": "Sora是什么？", "answer": "Sora是OpenAI发布的文生视频模型。"}]
    response = extractive.post(
        "/api/ask", json={"question": "它是哪一天发布的？", "history": history}, headers={"Accept": "text/event-stream"}
    )
    events = events_of(response.text)
    assert events[0] == ("question", {"question": "它是哪一天发布的？", "understood_as": "Sora是哪一天发布的？"})
    assert events[-1][0] == "answer" and events[-1][1]["understood_as"] == "Sora是哪一天发布的？"


def test_small_talk_and_a_bad_question_stream_as_they_answer(extractive):
    events = events_of(extractive.post("/api/ask", json={"question": "你好", "stream": True}).text)
    assert events[0] == ("question", {"question": "你好", "small_talk": True})
    assert events[-1][1]["small_talk"] is True
    assert "".join(data["text"] for name, data in events if name == "delta") == events[-1][1]["answer"]
    # Before the stream begins, a bad question gets its status and one-line error, as without streaming.
    empty = extractive.post("/api/ask", json={"question": "  ", "stream": True})
    assert empty.status_code == 422 and "empty" in empty.json()["error"]


def test_a_failure_after_the_stream_began_ends_it_with_an_error_event(seeds_settings, fake_embedder, monkeypatch):
    client, assistant = serve(seeds_settings, fake_embedder)

    def damaged(*args, **kwargs):
        raise IndexDamagedError("the index is damaged: run `python -m rag build`")

    monkeypatch.setattr(assistant.retriever, "retrieve", damaged)
    response = client.post("/api/ask", json={"question": QUESTION, "stream": True})
    events = events_of(response.text)
    assert events[0][0] == "question"
    assert events[-1] == ("error", {"error": "the index is damaged: run `python -m rag build`", "status": 503})

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(assistant.retriever, "retrieve", broken)
    name, data = events_of(client.post("/api/ask", json={"question": QUESTION, "stream": True}).text)[-1]
    assert name == "error" and data["status"] == 500 and "try again" in data["error"] and "Traceback" not in data["error"]


def number_of(user: str, words: str) -> int:
    """Return the number the prompt gave the passage holding `words`."""
    for line in user.splitlines():
        if line.startswith("[") and words in line.replace(" ", ""):
            return int(line[1 : line.index("]")])
    raise AssertionError(f"no passage with {words} in the prompt")


def llm_settings(seeds_settings, url: str, **more):
    return seeds_settings.with_overrides(llm_base_url=url, llm_model="scripted", llm_api_key=KEY, **more)


def test_the_models_tokens_stream_as_a_draft_and_the_checked_answer_replaces_it(seeds_settings, fake_embedder, endpoint, caplog):
    url, script = endpoint
    script.reply = lambda user: f"{TRUE}[{number_of(user, 'Adobe股价随即暴跌超7%')}] Adobe 股价随后一周上涨了 12%。[1]"
    client, _ = serve(llm_settings(seeds_settings, url), fake_embedder)
    plain = client.post("/api/ask", json={"question": QUESTION}).json()
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/ask", json={"question": QUESTION, "stream": True})
    assert script.requests[-1]["stream"] is True and "stream" not in script.requests[0]
    events = events_of(response.text)
    names = [name for name, _ in events]
    assert names[:2] == ["question", "draft"] and names[-1] == "answer" and set(names[2:-1]) == {"delta"}
    assert "核对" in events[1][1]["notice"]
    # The model's tokens as they came (several of them), marked as a draft: the unsupported 12% among them.
    deltas = [data for name, data in events if name == "delta"]
    assert len(deltas) > 5 and all(data["draft"] for data in deltas)
    assert "".join(data["text"] for data in deltas) == script.reply(script.requests[-1]["messages"][-1]["content"])
    final = events[-1][1]
    assert final["generated"] is True and final["answer"] == TRUE + "[1]" and "12%" not in final["answer"]
    assert without_latency(final) == without_latency(plain)
    assert KEY not in response.text and KEY not in caplog.text


def test_an_endpoint_that_drops_mid_stream_gives_the_extractive_answer_with_a_notice(
    seeds_settings, fake_embedder, endpoint, seeds_assistant, caplog
):
    url, script = endpoint
    script.reply = lambda user: f"{TRUE}[1] 还有更多内容正在写。[1]"
    script.drop_after = 3
    client, _ = serve(llm_settings(seeds_settings, url), fake_embedder)
    with caplog.at_level(logging.DEBUG):
        events = events_of(client.post("/api/ask", json={"question": QUESTION, "stream": True}).text)
    assert [data["text"] for name, data in events if name == "delta"] == ["Sora", " 发布后", "，Ado"]
    name, final = events[-1]
    quoted = seeds_assistant.ask(QUESTION)
    assert name == "answer" and final["answer"] == quoted.text and not final.get("generated")
    assert final["notice"] == "生成的回答暂不可用（语言模型没有响应），以下是原文摘录。"
    assert "stopped in the middle" in caplog.text and KEY not in caplog.text


def test_an_endpoint_that_stalls_mid_stream_times_out_into_the_extractive_answer(
    seeds_settings, fake_embedder, endpoint, seeds_assistant
):
    url, script = endpoint
    script.reply = lambda user: f"{TRUE}[1]"
    script.piece_delay = 1.5  # longer than the wait for each piece
    client, _ = serve(llm_settings(seeds_settings, url, llm_timeout=0.5), fake_embedder)
    events = events_of(client.post("/api/ask", json={"question": QUESTION, "stream": True}).text)
    assert [data["text"] for name, data in events if name == "delta"] == ["Sora"]
    name, final = events[-1]
    assert name == "answer" and final["answer"] == seeds_assistant.ask(QUESTION).text
    assert final["notice"].startswith("生成的回答暂不可用")


def test_a_declined_question_streams_its_decline_and_never_reaches_the_model(seeds_settings, fake_embedder, endpoint):
    url, script = endpoint
    client, _ = serve(llm_settings(seeds_settings, url, refusal_threshold=1.01), fake_embedder)
    events = events_of(client.post("/api/ask", json={"question": QUESTION, "stream": True}).text)
    assert "draft" not in [name for name, _ in events] and not script.requests
    assert events[-1][1]["refused"] is True
    assert "".join(data["text"] for name, data in events if name == "delta") == events[-1][1]["answer"]


def test_the_client_reads_a_whole_completion_when_the_endpoint_does_not_stream_and_fails_in_one_line(endpoint):
    url, script = endpoint
    script.reply = lambda user: "一句话。[1]"
    client = ChatClient(url, "scripted", KEY, timeout=5)
    assert "".join(client.stream([{"role": "user", "content": "hi"}])) == "一句话。[1]"
    script.status = 200
    script.drop_after = 0
    with pytest.raises(LLMError, match="stopped in the middle of its answer") as failed:
        list(client.stream([{"role": "user", "content": "hi"}]))
    assert KEY not in str(failed.value)
    script.drop_after, script.status = None, 429
    with pytest.raises(LLMError, match="rate limited"):
        list(client.stream([{"role": "user", "content": "hi"}]))


def test_the_page_shows_the_models_draft_as_it_comes_then_the_checked_answer_in_its_place(
    seeds_settings, fake_embedder, endpoint
):
    url, script = endpoint
    script.reply = lambda user: f"{TRUE}[{number_of(user, 'Adobe股价随即暴跌超7%')}] Adobe 股价随后一周上涨了 12%。[1]"
    _, assistant = serve(llm_settings(seeds_settings, url), fake_embedder)
    service = Service(assistant.settings)
    service.assistant = assistant
    frames = [chat[-1]["content"] for _, chat in ChatHandlers(service, frame_delay=0).ask(QUESTION, [], locale="zh-CN")]
    drafts = [frame for frame in frames if 'class="rag-draft"' in frame]
    # The draft grows token by token, the unchecked 12% included, marked as a draft to be checked.
    assert len(drafts) > 5 and "核对" in drafts[0] and "12%" in drafts[-1]
    assert any(len(a) < len(b) for a, b in zip(drafts, drafts[1:]))
    final = frames[-1]
    assert 'class="rag-answer"' in final and "暴跌超 7%" in final and "12%" not in final
    assert "已删去 1 句原文不支持的生成内容。" in final


def test_the_pages_named_endpoint_streams_the_models_draft_then_returns_the_same_answer_as_the_api(
    seeds_settings, fake_embedder, endpoint
):
    url, script = endpoint
    script.reply = lambda user: f"{TRUE}[{number_of(user, 'Adobe股价随即暴跌超7%')}] Adobe 股价随后一周上涨了 12%。[1]"
    client, assistant = serve(llm_settings(seeds_settings, url), fake_embedder)
    plain = client.post("/api/ask", json={"question": QUESTION, "top_k": 3}).json()
    service = Service(assistant.settings)
    service.assistant = assistant
    outputs = list(ChatHandlers(service).answer(QUESTION, 3))
    # As the HTTP API's events: the question, the model's tokens as a draft (the unchecked 12% among them), then
    # the checked answer, which gradio_client's predict returns.
    assert [output.get("event") for output in outputs[:2]] == ["question", "draft"] and "event" not in outputs[-1]
    deltas = outputs[2:-1]
    assert len(deltas) > 5 and all(d["event"] == "delta" and d["draft"] for d in deltas)
    assert "12%" in "".join(d["text"] for d in deltas)
    assert without_latency(outputs[-1]) == without_latency(plain) and "12%" not in outputs[-1]["answer"]
