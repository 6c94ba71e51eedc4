"""Screenshot the widget on a stand-in wiki page: an answer, then its [1] opened in place (headless Debian Chromium).

Start the server allowing the stand-in page's origin, then run:
    RAG_FRAME_ANCESTORS=http://127.0.0.1:7899 .venv/bin/python app.py &
    .venv/bin/python scripts/widget_screenshot.py http://127.0.0.1:7860/ docs/widget.png "Adobe股价在Sora发布后怎么样了？"
"""
from __future__ import annotations

import http.server
import sys
import threading

from playwright.sync_api import sync_playwright

WIKI_PORT = 7899
PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>内部维基</title></head>
<body style="font-family: sans-serif; margin: 40px; max-width: 700px"><h1>项目周报 · 第 8 周</h1>
<p>本周我们调研了 OpenAI 的文生视频模型 Sora 及其对行业的影响。有问题，点右下角的按钮问问资料。</p>
<script src="{app}widget.js" data-lang="zh" defer></script></body></html>"""


def main(app: str, out: str, question: str) -> None:
    body = PAGE.format(app=app).encode()

    class Wiki(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", WIKI_PORT), Wiki)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        page = browser.new_page(locale="zh-CN", viewport={"width": 1100, "height": 760})
        page.goto(f"http://127.0.0.1:{WIKI_PORT}/")
        page.get_by_role("button", name="问问资料").click()
        frame = page.frame_locator("#rag-widget iframe")
        frame.locator("#rag-question").fill(question)
        frame.locator("#rag-question").press("Enter")
        frame.locator(".rag-answer .rag-marker").first.wait_for(timeout=60_000)
        page.screenshot(path=out.replace(".png", "-answer.png"))
        frame.locator(".rag-answer .rag-marker").first.click()
        frame.locator("#rag-lines li.rag-cited").first.wait_for(timeout=10_000)
        page.wait_for_timeout(500)
        page.screenshot(path=out)
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:4])
