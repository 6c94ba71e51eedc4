"""Measure what checking an index's files costs at load: `load_index` with the default hashing budget, with a
budget of 0 (sizes and sampled hashes only), and with no checks at all; and the background whole-file hash.

    .venv/bin/python -m bench.index_check_cost INDEX_DIR [--runs 5]

Prints JSON. Warm page cache: each variant is run once before it is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from unittest import mock

from rag.index import store
from rag.settings import load_settings


def _timed(settings, runs: int, wait: bool = False) -> dict[str, float]:
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        index = store.load_index(settings)
        if wait and index.health is not None:
            index.health.wait()
        times.append(time.perf_counter() - started)
    times = times[1:]
    return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4), "max_s": round(max(times), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    manifest = json.loads((args.index / "manifest.json").read_text(encoding="utf-8"))
    base = load_settings(index_dir=args.index, **manifest["settings"])
    files = {name: (args.index / name).stat().st_size for name in store.FILES}
    result = {
        "index": str(args.index),
        "chunks": manifest["counts"]["chunks"],
        "bytes": sum(files.values()),
        "budget_bytes": base.index.index_verify_bytes,
        "load_avg": os.getloadavg(),
        "default_budget": _timed(base, args.runs),
        "default_budget_and_background_done": _timed(base, args.runs, wait=True),
        "budget_0_sampled_only": _timed(base.with_overrides(index_verify_bytes=0), args.runs),
    }
    with mock.patch.object(store, "verify_files", lambda *a, **k: None):
        result["no_checks"] = _timed(base, args.runs)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
