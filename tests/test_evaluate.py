"""Scoring checked against hand-worked numbers on tiny inline data (no pipeline, no model)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.errors import RagError
from rag.eval.metrics import (
    Question,
    QuestionFileError,
    ResultsMismatchError,
    SourceFiles,
    aggregate,
    check_citation,
    citation_validity,
    context_passages,
    covers,
    load_questions,
    normalize,
    read_questions,
    score_question,
    score_questions,
    summarize,
)

GOLD = Path("/work/shared/eval/gold_public.jsonl")


def passage(rank: int, text: str, file: str = "seeds/a.txt") -> dict[str, Any]:
    return {"rank": rank, "file": file, "line_start": 1, "line_end": 1, "text": text, "score": 1.0 / rank}


def result(qid: str, passages: list[dict[str, Any]] | None = None, answer: str = "答案",
           refused: bool = False, citations: list[dict[str, Any]] | None = None,
           latency_ms: float = 10.0) -> dict[str, Any]:
    return {"id": qid, "question": "?", "answer": answer, "refused": refused,
            "citations": citations or [], "passages": passages or [], "latency_ms": latency_ms}


def answerable(qid: str, quotes: tuple[str, ...] = ("Sora发布",), keywords: tuple[str, ...] = (),
               qtype: str = "fact") -> Question:
    return Question(id=qid, question="?", answerable=True, keywords=keywords,
                    evidence=tuple(("a.txt", q) for q in quotes), type=qtype)


def unanswerable(qid: str) -> Question:
    return Question(id=qid, question="?", answerable=False, type="unanswerable")


def score(question: Question, res: dict[str, Any], root: Path = Path("/nonexistent")):
    return score_question(question, res, root)


# ---------------------------------------------------------------- normalisation and covering

def test_normalize_applies_nfkc_unescape_and_drops_whitespace() -> None:
    # NFKC: ２→2, １６→16, full-width space→space; unescape: &amp;→&; then all whitespace goes
    assert normalize("２月１６日\u3000凌晨 &amp; Sora\n") == "2月16日凌晨&Sora"


def test_full_width_quote_with_spaces_still_covers_passage() -> None:
    p = passage(1, "2月16日凌晨，OpenAI官方发布了Sora")
    assert covers(p, ("a.txt", "２月１６日 凌晨，OpenAI 官方"))
    # same text in another article does not count: the file must match too
    assert not covers(passage(1, p["text"], file="seeds/b.txt"), ("a.txt", "2月16日凌晨"))


# ---------------------------------------------------------------- retrieval

def test_evidence_at_rank_3() -> None:
    passages = [passage(1, "无关内容"),
                passage(2, "Sora 发布", file="seeds/b.txt"),  # right text, wrong file
                passage(3, "消息：Sora 发布了")]
    s = score(answerable("q1"), result("q1", passages))
    assert s.first_rank == 3
    assert (s.hit_at_1, s.hit_at_3, s.hit_at_5) == (False, True, True)
    assert s.rr_at_10 == pytest.approx(1 / 3)  # first covering passage at rank 3 → 1/3
    assert s.recall_at_5 == 1.0  # the only quote is covered within the top 5
    assert "evidence not in top 5" not in " ".join(s.problems)
    assert aggregate([s]).mrr_at_10 == pytest.approx(1 / 3)
    assert aggregate([s]).hit_at_1 == 0.0


def test_rank_is_read_from_passages_not_list_order() -> None:
    # listed out of order: the covering passage carries rank 1
    s = score(answerable("q1"), result("q1", [passage(2, "无关"), passage(1, "Sora发布")]))
    assert s.first_rank == 1


def test_evidence_beyond_rank_10_scores_zero_and_is_reported() -> None:
    passages = [passage(r, "无关") for r in range(1, 12)] + [passage(12, "Sora发布")]
    s = score(answerable("q1"), result("q1", passages))
    # found at rank 12: no hit at any k, and 12 > 10 so rr@10 = 0
    assert (s.first_rank, s.hit_at_10, s.rr_at_10) == (12, False, 0.0)
    assert "evidence not in top 5 (first at rank 12)" in s.problems


def test_recall_counts_each_quote() -> None:
    passages = [passage(r, "无关") for r in range(1, 11)]
    passages[1] = passage(2, "甲事")
    passages[6] = passage(7, "乙事")
    s = score(answerable("q1", quotes=("甲事", "乙事")), result("q1", passages))
    assert s.recall_at_5 == 0.5  # only 甲事 (rank 2) of the two quotes is in the top 5
    assert s.recall_at_10 == 1.0  # 乙事 at rank 7 joins within the top 10
    assert [m.rank for m in s.evidence] == [2, 7]
    # a multi question needs every quote: one missing from the top 10 is reported
    passages[6] = passage(7, "无关")
    multi = score(answerable("q2", quotes=("甲事", "乙事"), qtype="multi"), result("q2", passages))
    assert multi.recall_at_10 == 0.5 and multi.problems == ("quote not in top 10: a.txt “乙事”",)
    # for other types the quotes are alternatives, so one of them is enough
    assert score(answerable("q3", quotes=("甲事", "乙事")), result("q3", passages)).problems == ()


def test_context_cut_excludes_rank_2_passage() -> None:
    passages = [passage(1, "无" * 1000), passage(2, "Sora发布" + "有" * 594)]  # 1000 + 600 = 1600 > 1500
    s = score(answerable("q1"), result("q1", passages))
    assert s.context_passages == 1
    assert s.hit_at_5 is True  # rank 2 is in the top 5 …
    assert s.ctx_hit_at_1500c is False  # … but not within the 1500-character context
    assert s.ctx_recall_at_1500c == 0.0
    assert any("1500-character context" in p for p in s.problems)


def test_context_boundary_and_oversized_first_passage() -> None:
    # 900 + 600 = 1500 characters: exactly at the budget, both passages count
    assert context_passages([passage(1, "字" * 900), passage(2, "字" * 600)]) == 2
    # a 2000-character first passage still counts (the first passage always does)
    s = score(answerable("q1"), result("q1", [passage(1, "Sora发布" + "字" * 2000)]))
    assert (s.context_passages, s.ctx_hit_at_1500c, s.ctx_recall_at_1500c) == (1, True, 1.0)


# ---------------------------------------------------------------- answers

def test_keyword_beyond_character_300_is_not_counted() -> None:
    q = answerable("q1", keywords=("2月16日", "凌晨"))
    s = score(q, result("q1", answer="凌晨" + "字" * 298 + "2月16日"))  # 凌晨 at 0-1, date at 300+
    assert s.keyword_recall_at_300c == 0.5  # 凌晨 found, 2月16日 only after char 300 → 1/2
    assert s.keywords_missing == ("2月16日",)
    assert "keyword '2月16日' only after character 300" in s.problems


def test_keyword_matches_after_normalisation_and_english_is_skipped() -> None:
    q = answerable("q1", keywords=("2月16日",))
    assert score(q, result("q1", answer="Sora在２月 １６日发布")).keyword_recall_at_300c == 1.0
    missing = score(q, result("q1", answer="不知道"))
    assert "keyword '2月16日' missing from answer" in missing.problems
    english = answerable("q2", keywords=("7%",), qtype="english")
    s = score(english, result("q2", answer="no number"))
    assert s.keyword_recall_at_300c is None and s.problems == ("evidence not in any retrieved passage",)
    assert aggregate([s]).answer_keyword_recall_at_300c is None  # not 0: no Chinese question


def test_refusal_metrics_and_problems() -> None:
    scores = [score(unanswerable("u1"), result("u1", refused=True)),
              score(unanswerable("u2"), result("u2", refused=False)),
              score(answerable("a1"), result("a1", refused=True)),
              score(answerable("a2"), result("a2")),
              score(answerable("a3"), result("a3"))]
    m = aggregate(scores)
    assert m.refusal_on_unanswerable == 0.5  # u1 declined, u2 not → 1/2
    assert m.false_refusal == pytest.approx(1 / 3)  # a1 of a1..a3 declined → 1/3
    assert (m.questions, m.answerable, m.unanswerable) == (5, 3, 2)
    assert "answered an unanswerable question" in scores[1].problems
    assert "refused an answerable question" in scores[2].problems
    refused_kw = score(answerable("a4", keywords=("涨停",)), result("a4", answer="无法回答", refused=True))
    assert refused_kw.keyword_recall_at_300c == 0.0  # still scored: 0 of 1 keywords
    assert not any("keyword" in p for p in refused_kw.problems)  # the refusal says it already
    assert scores[0].problems == () and scores[0].hit_at_1 is None  # no retrieval score when unanswerable


def test_answer_length_latency_and_missing_metrics() -> None:
    scores = [score(unanswerable(f"u{i}"), result(f"u{i}", answer=a, refused=r, latency_ms=t))
              for i, (a, r, t) in enumerate([("ab", False, 10), ("abcd", False, 20),
                                             ("a" * 9, False, 30), ("x" * 100, True, 40)])]
    m = aggregate(scores)
    assert m.answer_chars_median == 4  # answered: 2, 4, 9 (the refusal is left out) → median 4
    assert m.answer_chars_mean == 5  # (2 + 4 + 9) / 3
    assert m.latency_p50_ms == 25  # halfway between 20 and 30
    assert m.latency_p95_ms == pytest.approx(38.5)  # position 0.95 * 3 = 2.85 → 30 + 0.85 * 10
    # only unanswerable questions and no citations: these have no questions, so None, not 0
    assert m.hit_at_1 is None and m.mrr_at_10 is None and m.citation_validity is None
    assert m.false_refusal is None


# ---------------------------------------------------------------- citations

@pytest.fixture
def corpus_parent(tmp_path: Path) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_text(
        "第一行：Sora 发布。\n<p>Adobe 股价<b>暴跌</b>超 7%</p>\nAT&amp;T 也在\n", encoding="utf-8")
    return tmp_path


def cite(n: int, start: int, end: int, quote: str, file: str = "seeds/a.txt") -> dict[str, Any]:
    return {"n": n, "file": file, "line_start": start, "line_end": end, "quote": quote}


def test_citation_validity(corpus_parent: Path) -> None:
    citations = [cite(1, 2, 2, "Adobe股价暴跌超7%"),  # valid once <p>/<b> tags are removed
                 cite(2, 1, 1, "Adobe股价暴跌超7%"),  # wrong line
                 cite(3, 3, 9, "AT&T"),  # line 9 is past the end (3 lines)
                 cite(4, 1, 1, "Sora", file="seeds/missing.txt"),
                 cite(5, 1, 3, "Sora发布。Adobe"),  # spans lines 1-3; newline removed as whitespace
                 cite(6, 3, 3, "AT&T也在")]  # &amp; unescaped on the source side
    # valid: [1], [5], [6] → 3 of 6
    assert citation_validity(citations, corpus_parent) == 0.5
    sources = SourceFiles(corpus_parent)
    assert check_citation(citations[1], sources) == "citation [2] quote not in seeds/a.txt:1-1"
    assert "outside seeds/a.txt" in check_citation(citations[2], sources)
    s = score_question(answerable("q1"), result("q1", citations=citations), corpus_parent)
    assert (s.citations, s.citations_valid) == (6, 3)
    assert "citation [2] quote not in seeds/a.txt:1-1" in s.problems
    assert aggregate([s]).citation_validity == 0.5


def test_source_files_are_read_once(corpus_parent: Path) -> None:
    sources = SourceFiles(corpus_parent)
    assert check_citation(cite(1, 1, 1, "Sora发布"), sources) is None
    (corpus_parent / "seeds" / "a.txt").write_text("changed\n", encoding="utf-8")
    assert check_citation(cite(1, 1, 1, "Sora发布"), sources) is None  # served from the cache
    assert SourceFiles(corpus_parent).lines("../../etc/passwd") is None  # outside the corpus parent



def test_citations_are_checked_in_the_lines_the_corpus_reads(corpus_parent: Path) -> None:
    """An old Mac file (CR line breaks) and a GBK file are numbered as the sources route numbers them."""
    seeds = corpus_parent / "seeds"
    (seeds / "mac.txt").write_bytes("第一行。\r第二行：Sora 发布。\r".encode())
    (seeds / "gbk.txt").write_bytes("第一行。\n第二行：Sora 发布。\n".encode("gbk"))
    sources = SourceFiles(corpus_parent)
    for file in ("seeds/mac.txt", "seeds/gbk.txt"):
        assert check_citation(cite(1, 2, 2, "第二行：Sora发布。", file=file), sources) is None


# ---------------------------------------------------------------- aggregation

def test_breakdown_by_type() -> None:
    scores = [score(answerable("f1"), result("f1", [passage(1, "Sora发布")])),  # fact, rank 1
              score(answerable("f2"), result("f2", [passage(1, "无关")])),  # fact, not found
              score(answerable("w1", qtype="who"), result("w1", [passage(1, "无"), passage(2, "Sora发布")])),
              score(unanswerable("u1"), result("u1", refused=True))]
    summary = summarize(scores)
    assert list(summary.by_type) == ["fact", "unanswerable", "who"]
    assert summary.overall.hit_at_1 == pytest.approx(1 / 3)  # f1 only, over 3 answerable
    assert summary.overall.mrr_at_10 == pytest.approx(0.5)  # (1 + 0 + 1/2) / 3
    assert summary.by_type["fact"].hit_at_1 == 0.5  # f1 yes, f2 no
    assert summary.by_type["fact"].mrr_at_10 == 0.5  # (1 + 0) / 2
    assert summary.by_type["who"].hit_at_1 == 0.0 and summary.by_type["who"].hit_at_3 == 1.0
    assert summary.by_type["unanswerable"].hit_at_1 is None
    assert summary.by_type["unanswerable"].refusal_on_unanswerable == 1.0
    d = summary.to_dict()
    assert d["overall"]["mrr@10"] == pytest.approx(0.5)
    assert {"hit@1", "ctx_hit@1500c", "answer_keyword_recall@300c", "latency_p95_ms"} <= set(d["overall"])


def test_score_questions_pairs_by_id_and_names_missing_results() -> None:
    qs = [answerable("q1"), answerable("q2")]
    scores = score_questions(qs, [result("q2"), result("q1", [passage(1, "Sora发布")])], Path("."))
    assert [s.id for s in scores] == ["q1", "q2"] and scores[0].hit_at_1 is True
    with pytest.raises(ResultsMismatchError, match="q2"):
        score_questions(qs, [result("q1")], Path("."))


# ---------------------------------------------------------------- loading

def test_load_csv_with_bom_gold_columns_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "qs.csv"
    path.write_text('\ufeffid,question,type,keywords,evidence,notes\n'
                    'c1,Sora哪天发布？,number,2月16日|凌晨,"[{""file"": ""a.txt"", ""quote"": ""Sora发布""}]",x\n'
                    'c2,"没有金标准, 只有问题",,,,\n', encoding="utf-8")
    c1, c2 = load_questions(path)
    assert (c1.id, c1.type, c1.keywords) == ("c1", "number", ("2月16日", "凌晨"))
    assert c1.evidence == (("a.txt", "Sora发布"),) and c1.answerable is True  # gold given → answerable
    assert (c2.question, c2.answerable, c2.evidence, c2.type) == ("没有金标准, 只有问题", None, (), None)
    s = score(c2, result("c2", [passage(1, "Sora发布")]))
    assert s.hit_at_1 is None and s.problems == ()  # no gold, no scores, nothing flagged
    assert aggregate([s]).answerable == 0 and aggregate([s]).hit_at_1 is None
    path.write_text("id,question,answerable\nc3,三,False\n", encoding="utf-8")
    assert load_questions(path)[0].answerable is False


def test_malformed_jsonl_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "qs.jsonl"
    path.write_text('{"id": "q1", "question": "一"}\n\n{"id": "q2", "question": \n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=r"qs\.jsonl line 3: not valid JSON") as info:
        load_questions(path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RagError)
    path.write_text('{"id": "q1", "question": "一"}\n{"id": "q2"}\n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=r"qs\.jsonl line 2: missing 'question'"):
        load_questions(path)
    path.write_text('{"id": "q1", "question": 2024}\n', encoding="utf-8")  # there, but a number: not "missing"
    with pytest.raises(QuestionFileError, match=r"qs\.jsonl line 1: 'question' is 2024, not text; write it in quotes"):
        load_questions(path)
    path.write_text('{"id": "q1", "question": "一"}\n{"id": "q1", "question": "二"}\n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match="already used on line 1"):
        load_questions(path)
    (tmp_path / "bad.csv").write_text("qid,text\n1,x\n", encoding="utf-8")
    with pytest.raises(QuestionFileError, match="bad.csv line 1: header is qid,text"):
        load_questions(tmp_path / "bad.csv")
    (tmp_path / "bad.csv").write_text("id,question,answerable\nc1,一,false\nc2,二,maybe\n", encoding="utf-8")
    with pytest.raises(QuestionFileError, match="bad.csv line 3: 'answerable' is 'maybe'; write true or false"):
        load_questions(tmp_path / "bad.csv")


def test_reading_keeps_every_good_line_and_names_each_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "qs.csv"
    path.write_text("id,question,answerable\nc1,一,false\nc2,二,maybe\n,三,\nc4,四,\n", encoding="utf-8")
    found = read_questions(path)
    assert [(q.id, q.line) for q in found.questions] == [("c1", 2), ("c4", 5)]
    assert [(b.line, b.id, b.error) for b in found.bad_lines] == [
        (3, "c2", "'answerable' is 'maybe'; write true or false"),
        (4, None, "missing 'id'; give every question an id such as q001"),
    ]
    path = tmp_path / "qs.jsonl"
    path.write_text('{"id": "q1", "question": "一", "keywords": [' + "1" * 5000 + ']}\n"q2"\n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=r"qs\.jsonl line 1: not JSON this reader takes \(a number too long.*\(and 1 more bad line\)"):
        read_questions(path)


def test_load_jsonl_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "qs.jsonl"
    row = {"id": "q1", "question": "一", "answerable": False, "keywords": [], "evidence": [], "type": "unanswerable"}
    path.write_text("\ufeff" + json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_questions(path) == [Question(id="q1", question="一", answerable=False, type="unanswerable")]


@pytest.mark.skipif(not GOLD.exists(), reason="shared gold file not present")
def test_public_gold_file_loads() -> None:
    qs = load_questions(GOLD)
    assert len(qs) == 46 and sum(q.answerable is False for q in qs) == 4
    assert all(q.evidence for q in qs if q.answerable)
