"""Start `python app.py` on free loopback ports for the tests, with the fake embedder and a fresh index each."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen | None, log: Path | None, seconds: float = 120) -> None:
    """Return once `url` answers HTTP 200; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text() if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer in {seconds} s:\n{log.read_text() if log else ''}")


@dataclass(frozen=True)
class AppServer:
    """One running app.py: its base address (ending in /) and the settings it was given."""

    url: str
    env: dict[str, str]
    log: Path


def app_env(corpus: Path, index: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment of an app.py over `corpus` with the fake embedder, building into `index`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_EMBED_MODEL="hash:64",
        RAG_CORPUS_DIR=str(corpus),
        RAG_INDEX_DIR=str(index),
        RAG_HOST="127.0.0.1",
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
    )
    env.update(extra or {})
    return env


@contextmanager
def running_apps(specs: Sequence[tuple[dict[str, str], Path]], ready_path: str = "") -> Iterator[list[AppServer]]:
    """Start one app.py per (environment, work folder) at once; yield them once each answers `ready_path`."""
    started = []
    for env, folder in specs:
        port, log = free_port(), folder / "app.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        started.append((AppServer(f"http://127.0.0.1:{port}/", env, log), process))
    try:
        for server, process in started:
            wait_until_serving(server.url + ready_path, process, server.log)
        yield [server for server, _ in started]
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
