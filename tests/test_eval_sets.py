"""`rag eval` over several gold sets in one run; accepted answers (`alternatives`) and answer_contains@300c."""
from __future__ import annotations

import json
from pathlib import Path

from rag.apps.cli import main
from rag.eval.metrics import Question, aggregate, load_questions, score_question

from support import SEEDS, TINY, write_corpus


def _gold(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_alternatives_are_read_and_any_accepted_answer_counts(tmp_path: Path) -> None:
    gold = _gold(tmp_path / "g.jsonl", [{"id": "a", "question": "价格？", "answerable": True,
                                         "keywords": ["五千元"], "alternatives": ["五千元", "5000元"]}])
    question = load_questions(gold)[0]
    assert question.alternatives == ("五千元", "5000元")
    found = score_question(question, {"answer": "新手机售价 5000 元。", "refused": False}, tmp_path)
    assert found.answer_contains_at_300c is True  # an alternative, after removing whitespace
    late = score_question(question, {"answer": "字" * 300 + "五千元", "refused": False}, tmp_path)
    declined = score_question(question, {"answer": "五千元", "refused": True}, tmp_path)
    assert late.answer_contains_at_300c is False and declined.answer_contains_at_300c is False
    assert aggregate([found, late, declined]).answer_contains_at_300c == 1 / 3


def test_answer_contains_counts_english_questions_and_falls_back_to_keywords(tmp_path: Path) -> None:
    english = Question("e", "How much?", answerable=True, keywords=("五千元",), type="english")
    s = score_question(english, {"answer": "价格是五千元。[1]", "refused": False}, tmp_path)
    assert s.answer_contains_at_300c is True and s.keyword_recall_at_300c is None
    assert aggregate([s]).to_dict()["answer_contains@300c"] == 1.0


def test_eval_reports_each_set_with_its_settings_and_index_manifest(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    tiny = write_corpus(tmp_path, TINY)
    for corpus, index in ((SEEDS, tmp_path / "seeds-index"), (tiny, tmp_path / "tiny-index")):
        assert main(["build", "--corpus", str(corpus), "--index", str(index)]) == 0
    sora = _gold(tmp_path / "sora.jsonl", [{"id": "s1", "question": "Sora是谁发布的？", "answerable": True,
                                            "keywords": ["OpenAI"]}])
    fruit = _gold(tmp_path / "fruit.jsonl", [{"id": "f1", "question": "香蕉富含什么？", "answerable": True,
                                              "keywords": ["钾"], "alternatives": ["钾", "钾元素"]},
                                             {"id": "f2", "question": "火星上有几个人？", "answerable": False}])
    out = tmp_path / "run"
    assert main(["eval", f"{sora}={SEEDS}={tmp_path / 'seeds-index'}", f"{fruit}={tiny}={tmp_path / 'tiny-index'}",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sora" in printed and "fruit" in printed and "has@300c" in printed
    metrics = json.loads((out / "fruit" / "metrics.json").read_text(encoding="utf-8"))
    assert str(tmp_path / "tiny-index") in json.dumps(metrics["run"]["settings"])  # the settings it ran with
    assert metrics["overall"]["questions"] == 2 and "answer_contains@300c" in metrics["overall"]
    manifest = json.loads((out / "fruit" / "index-manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["chunks"] > 0
    table = json.loads((out / "sets.json").read_text(encoding="utf-8"))
    assert set(table) == {"sora", "fruit"} and table["sora"]["questions"] == 1


def test_eval_rejects_a_malformed_set_in_one_line(tmp_path, capsys) -> None:
    assert main(["eval", "gold.jsonl=only-corpus"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "GOLD.jsonl=CORPUS_DIR=INDEX_DIR" in err


def test_an_evidence_file_written_as_a_citation_shows_it_counts_and_one_the_corpus_lacks_is_named(tmp_path, capsys,
                                                                                                   monkeypatch) -> None:
    # Citations show "tiny/fruit.txt" (under the corpus folder's name); a gold file that copied it scored every
    # question as a miss, and said only "evidence not in any retrieved passage".
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    tiny = write_corpus(tmp_path, TINY)
    index = tmp_path / "tiny-index"
    assert main(["build", "--corpus", str(tiny), "--index", str(index)]) == 0
    file, quote, question = "a.txt", "新手机的价格是五千元", "新手机的价格是多少？"
    rows = [{"id": "a", "question": question, "answerable": True, "evidence": [{"file": f"{tiny.name}/{file}", "quote": quote}]},
            {"id": "b", "question": question, "answerable": True, "evidence": [{"file": file, "quote": quote}]}]
    gold = _gold(tmp_path / "g.jsonl", rows)
    assert main(["eval", f"{gold}={tiny}={index}", "-o", str(tmp_path / "run")]) == 0
    assert "not in the corpus" not in capsys.readouterr().out
    scored = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "g" / "questions.jsonl").read_text().splitlines())}
    assert scored["a"]["hit_at_5"] is True and scored["b"]["hit_at_5"] is True
    missing = _gold(tmp_path / "m.jsonl", [dict(rows[1], evidence=[{"file": "other/none.txt", "quote": quote}])])
    assert main(["eval", f"{missing}={tiny}={index}", "-o", str(tmp_path / "run2")]) == 0
    printed = capsys.readouterr().out
    assert "1 evidence file(s) of the gold are not in the corpus (other/none.txt)" in printed
