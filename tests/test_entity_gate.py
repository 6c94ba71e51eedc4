"""Questions about an entity's attribute that no passage states (rag/answer/entity_gate.py), on a tiny lexical index."""
from __future__ import annotations

from rag.answer.entity_gate import owned_pairs, unbound_pair
from rag.index.build import build_index
from rag.embedding import HashingEmbedder
from rag.index.lexical import build_lexical, shared_tokenizer
from rag.answer.assistant import Assistant

from support import SEEDS, fake_settings

# Eleven passages: 英伟达 and Adobe in one each, 股价 only beside Adobe; sora in all (the corpus's topic).
DOCS = [["adobe", "股价", "暴跌", "sora"], ["英伟达", "科学家", "点评", "sora"]] + [["sora", "视频", str(i)] for i in range(9)]


def _pairs(question: str, docs=DOCS) -> list[tuple[str, str]]:
    return owned_pairs(shared_tokenizer().tagged(question), build_lexical(docs, 1.2, 0.75), 0.1)


def test_an_entity_and_what_the_question_asks_of_it_are_read_from_the_tags():
    assert _pairs("Sora发布后，英伟达的股价涨跌了多少？") == [("英伟达", "股价")]
    assert _pairs("英伟达股价涨了吗？") == [("英伟达", "股价")]  # no 的: an entity directly before a noun
    assert _pairs("Adobe公司的股价怎么样？", DOCS + [["公司"]]) == [("adobe", "公司"), ("adobe", "股价")]
    # The corpus's topic (in every passage) and entities the corpus never uses are not paired.
    assert _pairs("Sora的股价是多少？") == []
    assert _pairs("百度的股价是多少？") == []
    assert _pairs("股价涨了多少？") == []


def test_a_pair_no_passage_holds_together_is_unbound():
    lexical = build_lexical(DOCS, 1.2, 0.75)
    tagged = shared_tokenizer().tagged
    assert unbound_pair(tagged("英伟达的股价涨跌了多少？"), lexical, 0.1) == ("英伟达", "股价")
    assert unbound_pair(tagged("Adobe的股价涨跌了多少？"), lexical, 0.1) is None
    assert unbound_pair(tagged("英伟达的科学家怎么评价Sora？"), lexical, 0.1) is None


def test_the_bot_declines_an_entity_swapped_question_but_answers_the_original(tmp_path):
    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    assistant = Assistant.load(settings)
    swapped = assistant.ask("Sora发布后，英伟达的股价涨跌了多少？")
    assert swapped.refused and not swapped.citations and swapped.hits  # related reading is still offered
    assert swapped.confidence == 0.0
    # The decline says why: both words are in the articles, never together.
    assert swapped.text == "资料中没有找到与此问题相关的内容。资料提到了“英伟达”，也提到了“股价”，但没有一处把两者放在一起。"
    latin = assistant.ask("Pika的股价是多少？")
    assert latin.refused and "“Pika”" in latin.text  # spelled as asked, not as the index lower-cases it
    original = assistant.ask("Sora发布后，Adobe的股价涨跌了多少？")
    assert not original.refused and any("7%" in c.quote for c in original.citations)
