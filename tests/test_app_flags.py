"""app.py's flags say what the server does."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rag.apps.web import CONCURRENCY


def test_the_help_states_the_concurrency_the_page_uses(capsys):
    spec = importlib.util.spec_from_file_location("app_entry", Path(__file__).resolve().parent.parent / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    with pytest.raises(SystemExit):
        app.parse_args(["--help"])
    assert f"at once (default {CONCURRENCY})" in " ".join(capsys.readouterr().out.split())
