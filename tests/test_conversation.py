"""Conversations: follow-ups made standalone from earlier turns, small talk answered without a decline, history limits."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.answer.conversation import small_talk_kind, understand
from rag.apps.server.app import create_app
from rag.apps.service import Service
from rag.index.lexical import shared_tokenizer
from rag.records import Turn

FOLLOW_UPS = Path(__file__).parent / "data" / "followups_sora.jsonl"


def follow_ups() -> list[dict]:
    return [json.loads(line) for line in FOLLOW_UPS.read_text(encoding="utf-8").splitlines() if line.strip()]


def turns(*questions: str) -> list[Turn]:
    return [Turn(question, "") for question in questions]


@pytest.mark.parametrize(
    "history, question, standalone",
    [
        (["Sora是在哪一天发布的？"], "它是哪家公司发布的？", "Sora是哪家公司发布的？"),
        (["Adobe股价在Sora发布后怎么样了？"], "那Shutterstock呢？", "Shutterstock股价在Sora发布后怎么样了？"),
        (["Sora是什么？"], "那价格呢？", "Sora的价格是多少？"),
        (["What is Sora?"], "What about its length?", "What about Sora's length?"),
        (["Sora是什么？"], "When was it released?", "When was Sora released?"),
        (["OpenAI发布了什么模型？"], "它之前发布过什么产品？", "OpenAI之前发布过什么产品？"),
        (["文生视频模型是什么？"], "它有什么用？", "文生视频模型有什么用？"),
        # A follow-up of a follow-up still leans on the first turn's subject.
        (["Sora是什么？", "它是谁发布的？"], "其视频有多长？", "Sora视频有多长？"),
        # Questions that name their own subject are taken as asked.
        (["Sora是什么？"], "英伟达股价如何？", "英伟达股价如何？"),
        (["Sora是什么？"], "那英伟达的股价呢？", "英伟达的股价是多少？"),
        (["Sora是什么？"], "其中哪家公司跌得最多？", "其中哪家公司跌得最多？"),
        ([], "它是什么时候发布的？", "它是什么时候发布的？"),
        # 其 and its after the question's own name point back at that name, not at the earlier turn.
        (["Adobe股价怎么样？"], "Sora的核心技术是什么？其原理如何？", "Sora的核心技术是什么？其原理如何？"),
        (["What is Sora?"], "How did Adobe react and what was its loss?", "How did Adobe react and what was its loss?"),
        # "And …?" and "What about …?" with a name, said with its article or not, swap the earlier question's whole
        # name ("Aurora S3", not "Aurora"): "And the Pro?" was asked as it stood, "What about the Mini?" became
        # "What about the Mini of Pro?". An edition of a numbered model, or another number of its line, swaps only
        # that part: "How much does the Pro cost?" was declined over a price table that names the "Aurora S3 Pro".
        (["How much does the Aurora S3 cost?"], "And the Pro?", "How much does the Aurora S3 Pro cost?"),
        (["How much does the Aurora S3 cost?", "And the Pro?"], "What about the Mini?",
         "How much does the Aurora S3 Mini cost?"),
        (["How much does the Aurora S3 Pro cost?"], "And the S5?", "How much does the Aurora S5 cost?"),
        (["How much does the Aurora S3 cost?"], "And the Nimbus?", "How much does the Nimbus cost?"),
        (["How much does the Aurora S3 cost?"], "And the Nimbus X1?", "How much does the Nimbus X1 cost?"),
        (["How much did Adobe shares fall?"], "And Shutterstock?", "How much did Shutterstock shares fall?"),
        (["When did World War II end?"], "And World War I?", "When did World War I end?"),
        (["What is Sora?"], "And the weather today?", "And the weather today?"),
        (["What is Sora?"], "And how long are its videos?", "And how long are Sora's videos?"),
    ],
)
def test_a_follow_up_carries_the_subject_of_the_earlier_turns(history, question, standalone):
    assert understand(question, turns(*history), shared_tokenizer()).question == standalone


def test_he_or_she_after_a_who_question_is_the_person_the_answer_named():
    # "他负责什么？" after "谁汇报了4.0版本进度？" (answered "陈刚汇报：…") was understood as "汇报负责什么？".
    tagger = shared_tokenizer()
    who = Turn("谁汇报了4.0版本进度？", "陈刚汇报：4.0版本已完成80%，预计4月上线。[1]")
    assert understand("他负责什么？", [who], tagger).question == "陈刚负责什么？"
    chaired = Turn("会议由谁主持？", "参会人：王丽（主持）、陈刚、李娜、赵强[1]")
    assert understand("她的职位是什么？", [chaired], tagger).question == "王丽的职位是什么？"
    # 它 is no person, and a question that asked no "who" names none: the earlier subject as before.
    developed = Turn("Sora是谁开发的？", "OpenAI 官方发布了文生视频模型 Sora。[1]")
    assert understand("它是什么时候发布的？", [developed], tagger).question == "Sora是什么时候发布的？"
    assert understand("他负责什么？", [Turn("Sora是什么？", "陈刚说Sora是一个模型。[1]")], tagger).question == "Sora负责什么？"


@pytest.mark.parametrize(
    "message, kind",
    [("你好", "greeting"), ("您好！", "greeting"), ("Hello!", "greeting"), ("谢谢", "thanks"), ("好的，谢谢！", "thanks"),
     ("thanks a lot", "thanks"), ("你能做什么？", "help"), ("help", "help"), ("What can you do?", "help"),
     ("谢谢你告诉我Sora是什么", None), ("Sora能帮助谁？", None), ("你好，Sora是什么？", None),
     ("Good morning, how are you?", "greeting"), ("你好吗？", "greeting"), ("早上好，最近怎么样？", "greeting"),
     ("Hi there", "greeting"), ("你叫什么名字？", "help"), ("What is your name?", "help"), ("Are you a robot?", "help"),
     ("How are you able to make videos?", None), ("Sora最近怎么样？", None), ("What is your name for this model?", None),
     ("Are you a robot vacuum maker?", None), ("好的", "ok"), ("嗯嗯", "ok"), ("OK!", "ok"), ("收到。", "ok"),
     ("got it", "ok"), ("好的，Sora是什么？", None), ("行业影响如何？", None), ("OK Google是什么？", None)],
)
def test_small_talk_is_the_whole_message_only(message, kind):
    assert small_talk_kind(message) == kind


@pytest.mark.parametrize(
    "message, question",
    [("你好，请问Sora是什么时候发布的？", "Sora是什么时候发布的？"), ("你好请问年假有几天？", "年假有几天？"),
     ("帮我查一下Sora的发布时间", "Sora的发布时间"), ("麻烦问下年假有几天", "年假有几天"),
     ("我想知道Sora是什么时候发布的", "Sora是什么时候发布的"), ("能告诉我年假有几天吗？", "年假有几天吗？"),
     ("谢谢，年假有几天？", "年假有几天？"), ("请问Sora是什么？谢谢！", "Sora是什么？"),
     ("Hi, when was Sora released?", "when was Sora released?"),
     ("Can you tell me who developed Sora?", "who developed Sora?"),
     # Nothing around the question, or nothing left without it: the message as written.
     ("History of Sora?", "History of Sora?"), ("帮我写一首关于春天的诗", "帮我写一首关于春天的诗"), ("请问？", "请问？"),
     ("谢谢你告诉我Sora是什么", "谢谢你告诉我Sora是什么")],
)
def test_a_question_is_understood_without_the_greeting_request_or_thanks_around_it(message, question):
    # "你好，请问Sora是什么时候发布的？" was declined (0.35, naming “你好”) where "Sora是什么时候发布的？" is answered:
    # 你好 and 请问 are in no article, and the question's rarest words weigh most.
    assert understand(message, [], shared_tokenizer()).question == question


def test_a_question_wrapped_in_courtesy_gets_the_answer_of_the_bare_question(seeds_assistant):
    bare = seeds_assistant.ask("Sora是什么时候发布的？")
    wrapped = seeds_assistant.ask("你好，请问Sora是什么时候发布的？谢谢")
    assert wrapped.question == "你好，请问Sora是什么时候发布的？谢谢"  # shown as asked
    assert (wrapped.refused, wrapped.text, wrapped.confidence) == (bare.refused, bare.text, bare.confidence)


@pytest.mark.parametrize("message", ["你好", "谢谢！", "你能做什么？", "你好吗？", "hello", "thanks", "what can you do?",
                                     "How are you?", "Are you a robot?", "好的", "ok"])
def test_greetings_thanks_and_help_get_a_reply_naming_the_articles_not_a_decline(seeds_assistant, message):
    answer = seeds_assistant.ask(message)
    assert not answer.refused and answer.small_talk
    assert answer.citations == () and answer.hits == ()
    assert "Sora爆火，一次典型的OpenAI式胜利" in answer.text
    assert ("资料" in answer.text) is False  # not the decline sentence
    assert ("I answer" in answer.text) == message.isascii()


@pytest.mark.parametrize("case", follow_ups(), ids=lambda case: case["id"])
def test_each_sora_follow_up_is_answered_as_its_standalone_form(seeds_assistant, case):
    history = []
    for turn in case["history"]:
        history.append(Turn(turn["question"], seeds_assistant.ask(turn["question"], history=history).text))
    follow_up = seeds_assistant.ask(case["question"], history=history)
    standalone = seeds_assistant.ask(case["standalone"])
    assert follow_up.question == case["question"] and follow_up.understood_as
    assert follow_up.refused == standalone.refused
    cited = [(c.file, c.line_start, c.line_end, c.quote) for c in follow_up.citations]
    assert cited == [(c.file, c.line_start, c.line_end, c.quote) for c in standalone.citations]
    # Without the earlier turns the same words are a different question.
    assert seeds_assistant.ask(case["question"]).understood_as is None


def test_rag_eval_follow_ups_prints_how_the_follow_ups_and_their_standalone_forms_were_answered(seeds_settings, tmp_path, capsys):
    from rag.apps.cli import main

    where = ["--corpus", str(seeds_settings.index.corpus_dir), "--index", str(seeds_settings.index.index_dir), "--model", "hash:64"]
    assert main(["eval", "--follow-ups", str(FOLLOW_UPS), *where]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 11 and lines[0].startswith("f01  它是哪家公司发布的？ → Sora是哪家公司发布的？")
    answered = sum(" declined," not in line for line in lines[:10])
    assert lines[-1] == (
        f"follow-ups answered {answered} of 10, their standalone forms {answered} of 10; same citations as the "
        "standalone form 10 of 10; understood as the standalone form word for word 10 of 10"
    )
    (tmp_path / "bad.jsonl").write_text('{"question": "它呢？"}\n', encoding="utf-8")
    assert main(["eval", "--follow-ups", str(tmp_path / "bad.jsonl"), *where]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "line 1 is no follow-up" in error and len(error.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def client(seeds_settings, fake_embedder):
    from rag.answer.assistant import Assistant

    settings = seeds_settings.with_overrides(rate_limit_per_minute=0, max_history_turns=3, max_history_chars=50)
    service = Service(settings, prepare=lambda s: Assistant.load(s, fake_embedder))
    service.run()
    return TestClient(create_app(service))


def test_api_takes_the_history_and_says_how_it_understood_the_question(client):
    first = client.post("/api/ask", json={"question": "Sora是在哪一天发布的？"}).json()
    assert "understood_as" not in first and "small_talk" not in first
    body = {"question": "它是哪家公司发布的？", "history": [{"question": first["question"], "answer": first["answer"][:50]}]}
    reply = client.post("/api/ask", json=body)
    assert reply.status_code == 200
    assert reply.json()["question"] == "它是哪家公司发布的？"
    assert reply.json()["understood_as"] == "Sora是哪家公司发布的？"
    hello = client.post("/api/ask", json={"question": "你好"}).json()
    assert hello["small_talk"] is True and hello["refused"] is False and hello["citations"] == []


def test_api_refuses_a_history_past_its_limits_in_one_line(client):
    too_many = [{"question": "Sora是什么？", "answer": ""}] * 4
    reply = client.post("/api/ask", json={"question": "它是谁发布的？", "history": too_many})
    assert reply.status_code == 413
    assert reply.json() == {"error": "the history has 4 turns; the limit is 3: send only the last 3"}
    too_long = [{"question": "Sora是什么？", "answer": "长" * 51}]
    reply = client.post("/api/ask", json={"question": "它是谁发布的？", "history": too_long})
    assert reply.status_code == 413 and "turn 1 of the history is 51 characters long" in reply.json()["error"]
    odd = client.post("/api/ask", json={"question": "它是谁发布的？", "history": [{"q": "Sora"}]})
    assert odd.status_code == 422 and odd.json()["error"].startswith("history.0.")
