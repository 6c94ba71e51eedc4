"""The settings: grouped by concern, one source of defaults, RAG_* variables that are checked, not guessed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.settings import GROUPS, Settings, SettingsError, load_settings

from servers import ROOT

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_a_variable_lands_in_its_group_and_a_flat_override_in_its_group_too():
    settings = load_settings(env={"RAG_TOP_K": "5", "RAG_CHUNK_SIZE": "300", "RAG_PORT": "9000"})
    assert (settings.retrieval.top_k, settings.index.chunk_size, settings.server.port) == (5, 300, 9000)
    changed = settings.with_overrides(refusal_threshold=0.9, top_k=None)
    assert changed.answer.refusal_threshold == 0.9 and changed.retrieval.top_k == 5
    assert Settings(hnsw_m=8).index.hnsw_m == 8 and Settings().index.hnsw_m != 8
    with pytest.raises(TypeError, match="no setting named"):
        Settings(no_such_thing=1)


def test_a_folder_given_as_a_string_works_like_a_path(tmp_path):
    # A script that passes index_dir="..." must reach the same index as one passing a Path.
    settings = load_settings(env={}, index_dir=str(tmp_path / "idx"), corpus_dir="seeds")
    assert settings.index.index_dir == tmp_path / "idx" and isinstance(settings.index.index_dir, Path)
    assert settings.with_overrides(index_dir="other").index.index_dir == Path("other")
    assert isinstance(settings.index.corpus_dir, Path)


def test_a_misspelled_variable_is_an_error_that_names_the_right_one():
    with pytest.raises(SettingsError, match=r"RAG_TOPK is not a setting \(did you mean RAG_TOP_K\?\)"):
        load_settings(env={"RAG_TOPK": "5"})
    with pytest.raises(SettingsError, match="RAG_TOP_K='ten' is not a valid int"):
        load_settings(env={"RAG_TOP_K": "ten"})


def test_the_cli_reports_a_misspelled_variable_in_one_line_and_exits_1():
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "RAG_REFUSAL_TRESHOLD": "0.5"}
    done = subprocess.run([sys.executable, "-m", "rag", "ask", "Sora"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == "error: RAG_REFUSAL_TRESHOLD is not a setting (did you mean RAG_REFUSAL_THRESHOLD?): fix or unset it\n"


def test_every_setting_is_documented_with_its_variable():
    documented = DOCS.read_text(encoding="utf-8")
    names = [f"RAG_{name.upper()}" for name in Settings().flat()]
    assert len(names) == len(set(names)) > 40
    assert [name for name in names if f"`{name}`" not in documented] == []
    assert set(GROUPS) == {"index", "retrieval", "answer", "server"}
