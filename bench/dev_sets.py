"""The question sets a fit reads: NAME=GOLD[+GOLD]=CORPUS=INDEX, as both fitting scripts take them."""
from __future__ import annotations

from pathlib import Path

# (name, gold files, corpus folder, index folder)
DevSet = tuple[str, list[Path], Path, Path]


def parse_set(text: str) -> DevSet:
    """Return (name, gold files, corpus, index) of NAME=GOLD[+GOLD]=CORPUS=INDEX."""
    parts = text.split("=")
    if len(parts) != 4:
        raise SystemExit(f"cannot read {text!r}: write NAME=GOLD[+GOLD]=CORPUS=INDEX")
    return parts[0], [Path(p) for p in parts[1].split("+")], Path(parts[2]), Path(parts[3])
