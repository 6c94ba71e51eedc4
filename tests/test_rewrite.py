"""Follow-ups made standalone by a language model when one is configured, by the rules whenever it fails or strays."""
from __future__ import annotations

import logging

import pytest

from rag.answer.assistant import Assistant
from rag.answer.conversation import REWRITE_MAX_TOKENS, REWRITE_PROMPT
from rag.records import Turn

from llm_endpoint import Scripted

KEY = "sk-rewrite-never-shown-7"
SORA = [Turn("Sora是什么？", "Sora是OpenAI发布的文生视频模型。[1]")]
FOLLOW_UP = "它是哪家公司做的？"
BY_RULES = "Sora是哪家公司做的？"


def rewrites(script: Scripted) -> list[dict]:
    return [r for r in script.requests if r["messages"][0]["content"] == REWRITE_PROMPT]


def answering(seeds_settings, fake_embedder, url: str, rewrite: str, script: Scripted, **more) -> Assistant:
    """An assistant whose scripted model rewrites a follow-up as `rewrite` (and writes nothing as an answer)."""
    script.reply = lambda user: rewrite if "Last question:" in user else ""
    settings = seeds_settings.with_overrides(llm_base_url=url, llm_model="scripted", llm_api_key=KEY, **more)
    return Assistant.load(settings, fake_embedder)


def test_the_model_makes_a_follow_up_standalone_and_the_answer_shows_it(seeds_settings, fake_embedder, endpoint):
    url, script = endpoint
    bot = answering(seeds_settings, fake_embedder, url, "Sora是哪家公司开发的？", script)
    answer = bot.ask(FOLLOW_UP, history=SORA)
    assert answer.understood_as == "Sora是哪家公司开发的？"
    (asked,) = rewrites(script)
    system, user = asked["messages"]
    assert asked["max_tokens"] == REWRITE_MAX_TOKENS and "Q: Sora是什么？" in user["content"]
    assert user["content"].rstrip().endswith(f"Last question: {FOLLOW_UP}\n\nRewritten question:")
    # The answer is written for the question as understood.
    assert "Question: Sora是哪家公司开发的？" in script.requests[-1]["messages"][-1]["content"]
    events = list(bot.ask_stream(FOLLOW_UP, history=SORA))
    assert events[0].understood_as == "Sora是哪家公司开发的？"


def test_an_english_follow_up_is_rewritten_in_english(seeds_settings, fake_embedder, endpoint):
    url, script = endpoint
    bot = answering(seeds_settings, fake_embedder, url, "Standalone question: \"How long are the videos Sora makes?\"", script)
    answer = bot.ask("What about its length?", history=[Turn("What is Sora?", "Sora is a text-to-video model.")])
    assert answer.understood_as == "How long are the videos Sora makes?"


@pytest.mark.parametrize("rewrite", [
    "Gemini是哪家公司开发的？",  # a name nobody said
    "Sora在2025年是哪家公司开发的？",  # a number nobody said
    "Sora是OpenAI开发的。[1]",  # an answer, not a question
    "Which company made Sora?",  # another language
    "它是哪家公司开发的？",  # still leans on the conversation
    "Sora是哪家公司开发的？\n这个问题问的是开发者。",  # more than the question
    "",
])
def test_an_implausible_rewrite_gives_way_to_the_rules(seeds_settings, fake_embedder, endpoint, rewrite):
    url, script = endpoint
    answer = answering(seeds_settings, fake_embedder, url, rewrite, script).ask(FOLLOW_UP, history=SORA)
    assert len(rewrites(script)) == 1 and answer.understood_as == BY_RULES


def test_an_endpoint_that_fails_or_is_slow_gives_way_to_the_rules(seeds_settings, fake_embedder, endpoint, caplog):
    url, script = endpoint
    script.status = 500
    failing = answering(seeds_settings, fake_embedder, url, "Sora是哪家公司开发的？", script)
    with caplog.at_level(logging.DEBUG):
        assert failing.ask(FOLLOW_UP, history=SORA).understood_as == BY_RULES
    script.status, script.delay = 200, 1.5
    slow = answering(seeds_settings, fake_embedder, url, "Sora是哪家公司开发的？", script, llm_timeout=0.5)
    answer = slow.ask(FOLLOW_UP, history=SORA)
    assert answer.understood_as == BY_RULES and answer.notice.startswith("生成的回答暂不可用")
    assert "follow-up rewritten by rules" in caplog.text and KEY not in caplog.text


def test_questions_that_lean_on_nothing_never_go_to_the_model_for_a_rewrite(seeds_settings, fake_embedder, endpoint):
    url, script = endpoint
    bot = answering(seeds_settings, fake_embedder, url, "Sora是哪家公司开发的？", script)
    bot.ask(FOLLOW_UP)  # a first question
    bot.ask("Adobe股价在Sora发布后怎么样了？", history=SORA)  # standalone after a turn
    bot.ask("谢谢", history=SORA)
    assert not rewrites(script)
