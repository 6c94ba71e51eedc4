"""The HTTP API against real servers on loopback: answers, health, sources, bad input, auth, rate limit, CORS."""
from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rag.apps.ratelimit import RateLimiter
from rag.apps.server.guards import bearer_ok

from servers import ROOT, AppServer, app_env, free_port, running_apps, wait_until_serving
from support import SEEDS

TOKEN = "s3cret-token-for-tests"
WIKI = "http://wiki.example.test"
QUESTION = "Adobe股价在Sora发布后怎么样了？"
ARTICLE = "articles/000_fa970c9a7ff3279d.txt"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The seeds in a folder named `articles`, plus a symlink that points out of it."""
    folder = tmp_path_factory.mktemp("corpus") / "articles"
    shutil.copytree(SEEDS, folder)
    secret = folder.parent / "secret.txt"
    secret.write_text("password=hunter2\n", encoding="utf-8")
    (folder / "escape.txt").symlink_to(secret)
    return folder


@pytest.fixture(scope="module")
def apps(corpus, tmp_path_factory) -> Iterator[dict[str, AppServer]]:
    """"open": no token, no rate limit. "guarded": a token, 3 questions at once then 6 a minute, CORS for WIKI."""
    configs = {
        "open": {"RAG_RATE_LIMIT_PER_MINUTE": "0"},
        "guarded": {"RAG_API_TOKEN": TOKEN, "RAG_RATE_LIMIT_PER_MINUTE": "6", "RAG_RATE_LIMIT_BURST": "3", "RAG_CORS_ORIGINS": WIKI},
    }
    specs = []
    for name, extra in configs.items():
        folder = tmp_path_factory.mktemp(name)
        specs.append((app_env(corpus, folder / "index", extra), folder))
    # Ready means the index is built and loaded: /api/health answers 200 only then.
    with running_apps(specs, ready_path="embed") as started:
        for server in started:
            wait_until_serving_health(server)
        yield dict(zip(configs, started))


def wait_until_serving_health(server: AppServer) -> None:
    headers = {"Authorization": f"Bearer {server.env.get('RAG_API_TOKEN', '')}"}
    for _ in range(600):
        status, _, _ = call(server, "GET", "/api/health", headers=headers)
        if status == 200:
            return
        threading.Event().wait(0.2)
    pytest.fail(f"{server.url} never became ready:\n{server.log.read_text()}")


def call(
    server: AppServer | str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Send one request with the path exactly as given (no normalising); return status, headers, parsed JSON."""
    url = urlsplit(server.url if isinstance(server, AppServer) else server)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = dict(headers or {})
    if payload is not None and raw is None:
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=payload, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    found = {k.lower(): v for k, v in response.getheaders()}
    parsed = json.loads(data) if found.get("content-type", "").startswith("application/json") else data.decode()
    return response.status, found, parsed


def test_ask_returns_what_the_cli_prints_with_cited_lines(apps, corpus):
    status, _, answer = call(apps["open"], "POST", "/api/ask", {"question": QUESTION, "top_k": 3})
    assert status == 200
    assert not answer["refused"] and answer["citations"] and len(answer["passages"]) == 3
    assert "7%" in answer["answer"]

    env = apps["open"].env
    printed = subprocess.run(
        [sys.executable, "-m", "rag", "ask", QUESTION, "--json", "--top-k", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout
    from_cli = json.loads(printed)
    for result in (answer, from_cli):
        result.pop("latency_ms")
    assert answer == from_cli

    first = answer["citations"][0]
    status, _, lines = call(apps["open"], "GET", f"/api/sources/{first['file']}?start={first['line_start']}&end={first['line_end']}")
    assert status == 200
    cited = "".join(line["text"] for line in lines["lines"])
    assert first["quote"][:20] in cited
    assert [line["n"] for line in lines["lines"]] == list(range(first["line_start"], first["line_end"] + 1))


def test_health_summarises_the_manifest(apps, corpus):
    status, _, health = call(apps["open"], "GET", "/api/health")
    assert status == 200 and health["status"] == "ready"
    index = health["index"]
    assert index["model"] == "hash:64" and index["articles"] == len(list(corpus.glob("*.txt"))) - 1  # not the symlink, not kb.json
    assert index["chunks"] > 50 and index["built_at"]


def test_sources_are_numbered_and_clipped_to_the_file(apps):
    status, _, found = call(apps["open"], "GET", f"/api/sources/{ARTICLE}?start=70&end=500")
    assert status == 200
    # The file's 71 lines, as an editor numbers them: the newline that ends the last opens no 72nd.
    assert found["line_start"] == 70 and found["line_end"] == found["total_lines"] == 71
    assert [line["n"] for line in found["lines"]] == [70, 71]
    assert found["title"].startswith("甲辰龙年迎新")


@pytest.mark.parametrize(
    "path",
    [
        "/api/sources/articles/../secret.txt",
        "/api/sources/articles/%2e%2e/secret.txt",
        "/api/sources/%2Fetc%2Fpasswd",
        "/api/sources//etc/passwd",
        "/api/sources/articles/escape.txt",  # a symlink out of the corpus
        "/api/sources/articles/nope.txt",
        "/api/sources/README.md",
        "/api/sources/articles/..%2F..%2FREADME.md",
    ],
)
def test_nothing_outside_the_corpus_can_be_read(apps, path):
    status, _, body = call(apps["open"], "GET", path)
    assert status == 404
    assert set(body) == {"error"} and "hunter2" not in json.dumps(body) and "root:" not in json.dumps(body)


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b'{"question":', 422, "not valid JSON"),
        (b'{"question": "\xff\xfe"}', 422, "not valid JSON (send UTF-8 text)"),
        (b'{"q": "Sora"}', 422, "question: Field required"),
        (b'{"question": "Sora", "top_k": 0}', 422, "top_k"),
        (b'{"question": "Sora", "topk": 3}', 422, "topk"),
        (b'["Sora"]', 422, "JSON object"),
        (b'{"question": "   "}', 422, "the question is empty"),
        (json.dumps({"question": "问" * 2001}).encode(), 413, "the limit is 2000"),
        (json.dumps({"question": "问" * 30000}).encode(), 413, "request body is over"),
    ],
)
def test_bad_bodies_get_a_one_line_error_and_the_right_status(apps, raw, status, says):
    got, headers, body = call(apps["open"], "POST", "/api/ask", raw=raw, headers={"Content-Type": "application/json"})
    assert got == status and headers["content-type"].startswith("application/json")
    assert says in body["error"] and "\n" not in body["error"]


def test_an_endpoint_asked_with_another_method_says_which_it_takes_and_each_says_what_body_it_takes(apps):
    # GET /api/ask was "there is no endpoint /ask", PUT a {"detail": "Not Found"} of the page's, and /api/feedback's
    # errors showed /api/ask's body.
    for method, path, allowed in (("GET", "/api/ask", "POST"), ("PUT", "/api/ask", "POST"), ("GET", "/api/feedback", "POST"),
                                  ("PUT", "/api/kbs/default", "GET"), ("GET", "/embed/api/ask", "POST")):
        got, headers, body = call(apps["open"], method, path)
        assert (got, headers.get("allow"), set(body)) == (405, allowed, {"error"}), (method, path)
        assert f"send {allowed}" in body["error"]
    assert call(apps["open"], "PUT", "/api/nothing")[0:3:2] == (404, {"error": "there is no endpoint /api/nothing here: see /docs for the API's endpoints"})
    json_body = {"Content-Type": "application/json"}
    feedback = call(apps["open"], "POST", "/api/feedback", raw=b'{"question": "Sora"}', headers=json_body)
    assert feedback[0] == 422 and '"rating": "up"' in feedback[2]["error"] and "top_k" not in feedback[2]["error"]
    assert '"question": "…", "top_k": 5' in call(apps["open"], "POST", "/api/ask", raw=b'{"q": 1}', headers=json_body)[2]["error"]


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_read(apps):
    url = urlsplit(apps["open"].url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunks = (b'{"question": "' + b"a" * 40_000, b"a" * 40_000 + b'"}')
    connection.request("POST", "/api/ask", body=iter(chunks), headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and "over 65536 bytes" in json.loads(response.read())["error"]


def test_the_token_or_a_minted_session_is_needed_on_the_api_and_the_widget(apps):
    guarded = apps["guarded"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        status, sent, body = call(guarded, "GET", "/api/health", headers=headers)
        assert status == 401 and sent["www-authenticate"] == "Bearer" and "RAG_API_TOKEN" in body["error"]
    # A token in the URL is not a way in.
    assert call(guarded, "GET", f"/api/health?token={TOKEN}&access_token={TOKEN}")[0] == 401
    assert call(guarded, "GET", "/api/health", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    # The widget's shell loads for anyone and holds no key; its routes need a session the wiki's server minted.
    status, _, page = call(guarded, "GET", "/embed")
    assert status == 200 and TOKEN not in page
    source = f"/embed/api/sources/{ARTICLE}?start=1&end=3"
    assert call(guarded, "GET", source)[0] == 401
    status, _, minted = call(guarded, "POST", "/api/sessions", {"hours": 1}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and TOKEN not in json.dumps(minted) and minted["url"].endswith(minted["session"])
    assert call(guarded, "GET", source, headers={"X-RAG-Session": minted["session"]})[0] == 200
    # A session opens the routes but cannot mint further sessions: only the token can.
    assert call(guarded, "POST", "/api/sessions", {}, headers={"X-RAG-Session": minted["session"]})[0] == 401


def test_rate_limit_answers_429_with_retry_after_per_client(apps):
    guarded, auth = apps["guarded"], {"Authorization": f"Bearer {TOKEN}"}
    statuses = [call(guarded, "POST", "/api/ask", {"question": QUESTION}, headers=auth)[0] for _ in range(6)]
    # The burst is 3 (other tests may have spent some of it); after it, every request is refused.
    allowed = statuses.count(200)
    assert 1 <= allowed <= 3 and statuses == [200] * allowed + [429] * (6 - allowed)
    status, headers, body = call(guarded, "POST", "/api/ask", {"question": QUESTION}, headers=auth)
    assert status == 429 and int(headers["retry-after"]) >= 1 and "wait" in body["error"]
    # The open server, with the limit off, answers a run of questions.
    assert {call(apps["open"], "GET", f"/api/sources/{ARTICLE}?end=1")[0] for _ in range(20)} == {200}


def test_cors_allows_the_listed_origin_only(apps):
    guarded = apps["guarded"]
    for origin, allowed in ((WIKI, True), ("http://evil.example.test", False)):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
        status, sent, _ = call(guarded, "OPTIONS", "/api/ask", headers=headers)
        assert (sent.get("access-control-allow-origin") == origin) is allowed
    # No origin is allowed on a server that lists none.
    status, sent, _ = call(apps["open"], "GET", "/api/health", headers={"Origin": WIKI})
    assert status == 200 and "access-control-allow-origin" not in sent


def test_a_page_of_another_site_cannot_ask_or_upload_even_without_a_token(apps, corpus):
    open_server = apps["open"]
    evil = {"Origin": "http://evil.example.test"}
    status, _, body = call(open_server, "POST", "/api/ask", {"question": QUESTION}, headers=evil)
    assert status == 403 and "RAG_CORS_ORIGINS" in body["error"]
    boundary = "x7rag"
    upload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"planted.txt\"\r\n"
              f"Content-Type: text/plain\r\n\r\nSora是由谷歌开发的。\r\n--{boundary}--\r\n").encode()
    status, _, _ = call(open_server, "POST", "/api/kbs/default/documents", raw=upload,
                        headers={**evil, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 403 and not (corpus / "planted.txt").exists()
    # The server's own pages (same host and port) and programs (no Origin) still ask.
    own = {"Origin": open_server.url.rstrip("/")}
    assert call(open_server, "POST", "/api/ask", {"question": QUESTION}, headers=own)[0] == 200
    assert call(open_server, "POST", "/api/ask", {"question": QUESTION})[0] == 200
    # A listed origin's scripts call the API with the token.
    listed = {"Origin": WIKI, "Authorization": f"Bearer {TOKEN}"}
    assert call(apps["guarded"], "GET", "/api/health", headers=listed)[0] == 200
    assert call(apps["guarded"], "POST", "/api/ask", {"question": QUESTION}, headers=listed)[0] in (200, 429)


def test_pages_may_be_framed_by_the_same_origin_only_by_default(apps):
    for path in ("/embed", "/"):
        assert call(apps["open"], "GET", path)[1]["content-security-policy"] == "frame-ancestors 'self'"


def test_openapi_documents_the_endpoints_and_the_widget_script_is_served(apps):
    status, _, spec = call(apps["open"], "GET", "/openapi.json")
    assert status == 200 and {"/api/ask", "/api/health", "/api/sources/{file}"} <= set(spec["paths"])
    assert call(apps["open"], "GET", "/docs")[0] == 200
    status, headers, script = call(apps["open"], "GET", "/widget.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and "/embed?lang=" in script
    status, _, body = call(apps["open"], "GET", "/api/no-such-thing")
    assert status == 404 and "/docs" in body["error"]


def test_gradio_client_calls_the_pages_named_endpoint(apps):
    from gradio_client import Client

    client = Client(apps["open"].url, verbose=False)
    result = client.predict(QUESTION, 3, api_name="/answer")
    assert not result["refused"] and "7%" in result["answer"] and result["citations"][0]["line_start"] >= 1
    # It streams: the question as understood comes first, the answer (what predict returns) last.
    job = client.submit(QUESTION, 3, api_name="/answer")
    assert job.result() == job.outputs()[-1] and job.result()["answer"] == result["answer"]
    assert job.outputs()[0] == {"event": "question", "question": QUESTION}


def test_api_says_503_while_the_index_is_being_built(corpus, tmp_path):
    """An in-process server whose index build is held back: ask and health answer 503 until it is ready."""
    import uvicorn

    from rag.apps.server import create_app
    from rag.apps.service import Service, build_and_load
    from rag.settings import load_settings

    release = threading.Event()

    def gated(settings):
        release.wait(60)
        return build_and_load(settings)

    settings = load_settings(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", embed_model="hash:64")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Service(settings, prepare=gated).start()), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url + "embed", None, None)
        status, headers, body = call(url, "POST", "/api/ask", {"question": QUESTION})
        # Getting ready, not yet building (the gate holds it before `build_and_load`): it says it is loading.
        assert status == 503 and headers["retry-after"] and "loading" in body["error"]
        status, _, health = call(url, "GET", "/api/health")
        assert status == 503 and health["status"] == "loading"
        release.set()
        for _ in range(300):
            if call(url, "GET", "/api/health")[0] == 200:
                break
            threading.Event().wait(0.2)
        assert call(url, "POST", "/api/ask", {"question": QUESTION})[0] == 200
    finally:
        release.set()
        server.should_exit = True
        thread.join(10)


def test_rate_limiter_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0)  # one a second: the next in 1 s
    assert limiter.take("b") == 0.0  # another client has its own bucket
    now[0] = 1.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    assert RateLimiter(per_minute=0, burst=1).take("a") == 0.0  # off


def test_bearer_check():
    assert bearer_ok("", None) and bearer_ok("t", "Bearer t") and bearer_ok("t", "bearer t")
    assert not bearer_ok("t", None) and not bearer_ok("t", "Bearer x") and not bearer_ok("t", "t") and not bearer_ok("t", "Basic t")


def test_settings_read_origin_lists_from_the_environment():
    from rag.settings import load_settings

    settings = load_settings(env={"RAG_CORS_ORIGINS": "https://a.example, https://b.example", "RAG_FRAME_ANCESTORS": "https://w.example"})
    assert settings.server.cors_origins == ("https://a.example", "https://b.example")
    assert settings.server.frame_ancestors == ("https://w.example",)
    assert "hunter2" not in repr(load_settings(env={"RAG_API_TOKEN": "hunter2"}))

