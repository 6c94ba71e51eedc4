"""Screenshot the chat page with an answer and its sources panel open (headless Debian Chromium).

    .venv/bin/python scripts/screenshot.py http://127.0.0.1:7860/ docs/screenshot.png "Sora是在哪一天发布的？" 1
"""
import sys
import time

from playwright.sync_api import sync_playwright

url, out, question, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with sync_playwright() as p:
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
    b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=flags)
    pg = b.new_page(locale="zh-CN", viewport={"width": 1440, "height": 960}, device_scale_factor=1)
    pg.goto(url)
    pg.wait_for_selector(".rag-status-ready", timeout=120000)
    pg.fill("#rag-question textarea", question)
    pg.press("#rag-question textarea", "Enter")
    pg.wait_for_selector("#rag-chat .rag-sources", timeout=60000)
    pg.locator("#rag-chat .rag-text a.rag-cite", has_text=f"[{n}]").last.click()
    pg.wait_for_selector("#rag-sources .rag-hl", timeout=10000)
    time.sleep(0.8)
    pg.mouse.move(0, 0)
    pg.screenshot(path=out)
    b.close()
