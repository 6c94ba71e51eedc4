"""The question sets a fit reads: NAME=GOLD[+GOLD]=CORPUS=INDEX, as both fitting scripts take them."""
from __future__ import annotations

import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

# (name, gold files, corpus folder, index folder)
DevSet = tuple[str, list[Path], Path, Path]


def parse_set(text: str) -> DevSet:
    """Return (name, gold files, corpus, index) of NAME=GOLD[+GOLD]=CORPUS=INDEX."""
    parts = text.split("=")
    if len(parts) != 4:
        raise SystemExit(f"cannot read {text!r}: write NAME=GOLD[+GOLD]=CORPUS=INDEX")
    return parts[0], [Path(p) for p in parts[1].split("+")], Path(parts[2]), Path(parts[3])


def provenance(module: str, sets: list[DevSet], features: list[str], held_out: dict, in_sample: dict) -> dict:
    """Return how a fitted file was made: the script, the exact command, the date, the sets, the cross-validation."""
    return {
        "script": module.replace(".", "/") + ".py",
        "command": _settings_from_environment() + f"HF_HUB_OFFLINE=1 .venv/bin/python -m {module} "
                   + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": {name: {"gold": [str(f) for f in files], "corpus": str(corpus)} for name, files, corpus, _ in sets},
        "features": features,
        "leave_one_set_out": held_out,
        "in_sample": in_sample,
    }


def _settings_from_environment() -> str:
    """Return the RAG_* variables the fit ran with, as a command's prefix: they change what it reads (a float32
    question embedding on a CPU that would use bfloat16: RAG_EMBED_PRECISION), so the command needs them to rerun."""
    return "".join(f"{key}={shlex.quote(value)} " for key, value in sorted(os.environ.items()) if key.startswith("RAG_"))
