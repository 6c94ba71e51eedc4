"""What the apps print on the console while they work."""
from __future__ import annotations

import re
import time

from rag.apps.console import progress_bar


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
