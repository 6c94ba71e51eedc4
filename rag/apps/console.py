"""What the apps print on the console while they work: progress bars and the lines of a build (the library prints nothing)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from rag.settings import Settings

if TYPE_CHECKING:
    from rag.embedding import Embedder


def progress_bar(description: str, unit: str = " texts") -> Callable[[int, int], None]:
    """Return a (done, total) callback that draws a tqdm bar on stderr, created at the first call."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            # Created when the first batch is already done: counted as the bar's start, so its rate is not that batch
            # over the microsecond since (millions of texts a second).
            bar = tqdm(total=total, initial=done, desc=description, unit=unit, file=sys.stderr, disable=total == 0)
        else:
            bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def loading_note() -> None:
    """Say on a terminal that the index and the model are loading: the first answer waits for them, silently else."""
    if sys.stderr.isatty():
        print("loading the index and the embedding model…", file=sys.stderr, flush=True)


def print_stage(line: str) -> None:
    """Print one line of what a build is doing on stderr."""
    print(line, file=sys.stderr, flush=True)


# Told the reason when `build_if_needed` starts a build in this context: a service getting ready says so on its page
# (rag/apps/service.py), instead of saying a build runs while it only loads the model and the index.
_on_build: ContextVar[Callable[[str], None] | None] = ContextVar("on_build", default=None)


@contextmanager
def reporting_builds(callback: Callable[[str], None]) -> Iterator[None]:
    """Within the block, call `callback` with the reason each time `build_if_needed` starts a build."""
    token = _on_build.set(callback)
    try:
        yield
    finally:
        _on_build.reset(token)


def build_if_needed(
    settings: Settings, force: bool = False, shard: tuple[int, int] | None = None, embedder: Embedder | None = None,
) -> None:
    """Build or update the index when it is missing, stale or `force`d, printing progress to stderr; with `shard`
    (number, count), only that slice of the articles, into the store's shard (rag/index/build.py); with `embedder`,
    with that model instead of one loaded for the build."""
    from rag.embedding import load_embedder
    from rag.index.build import build_index, stale_reason
    from rag.index.stores import open_store

    store = open_store(settings)  # a store that is no store is reported before anything is printed
    where = store.where if shard is None else store.shard(*shard).where
    reason = "asked to" if force else stale_reason(settings)
    if reason is None:
        return
    announce = _on_build.get()
    if announce is not None:
        announce(reason)
    print(f"building the index in {where} ({reason})", file=sys.stderr)
    report = build_index(settings, embedder or load_embedder(settings), progress_bar("embedding"), print_stage, shard)
    print(
        f"index ready: {report.chunks} passages, {report.sentences} sentences from "
        f"{len(report.added) + len(report.changed) + len(report.unchanged)} articles "
        f"({len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged) in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
