"""bench/load.py against a running server with the fake embedder: it asks, counts and checks what it says it does."""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from bench import load

from servers import AppServer, app_env, free_port, running_apps
from support import SEEDS


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[AppServer]:
    folder = tmp_path_factory.mktemp("load")
    env = app_env(SEEDS, folder / "index", {"RAG_RATE_LIMIT_PER_MINUTE": "0"})
    with running_apps([(env, folder)], ready_path="api/health") as started:
        yield started[0]


@pytest.mark.parametrize("mode, clients, questions", [("api", 5, 47), ("gradio", 3, 12)])
def test_the_load_run_asks_every_question_and_checks_each_against_its_answer_alone(server, tmp_path, mode, clients, questions):
    out = tmp_path / "load.json"
    code = load.main(["--url", server.url, "--mode", mode, "--clients", str(clients), "--questions", str(questions), "-o", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert code == 0, report["problems"]
    assert (report["mode"], report["clients"], report["questions"]) == (mode, clients, questions)
    assert (report["answered"], report["failed"], report["differed"]) == (questions, 0, 0)
    assert report["throughput_qps"] > 0 and report["latency_ms"]["p50"] <= report["latency_ms"]["p95"] <= report["latency_ms"]["p99"]
    assert report["alone_ms"]["p50"] > 0 and report["command"].startswith("python -m bench.load --url")


def test_an_answer_that_changes_under_load_is_counted_and_fails_the_run(server, monkeypatch, capsys):
    asked = itertools.count(1)
    original = load.Client.read

    def sometimes_wrong(self, raw):
        answer = original(self, raw)
        n = next(asked)
        if n > len(load.QUESTIONS) and n % 4 == 0:  # under load only: the references are right
            answer["answer"] += "!"
        return answer

    monkeypatch.setattr(load.Client, "read", sometimes_wrong)
    assert load.main(["--url", server.url, "--clients", "2", "--questions", "20"]) == 1
    assert "5 differed" in capsys.readouterr().out


def test_near_tied_passages_swapped_are_told_apart_from_a_different_answer():
    def passage(line: int, score: float) -> dict:
        return {"rank": 1, "file": "a.txt", "line_start": line, "line_end": line, "score": score}

    reference = {"question": "q", "answer": "甲。[1]", "refused": False, "citations": [], "passages": [passage(1, 2.0), passage(5, 1.2049)]}
    swapped = dict(reference, passages=[passage(1, 2.0), passage(55, 1.2047)])
    far = dict(reference, passages=[passage(1, 2.0), passage(55, 0.9)])
    assert load.compare(reference, reference) == "same"
    assert load.compare(swapped, reference) == "near-tie"
    assert load.compare(far, reference) == "differs"
    assert load.compare(dict(reference, answer="乙。[1]"), reference) == "differs"


def test_only_a_loopback_server_is_loaded_and_a_missing_one_is_one_line(capsys):
    with pytest.raises(SystemExit):
        load.main(["--url", "http://example.com/"])
    assert "loopback" in capsys.readouterr().err
    assert load.main(["--url", f"http://127.0.0.1:{free_port()}/", "--questions", "3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot ask") and len(err.strip().splitlines()) == 1


def test_the_token_is_sent_but_not_stored_with_the_figures():
    target = load.parse_target("http://127.0.0.1:8000/", "api", "secret", 5)
    assert target.headers == {"Authorization": "Bearer secret"} and target.prefix == "/"
    assert "secret" not in " ".join(load.without_token(["--token", "secret", "--token=secret", "--clients", "2"]))
