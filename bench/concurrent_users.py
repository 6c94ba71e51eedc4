"""20 users ask different questions at the same moment through the page's `/ask` queue; check and time them.

Usage (with the page running, e.g. `python app.py --port 7861`):

    .venv/bin/python -m bench.concurrent_users --url http://127.0.0.1:7861/

Each user has its own session and talks to the server as the page does: it joins the Gradio
queue for the `/ask` event and reads the event stream (plain HTTP, so the measuring client
spends almost no CPU on the 2 cores it shares with the server). First every question is asked
alone, one after another (the baseline); then all users ask at once, released together. A user's
answer is correct when (1) the chat it gets back holds its own question, (2) the answer is the
same as its baseline, and (3) it cites the expected article, or declines when the articles do not
say. Prints per-user results and p50/p95 latencies; exits 1 if any user failed. Loopback only.
"""
from __future__ import annotations

import argparse
import html
import json
import math
import re
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from rag.apps.web.view import parse_source_href  # the page's own link format

# (question, seed files one of which the answer must cite; empty = the bot must decline).
# Drawn from the public gold questions (their evidence files) plus two page examples.
QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Adobe股价在Sora发布后怎么样了？", ("000_fa970c9a7ff3279d.txt",)),
    ("Sora概念股表现如何？", ("000_fa970c9a7ff3279d.txt", "004_02a4909be80bae2b.txt")),
    ("Sora是在哪一天发布的？", ("000_fa970c9a7ff3279d.txt", "001_885e0e70a88ebf80.txt")),
    ("哪位券商分析师把Sora概括为“四方面的突破”？具体是哪四点？", ("000_fa970c9a7ff3279d.txt",)),
    ("Meta首席科学家杨立昆为什么不认同“能生成逼真视频就说明理解了物理世界”？", ("000_fa970c9a7ff3279d.txt",)),
    ("按a16z的统计，此前大热的Runway Gen 2和Pika生成的视频分别有多长？", ("001_885e0e70a88ebf80.txt",)),
    ("Sora项目的研究科学家Tim Brooks如何解释Sora对3D几何的掌握？", ("001_885e0e70a88ebf80.txt",)),
    ("电影学者李超展示的背景介绍称，Sora的扩散模型要经过大约多少个处理阶段才能生成视频？", ("002_d122934e973f1a01.txt",)),
    ("出门问问创始人李志飞如何比较ChatGPT和Sora？", ("002_d122934e973f1a01.txt",)),
    ("周鸿祎是否认为AI会很快颠覆所有行业？", ("003_4150582dbce200e9.txt",)),
    ("Runway当初为什么要启动“通用世界模型”的长期研究？", ("003_4150582dbce200e9.txt",)),
    ("浙商证券认为，Sora现阶段对长视频和游戏行业主要能起到什么作用？为什么？", ("003_4150582dbce200e9.txt",)),
    ("据不完全统计，有多少家A股上市公司此前已经布局多模态大模型或AI视频研发？", ("003_4150582dbce200e9.txt",)),
    ("哪段Sora视频让人推测它的训练数据里很可能有大量游戏画面？", ("004_02a4909be80bae2b.txt",)),
    ("周鸿祎对Sora背后的技术关键做了哪些推测？", ("004_02a4909be80bae2b.txt",)),
    ("Sora的使用价格是多少？OpenAI打算怎么收费？", ()),
    ("OpenAI官方宣布的Sora正式向公众开放的日期是哪一天？", ()),
    ("训练Sora动用了多少块GPU，花了多少钱？", ()),
    ("Sora发布后，英伟达的股价涨跌了多少？", ()),
    ("今天天气怎么样？", ()),
)
_HREF = re.compile(r'href="([^"]+)"')
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Result:
    """One user's run: what came back and how long it took."""

    user: int
    question: str
    first_s: float = 0.0  # until the first streamed frame (the question shown, "looking it up")
    total_s: float = 0.0  # until the whole answer
    own_question: bool = False
    answer: str = ""
    cited_files: tuple[str, ...] = ()
    refused: bool = False
    error: str = ""


def message_text(message: dict[str, Any]) -> str:
    """Return the HTML text of one chat message as the API returns it (a list of content parts, or a string)."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def read_chat(result: Result, chat: list[dict[str, Any]]) -> None:
    """Fill in what the returned chat says: whose question, the answer, its cited files, a decline."""
    user_messages = [message_text(m) for m in chat if m.get("role") == "user"]
    bot_messages = [message_text(m) for m in chat if m.get("role") == "assistant"]
    shown_question = html.unescape(_TAG.sub("", user_messages[-1])) if user_messages else ""
    result.own_question = shown_question == result.question
    answer = bot_messages[-1] if bot_messages else ""
    result.answer = answer
    result.refused = "rag-refused" in answer
    targets = [parse_source_href(html.unescape(href)) for href in _HREF.findall(answer)]
    result.cited_files = tuple(sorted({t.file.rsplit("/", 1)[-1] for t in targets if t and t.kind == "cite"}))


def ask_endpoint(url: str) -> tuple[int, str]:
    """Return the queue id of the page's `/ask` event and the server's API prefix, read from its config."""
    with urllib.request.urlopen(url.rstrip("/") + "/config", timeout=30) as response:
        config = json.load(response)
    for dependency in config["dependencies"]:
        if dependency.get("api_name") == "ask":
            return dependency["id"], config.get("api_prefix", "/gradio_api")
    raise SystemExit(f"{url} has no /ask endpoint: is it the chat page?")


def ask(url: str, fn_index: int, prefix: str, result: Result, timeout: float) -> None:
    """Ask one question the way the page does (join the queue, read its event stream), timing both ends."""
    base, session = url.rstrip("/") + prefix, uuid.uuid4().hex
    payload = {
        "data": [result.question, [], 10, False, "zh-CN"],
        "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None,
    }
    started = time.perf_counter()
    join = urllib.request.Request(
        base + "/queue/join", json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(join, timeout=timeout).close()
    with urllib.request.urlopen(f"{base}/queue/data?session_hash={session}", timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message["msg"] == "process_generating" and not result.first_s:
                result.first_s = time.perf_counter() - started
            if message["msg"] == "process_completed":
                result.total_s = time.perf_counter() - started
                if not message.get("success", True):
                    result.error = f"the server failed: {message.get('output', {}).get('error')}"
                    return
                read_chat(result, message["output"]["data"][1])
                result.first_s = result.first_s or result.total_s
                return
            if time.perf_counter() - started > timeout:
                break
    result.error = f"no answer in {timeout:.0f} s"


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile (share in 0..1) of the values."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    """Run the baseline and the simultaneous round; print the table and latencies; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/", help="the running page (loopback)")
    parser.add_argument("--users", type=int, default=len(QUESTIONS), help=f"at most {len(QUESTIONS)}")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a user waits for its answer")
    args = parser.parse_args(argv)
    if not re.match(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/", args.url):
        parser.error("--url must be a loopback address: this script only loads a server on this machine")
    questions = QUESTIONS[: max(1, min(args.users, len(QUESTIONS)))]
    fn_index, prefix = ask_endpoint(args.url)

    baseline = [Result(i, q) for i, (q, _) in enumerate(questions)]
    for result in baseline:
        ask(args.url, fn_index, prefix, result, args.timeout)
    alone = [r.total_s for r in baseline if not r.error]

    results = [Result(i, q) for i, (q, _) in enumerate(questions)]
    barrier = threading.Barrier(len(questions))

    def user(index: int) -> None:
        barrier.wait()
        try:
            ask(args.url, fn_index, prefix, results[index], args.timeout)
        except Exception as error:  # a failed user is reported, not allowed to stop the others
            results[index].error = f"{type(error).__name__}: {error}"

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(questions))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.timeout + 10)
    wall = time.perf_counter() - started

    def expectation_problem(result: Result, expected: tuple[str, ...]) -> str:
        if expected and not set(expected) & set(result.cited_files):
            return f"cites {list(result.cited_files) or 'nothing'}, expected one of {list(expected)}"
        if not expected and not result.refused:
            return "answered, expected a decline"
        return ""

    under_load = wrong_alone = 0
    print(f"{'user':>4}  {'first':>6}  {'total':>6}  verdict  question")
    for result, base, (_, expected) in zip(results, baseline, questions):
        problems = []
        if result.error:
            problems.append(result.error)
        else:
            if not result.own_question:
                problems.append("got another user's question back")
            if result.answer != base.answer:
                problems.append("answer differs from the one it gets alone")
            if expectation_problem(result, expected):
                problems.append(expectation_problem(result, expected))
        # A wrong answer that is also wrong when asked alone is the pipeline's, not the load's.
        wrong_alone += bool(problems) and not base.error and bool(expectation_problem(base, expected))
        under_load += bool(problems) and (bool(base.error) or not expectation_problem(base, expected))
        outcome = "declined" if result.refused else "cites " + ",".join(f[:3] for f in result.cited_files)
        verdict = "FAIL " + "; ".join(problems) if problems else f"ok ({outcome})"
        print(f"{result.user:>4}  {result.first_s:6.2f}  {result.total_s:6.2f}  {verdict}  {result.question}")
    failures = under_load + wrong_alone

    done = [r for r in results if not r.error]
    totals = [r.total_s for r in done] or [0.0]
    firsts = [r.first_s for r in done] or [0.0]
    print()
    print(
        f"{len(questions)} simultaneous users: {len(questions) - failures} correct, {under_load} failed under load, "
        f"{wrong_alone} wrong also when asked alone; wall {wall:.2f} s"
    )
    print(f"alone (one at a time): p50 {statistics.median(alone or [0.0]):.2f} s")
    print(f"first frame: p50 {percentile(firsts, 0.5):.2f} s  p95 {percentile(firsts, 0.95):.2f} s")
    print(f"whole answer: p50 {percentile(totals, 0.5):.2f} s  p95 {percentile(totals, 0.95):.2f} s  max {max(totals):.2f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
