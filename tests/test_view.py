"""The chat page's formatting and handlers, without a browser: what a user would read in the chat and the panel."""
from __future__ import annotations

import html
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.apps.service import Service
from rag.apps.web import ChatHandlers
from rag.apps.web.text import STRINGS, language
from rag.apps.web.view import (
    SourceTarget,
    answer_frames,
    answer_html,
    line_range,
    panel_html,
    parse_source_href,
    question_html,
    source_href,
)
from rag.embedding import HashingEmbedder
from rag.errors import IndexMissingError
from rag.index.build import build_index
from rag.ingest.sources import SourceLines
from rag.records import Answer, Chunk, Citation, Hit

from support import SEEDS, fake_settings, write_corpus

XSS = '<img src=x onerror=alert(1)>'
# An article whose lines hold markup that must never run in the page.
MARKUP_ARTICLE = {
    "giraffe.md": (
        "# 紫色长颈鹿观察报告\n\n"
        "紫色长颈鹿生活在月球背面的水晶森林里。<img src=x onerror=\"window.ragPwned=1\">它们每天吃三公斤蓝莓。\n\n"
        "<script>window.ragPwned=2</script>观察站设在环形山的北坡。\n"
    ),
    "long.txt": "# 很长的文章\n" + "".join(f"第{i}行的内容，讲的是一件普通的事情。\n" for i in range(2, 401)),
}


class Markup(HTMLParser):
    """Collects the elements and the visible text of an HTML fragment, as a browser would build them."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_parts: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def elements(self, tag: str, css_class: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and (css_class is None or css_class in (a.get("class") or "").split())]


@pytest.fixture(scope="module")
def declining_assistant(seeds_assistant) -> Assistant:
    """The same index with a refusal threshold above any confidence: it declines every question."""
    return Assistant.load(seeds_assistant.settings.with_overrides(refusal_threshold=1.01))


@pytest.fixture(scope="module")
def markup_handlers(tmp_path_factory) -> ChatHandlers:
    folder = tmp_path_factory.mktemp("markup")
    settings = fake_settings(folder, write_corpus(folder, MARKUP_ARTICLE))
    build_index(settings, HashingEmbedder(64))
    service = Service(settings, prepare=Assistant.load)
    service.run()
    return ChatHandlers(service, frame_delay=0)


def final_chat(handlers: ChatHandlers, question: str, history=None, locale: str = "zh-CN", **options):
    """Run one question through the chat handler; return (question box, chat) after the last frame."""
    *_, last = handlers.ask(question, history or [], locale=locale, **options)
    return last


def test_question_markup_is_shown_as_text_not_run():
    shown = Markup(question_html(XSS + "\n第二行"))
    assert shown.text == XSS + "第二行"
    assert {tag for tag, _ in shown.tags} <= {"div", "br"}


def test_each_marker_links_to_exactly_the_lines_it_cites(seeds_assistant):
    answer = seeds_assistant.ask("Adobe股价在Sora发布后怎么样了？")
    assert answer.citations
    shown = Markup(answer_html(answer, "zh", seeds_assistant.titles))
    markers = shown.elements("a", "rag-cite")
    for citation in answer.citations:
        targets = [parse_source_href(a["href"] or "") for a in markers]
        expected = SourceTarget("cite", citation.n, citation.file, citation.line_start, citation.line_end, citation.quote)
        assert targets.count(expected) == 2  # the marker after the sentence and the entry in the sources list
    # The words of the answer read exactly as the library wrote them, markers included.
    assert shown.text.startswith(answer.text)


def test_sources_list_gives_article_title_file_and_line_range(seeds_assistant):
    answer = seeds_assistant.ask("Adobe股价在Sora发布后怎么样了？")
    citation = answer.citations[0]
    text = Markup(answer_html(answer, "zh", seeds_assistant.titles)).text
    title = seeds_assistant.titles[citation.file]
    assert title and title != Path(citation.file).stem  # the article's own title, not its file name
    assert f"出处[1] {title} {citation.file} · {line_range('zh', citation.line_start, citation.line_end)}" in text
    assert line_range("zh", 5, 5) == "第 5 行" and line_range("en", 5, 7) == "lines 5–7"
    english = Markup(answer_html(answer, "en", seeds_assistant.titles)).text
    assert f"Sources[1] {title} {citation.file} · {line_range('en', citation.line_start, citation.line_end)}" in english


def test_a_decline_says_so_and_marks_passages_as_related_reading(declining_assistant):
    answer = declining_assistant.ask("今天天气怎么样？")
    assert answer.refused and answer.hits
    shown = Markup(answer_html(answer, "zh", declining_assistant.titles))
    assert "没有找到答案" in shown.text and "资料中没有出现“今天天气”，没有找到与此问题相关的内容。" in shown.text
    assert "相关阅读（不是答案，仅供参考）" in shown.text
    assert shown.elements("a", "rag-cite") == []  # nothing is presented as a citation
    related = [parse_source_href(a["href"] or "") for a in shown.elements("a", "rag-related-link")]
    assert [(t.kind, t.file, t.line_start) for t in related] == [
        ("related", h.chunk.file, h.chunk.line_start) for h in answer.hits[:3]
    ]


def test_retrieved_passages_are_listed_only_when_asked(seeds_assistant):
    answer = seeds_assistant.ask("Adobe股价在Sora发布后怎么样了？", top_k=4)
    assert Markup(answer_html(answer, "zh", seeds_assistant.titles)).elements("details") == []
    shown = Markup(answer_html(answer, "zh", seeds_assistant.titles, show_passages=True))
    assert len(shown.elements("a", "rag-passage-link")) == 4
    assert "检索到的段落（4）" in shown.text


def test_article_markup_never_becomes_elements(markup_handlers):
    _, chat = final_chat(markup_handlers, "紫色长颈鹿生活在哪里？", show_passages=True)
    answer_message = Markup(chat[-1]["content"])
    assert not any(tag in {"img", "script"} for tag, _ in answer_message.tags)
    href = answer_message.elements("a", "rag-cite")[0]["href"]
    panel = Markup(markup_handlers.open_source(href, "zh-CN"))
    assert not any(tag in {"img", "script"} for tag, _ in panel.tags)
    # The panel shows the text as the index read it: no markup, not even as text; the lines keep their numbers.
    assert "<img" not in panel.text and "<script>" not in panel.text and "#" not in panel.text
    rows = {int(r["data-line"] or 0): r for r in panel.elements("div", "rag-line")}
    assert sorted(rows) == [1, 2, 3, 4, 5] and "rag-hl" in (rows[3]["class"] or "")
    assert "紫色长颈鹿生活在月球背面的水晶森林里。它们每天吃三公斤蓝莓。" in panel.text
    assert "紫色长颈鹿观察报告" in panel.text  # title from the article's heading


def test_panel_numbers_lines_highlights_the_cited_range_with_context():
    lines = tuple(f"line {i} <b>x</b>" for i in range(1, 21))
    source = SourceLines("corpus/a.txt", 1, 20, lines, 20)
    target = SourceTarget("cite", 2, "corpus/a.txt", 8, 9)
    shown = Markup(panel_html("zh", target, source, "标题"))
    rows = shown.elements("div", "rag-line")
    assert [int(r["data-line"] or 0) for r in rows] == list(range(1, 21))
    classes = {int(r["data-line"] or 0): (r["class"] or "").split() for r in rows}
    assert [n for n, c in classes.items() if "rag-hl" in c] == [8, 9]
    assert [n for n, c in classes.items() if "rag-context" in c] == [5, 6, 7, 10, 11, 12]
    assert [n for n, c in classes.items() if "rag-anchor" in c] == [5]  # the panel scrolls here: 3 lines above
    assert "引用 [2]" in shown.text and "第 8–9 行（共 20 行）" in shown.text
    assert "line 8 <b>x</b>" in shown.text


def test_long_articles_open_around_the_citation(markup_handlers):
    panel = Markup(markup_handlers.open_source("#src/cite/1/300-300/corpus%2Flong.txt", "en-US"))
    numbers = [int(r["data-line"] or 0) for r in panel.elements("div", "rag-line")]
    # The file's 400 lines: the newline that ends the last opens no empty 401st.
    assert numbers[0] == 150 and numbers[-1] == 400 and 300 in numbers
    assert "… (149 lines not shown)" in panel.text
    assert "line 300 of 400" in panel.text


def test_links_round_trip_and_foreign_addresses_open_nothing(markup_handlers):
    target = SourceTarget("related", 3, "corpus/文章 一.md", 4, 6)
    assert parse_source_href(source_href(target)) == target
    for href in ("javascript:alert(1)", "#src/cite/1/9-3/corpus%2Fa.txt", "#src/evil/1/1-1/a", ""):
        assert parse_source_href(href) is None
    outside = markup_handlers.open_source("#src/cite/1/1-1/..%2F..%2Fetc%2Fpasswd", "en")
    assert "No such article" in outside and "root:" not in outside


def test_answer_streams_in_and_markers_wait_for_their_sentence(seeds_assistant):
    answer = seeds_assistant.ask("Adobe股价在Sora发布后怎么样了？")
    frames = list(answer_frames(answer, "zh", seeds_assistant.titles, frames=8))
    assert 6 <= len(frames) <= 9
    texts = [Markup(frame).text for frame in frames]
    assert all(len(a) < len(b) for a, b in zip(texts, texts[1:]))
    assert frames[-1] == answer_html(answer, "zh", seeds_assistant.titles)
    first_sentence = answer.text.split("[1]")[0]
    for text in texts[:-1]:
        assert "[1]" not in text or text.startswith(first_sentence + "[1]")
        assert "出处" not in text  # the sources list comes with the last frame


@pytest.mark.parametrize(
    "locale, question, expected",
    [("zh-CN", "What?", "zh"), ("zh-TW", "", "zh"), ("zh_Hant", "", "zh"), ("en-US", "问", "en"),
     ("fr", "", "en"), ("", "问题", "zh"), ("", "question", "en")],
)
def test_page_language_follows_the_browser_then_the_question(locale, question, expected):
    assert language(locale, question) == expected


def test_every_string_exists_in_both_languages_with_the_same_fields():
    assert STRINGS["zh"].keys() == STRINGS["en"].keys()
    for key in STRINGS["zh"]:
        fields = [set(re.findall(r"{(\w+)}", STRINGS[lang][key])) for lang in ("zh", "en")]
        assert fields[0] == fields[1], key


def test_empty_question_gets_a_hint_and_overlong_one_the_limit_without_any_work(markup_handlers, monkeypatch):
    asked: list[str] = []
    assistant = markup_handlers.service.assistant
    monkeypatch.setattr(assistant, "ask", lambda question, top_k=None: asked.append(question))
    box, chat = final_chat(markup_handlers, "   ", locale="zh-CN")
    assert Markup(chat[-1]["content"]).text.startswith("请先输入一个问题")
    box, chat = final_chat(markup_handlers, "长" * 2001, locale="en-US")
    assert Markup(chat[-1]["content"]).text == (
        "The question is too long: 2001 characters, the limit is 2000. Please shorten it and ask again."
    )
    assert box == "长" * 2001  # kept in the box, to be shortened
    assert len(chat) == 1 and asked == []


def test_follow_up_questions_carry_the_subject_of_the_chat_before_them(markup_handlers):
    _, first = final_chat(markup_handlers, "紫色长颈鹿生活在哪里？")
    _, follow_up = final_chat(markup_handlers, "它们吃什么？", history=first)
    _, standalone = final_chat(markup_handlers, "紫色长颈鹿吃什么？")
    assert follow_up[:2] == first
    shown = Markup(follow_up[-1]["content"]).text
    assert shown.startswith("理解为：紫色长颈鹿吃什么？")
    assert "蓝莓" in shown
    # Answered as the standalone question is, with the same citations.
    assert follow_up[-1]["content"].count('class="rag-cite"') == standalone[-1]["content"].count('class="rag-cite"')


def test_page_says_it_is_getting_ready_until_the_assistant_is_loaded(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, MARKUP_ARTICLE))
    release = threading.Event()

    def slow_prepare(settings):
        release.wait(10)
        build_index(settings, HashingEmbedder(64))
        return Assistant.load(settings)

    handlers = ChatHandlers(Service(settings, prepare=slow_prepare).start(), frame_delay=0)
    banner, finished = handlers.status("zh-CN")
    assert not finished and "正在准备" in Markup(banner).text
    _, chat = final_chat(handlers, "紫色长颈鹿生活在哪里？", locale="en")
    assert Markup(chat[-1]["content"]).text.startswith("Still getting ready")
    release.set()
    assert handlers.service.wait(30)
    banner, finished = handlers.status("en-US")
    assert finished and Markup(banner).text == "Ready: 2 articles, " + f"{len(handlers.service.assistant.index.chunks)} passages."
    _, chat = final_chat(handlers, "紫色长颈鹿生活在哪里？")
    assert Markup(chat[-1]["content"]).elements("a", "rag-cite")


def test_the_page_says_whether_it_builds_the_index_or_only_loads(tmp_path):
    # It said "首次启动或文章有变化时需要先建立索引" while it only loaded the model and an index built before.
    from rag.apps.console import build_if_needed

    settings = fake_settings(tmp_path, write_corpus(tmp_path, MARKUP_ARTICLE))
    loading, building = threading.Event(), threading.Event()

    class GatedEmbedder(HashingEmbedder):
        def encode_passages(self, texts, progress=None):
            building.wait(10)
            return super().encode_passages(texts, progress)

    def prepare(settings):
        loading.wait(10)
        build_if_needed(settings, embedder=GatedEmbedder(64))
        return Assistant.load(settings, HashingEmbedder(64))

    handlers = ChatHandlers(Service(settings, prepare=prepare).start(), frame_delay=0)
    banner, finished = handlers.status("zh-CN")
    assert not finished and handlers.service.state == "loading"
    assert Markup(banner).text == "正在准备：正在加载模型和索引，请稍候……"
    loading.set()
    for _ in range(200):
        if handlers.service.state == "building":
            break
        threading.Event().wait(0.05)
    banner, _ = handlers.status("en")
    assert handlers.service.state == "building" and "the index is being built" in Markup(banner).text
    building.set()
    assert handlers.service.wait(30) and handlers.service.state == "ready"


def test_a_failed_start_is_shown_not_waited_on(tmp_path):
    def broken(settings):
        raise IndexMissingError("no index in /nowhere: run `python -m rag build`")

    service = Service(fake_settings(tmp_path, SEEDS), prepare=broken)
    service.run()
    banner, finished = ChatHandlers(service).status("en")
    assert finished and Markup(banner).text == "Cannot answer: no index in /nowhere: run `python -m rag build`"


def test_refusal_and_related_reading_are_escaped_too():
    chunk = Chunk(0, "corpus/x.md", "<b>标题</b>", "正文 <script>alert(1)</script>", 3, 4)
    answer = Answer(XSS, "资料中没有找到与此问题相关的内容。", True, (), (Hit(chunk, 1, 0.5),), 0.1)
    shown = Markup(answer_html(answer, "en", {"corpus/x.md": "<i>T</i>"}))
    assert {tag for tag, _ in shown.tags} <= {"div", "strong", "ul", "li", "a", "span"}
    assert "<i>T</i>" in shown.text and "<script>alert(1)</script>" in shown.text
    cited = Answer("q", "A<b>.</b>[1]", False, (Citation(1, "corpus/x.md", "<u>t</u>", 3, 3, "A."),), (), 0.9)
    shown = Markup(answer_html(cited, "zh", {}))
    assert shown.text.startswith("A<b>.</b>[1]") and "<u>t</u>" in shown.text
    assert {tag for tag, _ in shown.tags} <= {"div", "a", "ul", "li", "span"}
    assert html.escape("<u>t</u>") in answer_html(cited, "zh", {})


def test_a_passage_is_listed_under_its_sections_headings_escaped():
    # A passage under "### Sora能做什么?" that never says so is shown with the heading it stands under, as the
    # API gives it; one that holds its heading is shown without.
    from rag.answer.schema import answer_to_dict

    under = Chunk(0, "seeds/a.txt", "Sora", "据 OpenAI 发布的信息, Sora 主要功能包括……", 23, 23, section="焦点1 <b>Sora能做什么?</b>")
    plain = Chunk(1, "seeds/a.txt", "Sora", "焦点2 Sora 牛在什么地方? 根据OpenAI官方介绍……", 29, 35)
    answer = Answer("Sora能做什么？", "资料中没有找到与此问题相关的内容。", True, (), (Hit(under, 1, 0.5), Hit(plain, 2, 0.4)), 0.1)
    shown = Markup(answer_html(answer, "zh", {}))
    assert len(shown.elements("span", "rag-section")) == 1 and "› 焦点1 <b>Sora能做什么?</b>" in shown.text
    assert [p["section"] for p in answer_to_dict(answer)["passages"]] == ["焦点1 <b>Sora能做什么?</b>", ""]


def test_a_citation_is_listed_under_its_sections_headings_escaped():
    # The sources under an answer name the section each quote stands in, after the title, as its marker's tooltip does.
    cited = Citation(1, "policy/handbook.md", "员工手册", 5, 5, "周一至周四请着商务休闲装。", section="<i>着装规范</i>")
    plain = Citation(2, "policy/handbook.md", "员工手册", 1, 1, "本手册适用于全体员工。")
    answer = Answer("着装规范是什么？", "周一至周四请着商务休闲装。[1]本手册适用于全体员工。[2]", False, (cited, plain), (), 0.9)
    shown = Markup(answer_html(answer, "zh", {}))
    assert len(shown.elements("span", "rag-section")) == 1 and "› <i>着装规范</i>" in shown.text
    assert "<i>" not in answer_html(answer, "zh", {}).replace(html.escape("<i>"), "")
    assert 'title="员工手册 › &lt;i&gt;着装规范&lt;/i&gt; · ' in answer_html(answer, "zh", {})


# A whole article on one line, as HTML exports often are: the panel must mark the sentence, not the whole line.
ONE_LINE_ARTICLE = {
    "policy.html": "<html><head><title>差旅制度</title></head><body><h1>差旅制度</h1>"
    + "".join(f"<p>第{i}条：普通的规定写在这里，与住宿无关。</p>" for i in range(1, 30))
    + "<p>出差住宿标准是每晚五百元&amp;含早餐。</p>"
    + "".join(f"<p>第{i}条：另一条普通的规定。</p>" for i in range(30, 60))
    + "</body></html>\n",
}


def test_the_panel_marks_the_cited_sentence_inside_a_long_line_without_markup(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, ONE_LINE_ARTICLE))
    build_index(settings, HashingEmbedder(64))
    service = Service(settings, prepare=Assistant.load)
    service.run()
    handlers = ChatHandlers(service, frame_delay=0)
    _, chat = final_chat(handlers, "出差住宿标准是每晚多少钱？")
    answer = Markup(chat[-1]["content"])
    href = answer.elements("a", "rag-cite")[0]["href"] or ""
    target = parse_source_href(href)
    assert target is not None and target.line_start == target.line_end == 1 and "五百元&含早餐" in target.quote
    panel = Markup(handlers.open_source(href, "zh-CN"))
    row = next(r for r in panel.elements("div", "rag-line") if r["data-line"] == "1")
    assert set((row["class"] or "").split()) >= {"rag-hl", "rag-marked"}
    assert len(panel.elements("mark", "rag-mark")) == 1
    marked = re.search(r'<mark class="rag-mark">(.*?)</mark>', handlers.open_source(href, "zh-CN")).group(1)
    assert html.unescape(marked) == target.quote  # exactly the sentence, not the line around it
    assert "<p>" not in panel.text and "&amp;" not in panel.text and "第59条" in panel.text


def test_a_quote_is_found_across_lines_and_spaces_or_not_at_all():
    from rag.apps.web.view import quote_spans

    lines = ["Intro text. The policy says", "  rooms cost 500 a night. More."]
    assert quote_spans(lines, "The policy says rooms cost 500 a night.") == {0: (12, 27), 1: (2, 25)}
    assert quote_spans(lines, "not there") == {} and quote_spans(lines, "") == {}
