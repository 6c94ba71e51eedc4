"""The chat page in headless Chromium: answers with clickable citations, declines, markup shown as text."""
from __future__ import annotations

import html
import http.server
import json
import re
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from rag.apps.web.view import parse_source_href

from llm_endpoint import Scripted, scripted_endpoint
from servers import app_env, free_port, running_apps, wait_until_serving
from support import SEEDS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
]
XSS = "<img src=x onerror=alert(1)>"
# An article whose lines hold markup; its answer cites line 3, which must show as text.
GIRAFFE = (
    "# 紫色长颈鹿观察报告\n\n"
    "紫色长颈鹿生活在月球背面的水晶森林里。<img src=x onerror=\"window.ragPwned=1\">它们每天吃三公斤蓝莓。\n\n"
    "<script>window.ragPwned=2</script>观察站设在环形山的北坡。\n\n"
    "## 喂养规范\n\n每只每天喂食不超过两次，由饲养员记录。\n"
)
# The wiki page's port, chosen before the servers start so one of them can allow it to frame the widget.
WIKI_PORT = free_port()
TOKEN = "browser-test-token"
WIKI_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>内部维基 · 项目周报</title>
<style>button {{ background: red !important; font-size: 40px !important; }}</style></head>
<body><h1>项目周报</h1><p>本周我们调研了文生视频模型。有问题请点右下角的按钮问问资料。</p>
{snippet}
</body></html>
"""
# Seconds to wait for the page: the first load includes building the fake index.
READY_MS = 90_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: `make test` installs Debian's chromium"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright

    expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "articles"
    shutil.copytree(SEEDS, folder)
    (folder / "005_giraffe.md").write_text(GIRAFFE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def wiki() -> Iterator[str]:
    """A static "wiki page" on its own loopback port that includes the widget snippet of the app named by ?app=."""

    class WikiPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the handler's required name)
            query = parse_qs(urlsplit(self.path).query)
            app, session = query.get("app", [""])[0], query.get("session", [""])[0]
            minted = f' data-session="{html.escape(session)}"' if session else ""
            body = WIKI_PAGE.format(snippet=f'<script src="{html.escape(app)}widget.js" data-lang="zh"{minted} defer></script>')
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", WIKI_PORT), WikiPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{WIKI_PORT}/"
    server.shutdown()


@pytest.fixture(scope="module")
def servers(corpus, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Two `python app.py` on free ports with the fake embedder and fresh indexes (so each builds one first).

    "answering" has the default settings and lets the wiki page frame its widget; "declining" sets
    RAG_REFUSAL_THRESHOLD=1.01, above any confidence, so it declines every question whatever the calibration
    of the day, and keeps the default framing rule (same origin only); "guarded" is "answering" with an API
    token. All start at once.
    """
    names = ("answering", "declining", "guarded")
    specs = []
    allowed = {"RAG_FRAME_ANCESTORS": f"http://127.0.0.1:{WIKI_PORT}"}
    guarded = {**allowed, "RAG_API_TOKEN": TOKEN}
    for name, extra in zip(names, (allowed, {"RAG_REFUSAL_THRESHOLD": "1.01"}, guarded)):
        folder = tmp_path_factory.mktemp(name)
        specs.append((app_env(corpus, folder / "index", extra), folder))
    # The widget's shell answers on every server, token or not.
    with running_apps(specs, ready_path="embed") as started:
        yield {name: server.url for name, server in zip(names, started)}


@pytest.fixture(scope="module")
def server(servers) -> str:
    return servers["answering"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def open_page(browser) -> Iterator:
    """Open the page in a fresh browser context of the given language; collect dialogs and script errors."""
    contexts = []

    def opener(url: str, locale: str, wait_ready: bool = True) -> Page:
        context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
        page.goto(url)
        if wait_ready:
            page.wait_for_selector(".rag-status-ready", timeout=READY_MS)
        return page

    yield opener
    for context in contexts:
        context.close()


def ask(page: Page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.press("#rag-question textarea", "Enter")


def ask_widget(frame, question: str) -> None:
    """Ask in the widget as a person would: once its script has labelled the send button (it has read its session)."""
    expect(frame.locator("#rag-send")).to_have_text(re.compile(r"发送|Send"))
    frame.locator("#rag-question").fill(question)
    frame.locator("#rag-question").press("Enter")


def last_bot_message(page: Page):
    return page.locator("#rag-chat .rag-answer").last


def panel_shows_highlight_in_view(page: Page) -> None:
    """Wait until the panel has scrolled its highlighted lines into its visible area."""
    page.wait_for_function(
        """() => {
            const body = document.querySelector('#rag-sources .rag-panel-body');
            const hl = body && body.querySelector('.rag-hl');
            if (!hl) return false;
            const b = body.getBoundingClientRect(), h = hl.getBoundingClientRect();
            return h.top >= b.top - 1 && h.top < b.bottom - 10;
        }""",
        timeout=10_000,
    )


def test_answer_streams_in_and_its_marker_opens_the_highlighted_source(server, open_page):
    page = open_page(server, "zh-CN")
    expect(page.locator("#rag-send")).to_have_text("发送")
    page.evaluate(
        """() => {
            window.ragFrames = [];
            new MutationObserver(() => {
                const texts = document.querySelectorAll('#rag-chat .rag-text');
                const n = texts.length ? texts[texts.length - 1].textContent.length : 0;
                if (n && window.ragFrames[window.ragFrames.length - 1] !== n) window.ragFrames.push(n);
            }).observe(document.querySelector('#rag-chat'), {subtree: true, childList: true, characterData: true});
        }"""
    )
    ask(page, "Adobe股价在Sora发布后怎么样了？")
    answer = last_bot_message(page)
    expect(answer.locator(".rag-sources")).to_be_visible()
    expect(answer.locator(".rag-text")).to_contain_text("Adobe 股价随即暴跌超 7%")
    frames = page.evaluate("window.ragFrames")
    assert len(frames) >= 3 and frames == sorted(frames), frames  # it grew in several steps

    marker = answer.locator(".rag-text a.rag-cite", has_text="[1]")
    cited = parse_source_href(marker.get_attribute("href") or "")
    assert cited is not None and cited.file.startswith("articles/")
    entry = answer.locator(".rag-sources li").first  # [1] in the list below the answer: title, file, lines
    lines = f"第 {cited.line_start} 行" if cited.line_start == cited.line_end else f"第 {cited.line_start}–{cited.line_end} 行"
    expect(entry).to_contain_text(f"{cited.file} · {lines}")
    title = entry.locator(".rag-source-title").inner_text()
    assert title and Path(cited.file).stem not in title  # the article's own title, not its file name
    sentence = answer.locator(".rag-text").inner_text().split("[1]")[0]

    marker.click()
    panel = page.locator("#rag-sources")
    expect(panel.locator(".rag-panel-kind")).to_have_text("引用 [1]")
    expect(panel.locator(".rag-panel-title")).to_have_text(title)
    cited_numbers = [str(n) for n in range(cited.line_start, cited.line_end + 1)]
    expect(panel.locator(".rag-hl .rag-ln")).to_have_text(cited_numbers)
    expect(panel.locator(".rag-hl .rag-code").first).to_contain_text(sentence.strip()[:8])
    shown = {int(n) for n in panel.locator(".rag-ln").all_inner_texts()}
    context = [n for n in (*range(cited.line_start - 3, cited.line_start), *range(cited.line_end + 1, cited.line_end + 4)) if n in shown]
    expect(panel.locator(".rag-context .rag-ln")).to_have_text([str(n) for n in context])
    assert len(context) >= 3
    panel_shows_highlight_in_view(page)


def test_unanswerable_question_is_declined_with_related_reading(servers, open_page):
    page = open_page(servers["declining"], "en-US")
    expect(page.locator("#rag-send")).to_have_text("Send")
    ask(page, "今天天气怎么样？")
    answer = page.locator("#rag-chat .rag-refused").last
    expect(answer.locator(".rag-refusal")).to_have_text("No answer found 资料中没有出现“今天天气”，没有找到与此问题相关的内容。")
    expect(answer.locator(".rag-related .rag-heading")).to_have_text("Related reading — not an answer, for reference only")
    expect(answer.locator("a.rag-related-link")).to_have_count(3)
    expect(page.locator("#rag-chat a.rag-cite")).to_have_count(0)  # nothing on the page is offered as a citation

    answer.locator("a.rag-related-link").first.click()
    panel = page.locator("#rag-sources")
    expect(panel.locator(".rag-panel-kind")).to_have_text("Related reading (not an answer)")
    expect(panel.locator(".rag-hl").first).to_be_visible()
    panel_shows_highlight_in_view(page)


def test_labels_and_server_text_share_the_language_gradio_chose(server, open_page):
    # Gradio has Chinese labels for zh-CN and zh-TW only; a zh-HK browser gets English labels, so English answers too.
    page = open_page(server, "zh-HK")
    expect(page.locator("#rag-send")).to_have_text("Send")
    expect(page.locator("#rag-status")).to_have_text(re.compile(r"^\s*Ready: 6 articles, \d+ passages\.\s*$"))
    expect(page.locator("#rag-sources .rag-panel-empty")).to_contain_text("Click a marker such as [1]")


def test_html_in_a_question_is_shown_as_text_and_an_articles_markup_not_at_all(server, open_page):
    page = open_page(server, "zh-CN")
    ask(page, XSS)
    expect(page.locator("#rag-chat .rag-question").last).to_have_text(XSS)
    expect(page.locator("#rag-chat .rag-refused, #rag-chat .rag-sources")).not_to_have_count(0)
    assert page.locator("#rag-chat img").count() == 0

    ask(page, "紫色长颈鹿生活在哪里？")
    expect(last_bot_message(page).locator(".rag-sources")).to_contain_text("紫色长颈鹿观察报告")
    last_bot_message(page).locator(".rag-text a.rag-cite", has_text="[1]").click()
    # The panel shows the text as indexed, numbered as in the file, the cited sentence marked inside its line.
    highlighted = page.locator("#rag-sources .rag-hl .rag-code")
    expect(highlighted).to_have_text("紫色长颈鹿生活在月球背面的水晶森林里。它们每天吃三公斤蓝莓。")
    expect(page.locator("#rag-sources .rag-hl .rag-ln")).to_have_text("3")
    expect(page.locator("#rag-sources .rag-hl mark.rag-mark")).to_have_count(1)
    expect(page.locator("#rag-sources .rag-code", has_text="<")).to_have_count(0)
    assert page.locator("#rag-sources img, #rag-sources script").count() == 0
    assert page.evaluate("window.ragPwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_page_says_it_is_getting_ready_until_the_index_is_built(corpus, tmp_path, open_page):
    from rag.apps.service import Service, build_and_load
    from rag.apps.web import build_page, launch_options
    from rag.settings import load_settings

    release = threading.Event()

    def gated_prepare(settings):
        release.wait(60)
        return build_and_load(settings)

    settings = load_settings(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", embed_model="hash:64")
    blocks = build_page(Service(settings, prepare=gated_prepare).start())
    port = free_port()
    blocks.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_serving(url, None, None)
        page = open_page(url, "zh-CN", wait_ready=False)
        expect(page.locator("#rag-status")).to_contain_text("正在准备")
        ask(page, "Adobe股价在Sora发布后怎么样了？")
        expect(page.locator("#rag-chat .rag-notice").last).to_have_text("还在准备中，请稍后再问。")
        release.set()
        expect(page.locator("#rag-status")).to_contain_text("已就绪：6 篇文章", timeout=READY_MS)
        ask(page, "Adobe股价在Sora发布后怎么样了？")
        expect(last_bot_message(page).locator(".rag-text a.rag-cite").first).to_have_text("[1]")
    finally:
        release.set()
        blocks.close()


def test_wiki_page_snippet_opens_the_widget_and_gets_a_cited_answer(servers, wiki, open_page):
    page = open_page(wiki + "?app=" + servers["answering"], "zh-CN", wait_ready=False)
    page.get_by_role("button", name="问问资料").click()
    frame = page.frame_locator("#rag-widget iframe")
    ask_widget(frame, "Adobe股价在Sora发布后怎么样了？")
    answer = frame.locator(".rag-answer").last
    expect(answer).to_contain_text("7%")
    marker = answer.locator("button.rag-marker").first
    expect(marker).to_have_text("[1]")
    marker.click()
    # The cited line opens in place, highlighted, with its line number.
    cited = frame.locator("#rag-lines li.rag-cited").first
    expect(cited).to_be_visible()
    expect(cited).to_contain_text("7%")
    assert int(cited.get_attribute("value")) >= 1
    frame.locator("#rag-back").click()
    expect(answer).to_be_visible()
    # The wiki's own CSS (red 40px buttons) does not reach the widget.
    size = page.locator("#rag-widget button.open").evaluate("b => getComputedStyle(b).fontSize")
    assert size == "14px"
    # "每只每天喂食不超过两次" stands under "## 喂养规范": the sources and the marker say so after the article's title.
    ask_widget(frame, "紫色长颈鹿每天喂食几次？")
    answer = frame.locator(".rag-answer").last
    expect(answer).to_contain_text("不超过两次")
    expect(answer.locator(".rag-list")).to_contain_text("紫色长颈鹿观察报告 › 喂养规范 · ")
    assert "› 喂养规范" in (answer.locator("button.rag-marker").first.get_attribute("title") or "")


def test_widget_takes_no_question_before_its_script_can_send_it(servers, wiki, open_page):
    """Until embed.js runs, Enter in the box would add a newline and ask nothing: the box and button stay disabled."""
    page = open_page(wiki + "?app=" + servers["answering"], "zh-CN", wait_ready=False)
    page.route("**/embed/static/embed.js", lambda route: route.abort())
    page.get_by_role("button", name="问问资料").click()
    frame = page.frame_locator("#rag-widget iframe")
    expect(frame.locator("#rag-question")).to_be_disabled()
    expect(frame.locator("#rag-send")).to_be_disabled()


DAMAGED = "index damaged: chunks.jsonl is missing (in /srv/rag/index): run `python -m rag build`"


def sse_body(*events: tuple[str, dict]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n" for name, data in events)


def test_widget_shows_a_failure_mid_stream_as_its_one_line_error_and_answers_the_next_question(servers, wiki, open_page):
    """The widget's answers as a server could fail them (played by the browser): an `error` event after the first
    pieces, a stream cut short, a 503 while the index is built and one for a damaged index; then the real server."""
    begun = [("question", {"question": "Sora是什么？"}), ("delta", {"text": "Sora 是 OpenAI 发布的", "draft": False})]
    replies = [
        {"body": sse_body(*begun, ("error", {"error": DAMAGED, "status": 503})), "content_type": "text/event-stream"},
        {"body": sse_body(*begun), "content_type": "text/event-stream"},
        {"status": 503, "json": {"error": "the index is being built: try again in a few seconds"}, "headers": {"Retry-After": "5"}},
        {"status": 503, "json": {"error": DAMAGED}},
    ]
    page = open_page(wiki + "?app=" + servers["answering"], "zh-CN", wait_ready=False)
    page.route("**/embed/api/ask", lambda route: route.fulfill(**replies.pop(0)) if replies else route.continue_())
    page.get_by_role("button", name="问问资料").click()
    frame = page.frame_locator("#rag-widget iframe")
    answers = frame.locator(".rag-answer")
    shown = [
        f"出错了：{DAMAGED}",  # the error event's message, the pieces before it gone
        "出错了：连接在回答完成前中断了，请再问一次。",  # no answer and no error: cut by the network
        "还在准备中，请稍后再问。",
        f"出错了：{DAMAGED}",  # a 503 that is no index being built says what it is
    ]
    for count, text in enumerate(shown, 1):
        ask_widget(frame, "Sora是什么？")
        expect(answers).to_have_count(count)
        expect(answers.nth(count - 1)).to_have_text(text)
        expect(answers.nth(count - 1)).to_have_class(re.compile("rag-error"))
    # The failed turns are no conversation to lean on: the next question is answered as asked, by the server.
    ask_widget(frame, "Adobe股价在Sora发布后怎么样了？")
    expect(answers.last.locator("button.rag-marker").first).to_have_text("[1]", timeout=30_000)
    expect(answers.last).to_contain_text("7%")
    expect(answers.last.locator(".rag-understood")).to_have_count(0)


def test_widget_is_refused_by_a_server_that_does_not_allow_the_wiki(servers, wiki, open_page):
    page = open_page(wiki + "?app=" + servers["declining"], "zh-CN", wait_ready=False)
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
        page.get_by_role("button", name="问问资料").click()
    assert "has been blocked" in refusal.value.text and "frame-ancestors 'self'" in refusal.value.text
    # Chromium shows its error page in the frame instead of /embed: nothing of the chat loads inside.
    embed = [frame for frame in page.frames if frame != page.main_frame]
    assert len(embed) == 1 and embed[0].locator("#rag-question").count() == 0


def mint_session(server: str) -> dict:
    """Mint a session with the token, as a wiki's server or an admin would."""
    request = urllib.request.Request(
        server + "api/sessions", data=b"{}", method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_with_a_token_the_page_opens_only_through_a_session_link(servers, open_page):
    guarded = servers["guarded"]
    page = open_page(guarded, "zh-CN", wait_ready=False)
    expect(page.locator("h1")).to_contain_text("Access link needed")
    assert TOKEN not in page.content()
    page.goto(guarded.rstrip("/") + mint_session(guarded)["url"])
    page.wait_for_selector(".rag-status-ready", timeout=READY_MS)
    ask(page, "Adobe股价在Sora发布后怎么样了？")
    expect(last_bot_message(page).locator(".rag-text a.rag-cite").first).to_have_text("[1]")
    assert TOKEN not in page.content() and all(TOKEN not in c["value"] for c in page.context.cookies())


def test_with_a_token_the_widget_answers_with_the_wikis_session_only(servers, wiki, open_page):
    guarded = servers["guarded"]
    for session, answers in (("", False), (mint_session(guarded)["session"], True)):
        page = open_page(wiki + "?" + urlencode({"app": guarded, "session": session}), "zh-CN", wait_ready=False)
        page.get_by_role("button", name="问问资料").click()
        frame = page.frame_locator("#rag-widget iframe")
        ask_widget(frame, "Adobe股价在Sora发布后怎么样了？")
        answer = frame.locator(".rag-answer").last
        if answers:
            expect(answer).to_contain_text("7%")
            expect(answer.locator("button.rag-marker").first).to_have_text("[1]")
        else:  # the reader is told to ask for a link, not about tokens and commands they cannot run
            expect(answer).to_have_class(re.compile("rag-error"))
            expect(answer).to_have_text("这个问答服务只对持有访问链接的人开放：请向管理员索取链接。")


@pytest.fixture(scope="module")
def talking(corpus, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """An app.py the wiki may frame, with its own feedback folder: (its address, that folder)."""
    folder = tmp_path_factory.mktemp("talking")
    extra = {"RAG_FRAME_ANCESTORS": f"http://127.0.0.1:{WIKI_PORT}", "RAG_FEEDBACK_DIR": str(folder / "feedback")}
    with running_apps([(app_env(corpus, folder / "index", extra), folder)], ready_path="embed") as started:
        # The widget's test asks at once: the index must be built by then, or its first answer is "still getting ready".
        wait_until_serving(started[0].url + "api/health", None, started[0].log)
        yield started[0].url, folder / "feedback"


def exported_feedback(folder: Path) -> list[dict]:
    """Return what `python -m rag feedback` prints for the folder, one record a line."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "rag", "feedback", "--dir", str(folder)], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_page_follow_up_leans_on_the_turn_before_and_thumbs_are_stored(talking, open_page):
    url, feedback = talking
    page = open_page(url, "en-US")
    ask(page, "紫色长颈鹿生活在哪里？")
    expect(last_bot_message(page).locator(".rag-text")).to_contain_text("水晶森林")
    # The sources list comes with the last frame: the page takes the next question once the answer is whole.
    expect(last_bot_message(page).locator(".rag-sources")).to_be_visible()
    expect(page.locator("#rag-question textarea")).to_be_editable()
    ask(page, "它们吃什么？")
    answer = page.locator("#rag-chat .rag-answer").nth(1)
    expect(answer.locator(".rag-understood")).to_have_text("Understood as: 紫色长颈鹿吃什么？")
    expect(answer.locator(".rag-text")).to_contain_text("蓝莓")
    expect(answer.locator(".rag-sources")).to_be_visible()  # whole, as above
    # A notice is nothing to rate: thumbs stand under the two answers, none under it.
    ask(page, "   ")
    expect(page.locator("#rag-chat .rag-notice")).to_be_visible()
    expect(page.locator("#rag-chat button[aria-label='Like']:visible")).to_have_count(2)
    page.fill("#rag-comment textarea", "答得对")
    page.locator("#rag-chat button[aria-label='Like']:visible").last.click()
    expect(page.locator("#rag-feedback-notice")).to_contain_text("Thanks, your feedback is stored.")
    (record,) = exported_feedback(feedback)
    assert record["rating"] == "up" and record["origin"] == "page" and record["comment"] == "答得对"
    assert record["question"] == "它们吃什么？" and record["understood_as"] == "紫色长颈鹿吃什么？"
    assert "蓝莓" in record["answer"] and record["citations"][0]["file"] == "articles/005_giraffe.md"


def test_widget_follow_up_leans_on_the_turn_before_and_thumbs_are_stored(talking, wiki, open_page):
    url, feedback = talking
    before = len(exported_feedback(feedback)) if (feedback / "feedback.sqlite3").exists() else 0
    page = open_page(wiki + "?app=" + url, "zh-CN", wait_ready=False)
    page.get_by_role("button", name="问问资料").click()
    frame = page.frame_locator("#rag-widget iframe")
    for question in ("Adobe股价在Sora发布后怎么样了？", "那Shutterstock呢？"):
        frame.locator("#rag-question").fill(question)
        frame.locator("#rag-question").press("Enter")
        expect(frame.locator(".rag-answer")).to_have_count(1 if "Adobe" in question else 2)
        expect(frame.locator(".rag-answer").last.locator(".rag-feedback")).to_be_visible()
    answer = frame.locator(".rag-answer").last
    expect(answer.locator(".rag-understood")).to_have_text("理解为：Shutterstock股价在Sora发布后怎么样了？")
    expect(answer.locator("button.rag-marker").first).to_have_text("[1]")
    answer.locator(".rag-feedback-comment").fill("想看更多细节")
    answer.locator("button.rag-thumb-down").click()
    expect(answer.locator(".rag-feedback")).to_have_text("谢谢反馈，已记录。")
    record = exported_feedback(feedback)[before]
    assert record["rating"] == "down" and record["origin"] == "widget" and record["comment"] == "想看更多细节"
    assert record["question"] == "那Shutterstock呢？" and record["understood_as"] == "Shutterstock股价在Sora发布后怎么样了？"
    assert record["citations"] and "Shutterstock" in record["answer"]


@pytest.fixture(scope="module")
def generating(corpus, tmp_path_factory) -> Iterator[tuple[str, Scripted]]:
    """An app.py the wiki may frame whose answers a scripted language model writes, token by token, slowly."""
    with scripted_endpoint() as (endpoint, script):
        folder = tmp_path_factory.mktemp("generating")
        extra = {
            "RAG_FRAME_ANCESTORS": f"http://127.0.0.1:{WIKI_PORT}", "RAG_LLM_BASE_URL": endpoint, "RAG_LLM_MODEL": "scripted",
        }
        with running_apps([(app_env(corpus, folder / "index", extra), folder)], ready_path="embed") as started:
            # The widget asks at once: the index must be built by then, or its first answer is "still getting ready".
            wait_until_serving(started[0].url + "api/health", None, started[0].log)
            yield started[0].url, script


def giraffe_reply(user: str) -> str:
    """The scripted model's answer: one sentence the giraffe article supports, one it does not."""
    parts = re.split(r"(?m)^\[(\d+)\] ", user)
    number = next(parts[at] for at in range(1, len(parts), 2) if "水晶森林" in parts[at + 1])
    return f"紫色长颈鹿生活在月球背面的水晶森林里。[{number}] 它们每年迁徙 800 公里。[{number}]"


def test_widget_and_page_show_the_models_draft_as_it_streams_then_the_checked_answer(generating, wiki, open_page):
    url, script = generating
    script.reply, script.piece_chars, script.piece_delay = giraffe_reply, 2, 0.15
    page = open_page(wiki + "?app=" + url, "zh-CN", wait_ready=False)
    page.get_by_role("button", name="问问资料").click()
    frame = page.frame_locator("#rag-widget iframe")
    ask_widget(frame, "紫色长颈鹿生活在哪里？")
    answer = frame.locator(".rag-answer").last
    # While the model writes: its draft, marked as one; then the checked answer replaces it, without the 800 km.
    expect(answer.locator("p.rag-draft")).to_contain_text("紫色长颈鹿")
    expect(answer.locator(".rag-draft-note")).to_contain_text("核对")
    expect(answer.locator("button.rag-marker").first).to_have_text("[1]", timeout=30_000)
    expect(answer.locator("p.rag-draft")).to_have_count(0)
    expect(answer).to_contain_text("水晶森林")
    expect(answer).not_to_contain_text("800")
    expect(answer.locator(".rag-answer-notice")).to_have_text("已删去 1 句原文不支持的生成内容。")

    chat = open_page(url, "zh-CN")
    ask(chat, "紫色长颈鹿生活在哪里？")
    # On a loaded machine the page may draw only the draft's first pieces before the checked answer replaces it.
    expect(chat.locator("#rag-chat .rag-draft-text").last).to_contain_text("紫色")
    expect(last_bot_message(chat).locator(".rag-sources")).to_be_visible(timeout=30_000)
    expect(last_bot_message(chat).locator(".rag-text")).not_to_contain_text("800")
    expect(chat.locator("#rag-chat .rag-draft")).to_have_count(0)


def test_a_page_opened_once_the_index_is_loaded_shows_examples_drawn_from_the_titles(tmp_path, open_page):
    # A folder without a kb.json: its examples come from its titles, which only a loaded index has. The page was built
    # before the index loaded, and opened after, so no tick of its timer ever filled them in: none were shown.
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "giraffe.md").write_text(GIRAFFE, encoding="utf-8")
    folder = tmp_path / "app"
    folder.mkdir()
    with running_apps([(app_env(corpus, folder / "index"), folder)], ready_path="embed") as started:
        wait_until_serving(started[0].url + "api/health", None, started[0].log)
        page = open_page(started[0].url, "zh-CN")
        expect(page.locator("#rag-examples button:visible")).to_have_text(["紫色长颈鹿观察报告讲了什么？"])
