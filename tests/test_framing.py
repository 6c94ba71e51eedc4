"""A question framed by the article it asks about ("据齐鲁晚报，……") is answered from that article alone."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize(("question", "article", "source"), [
    ("据齐鲁晚报，Sora生成的视频有多长？", "002_", "齐鲁晚报"),  # the paper's name is the article's last line
    ("网上疯传的那段东京街头女子视频，齐鲁晚报说它到底有多长？", "002_", "齐鲁晚报"),
    ("在Sora出来之前，AI生成的视频一次大概只能做到多长？（按齐鲁晚报的说法）", "002_", "齐鲁晚报"),
    ("新快报举了哪条示范视频来说明Sora的“大片质感”？", "000_", "新快报"),  # its byline: ■采写：新快报记者 郑志辉
    ("据新京报、澎湃新闻的报道，Sora因为哪两个特点而被广泛赞誉？", "003_", "新京报、澎湃新闻"),
    ("刘宗智那篇文章说Sora能替代演员吗？", "002_", "刘宗智"),  # the reporter of its byline
])
def test_a_frame_names_the_article_whose_header_or_sign_off_states_its_source(seeds_assistant, question, article, source):
    frame = seeds_assistant.framing.read(question)
    assert frame is not None and frame.file.rsplit("/", 1)[-1].startswith(article) and frame.source == source


@pytest.mark.parametrize("question", [
    "郭全中说Sora对传媒有什么影响？",  # a person the text quotes, not a source the article states
    "据人民日报，Sora能生成多长的视频？",  # no article states it
    "OpenAI称Sora能生成多长的视频？",  # in every article, and in a title: no one article's source
    "Sora是在哪一天发布的？",
])
def test_a_frame_that_names_no_one_articles_source_is_no_frame(seeds_assistant, question):
    assert seeds_assistant.framing.read(question) is None
