"""A sentence that states what the question asks opens before one that reports someone's guess at it."""
from __future__ import annotations

from test_identity import _scored

from rag.answer.stated import guesses, prefer_stated

GUESS = "有网友预测，如果按照DALL·E3的发布节奏，2月25日和3月16日附近，值得期待～"
STATED = "2月16日凌晨，OpenAI 官方发布了文生视频模型 Sora。"
OTHER = "这样，当你需要找回某个物品时，只需查看对应的清单。"


def test_a_guess_is_a_word_of_guessing_before_the_sentence_s_first_figure():
    assert guesses(GUESS) and guesses("据传他将出任公司的首席执行官。")
    assert not guesses(STATED)
    # after the figure, predicting is what the sentence is about
    assert not guesses("Geng's theory was first released in 1972, and said to have successfully predicted the 1975 "
                       "Haicheng earthquake.")


def test_the_stated_date_opens_before_a_guess_at_it():
    ranked = _scored([GUESS, OTHER, STATED])
    first = prefer_stated(ranked, "Sora的发布时间是什么时候？", {})
    assert [s.sentence.text for s in first] == [STATED, GUESS, OTHER]
    assert first[0].score > first[1].score
    # a question about the guess, one that asks no fact, and a stated first sentence keep the ranking
    assert prefer_stated(ranked, "网友预测Sora什么时候开放？", {}) == ranked
    assert prefer_stated(ranked, "大家怎么看Sora？", {}) == ranked
    assert prefer_stated(_scored([STATED, GUESS]), "Sora是哪天发布的？", {}) == _scored([STATED, GUESS])
    # nothing that states a date further down: as ranked
    assert prefer_stated(_scored([GUESS, OTHER]), "Sora是哪天发布的？", {}) == _scored([GUESS, OTHER])
