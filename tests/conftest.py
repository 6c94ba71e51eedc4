"""Fixtures any test may ask for: the deterministic fake embedder, and the seeds built with it once per session.

The session's seeds index is read-only: a test that changes articles or settings builds its own index in
its tmp_path (tests/support.py: `fake_settings`, `write_corpus`, `TINY`).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rag.answer.assistant import Assistant
from rag.apps.server import create_app
from rag.apps.web import ChatHandlers
from rag.embedding import HashingEmbedder
from rag.index.build import build_index
from rag.settings import Settings

from llm_endpoint import Scripted, scripted_endpoint
from support import SEEDS, fake_settings


@pytest.fixture(scope="session")
def fake_embedder() -> HashingEmbedder:
    """Character n-grams hashed into 64 numbers: the same vectors on every machine, no model to load."""
    return HashingEmbedder(64)


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory, fake_embedder) -> Settings:
    """Settings of an index over the bundled seeds, built once with the fake embedder."""
    settings = fake_settings(tmp_path_factory.mktemp("seeds"), SEEDS)
    build_index(settings, fake_embedder)
    return settings


@pytest.fixture(scope="session")
def seeds_assistant(seeds_settings, fake_embedder) -> Assistant:
    """An assistant over the session's seeds index."""
    return Assistant.load(seeds_settings, fake_embedder)


@pytest.fixture(scope="module")
def client(service) -> TestClient:
    """The whole app in process over the module's own `service` fixture; a server error is a 500, not a raise."""
    return TestClient(create_app(service), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def handlers(service) -> ChatHandlers:
    """The chat page's handlers over the module's own `service` fixture, without the streaming pauses."""
    return ChatHandlers(service, frame_delay=0)


@pytest.fixture()
def endpoint() -> Iterator[tuple[str, Scripted]]:
    """A scripted OpenAI-compatible endpoint on loopback: (its URL, the script that answers and records requests)."""
    with scripted_endpoint() as served:
        yield served
