"""A new knowledge base filled from the page's admin panel, in headless Chromium: upload a DOCX and a PDF, ask
about each, open the cited page and line, delete one and its answers are gone; the widget's data-kb asks it too."""
from __future__ import annotations

import http.server
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, READY_MS, ask, ask_widget, last_bot_message, panel_shows_highlight_in_view
from test_documents import tiny_docx, tiny_pdf

from rag.apps.web.view import parse_source_href

from servers import app_env, free_port, running_apps
from support import SEEDS

TOKEN = "kb-browser-token"
ROOMS = ["会议室预订办法", "大会议室需要提前两天预订。", "小会议室当天可以预订。"]
TRAVEL = [["差旅报销制度", "本制度适用于全体员工。"], ["出差的住宿标准是每晚五百元。", "高铁可以坐二等座。"]]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: `make test` installs Debian's chromium"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect, sync_playwright

    expect.set_options(timeout=20_000)


WIKI_PORT = free_port()
WIKI = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>员工手册</title></head>
<body><h1>员工手册</h1><script src="{app}widget.js" data-lang="zh" data-kb="handbook" data-session="{session}" defer></script>
</body></html>"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """One app.py with an API token over a copy of the seeds, its uploads kept in its own documents folder; the
    wiki page on WIKI_PORT may frame its widget."""
    folder = tmp_path_factory.mktemp("kbs")
    corpus = folder / "articles"
    shutil.copytree(SEEDS, corpus)
    env = app_env(corpus, folder / "index", {"RAG_API_TOKEN": TOKEN, "RAG_DOCUMENTS_DIR": str(folder / "documents"),
                                             "RAG_FRAME_ANCESTORS": f"http://127.0.0.1:{WIKI_PORT}"})
    with running_apps([(env, folder)], ready_path="embed") as started:
        yield started[0].url


@pytest.fixture(scope="module")
def page(server, tmp_path_factory) -> Iterator[Page]:
    """The chat page in a browser holding a session link (the page needs one when the server has a token)."""
    link = _session(server)["url"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = chromium.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
        opened = context.new_page()
        opened.goto(server + link.lstrip("/"))
        opened.wait_for_selector(".rag-status-ready", timeout=READY_MS)
        yield opened
        chromium.close()


def _session(server: str) -> dict:
    request = urllib.request.Request(server + "api/sessions", b"{}", {"Authorization": f"Bearer {TOKEN}",
                                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def _cited(page: Page, question: str, file: str):
    """Ask, and return the answer's [1] marker once the answer cites `file`."""
    answer = _answer(page, question)
    marker = answer.locator(".rag-text a.rag-cite", has_text="[1]")
    expect(marker).to_be_visible()
    cited = parse_source_href(marker.get_attribute("href") or "")
    assert cited is not None and cited.file == file, cited
    return marker, cited


def _answer(page: Page, question: str):
    """Ask, and return the new answer once it is in the chat."""
    answers = page.locator("#rag-chat .rag-answer")
    before = answers.count()
    ask(page, question)
    expect(answers).to_have_count(before + 1)
    answer = last_bot_message(page)
    expect(answer.locator(".rag-sources, .rag-refusal").first).to_be_visible()
    return answer


def _wait_panel(page: Page, state: str = "ready") -> None:
    expect(page.locator("#rag-admin-status")).to_have_attribute("data-state", state, timeout=60_000)


def test_a_docx_and_a_pdf_uploaded_from_the_page_answer_with_their_lines_then_one_is_deleted(page, tmp_path):
    # The examples are the seeds' own (their kb.json)
    expect(page.locator("#rag-examples button").first).to_have_text("Adobe股价在Sora发布后怎么样了？")
    (tmp_path / "rooms.docx").write_bytes(tiny_docx(ROOMS))
    (tmp_path / "travel.pdf").write_bytes(tiny_pdf(TRAVEL))
    page.locator("#rag-admin").get_by_text("管理文档").click()
    page.fill("#rag-admin-kb", "handbook")
    page.set_input_files("#rag-admin-files", [str(tmp_path / "rooms.docx"), str(tmp_path / "travel.pdf")])
    page.click("#rag-admin-upload")
    expect(page.locator("#rag-admin-status")).to_have_attribute("data-state", "failed")  # no token typed: refused
    expect(page.locator("#rag-admin-status")).to_contain_text("服务器设了管理令牌")
    # A Chinese page's panel speaks Chinese only: its English words are there for an English page, hidden.
    expect(page.locator("#rag-admin-upload")).to_have_text("上传", use_inner_text=True)
    expect(page.locator("#rag-admin-panel")).not_to_contain_text("Knowledge base", use_inner_text=True)
    page.fill("#rag-admin-token", TOKEN)
    page.click("#rag-admin-upload")
    _wait_panel(page)
    expect(page.locator("#rag-admin-status")).to_contain_text("handbook：2 篇文章")
    expect(page.locator("#rag-admin-docs li")).to_have_count(2)
    # the selector switched to the new knowledge base; its examples come from its own titles, never Sora
    expect(page.locator("#rag-kb input")).to_have_value("handbook")
    examples = page.locator("#rag-examples button:visible")
    expect(examples).to_have_count(2)
    expect(examples.first).to_contain_text("讲了什么？")
    expect(page.locator("#rag-examples button", has_text="Sora")).to_have_count(0)

    marker, cited = _cited(page, "大会议室需要提前几天预订？", "handbook/rooms.docx")
    marker.click()
    panel = page.locator("#rag-sources")
    expect(panel.locator(".rag-hl .rag-ln")).to_have_text([str(cited.line_start)])
    expect(panel.locator(".rag-hl .rag-code").first).to_contain_text("提前两天预订")
    panel_shows_highlight_in_view(page)

    marker, cited = _cited(page, "出差的住宿标准是多少？", "handbook/travel.pdf")
    marker.click()
    expect(panel.locator(".rag-hl .rag-code").first).to_contain_text("每晚五百元")
    expect(panel).to_contain_text("PDF 第 2 页第 1 行")
    panel_shows_highlight_in_view(page)

    page.locator("#rag-admin-docs .rag-admin-delete[data-name='travel.pdf']").click()
    _wait_panel(page)
    expect(page.locator("#rag-admin-status")).to_contain_text("handbook：1 篇文章")
    expect(page.locator("#rag-admin-docs li")).to_have_count(1)
    answer = _answer(page, "出差的住宿标准是多少？")
    assert "五百元" not in answer.inner_text()
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href') || '')")
    assert not any("travel.pdf" in href for href in hrefs), hrefs


def test_switching_back_to_the_default_knowledge_base_answers_from_the_seeds(page):
    page.locator("#rag-kb input").click()
    page.get_by_role("option", name="default").click()
    expect(page.locator("#rag-examples button").first).to_have_text("Adobe股价在Sora发布后怎么样了？")
    marker, _ = _cited(page, "Adobe股价在Sora发布后怎么样了？", "articles/000_fa970c9a7ff3279d.txt")
    marker.click()
    expect(page.locator("#rag-sources .rag-hl .rag-code").first).to_contain_text("Adobe")


def test_the_widget_asks_the_knowledge_base_its_snippet_names(server, page):
    """The wiki's snippet says data-kb="handbook": the widget answers from it, and opens the cited line from it."""
    body = WIKI.format(app=server, session=_session(server)["session"]).encode()

    class Wiki(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the handler's required name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    wiki = http.server.ThreadingHTTPServer(("127.0.0.1", WIKI_PORT), Wiki)
    threading.Thread(target=wiki.serve_forever, daemon=True).start()
    try:
        opened = page.context.new_page()
        opened.goto(f"http://127.0.0.1:{WIKI_PORT}/")
        opened.get_by_role("button", name="问问资料").click()
        frame = opened.frame_locator("#rag-widget iframe")
        ask_widget(frame, "大会议室需要提前几天预订？")
        answer = frame.locator(".rag-answer").last
        expect(answer).to_contain_text("提前两天预订")
        answer.locator("button.rag-marker").first.click()
        cited = frame.locator("#rag-lines li.rag-cited").first
        expect(cited).to_contain_text("提前两天预订")
        assert cited.get_attribute("value") == "2"
    finally:
        wiki.shutdown()


def test_a_knowledge_base_made_through_the_api_is_in_the_selector_once_the_page_is_opened(server, page):
    """Built with the page, the selector's choices missed a knowledge base made since the server started, until the
    admin panel changed one in that browser."""
    import httpx

    response = httpx.post(server + "api/kbs/canteen/documents", headers={"Authorization": f"Bearer {TOKEN}"},
                          files=[("file", ("canteen.md", "# 食堂\n\n食堂晚餐五点半开始。\n".encode()))], timeout=60)
    assert response.status_code == 202, response.text
    opened = page.context.new_page()
    opened.goto(server)
    opened.wait_for_selector(".rag-status-ready", timeout=READY_MS)
    opened.locator("#rag-kb input").click()
    expect(opened.get_by_role("option", name="canteen")).to_be_visible()
    opened.close()


def test_an_english_page_s_admin_panel_speaks_english(server, page):
    context = page.context.browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.goto(server + _session(server)["url"].lstrip("/"))
    opened.wait_for_selector(".rag-status-ready", timeout=READY_MS)
    opened.locator("#rag-admin").get_by_text("Manage documents").click()
    expect(opened.locator("#rag-admin-upload")).to_have_text("Upload", use_inner_text=True)
    expect(opened.locator("#rag-admin-panel")).not_to_contain_text("知识库", use_inner_text=True)
    opened.click("#rag-admin-upload")  # no name, no files
    expect(opened.locator("#rag-admin-status")).to_have_text("Type a knowledge base name and choose files first.")
    context.close()
