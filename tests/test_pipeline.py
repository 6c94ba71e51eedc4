from __future__ import annotations

import json

import pytest

from rag.answer.assistant import Assistant
from rag.answer.schema import answer_to_dict
from rag.apps.cli import main
from rag.embedding import HashingEmbedder
from rag.errors import QuestionError
from rag.index.build import build_index

from support import SEEDS, TINY, fake_settings, stands_in_lines, write_corpus


def test_answers_cite_sentences_that_stand_in_the_cited_lines(seeds_assistant):
    answer = seeds_assistant.ask("Adobe股价在Sora发布后怎么样了？")
    assert answer.citations and not answer.refused
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        assert stands_in_lines(SEEDS / citation.file.split("/", 1)[1], citation.line_start, citation.line_end, citation.quote)
    assert any("7%" in c.quote for c in answer.citations)


def test_json_shape_is_the_documented_one(seeds_assistant):
    result = answer_to_dict(seeds_assistant.ask("Adobe股价在Sora发布后怎么样了？"), "q1")
    assert {"id", "question", "answer", "refused", "citations", "passages", "latency_ms"} <= set(result)
    assert len(result["passages"]) >= 10
    assert [p["rank"] for p in result["passages"]] == list(range(1, len(result["passages"]) + 1))
    assert result["passages"][0]["file"].startswith("seeds/")
    assert {"n", "file", "line_start", "line_end", "quote"} <= set(result["citations"][0])


def test_empty_and_overlong_questions_are_refused_with_a_hint(seeds_assistant):
    with pytest.raises(QuestionError, match="empty"):
        seeds_assistant.ask("   ")
    with pytest.raises(QuestionError, match="limit is 2000"):
        seeds_assistant.ask("问" * 2001)


def test_a_decline_lists_related_passages_but_cites_nothing(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY), refusal_threshold=1.01)
    build_index(settings, HashingEmbedder(64))
    answer = Assistant.load(settings).ask("What is the price of the phone?")
    assert answer.refused and answer.citations == ()
    assert answer.text == "The articles do not contain an answer to this question."
    assert answer.hits
    zh = Assistant.load(settings).ask("手机多少钱？")
    assert zh.text == "资料中没有找到与此问题相关的内容。"
    # The CLI heads the related passages it lists; with none (an empty knowledge base), no heading over nothing.
    from rag.apps.cli import _format_answer

    listed = answer_to_dict(answer)
    printed = _format_answer(listed).splitlines()
    assert "Related reading (not an answer):" in printed
    # Each related passage on one line of its own, however many lines it spans.
    assert len([line for line in printed if line.startswith("  - ")]) == len(printed) - 3 == min(3, len(answer.hits))
    assert _format_answer({**listed, "passages": []}).strip() == answer.text


def test_cli_ask_prints_answer_and_sources_and_json(tmp_path, capsys, monkeypatch):
    settings = fake_settings(tmp_path, SEEDS)
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    args = ["--index", str(settings.index.index_dir), "--corpus", str(SEEDS)]
    assert main(["build", *args]) == 0
    assert main(["ask", "Adobe股价跌了多少？", *args]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "seeds/" in out
    assert main(["ask", "Adobe股价跌了多少？", "--json", *args]) == 0
    assert json.loads(capsys.readouterr().out)["citations"]


def test_cli_errors_are_one_line_with_exit_code_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    assert main(["ask", "你好", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "python -m rag build" in err
    # As the API refuses top_k 0 (it listed 10 passages here), before any index is read.
    for bad in ("0", "-3", "101", "many"):
        with pytest.raises(SystemExit):
            main(["ask", "你好", "--top-k", bad, "--index", str(tmp_path / "none")])
        assert "give a number of passages from 1 to 100" in capsys.readouterr().err


def test_cli_batch_writes_one_line_per_question(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    questions = tmp_path / "q.csv"
    questions.write_text("id,question\nx1,Sora是谁发布的？\nx2,Adobe股价怎么样？\n", encoding="utf-8")
    args = ["--index", str(tmp_path / "index"), "--corpus", str(SEEDS)]
    assert main(["build", *args]) == 0
    assert main(["batch", str(questions), "-o", str(tmp_path / "out.jsonl"), *args]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["x1", "x2"] and all(r["latency_ms"] > 0 for r in rows)
