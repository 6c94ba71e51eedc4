"""Questions that ask what something is, who someone is or who made something: the sentence that says it opens."""
from __future__ import annotations

import pytest

from rag.answer.extractive import SentenceScore
from rag.answer.identity import Asked, identity_asked, prefer_identifying, states
from rag.records import Sentence


@pytest.mark.parametrize(("question", "kind", "subject"), [
    ("Sora是什么？", "what", "Sora"), ("什么是进化枝？", "what", "进化枝"), ("介绍一下Sora", "what", "Sora"),
    ("Jim Fan是谁？", "what", "Jim Fan"), ("What is Sora?", "what", "Sora"), ("What are clades?", "what", "clades"),
    ("Who is Jim Fan?", "what", "Jim Fan"), ("Sora是哪家公司发布的？", "maker", "Sora"), ("Sora是谁开发的？", "maker", "Sora"),
    ("谁发布了Sora？", "maker", "Sora"), ("Who made Sora?", "maker", "Sora"), ("Which company released Sora?", "maker", "Sora"),
    ("sora是哪个公司的", "maker", "sora"), ("Sora是哪家公司的产品？", "maker", "Sora"), ("Sora出自哪家公司？", "maker", "Sora"),
    ("What company made Sora?", "maker", "Sora"), ("Who is behind Sora?", "maker", "Sora"),
])
def test_an_identity_question_names_what_it_asks_of_its_subject(question, kind, subject):
    assert identity_asked(question) == Asked(kind, subject)


@pytest.mark.parametrize("question", [
    "复杂性理论对问题进行分类的主要依据是什么？", "这是什么？", "What is the name of the latest epoch?",
    "What are cilia used for?", "Sora能生成多长的视频？", "Who is Kearney Boulevard named after?", "球栉水母不是什么？",
    "What is its activation command?",
])
def test_a_question_that_asks_more_of_its_subject_is_none(question):
    assert identity_asked(question) is None


def test_a_sentence_says_what_its_subject_is_plainly_or_as_someone_s_view():
    what = Asked("what", "Sora")
    assert states("2月16日凌晨，OpenAI 官方发布了文生视频模型 Sora。", what) == 2  # after the kind of thing it is
    assert states("Sora，一个具有超强AI视频生成能力的模型。", what) == 2
    assert states("OpenAI首个视频生成模型Sora发布,一夜之间刷屏朋友圈。", what) == 2  # a Chinese character after the name
    assert states("首个视频生成模型Soraya发布。", what) == 0
    assert states("Sora 是一个数据驱动的物理引擎。", what) == 2
    assert states("他认为，Sora 是一个可学习的模拟器，或“世界模型”。", what) == 1  # a view of it
    assert states("Sora 是否被“神化”了？", what) == 0
    assert states("Sora 发布后，美股知名工具软件公司 Adobe 股价随即暴跌超 7%。", what) == 0
    assert states("DECnet is a suite of network protocols.", Asked("what", "DECnet")) == 2
    # a sentence that opens with its subject and classifies it a clause later; 即 is as often "then" as "that is"
    assert states("三角关系，亦称做三角恋、三角恋情，是指一个三个人的群体在同一时期中陷入的状况。", Asked("what", "三角关系")) == 2
    assert states("当这三者彼此的恋爱关系皆存在，则三角关系即正式成立。", Asked("what", "三角关系")) == 0
    # an encyclopedia's opening, its name in another language in brackets; a copula further in says something of it
    upanishad = Asked("what", "自在奥义书")
    assert states("自在奥义书（IAST：īśa upaniad，或译为伊莎奥义书）婆罗门教诸奥义书中最短的之一。", upanishad) == 2
    assert states("不过，自在奥义书是13部主要奥义书中成书较晚的。", upanishad) == 1
    maker = Asked("maker", "Sora")
    assert states("OpenAI 突然发布了自己的首个文生视频模型：Sora。", maker) == 2
    assert states("Sora由OpenAI开发。", maker) == 2
    assert states("Sora 发布后，美股知名工具软件公司 Adobe 股价随即暴跌超 7%。", maker) == 0  # made before, not by
    assert states("据 OpenAI 发布的信息, Sora 主要功能包括：根据文字提示生成视频。", maker) == 0


def _scored(texts: list[str]) -> list[SentenceScore]:
    return [SentenceScore(Sentence(n, "a.txt", text, text, n + 1, n + 1, 0, len(text)), 10.0 - n, 0.5, 1.0, 1)
            for n, text in enumerate(texts)]


def test_the_best_ranked_sentence_that_says_it_plainly_opens_and_the_rest_keep_their_order():
    texts = ["相比 ChatGPT，Sora 有了质的飞跃。", "他认为，Sora 是一个可学习的模拟器。", "她戴着太阳镜，涂着红色口红。",
             "OpenAI 官方发布了文生视频模型 Sora。", "横空出世的文生视频模型 Sora。"]
    ranked = prefer_identifying(_scored(texts), "Sora是什么？")
    assert [s.sentence.text for s in ranked] == [texts[3], texts[0], texts[1], texts[2], texts[4]]
    assert ranked[0].score > ranked[1].score
    # a view only when nothing says it plainly; no identity question, or nothing that says it: as ranked
    assert prefer_identifying(_scored(texts[:3]), "What is Sora?")[0].sentence.text == texts[1]
    assert prefer_identifying(_scored(texts), "Sora能生成多长的视频？") == _scored(texts)
    assert prefer_identifying(_scored(texts[:1] + texts[2:3]), "Sora是什么？") == _scored(texts[:1] + texts[2:3])
    # A sentence where an article starts stands in when no candidate says it plainly, ahead of a mere view of it.
    leads = _scored(["甲辰龙年迎新，最吸睛的大事当属文生视频模型 Sora。", "2月16日凌晨，OpenAI 官方发布了文生视频模型 Sora。"])
    ranked = prefer_identifying(_scored(texts[:3]), "Sora是什么？", lambda: leads)
    assert ranked[0].sentence.text == leads[0].sentence.text and len(ranked) == 4
    assert prefer_identifying(_scored(texts), "Sora是什么？", lambda: leads)[0].sentence.text == texts[3]
