"""`python -m bench`: run the benchmark on one corpus, print the figures and write them as JSON."""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.runner import CORPORA, GOLD, prepare_corpus, run_benchmark
from bench.summary import format_result, targets
from rag.errors import RagError
from rag.settings import load_settings


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of `python -m bench`."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--corpus", choices=CORPORA, default="seeds", help="what to index (default: seeds)")
    p.add_argument("--runs", type=int, default=3, help="builds and question passes; figures are medians (default: 3)")
    p.add_argument("--skip-langchain", action="store_true", help="do not build LangChain's ensemble beside ours")
    p.add_argument("-o", "--output", type=Path, help="JSON file to write (default: runs/bench-CORPUS.json)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rag-bench",
                   help="folder for corpora and indexes, outside the repo (default: %(default)s)")
    p.add_argument("--bare-limit", type=int, default=2000,
                   help="encode at most this many of the build's texts bare, a seeded sample (default: %(default)s)")
    p.add_argument("--questions", type=int, default=50, help="titles asked of an inews corpus (default: %(default)s)")
    p.add_argument("--gold", type=Path, default=GOLD, help="gold questions for the seeds (default: %(default)s)")
    return p


def _finite(value: Any) -> Any:
    """Replace NaN with None so the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit code."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 1
    settings = load_settings()

    def note(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        note(f"preparing {args.corpus} in {args.work}")
        corpus = prepare_corpus(args.corpus, args.work, settings.index.cache_dir / "bench", args.gold, args.questions)
        result = run_benchmark(corpus, settings, args.work, args.runs, not args.skip_langchain, args.bare_limit, note)
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    result["targets"] = targets(result)
    result["command"] = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    output = args.output or Path("runs") / f"bench-{args.corpus}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(_finite(result), ensure_ascii=False, indent=2), encoding="utf-8")
    print(format_result(result))
    print(f"written: {output}")
    return 0
