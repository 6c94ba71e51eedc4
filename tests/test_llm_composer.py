"""Generated answers against a scripted OpenAI-compatible endpoint on loopback: every sentence checked, decisions ours."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.answer.llm_composer import split_generated
from rag.answer.schema import answer_to_dict

from servers import free_port

QUESTION = "Adobe股价在Sora发布后怎么样了？"
TRUE = "Sora 发布后，Adobe 股价随即暴跌超 7%。"
KEY = "sk-never-shown-0123456789"


def number_of(user: str, words: str) -> int:
    """Return the number the prompt gave the passage holding `words`."""
    for line in user.splitlines():
        found = re.match(r"\[(\d+)\] ", line)
        if found and words in line.replace(" ", ""):
            return int(found.group(1))
    raise AssertionError(f"no passage with {words} in the prompt")


def assistant(seeds_settings, fake_embedder, url: str, **more) -> Assistant:
    settings = seeds_settings.with_overrides(llm_base_url=url, llm_model="scripted", llm_api_key=KEY, **more)
    return Assistant.load(settings, fake_embedder)


def test_split_generated_reads_markers_before_or_after_the_full_stop():
    assert split_generated("甲是乙[1]。丙是丁。[2][3] Sora launched [1]. No marker.") == [
        ("甲是乙。", (1,)), ("丙是丁。", (2, 3)), ("Sora launched.", (1,)), ("No marker.", ()),
    ]


def test_a_sentence_with_a_number_the_passage_lacks_is_dropped_and_a_true_one_kept_with_its_lines(
    seeds_settings, fake_embedder, endpoint, seeds_assistant
):
    url, script = endpoint
    script.reply = lambda user: (
        f"{TRUE}[{number_of(user, 'Adobe股价随即暴跌超7%')}] Adobe 股价随后一周上涨了 12%。[{number_of(user, 'Adobe股价随即暴跌超7%')}]"
    )
    answer = assistant(seeds_settings, fake_embedder, url).ask(QUESTION)
    assert answer.generated and not answer.refused
    assert answer.text == TRUE + "[1]"
    (citation,) = answer.citations
    assert "Adobe 股价随即暴跌超 7%" in citation.quote
    assert (citation.file, citation.line_start, citation.line_end) == ("seeds/000_fa970c9a7ff3279d.txt", 5, 5)
    assert answer.checks["kept"] == 1 and answer.checks["dropped"] == 1
    assert answer.checks["reasons"] == {"not in the cited passages": 1}
    assert answer.notice == "已删去 1 句原文不支持的生成内容。"
    # The passages went to the model numbered, with the rules and the question's language.
    system, user = script.requests[0]["messages"]
    assert "[1]" in system["content"] and "用简体中文回答" in system["content"] and QUESTION in user["content"]
    assert script.headers[0]["Authorization"] == f"Bearer {KEY}"
    data = answer_to_dict(answer)
    assert data["generated"] is True and KEY not in json.dumps(data)


def test_an_answer_that_keeps_too_little_is_quoted_instead_with_a_notice(
    seeds_settings, fake_embedder, endpoint, seeds_assistant
):
    url, script = endpoint
    script.reply = lambda user: "Adobe 股价上涨了 50%。[1] 苹果公司发布了 Vision Pro。[2]"
    answer = assistant(seeds_settings, fake_embedder, url).ask(QUESTION)
    quoted = seeds_assistant.ask(QUESTION)
    assert not answer.generated and answer.text == quoted.text and answer.citations == quoted.citations
    assert answer.notice == "生成的回答经核对后可信的内容太少，以下是原文摘录。"
    assert answer.checks["kept"] == 0 and answer.checks["dropped"] == 2


def test_endpoint_down_gives_the_extractive_answer_and_a_notice_and_the_key_is_never_logged(
    seeds_settings, fake_embedder, seeds_assistant, caplog
):
    down = f"http://127.0.0.1:{free_port()}/v1"
    with caplog.at_level(logging.DEBUG):
        answer = assistant(seeds_settings, fake_embedder, down, llm_timeout=5).ask("How did Adobe's stock react after Sora was released?")
    quoted = seeds_assistant.ask("How did Adobe's stock react after Sora was released?")
    assert answer.text == quoted.text and answer.citations == quoted.citations and not answer.generated
    assert answer.notice.startswith("The generated answer is unavailable")
    assert "cannot be reached" in caplog.text and KEY not in caplog.text
    assert KEY not in repr(seeds_settings.with_overrides(llm_api_key=KEY))


def test_rate_limits_fall_back_and_declined_questions_never_reach_the_model(seeds_settings, fake_embedder, endpoint):
    url, script = endpoint
    script.status = 429
    bot = assistant(seeds_settings, fake_embedder, url)
    limited = bot.ask(QUESTION)
    assert not limited.generated and limited.citations and "unavailable" not in limited.notice
    assert limited.notice.startswith("生成的回答暂不可用")
    asked = len(script.requests)
    # A threshold above any confidence declines every question: none of them may reach the model.
    declining = assistant(seeds_settings, fake_embedder, url, refusal_threshold=1.01)
    declined = declining.ask(QUESTION)
    assert declined.refused and len(script.requests) == asked and not declined.notice


def test_an_english_question_gets_an_english_answer_with_the_chinese_quote(seeds_settings, fake_embedder, endpoint, tmp_path):
    url, script = endpoint
    script.reply = lambda user: f"After Sora was released, Adobe shares fell more than 7%. [{number_of(user, 'Adobe股价随即暴跌超7%')}]"
    # The fake embedder knows no English-Chinese pairs: the meaning check is left to the real model here, and
    # retrieval finds the passage by the word "Adobe", with the weights of a question in the articles' language.
    shipped = json.loads((Path(__file__).parents[1] / "rag" / "data" / "fusion.json").read_text(encoding="utf-8"))
    shipped["model"]["other_language"] = shipped["model"]["same_language"]
    (tmp_path / "fusion.json").write_text(json.dumps(shipped), encoding="utf-8")
    answer = assistant(seeds_settings, fake_embedder, url, llm_min_z=-10, fusion_file=str(tmp_path / "fusion.json")).ask(
        "How did Adobe's stock react after Sora was released?")
    assert "Answer in English." in script.requests[0]["messages"][0]["content"]
    assert answer.generated and answer.text == "After Sora was released, Adobe shares fell more than 7%.[1]"
    assert "暴跌超 7%" in answer.citations[0].quote


def test_eval_reports_how_many_generated_sentences_were_kept_dropped_and_why(seeds_settings, endpoint, tmp_path):
    from rag.eval.runs import run_eval

    url, script = endpoint
    script.reply = lambda user: (
        f"{TRUE}[{number_of(user, 'Adobe股价随即暴跌超7%')}] 苹果公司的股价上涨了 3%。[1] 没有出处的一句话。"
    )
    questions = tmp_path / "questions.jsonl"
    rows = [{"id": "a", "question": QUESTION, "answerable": True, "keywords": ["7%"]},
            {"id": "b", "question": "Sora是什么？", "answerable": True}]
    questions.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    settings = seeds_settings.with_overrides(llm_base_url=url, llm_model="scripted", llm_api_key=KEY)
    run = run_eval(settings, questions, tmp_path / "run")
    assert all(KEY not in path.read_text(encoding="utf-8") for path in (tmp_path / "run").rglob("*") if path.is_file())
    assert run.generation == {
        "answers_asked": 1, "answers_generated": 0, "answers_fell_back": 1, "sentences_kept": 1, "sentences_dropped": 2,
        "dropped_because": {"not in the cited passages": 1, "no citation": 1},
    }
    assert "generated answers: 0 of 1 asked (1 quoted instead); sentences kept 1, dropped 2" in run.describe()
    assert json.loads((tmp_path / "run" / "generation.json").read_text(encoding="utf-8")) == run.generation


@pytest.mark.parametrize(
    "unsupported, reason",
    [
        ("Sora 发布后，Google 股价随即暴跌超 7%。[{n}]", "not in the cited passages: Google"),  # a name
        ("Sora 发布后，Adobe 股价在3月1日暴跌。[{n}]", "not in the cited passages: 3, 1"),  # a date
        ("Adobe 股价随即暴跌。[99]", "cites no passage"),  # no passage 99 was given
        ("月亮上的长颈鹿很喜欢蓝莓。[{n}]", "not in the cited passages: 月亮, 长颈鹿, 蓝莓"),  # key terms
    ],
)
def test_each_unsupported_sentence_is_dropped_with_its_reason_and_the_true_one_kept(
    seeds_settings, fake_embedder, endpoint, unsupported, reason
):
    url, script = endpoint

    def reply(user: str) -> str:
        n = number_of(user, "Adobe股价随即暴跌超7%")
        return f"{TRUE}[{n}] " + unsupported.format(n=n)

    script.reply = reply
    answer = assistant(seeds_settings, fake_embedder, url, llm_min_kept=0.5).ask(QUESTION)
    assert answer.generated and answer.text == TRUE + "[1]" and len(answer.citations) == 1
    assert answer.checks == {"kept": 1, "dropped": 1, "reasons": {reason.split(":")[0]: 1}}
    # What it lacks, as the check says it.
    bot = assistant(seeds_settings, fake_embedder, url)
    hits = bot.retriever.retrieve(QUESTION, 10, {}).hits
    checks = bot.composer.check(reply(bot.composer.messages(QUESTION, hits, True)[1]["content"]), hits)
    assert [check.reason for check in checks if not check.kept] == [reason]


def test_a_sentence_whose_meaning_is_far_from_the_cited_passage_is_dropped(seeds_settings, fake_embedder, endpoint):
    url, script = endpoint
    script.reply = lambda user: f"{TRUE}[{number_of(user, 'Adobe股价随即暴跌超7%')}]"
    # Above any z the true sentence reaches: its meaning counts as far, and the quoted answer stands.
    answer = assistant(seeds_settings, fake_embedder, url, llm_min_z=1000).ask(QUESTION)
    assert not answer.generated and answer.checks["reasons"] == {"meaning far from the cited passages": 1}
    assert answer.notice == "生成的回答经核对后可信的内容太少，以下是原文摘录。"


def test_an_endpoint_slower_than_the_timeout_gives_the_extractive_answer_and_a_notice(
    seeds_settings, fake_embedder, endpoint, seeds_assistant
):
    url, script = endpoint
    script.reply, script.delay = (lambda user: f"{TRUE}[1]"), 2.0
    answer = assistant(seeds_settings, fake_embedder, url, llm_timeout=0.5).ask(QUESTION)
    assert not answer.generated and answer.text == seeds_assistant.ask(QUESTION).text
    assert answer.notice == "生成的回答暂不可用（语言模型没有响应），以下是原文摘录。"


def test_a_generated_sentences_citation_names_the_section_its_support_stands_in(seeds_settings, fake_embedder, endpoint):
    # The sentence the model wrote rests on "据 OpenAI 发布的信息, Sora 主要功能包括……", under "焦点1 Sora能做什么?".
    url, script = endpoint
    stated = "据 OpenAI 发布的信息, Sora 主要功能包括:根据文字提示生成视频; 静态图片生成视频; 对视频进行填充和扩充等。"
    script.reply = lambda user: f"{stated}[{number_of(user, '主要功能包括')}]"
    answer = assistant(seeds_settings, fake_embedder, url).ask("OpenAI发布的信息说Sora的主要功能包括哪些？")
    assert answer.generated, answer.checks
    (citation,) = answer.citations
    assert "主要功能包括" in citation.quote and citation.section == "焦点1 Sora能做什么?"


def test_a_passage_goes_to_the_model_under_its_sections_headings(seeds_settings, fake_embedder, endpoint):
    # "据 OpenAI 发布的信息, Sora 主要功能包括……" never says what it answers; the model reads it under "Sora能做什么?".
    from rag.records import Hit

    url, _ = endpoint
    bot = assistant(seeds_settings, fake_embedder, url)
    listed = next(c for c in bot.index.chunks if "主要功能包括" in c.text)
    plain = next(c for c in bot.index.chunks if not c.section)
    user = bot.composer.messages("Sora能做什么？", [Hit(listed, 1, 1.0), Hit(plain, 2, 0.5)], True)[1]["content"]
    assert f"[1] {listed.title} / 焦点1 Sora能做什么?: {listed.text}" in user
    assert f"[2] {plain.title}: {plain.text}" in user
