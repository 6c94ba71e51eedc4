"""Many clients at once against a running server: throughput, p50/p95/p99 latency, and answers checked.

Usage (with the server running, e.g. `RAG_RATE_LIMIT_PER_MINUTE=0 python app.py --port 7861`):

    python -m bench.load --url http://127.0.0.1:7861/ --clients 20 --questions 300 [--token T] [--pid PID] [-o load.json]
    python -m bench.load --url http://127.0.0.1:7861/ --mode gradio     # the page's /gradio_api/call/answer

First every distinct question is asked once, alone, one after another: that is each question's reference
answer (and warms the server). Then `--clients` clients, each on its own keep-alive connection, take the
next of `--questions` questions (the set repeated in turn) until none is left, all released together.
Throughput is the questions answered divided by the wall time from the release to the last answer;
latencies are per question, send to whole answer. An answer under load is correct when its text,
citations and decline equal its reference answer's and so do its passages (files, lines, order), except
two passages whose scores are a near-tie (TIE) swapped: a question embedded in a batch with others
rounds differently in bfloat16 (rag/embedding/batching.py). Swaps and the largest score drift are reported.
Prints the figures, writes them as JSON with `-o`, exits 1 if any question failed or differed.
Loopback only: this tool loads a server on this machine. `--clients 1` measures one client alone.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.concurrent_users import QUESTIONS as PAGE_QUESTIONS
from bench.stats import percentile

QUESTIONS: tuple[str, ...] = tuple(question for question, _ in PAGE_QUESTIONS)
LOOPBACK = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)")
# Most questions and clients one run may ask for: the loops stay bounded whatever the flags say.
MAX_QUESTIONS = 100_000
MAX_CLIENTS = 256
# Fused scores closer than this are a tie: a question embedded in a batch multiplies in bfloat16 with other
# rounding than alone (cosine to its vector alone above 0.9999), which may swap two passages that close.
TIE = 0.02


class LoadError(Exception):
    """A request the server did not answer with an answer (status, error event, timeout)."""


@dataclass(frozen=True)
class Target:
    """Where and how to ask: host, port, path prefix, the endpoint kind and the headers every request sends."""

    host: str
    port: int
    prefix: str
    mode: str
    headers: dict[str, str]
    timeout: float


@dataclass
class Outcome:
    """One question asked under load: its index in the set, latency, and the answer or the error."""

    question: int
    seconds: float = 0.0
    raw: bytes = b""
    answer: dict[str, Any] | None = None
    error: str = ""


@dataclass
class Client:
    """One client's keep-alive connection (reopened after an error)."""

    target: Target
    connection: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.target.host, self.target.port, timeout=self.target.timeout)
        return self.connection

    def close(self) -> None:
        """Close the connection, if open."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """Return the status and body of one request on this client's connection."""
        headers = dict(self.target.headers)
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            connection = self._connection()
            connection.request(method, self.target.prefix + path, data, headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def ask(self, question: str) -> dict[str, Any]:
        """Return the answer JSON for one question, or raise LoadError saying why there is none."""
        return self.read(self.fetch(question))

    def fetch(self, question: str) -> bytes:
        """Return the raw answer to one question (the body, or the finished event stream), unparsed: under load
        the clients only send and receive, so their own parsing takes no CPU from the server they measure."""
        if self.target.mode == "api":
            status, raw = self.request("POST", "api/ask", {"question": question})
            if status != 200:
                raise LoadError(f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}")
            return raw
        status, raw = self.request("POST", "gradio_api/call/answer", {"data": [question, 10]})
        if status != 200:
            raise LoadError(f"HTTP {status} joining: {raw[:200].decode('utf-8', 'replace')}")
        event = json.loads(raw)["event_id"]
        status, raw = self.request("GET", f"gradio_api/call/answer/{event}")
        if status != 200:
            raise LoadError(f"HTTP {status} reading: {raw[:200].decode('utf-8', 'replace')}")
        return raw

    def read(self, raw: bytes) -> dict[str, Any]:
        """Return the answer JSON in what `fetch` returned, or raise LoadError saying why there is none."""
        if self.target.mode == "api":
            return json.loads(raw)
        return gradio_result(raw.decode("utf-8"))


def gradio_result(stream: str) -> dict[str, Any]:
    """Return the answer of a finished `/gradio_api/call/...` event stream, or raise LoadError with its error."""
    kind = ""
    for line in stream.splitlines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:") and kind in ("complete", "error"):
            data = line[5:].strip()
            if kind == "error":
                raise LoadError(f"the page's endpoint failed: {data[:200]}")
            return json.loads(data)[0]
    raise LoadError("the event stream ended without a result")


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """Return what a user reads of an answer: the question, the text, the decline and the citations."""
    return {key: answer.get(key) for key in ("question", "answer", "refused", "citations")}


def places(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Return the listed passages' places (file, first and last line), best first."""
    return [(p.get("file"), p.get("line_start"), p.get("line_end")) for p in answer.get("passages", [])]


def scores(answer: dict[str, Any]) -> list[float]:
    """Return the listed passages' scores, best first."""
    return [float(p.get("score", 0.0)) for p in answer.get("passages", [])]


def compare(answer: dict[str, Any], reference: dict[str, Any]) -> str:
    """Return "same", "near-tie" (only passages within TIE of the reference's score at their rank differ) or "differs"."""
    if comparable(answer) != comparable(reference) or len(places(answer)) != len(places(reference)):
        return "differs"
    if places(answer) == places(reference):
        return "same"
    pairs = zip(places(answer), places(reference), scores(answer), scores(reference))
    return "near-tie" if all(a == b or abs(x - y) < TIE for a, b, x, y in pairs) else "differs"


def score_drift(answer: dict[str, Any], reference: dict[str, Any]) -> float:
    """Return the largest difference between the two answers' confidence and scores, rank by rank."""
    drift = abs(float(answer.get("confidence", 0)) - float(reference.get("confidence", 0)))
    return max([drift] + [abs(x - y) for x, y in zip(scores(answer), scores(reference))])


def parse_target(url: str, mode: str, token: str, timeout: float) -> Target:
    """Return the target of a loopback URL, or raise ValueError for any other address."""
    if not LOOPBACK.match(url):
        raise ValueError(f"--url {url} is not a loopback address: this tool only loads a server on this machine")
    parts = urlsplit(url)
    prefix = parts.path if parts.path.endswith("/") else parts.path + "/"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Target(parts.hostname or "127.0.0.1", parts.port or 80, prefix, mode, headers, timeout)


def ask_alone(target: Target, questions: Sequence[str]) -> tuple[list[dict[str, Any]], list[float]]:
    """Return each question's answer asked alone, one after another on one connection, and the seconds each took."""
    client = Client(target)
    answers, seconds = [], []
    try:
        for question in questions:
            started = time.perf_counter()
            answers.append(client.ask(question))
            seconds.append(time.perf_counter() - started)
    finally:
        client.close()
    return answers, seconds


def ask_at_once(target: Target, questions: Sequence[str], clients: int, total: int) -> tuple[list[Outcome], float]:
    """Return every outcome of `total` questions asked by `clients` clients at once, and the wall time in seconds."""
    outcomes = [Outcome(i % len(questions)) for i in range(total)]
    taken = iter(range(total))
    lock = threading.Lock()
    release = threading.Barrier(clients + 1)

    def next_index() -> int | None:
        with lock:
            return next(taken, None)

    def run() -> None:
        client = Client(target)
        release.wait()
        try:
            while (index := next_index()) is not None:
                outcome = outcomes[index]
                started = time.perf_counter()
                try:
                    outcome.raw = client.fetch(questions[outcome.question])
                except Exception as error:  # a failed question is counted, not allowed to stop the client
                    outcome.error = f"{type(error).__name__}: {error}"
                outcome.seconds = time.perf_counter() - started
        finally:
            client.close()

    threads = [threading.Thread(target=run, name=f"load-client-{n}", daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    release.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    reader = Client(target)
    for outcome in outcomes:
        if not outcome.error:
            try:
                outcome.answer = reader.read(outcome.raw)
            except (ValueError, LoadError) as error:
                outcome.error = f"{type(error).__name__}: {error}"
    return outcomes, wall


@dataclass
class Report:
    """The figures of one load run."""

    mode: str
    clients: int
    questions: int
    wall_s: float
    answered: int
    failed: int
    differed: int
    near_ties: int
    score_drift: float
    throughput_qps: float
    latency_ms: dict[str, float]
    alone_ms: dict[str, float]
    load_before: list[float]
    load_after: list[float]
    server_cpu_ms: float | None = None  # the server's CPU time per question under load (with --pid)
    problems: list[str] = field(default_factory=list)


def latency_figures(seconds: Sequence[float]) -> dict[str, float]:
    """Return p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {}
    return {
        "p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
        "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1),
    }


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) process `pid` has used so far, from /proc (NaN when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def measure(
    target: Target, questions: Sequence[str], clients: int, total: int,
    loadavg: Callable[[], list[float]] | None = None, pid: int | None = None,
) -> Report:
    """Return the report of one run: references asked alone, then `total` questions by `clients` clients at once."""
    loadavg = loadavg or (lambda: [round(x, 2) for x in os.getloadavg()])
    load_before = loadavg()
    references, alone = ask_alone(target, questions)
    cpu_before = cpu_seconds(pid) if pid else math.nan
    outcomes, wall = ask_at_once(target, questions, clients, total)
    cpu_used = cpu_seconds(pid) - cpu_before if pid else math.nan
    problems: list[str] = []
    failed = differed = ties = 0
    drift = 0.0
    for outcome in outcomes:
        if outcome.answer is None:
            failed += 1
            problems.append(f"{questions[outcome.question]}: {outcome.error}")
            continue
        verdict = compare(outcome.answer, references[outcome.question])
        if verdict == "differs":
            differed += 1
            problems.append(f"{questions[outcome.question]}: the answer differs from the one it gets alone")
        else:
            ties += verdict == "near-tie"
            drift = max(drift, score_drift(outcome.answer, references[outcome.question]))
    answered = total - failed
    return Report(
        mode=target.mode, clients=clients, questions=total, wall_s=round(wall, 3), answered=answered,
        failed=failed, differed=differed, near_ties=ties, score_drift=round(drift, 6),
        throughput_qps=round(answered / wall, 1) if wall > 0 else 0.0,
        latency_ms=latency_figures([o.seconds for o in outcomes if o.answer is not None]),
        alone_ms=latency_figures(alone), load_before=load_before, load_after=loadavg(),
        server_cpu_ms=None if math.isnan(cpu_used) else round(cpu_used * 1000 / total, 2), problems=problems,
    )


def print_report(report: Report) -> None:
    """Print the run's figures and its first problems."""
    latency = report.latency_ms
    print(
        f"{report.clients} clients, {report.questions} questions ({report.mode}): {report.answered} answered, "
        f"{report.failed} failed, {report.differed} differed from the answer asked alone; wall {report.wall_s:.2f} s"
    )
    print(f"throughput {report.throughput_qps:.1f} questions/s")
    if latency:
        print(f"latency ms: p50 {latency['p50']:.1f}  p95 {latency['p95']:.1f}  p99 {latency['p99']:.1f}  max {latency['max']:.1f}")
    if report.alone_ms:
        print(f"alone (one question at a time, references) ms: p50 {report.alone_ms['p50']:.1f}  p95 {report.alone_ms['p95']:.1f}")
    if report.server_cpu_ms is not None:
        print(f"server CPU per question: {report.server_cpu_ms:.2f} ms")
    print(
        f"answers with two near-tied passages swapped (scores within {TIE}): {report.near_ties}; "
        f"largest score drift from the answers alone: {report.score_drift:.6f}"
    )
    print(f"load average before / after: {report.load_before} / {report.load_after}")
    for problem in report.problems[:10]:
        print(f"  FAIL {problem}")
    if len(report.problems) > 10:
        print(f"  … and {len(report.problems) - 10} more")


def without_token(argv: Sequence[str]) -> list[str]:
    """Return the command-line arguments with the token's value hidden, to be stored with the figures."""
    out = list(argv)
    for i, part in enumerate(out):
        if part.startswith("--token="):
            out[i] = "--token=…"
        elif i and out[i - 1] == "--token":
            out[i] = "…"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run one load measurement; print it, write it with -o; return 1 if any question failed or differed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/", help="the running server (loopback only)")
    parser.add_argument("--clients", type=int, default=20, help="clients asking at once (default 20)")
    parser.add_argument("--questions", type=int, default=300, help="questions asked in all under load (default 300)")
    parser.add_argument("--mode", choices=("api", "gradio"), default="api", help="POST /api/ask, or the page's /answer endpoint")
    parser.add_argument("--token", default=os.environ.get("RAG_API_TOKEN", ""), help="the server's API token, if it has one (default RAG_API_TOKEN)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take (default 60)")
    parser.add_argument("--pid", type=int, help="the server's process id, to report its CPU time per question")
    parser.add_argument("-o", "--output", help="write the figures as JSON to this file")
    parser.add_argument("--label", default="", help="a note stored with the JSON (e.g. the commit)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1 to {MAX_CLIENTS}")
    if not 1 <= args.questions <= MAX_QUESTIONS:
        parser.error(f"--questions must be 1 to {MAX_QUESTIONS}")
    try:
        target = parse_target(args.url, args.mode, args.token, args.timeout)
        report = measure(target, QUESTIONS, args.clients, args.questions, pid=args.pid)
    except ValueError as error:
        parser.error(str(error))
    except (OSError, http.client.HTTPException, LoadError) as error:
        print(f"error: cannot ask {args.url} ({type(error).__name__}: {error}): is the server running there, ready, with the rate limit off?", file=sys.stderr)
        return 1
    print_report(report)
    if args.output:
        record = {
            "command": "python -m bench.load " + " ".join(without_token(sys.argv[1:] if argv is None else argv)),
            "label": args.label, "url": args.url, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **report.__dict__,
        }
        with open(args.output, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=2)
            out.write("\n")
    return 1 if report.failed or report.differed else 0


if __name__ == "__main__":
    sys.exit(main())
