"""One index per corpus: a missing corpus folder or an index built from another corpus is a one-line error."""
from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from rag.apps.cli import main
from rag.apps.server import create_app
from rag.apps.service import Service
from rag.apps.web import ChatHandlers

from support import TINY, fake_settings, write_corpus

OTHER = {"n.txt": "# 笔记\n\n年假是10天。\n"}


def _err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def _build(corpus: Path, index: Path) -> None:
    assert main(["build", "--corpus", str(corpus), "--index", str(index), "--model", "hash:64"]) == 0


def test_asking_over_a_corpus_folder_that_does_not_exist_is_an_error_not_the_seeds(tmp_path, capsys, monkeypatch):
    corpus = write_corpus(tmp_path, TINY)
    _build(corpus, tmp_path / "index")
    capsys.readouterr()
    code = main(["ask", "香蕉是什么", "--corpus", str(tmp_path / "no/such/folder"), "--index", str(tmp_path / "index"),
                 "--model", "hash:64"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.strip().startswith("error: corpus folder") and "does not exist" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_ask_batch_and_eval_refuse_an_index_built_from_another_corpus(tmp_path, capsys):
    seeds = write_corpus(tmp_path / "a", TINY)
    notes = write_corpus(tmp_path / "b", OTHER)
    _build(seeds, tmp_path / "index")
    capsys.readouterr()
    paths = ["--corpus", str(notes), "--index", str(tmp_path / "index"), "--model", "hash:64"]
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "年假几天"}, ensure_ascii=False) + "\n", encoding="utf-8")
    for argv in (["ask", "年假几天"], ["batch", str(questions), "-o", str(tmp_path / "out.jsonl")], ["eval", str(questions)]):
        assert main([*argv, *paths]) == 1, argv
        lines = _err_lines(capsys)
        assert len(lines) == 1 and "built from" in lines[0] and "--index" in lines[0], lines
    assert not (tmp_path / "out.jsonl").exists()


def test_building_another_corpus_without_index_keeps_the_existing_index(tmp_path, capsys, monkeypatch):
    seeds = write_corpus(tmp_path / "a", TINY)
    notes = write_corpus(tmp_path / "b", OTHER)
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--corpus", str(seeds), "--model", "hash:64"]) == 0
    before = (tmp_path / "index" / "default" / "manifest.json").read_bytes()
    capsys.readouterr()
    assert main(["build", "--corpus", str(notes), "--model", "hash:64"]) == 1
    lines = _err_lines(capsys)
    assert len(lines) == 1 and "--kb NAME" in lines[0], lines
    assert (tmp_path / "index" / "default" / "manifest.json").read_bytes() == before
    # its own index folder builds, and answers from its own notes
    assert main(["build", "--corpus", str(notes), "--index", "notes-index", "--model", "hash:64"]) == 0
    assert main(["ask", "年假几天", "--json", "--corpus", str(notes), "--index", "notes-index", "--model", "hash:64"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert all(c["file"].startswith("corpus/n.txt") for c in answer["citations"])
    # rebuilding the same corpus into its default index still works
    assert main(["build", "--corpus", str(seeds), "--model", "hash:64"]) == 0


LEAVE = {"leave.md": "# 休假制度\n\n员工每年有带薪年假。\n\n年假是10天，可以分次休完。\n\n病假需要医生证明。\n",
         "food.md": "# 食堂\n\n食堂中午十二点开门。\n"}


def test_after_a_file_is_edited_a_citation_still_stands_in_the_lines_the_sources_show(tmp_path):
    corpus = write_corpus(tmp_path, LEAVE)
    service = Service(fake_settings(tmp_path, corpus, rate_limit_per_minute=0)).start()
    assert service.wait(120) and service.assistant is not None, service.error
    client = TestClient(create_app(service), raise_server_exceptions=False)
    path = corpus / "leave.md"
    path.write_text(path.read_text(encoding="utf-8").replace("10天", "12天"), encoding="utf-8")

    answer = client.post("/api/ask", json={"question": "员工的年假是多少天"}).json()
    assert not answer["refused"] and answer["citations"], answer
    for citation in answer["citations"]:
        for prefix in ("/api", "/embed/api"):
            shown = client.get(f"{prefix}/sources/{citation['file']}?start={citation['line_start']}&end={citation['line_end']}")
            assert shown.status_code == 200
            body = shown.json()
            clean = "".join("".join(line["clean"] for line in body["lines"]).split())
            assert "".join(citation["quote"].split()) in clean, (citation, body)
            assert body["stale"] is True
    assert any("10天" in c["quote"] for c in answer["citations"])
    href = f"#src/cite/1/{answer['citations'][0]['line_start']}-{answer['citations'][0]['line_end']}/corpus%2Fleave.md"
    panel = ChatHandlers(service, frame_delay=0).open_source(href, "zh-CN")
    assert "10天" in panel and "12天" not in panel and "建立索引之后改动过" in panel
    unchanged = client.get("/api/sources/corpus/food.md?start=3&end=3").json()
    assert unchanged["stale"] is False and unchanged["lines"][0]["clean"] == "食堂中午十二点开门。"


def test_a_reader_that_goes_away_ends_the_command_quietly(capfd, monkeypatch):
    # `python -m rag ask … | head`: once head has what it wants, writing raises BrokenPipeError; no traceback.
    import rag.apps.cli as cli

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_kbs", closed_pipe)
    assert main(["kbs"]) == 0
    assert "Traceback" not in capfd.readouterr().err
