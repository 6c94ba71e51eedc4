"""What the apps print on the console while they work."""
from __future__ import annotations

import re
import time

from rag.apps.cli import main
from rag.apps.console import progress_bar

from support import SEEDS


def test_a_bar_started_after_its_first_batch_shows_no_rate_of_millions(capsys):
    # The build calls back first when a batch of 128 texts is already embedded: that batch is not a rate.
    update = progress_bar("embedding")
    update(128, 1763)
    time.sleep(0.25)
    update(256, 1763)
    update(1763, 1763)
    shown = capsys.readouterr().err
    rates = [float(r) for r in re.findall(r"([\d.]+) texts/s", shown)]
    assert "1763/1763" in shown and rates
    assert max(rates) < 100_000, shown


def test_ask_on_a_terminal_says_it_is_loading_before_the_wait(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash:64")
    args = ["--index", str(tmp_path / "index"), "--corpus", str(SEEDS)]
    assert main(["build", *args]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(["ask", "Adobe股价跌了多少？", "--json", *args]) == 0
    assert "loading the index and the embedding model" in capsys.readouterr().err
