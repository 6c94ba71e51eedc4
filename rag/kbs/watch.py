"""Notice when a folder's documents change: poll their sizes and modification times (no extra dependency, any disk)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from rag.ingest.corpus import SUFFIXES

log = logging.getLogger(__name__)

# What a folder's documents look like from outside: relative path -> (size, modification time in ns).
Snapshot = dict[str, tuple[int, int]]


def snapshot(folder: Path) -> Snapshot:
    """Return the size and modification time of every document under `folder` (empty when it is gone)."""
    found: Snapshot = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        try:
            if path.suffix.lower() in SUFFIXES and path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
        except OSError:  # removed between listing and stat
            continue
    return found


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """Return the documents added, removed or changed between two snapshots, sorted."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def watch(
    folder: Path,
    on_change: Callable[[list[str]], None],
    interval: float = 2.0,
    stop: threading.Event | None = None,
) -> None:
    """Call `on_change(changed names)` each time the folder's documents change, until `stop` is set.

    A change is reported once the folder has looked the same for one more interval, so a file still being
    copied is read whole; `on_change` decides (by content hash) whether anything needs indexing.
    """
    stop = stop or threading.Event()
    seen = snapshot(folder)
    while not stop.wait(interval):
        now = snapshot(folder)
        if now == seen:
            continue
        while not stop.wait(interval):  # settle: wait until a copy in progress has finished
            later = snapshot(folder)
            if later == now:
                break
            now = later
        if stop.is_set():
            return
        changed = changes(seen, now)
        seen = now
        try:
            on_change(changed)
        except Exception:  # a watcher outlives one failed update; the next change tries again
            log.exception("updating after a change in %s failed", folder)
