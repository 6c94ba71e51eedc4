"""Questions about an article itself (who wrote it, when, where it comes from) are answered from the lines that
state it, cited; an article that states none declines with a message that says so."""
from __future__ import annotations

import pytest
from test_answers import assistant_over

from rag.answer.about_article import Fact, asked_about_article, facts
from rag.ingest.textnorm import stands_in

from support import stands_in_lines


@pytest.mark.parametrize(("question", "kind"), [
    ("量子位那篇文章是谁写的？", "author"),
    ("新快报那篇用“五大问题”解读Sora的稿子，采写记者是谁？", "author"),
    ("这篇报道的作者是谁？", "author"),
    ("这篇报道是哪天刊发的？", "date"),
    ("年假制度那篇文章的发布时间是什么？", "date"),
    ("这篇文章来自哪个公众号？", "source"),
    ("Who wrote the article on annual leave?", "author"),
    ("When was this article published?", "date"),
])
def test_a_question_about_an_article_says_which_fact_it_asks(question, kind):
    assert asked_about_article(question)[0] == kind


@pytest.mark.parametrize("question", [
    "Sora是什么时候发布的？",
    "这篇文章说Sora是什么时候发布的？",  # Sora's date, as the article gives it
    "据新京报报道，Sora有哪些特点？",
    "Sora的提示词是谁写的？",
    "When was Sora released?",
])
def test_a_question_about_what_an_article_says_is_not_one_about_the_article(question):
    assert asked_about_article(question) is None


RAW = """---
title: '报销流程'
date: Mon, 19 Feb 2024 00:47:03 GMT
author: [['finance']]
---

# 报销流程

2024年2月20日 星期二 责编/李焕泉

##### 梦晨 西风 发自 凹非寺

正文第一句很长很长，说的是报销需在30天内提交，逾期不予受理，这一句不是作者。本文来自微信公众号“读懂财经”，作者：小白，编辑：夏益军。

记者 刘宗智
"""


def test_the_facts_of_each_kind_are_the_lines_that_state_them():
    lines = RAW.split("\n")
    authors = facts(RAW, "author")
    assert [f.quote for f in authors] == ["梦晨 西风 发自 凹非寺", "本文来自微信公众号“读懂财经”，作者：小白，编辑：夏益军。",
                                          "记者 刘宗智"]
    assert all(f.quote in lines[f.line - 1] for f in authors)
    dates = facts(RAW, "date")
    assert [f.quote for f in dates] == ["2024年2月20日 星期二 责编/李焕泉", "date: Mon, 19 Feb 2024 00:47:03 GMT"]
    assert lines[dates[1].line - 1].startswith("date:")
    assert facts("# 标题\n\n只有正文，没有作者和日期。\n", "author") == []
    assert facts("---\nauthor\ntitle: 无值的字段\n---\n正文。\n", "author") == []  # a field with no colon is none
    assert facts("---\nauthor: 张三\n---", "author") == [Fact(2, "author: 张三")]  # front matter that ends the file


def test_a_fact_in_a_line_of_html_is_quoted_as_its_text_which_the_citation_check_finds():
    line = '</p><p class="editor-note">本文来自微信公众号<a href="https://mp.weixin.qq.com/s/x">“读懂财经”</a>，作者：小白。</p>'
    (fact,) = facts(f"# 标题\n\n{line}\n", "author")
    assert fact.quote == "本文来自微信公众号“读懂财经”，作者：小白。" and fact.line == 3
    assert stands_in([line], 1, 1, fact.quote)


NOTES = {
    "leave.md": "# 年假制度\n\n作者：人事部 王芳\n发布日期：2024-03-01\n\n员工每年有10天年假，需提前一周申请。\n",
    "expenses.md": "# 报销流程\n\n作者：财务部 李强\n\n报销需在30天内提交，逾期不予受理。\n",
}


def test_who_wrote_a_note_quotes_its_own_byline_not_another_notes(tmp_path, fake_embedder):
    assistant = assistant_over(tmp_path, fake_embedder, NOTES)
    answer = assistant.ask("报销流程那篇文章的作者是谁？")
    assert not answer.refused
    assert "李强" in answer.text and "王芳" not in answer.text
    (citation,) = answer.citations
    assert citation.file.endswith("expenses.md") and citation.line_start == 3
    assert stands_in_lines(tmp_path / "corpus" / "expenses.md", citation.line_start, citation.line_end, citation.quote)
    dated = assistant.ask("年假制度这篇文章是什么时候发布的？")
    assert not dated.refused and "2024-03-01" in dated.text


def test_an_article_that_states_no_date_says_so(tmp_path, fake_embedder):
    assistant = assistant_over(tmp_path, fake_embedder, NOTES)
    answer = assistant.ask("报销流程那篇文章是什么时候发布的？")
    assert answer.refused and answer.citations == () and answer.confidence == 0.0
    assert answer.text == "资料中《报销流程》没有写明发布时间。"


def test_an_article_the_corpus_does_not_hold_gets_no_other_articles_byline(seeds_assistant):
    # Declined on the real model (tests/test_real_model.py); the fake embedder's decision answers everything.
    answer = seeds_assistant.ask("人民日报那篇文章是谁写的？")
    assert not any(name in answer.text for name in ("量子位", "郑志辉", "刘宗智", "梦晨"))


def test_who_wrote_a_seed_article_quotes_its_header(seeds_assistant):
    answer = seeds_assistant.ask("量子位那篇讲“Sora概念股”的文章是谁写的？")
    assert not answer.refused
    assert [c.quote for c in answer.citations] == ["文章作者: 量子位", "梦晨 西风 发自 凹非寺"]
    assert all(c.file.endswith("004_02a4909be80bae2b.txt") for c in answer.citations)
    assert seeds_assistant.ask("新京报那篇报道的作者是谁？").refused


def test_a_date_line_is_no_answer_to_a_subject_question_its_label_alone_matches(tmp_path, fake_embedder):
    # "Sora 发布时间" asks when Sora was released; "发布时间: 2024-02-19 13:42" says when the article was, and holds
    # 发布 and 时间 in its label only. Asked of the article, the same line answers.
    notes = {"sora.md": "# Sora横空出世\n\n发布时间: 2024-02-19 13:42\n\n2月16日凌晨，OpenAI 发布了文生视频模型 Sora。\n\n"
                        "网友说，这个视频很有意思。\n"}
    assistant = assistant_over(tmp_path, fake_embedder, notes, refusal_threshold=1e-9)
    answer = assistant.ask("Sora 发布时间")
    assert not answer.refused and answer.citations[0].quote.startswith("2月16日凌晨")
    assert all("2024-02-19" not in citation.quote for citation in answer.citations)
    assert "2024-02-19" in assistant.ask("这篇文章的发布时间是什么？").text
