"""Odd and hostile inputs get the normal one-line answer a user can act on: never a 500, a traceback or a stuck page."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rag.apps.cli import main
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.errors import RagError

from support import TINY, fake_settings, write_corpus

SURROGATE = "Sora\ud800"
# A few bytes of a PNG: zeros on both halves, so no text encoding reads them.
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"


def utf8(value: object) -> bytes:
    """What the page's server must be able to send: the value as UTF-8 JSON (lone surrogates cannot be)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    """A ready service over the tiny corpus plus a binary file the build skips."""
    folder = tmp_path_factory.mktemp("inputs")
    corpus = write_corpus(folder, TINY)
    (corpus / "image.txt").write_bytes(BINARY)
    ready = Service(fake_settings(folder, corpus, rate_limit_per_minute=0)).start()
    assert ready.wait(120) and ready.assistant is not None, ready.error
    yield ready




def final(frames: Iterator[tuple[str, list]]) -> tuple[str, list]:
    """Return the last frame of a streamed answer, checking that every frame could be sent to the browser."""
    last = None
    for last in frames:
        utf8(last)
    assert last is not None
    return last


@pytest.mark.parametrize("prefix", ["/api", "/embed/api"])
def test_a_nul_byte_in_a_source_path_is_not_an_article(client, handlers, prefix):
    response = client.get(f"{prefix}/sources/corpus/a.txt%00")
    assert response.status_code == 404 and "not an article of the corpus" in response.json()["error"]
    assert "找不到这篇文章" in handlers.open_source("#src/cite/1/1-1/corpus%2Fa.txt%00", "zh-CN")
    # A lone surrogate in a link (only a script can send one) is named without it.
    panel = handlers.open_source("#src/cite/1/1-1/corpus%2Fa\ud800.txt", "en")
    assert "No such article" in panel and utf8(panel)


def test_a_file_that_is_not_text_gets_a_one_line_422_and_a_panel_notice(client, handlers):
    response = client.get("/api/sources/corpus/image.txt")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error.startswith("corpus/image.txt cannot be shown: it looks binary") and "\n" not in error
    assert "不是可读的文本" in handlers.open_source("#src/cite/1/1-1/corpus%2Fimage.txt", "zh-CN")
    assert "is not readable text" in handlers.open_source("#src/cite/1/1-1/corpus%2Fimage.txt", "en")


def test_start_past_the_end_of_a_file_says_how_many_lines_it_has(client, handlers):
    response = client.get("/api/sources/corpus/a.txt?start=50")
    assert response.status_code == 422
    # Five lines, as an editor counts them: the newline that ends the fifth opens no sixth.
    assert response.json()["error"] == "corpus/a.txt has 5 lines: ask for start <= 5"
    assert client.get("/api/sources/corpus/a.txt?start=5").status_code == 200
    assert client.get("/api/sources/corpus/a.txt?start=6").status_code == 422
    assert "5 lines, not line 500" in handlers.open_source("#src/cite/1/500-500/corpus%2Fa.txt", "en")


def test_health_answers_head_with_its_status_and_no_body(client, service, tmp_path):
    response = client.head("/api/health")
    assert response.status_code == 200 and response.content == b""

    def broken(settings):
        raise RagError("no index in index: run `python -m rag build`")

    failed = Service(service.settings, prepare=broken).start()
    assert failed.wait(10)
    response = TestClient(create_app(failed)).head("/api/health")
    assert response.status_code == 503 and response.content == b""


def test_every_citation_quote_stands_in_the_clean_lines_the_sources_api_returns(client, service):
    sentences = list(service.assistant.index.sentences)
    assert {s.file for s in sentences} == {f"corpus/{name}" for name in TINY}
    entity_quotes = 0
    for s in sentences:
        response = client.get(f"/api/sources/{s.file}?start={s.line_start}&end={s.line_end}")
        assert response.status_code == 200
        lines = response.json()["lines"]
        clean = "".join("".join(line["clean"] for line in lines).split())
        assert "".join(s.quote.split()) in clean, (s.file, s.line_start, s.quote)
        entity_quotes += "&" in s.quote and "&amp;" in "".join(line["text"] for line in lines)
    assert entity_quotes == 1  # c.html's "后天转晴&amp;有风": the file says &amp;, the quote and `clean` say &


def test_a_question_that_is_not_valid_text_is_refused_everywhere_and_the_page_keeps_working(client, handlers, service, capsys):
    response = client.post("/api/ask", content=b'{"question": "Sora\\ud800"}', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == (
        "the question has characters that are not valid text (U+D800 at character 5): retype it"
    )

    box, chat = final(handlers.ask(SURROGATE, [], locale="zh-CN"))
    assert box == "Sora\ufffd" and "无法识别的字符" in chat[-1]["content"]
    box, chat = final(handlers.ask("苹果手机多少钱？", chat, locale="zh-CN"))
    assert box == "" and "五千元" in chat[-1]["content"]

    settings = service.settings
    argv = ["--corpus", str(settings.index.corpus_dir), "--index", str(settings.index.index_dir), "--model", "hash:64"]
    assert main(["ask", "Sora\udcff", *argv]) == 1  # bytes that are not UTF-8 on the command line
    err = capsys.readouterr().err
    assert err == "error: the question has characters that are not valid text (U+DCFF at character 5): retype it\n"


def cli_paths(service: Service) -> list[str]:
    settings = service.settings
    return ["--corpus", str(settings.index.corpus_dir), "--index", str(settings.index.index_dir), "--model", "hash:64"]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_a_batch_reports_each_bad_line_by_number_and_answers_the_rest(service, tmp_path, capsys):
    questions = tmp_path / "qs.jsonl"
    questions.write_text(
        '{"id": "q1", "question": "苹果手机多少钱？"}\n'
        + json.dumps({"id": "q2", "question": "问" * 2001}) + "\n"
        '{"id": "q3", "question": \n'
        '{"id": "q4", "question": "Sora\\ud800"}\n'
        "\n"
        '{"id": "q1", "question": "又是q1"}\n'
        '{"id": "q7", "question": "香蕉富含什么？"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "answers.jsonl"
    assert main(["batch", str(questions), "-o", str(out), *cli_paths(service)]) == 1
    err = capsys.readouterr().err
    assert error_lines(err) == [
        "error: qs.jsonl line 2: the question is 2001 characters long; the limit is 2000: shorten it",
        'error: qs.jsonl line 3: not valid JSON (Expecting value, column 26); write one JSON object a line, e.g. {"id": "q1", "question": "…"}',
        "error: qs.jsonl line 4: the question has characters that are not valid text (U+D800 at character 5): retype it",
        "error: qs.jsonl line 6: id 'q1' already used on line 1; give every question its own id",
    ]
    assert f"wrote 2 answers and 4 error records (see above) to {out}" in err and "Traceback" not in err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in records] == ["q1", "q2", None, "q4", "q1", "q7"]
    assert records[0]["question"] == "苹果手机多少钱？" and records[-1]["question"] == "香蕉富含什么？"
    assert "answer" in records[0] and "answer" in records[-1] and "error" not in records[0]
    assert [r.get("line") for r in records] == [None, 2, 3, 4, 6, None]
    assert all("answer" not in r and r["error"] for r in records[1:-1])
    assert records[3]["question"] == SURROGATE  # written as its \ud800 escape, read back as it was


def test_eval_scores_the_good_lines_and_names_the_bad_ones(service, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"id": "g1", "question": "苹果手机多少钱？", "answerable": True, "type": "fact",
         "evidence": [{"file": "a.txt", "quote": "新手机的价格是五千元"}]},
        {"id": "g2", "question": "问" * 2001, "answerable": True, "type": "fact"},
    ]
    gold.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows) + "[1, 2]\n", encoding="utf-8")
    assert main(["eval", str(gold), "-o", str(tmp_path / "run"), *cli_paths(service)]) == 1
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        "error: gold.jsonl line 2: the question is 2001 characters long; the limit is 2000: shorten it",
        'error: gold.jsonl line 3: not a JSON object; write one JSON object a line, e.g. {"id": "q1", "question": "…"}',
    ]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["overall"]["questions"] == 1 and metrics["overall"]["hit@1"] == 1.0
    assert "overall" in captured.out
