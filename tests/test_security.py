"""The locks, tried as a hostile non-browser client would: with a token set, every route the app serves needs
authorisation or serves only static assets; the page's and the widget's routes are no way around the token,
the rate limit or the body limit."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.websockets import WebSocketDisconnect
from test_api import call

from rag.apps.server import create_app, make_limiter
from rag.apps.server.access import AccessPolicy, SessionSigner, is_public
from rag.apps.service import Service
from rag.apps.web import ChatHandlers, build_page

from servers import AppServer, app_env, running_apps
from support import TINY, fake_settings, write_corpus

TOKEN = "locks-test-token"
# Words of the corpus: a public route that shows any of them serves a document.
CORPUS_WORDS = ("五千元", "香蕉", "大雨", "摄像头")
PARAMETERS = {"file": "corpus/a.txt", "api_name": "answer", "path": "x", "path_or_url": "corpus/a.txt"}


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, BaseRoute]]:
    """Yield (method, path template, route) for every route the app serves, mounted apps included."""
    for route in routes:
        if isinstance(route, _IncludedRouter):  # FastAPI keeps an included router's routes behind this
            yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner is None:  # a static folder: any file below it
                yield "GET", prefix + route.path + "/{path}", route
            else:
                yield from walk(inner, prefix + route.path)
        elif isinstance(route, WebSocketRoute):
            yield "WEBSOCKET", prefix + route.path, route
        else:
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                yield method, prefix + route.path, route


def concrete(template: str) -> str:
    """Return a path for a route template, each parameter filled with a plausible value."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMETERS.get(m.group(1), "1"), template) or "/"


@pytest.fixture(scope="module")
def guarded_app(tmp_path_factory):
    """The whole app (API, widget, chat page) in process over a tiny corpus, with a token set."""
    folder = tmp_path_factory.mktemp("locks")
    corpus = write_corpus(folder, TINY)
    settings = fake_settings(folder, corpus, api_token=TOKEN, rate_limit_per_minute=0)
    from rag.answer.assistant import Assistant
    from rag.apps.console import build_if_needed

    build_if_needed(settings)
    service = Service(settings, prepare=Assistant.load)
    service.run()
    limiter = make_limiter(settings)
    app = create_app(service, build_page(service, ChatHandlers(service, limiter=limiter)), limiter)
    with TestClient(app) as client:
        yield app, client


def test_every_route_needs_authorisation_or_serves_only_static_assets(guarded_app):
    app, client = guarded_app
    routes = list(walk(app.routes))
    paths = {path for _, path, _ in routes}
    # The walk reaches all three ways in: a route added to any of them is covered without editing this test.
    assert {"/api/ask", "/embed/api/ask", "/gradio_api/call/{api_name}", "/gradio_api/queue/join", "/config"} <= paths
    assert len(routes) > 60
    for method, template, _ in routes:
        path = concrete(template)
        if method == "WEBSOCKET":
            with pytest.raises(WebSocketDisconnect):
                with client.websocket_connect(path):
                    pass
            continue
        response = client.request(method, path, json={"data": ["香蕉", 5], "question": "香蕉"})
        if is_public(method, path):
            assert response.status_code in (200, 303, 307, 401, 404, 405), (method, path, response.status_code)
            assert not any(word in response.text for word in CORPUS_WORDS), (method, path)
        else:
            assert response.status_code == 401, (method, path, response.status_code)
            assert TOKEN not in response.text


def test_the_page_shell_says_how_to_get_in_and_a_session_link_opens_it(guarded_app):
    _, client = guarded_app
    denied = client.get("/", headers={"Accept": "text/html"})
    assert denied.status_code == 401 and "python -m rag session" in denied.text
    session = client.post("/api/sessions", json={"hours": 1}, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    opened = client.get(session["url"], follow_redirects=False)
    cookie = opened.headers["set-cookie"]
    assert opened.status_code == 303 and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    client.cookies.set("rag_session", session["session"])
    try:
        assert client.get("/").status_code == 200
        assert client.get("/config").status_code == 200
        assert client.get("/api/sources/corpus/a.txt").json()["lines"]
    finally:
        client.cookies.clear()
    assert client.get("/config").status_code == 401


def test_sessions_are_signed_expire_and_end_with_the_token():
    now = [1_000_000.0]
    signer = SessionSigner(TOKEN, clock=lambda: now[0])
    session = signer.issue(hours=1)
    assert signer.valid(session.value)
    body, signature = session.value.split(".")
    forged = json.dumps({"exp": 9_999_999_999, "id": "x"}).encode()
    import base64

    assert not signer.valid(base64.urlsafe_b64encode(forged).decode().rstrip("=") + "." + signature)
    assert not signer.valid(body + "." + signature[:-2] + "AA")
    assert not SessionSigner("another-token", clock=lambda: now[0]).valid(session.value)
    now[0] += 3601
    assert not signer.valid(session.value)
    with pytest.raises(ValueError, match="at most"):
        signer.issue(hours=24 * 365)


def test_without_a_token_the_server_is_open():
    policy = AccessPolicy("")
    assert not policy.enabled and policy.allows({"type": "http", "method": "POST", "path": "/api/ask", "headers": []})


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, AppServer]]:
    """Real servers (uvicorn, as users run them): "locked" has a token and no rate limit; "limited" has a
    token and an allowance of 3 questions, then 1 a minute."""
    folder = tmp_path_factory.mktemp("real")
    corpus = write_corpus(folder, TINY)
    configs = {
        "locked": {"RAG_API_TOKEN": TOKEN, "RAG_RATE_LIMIT_PER_MINUTE": "0"},
        "limited": {"RAG_API_TOKEN": TOKEN, "RAG_RATE_LIMIT_PER_MINUTE": "1", "RAG_RATE_LIMIT_BURST": "3"},
    }
    specs = []
    for name, extra in configs.items():
        work = folder / name
        work.mkdir()
        specs.append((app_env(corpus, work / "index", extra), work))
    with running_apps(specs, ready_path="embed") as started:
        for server in started:
            for _ in range(600):
                if call(server, "GET", "/api/health", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200:
                    break
                time.sleep(0.2)
        yield dict(zip(configs, started))


def gradio_answer(server: AppServer, question: str, headers: dict[str, str]) -> tuple[int, str]:
    """Ask the page's named Gradio endpoint as gradio_client does (POST then read the event stream)."""
    status, _, started = call(server, "POST", "/gradio_api/call/answer", {"data": [question, 3]}, headers=headers)
    if status != 200:
        return status, json.dumps(started)
    status, _, stream = call(server, "GET", f"/gradio_api/call/answer/{started['event_id']}", headers=headers)
    data = [json.loads(line[5:]) for line in stream.splitlines() if line.startswith("data:")]
    return status, json.dumps(data, ensure_ascii=False)


def test_the_pages_gradio_routes_and_the_widget_api_need_authorisation(servers):
    locked = servers["locked"]
    assert call(locked, "POST", "/embed/api/ask", {"question": "香蕉"})[0] == 401
    assert call(locked, "GET", "/embed/api/sources/corpus/a.txt")[0] == 401
    for path in ("/gradio_api/call/answer", "/gradio_api/call/answer_kb", "/gradio_api/call/ask", "/gradio_api/run/answer",
                 "/gradio_api/queue/join"):
        status, _, body = call(locked, "POST", path, {"data": ["香蕉", 5]})
        assert status == 401 and "五千元" not in json.dumps(body), path
    status, _, minted = call(locked, "POST", "/api/sessions", {}, headers={"Authorization": f"Bearer {TOKEN}"})
    status, stream = gradio_answer(locked, "香蕉富含什么元素？", {"Cookie": f"rag_session={minted['session']}"})
    assert status == 200 and "钾" in stream


def test_a_large_body_is_refused_on_the_pages_routes_too(servers):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    huge = json.dumps({"data": ["问" * 200_000, 5]}).encode()
    status, _, body = call(servers["locked"], "POST", "/gradio_api/call/answer", raw=huge, headers={**auth, "Content-Type": "application/json"})
    assert status == 413 and "over 65536 bytes" in body["error"]


def test_a_made_up_forwarded_address_and_malformed_requests_do_not_buy_more_questions(servers):
    limited, auth = servers["limited"], {"Authorization": f"Bearer {TOKEN}"}
    # Malformed requests are answered 422 and cost nothing.
    for raw in (b'{"question":', b'{"q": 1}', b'{"question": "  "}', b"[]", b'{"question": "x", "top_k": 0}'):
        assert call(limited, "POST", "/api/ask", raw=raw, headers={**auth, "Content-Type": "application/json"})[0] == 422
    statuses = []
    for n in range(5):
        spoofed = {**auth, "X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"203.0.113.{n}"}
        statuses.append(call(limited, "POST", "/api/ask", {"question": "香蕉富含什么？"}, headers=spoofed)[0])
    assert statuses == [200, 200, 200, 429, 429]
    # The chat page's endpoint spends from the same allowance.
    status, _, minted = call(limited, "POST", "/api/sessions", {}, headers=auth)
    status, stream = gradio_answer(limited, "香蕉富含什么？", {"X-RAG-Session": minted["session"]})
    assert "too many requests" in stream and "钾" not in stream


def test_the_session_command_prints_a_link_that_works(servers, tmp_path):
    import subprocess
    import sys

    from servers import ROOT

    locked = servers["locked"]
    env = {**locked.env, "RAG_PORT": locked.url.rstrip("/").rsplit(":", 1)[1]}
    printed = subprocess.run([sys.executable, "-m", "rag", "session", "--hours", "1"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed.startswith("http://127.0.0.1:") and "/session?s=" in printed and TOKEN not in printed
    status, headers, _ = call(locked, "GET", "/" + printed.split("/", 3)[3])
    assert status == 303 and "rag_session=" in headers["set-cookie"]
    without = {k: v for k, v in env.items() if k != "RAG_API_TOKEN"}
    failed = subprocess.run([sys.executable, "-m", "rag", "session"], cwd=ROOT, env=without, capture_output=True, text=True)
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "RAG_API_TOKEN" in failed.stderr
