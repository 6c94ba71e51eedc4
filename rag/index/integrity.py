"""Checksums of an index's files: recorded when the build writes them, checked when the index is loaded.

Sizes are checked always. Whole-file sha256s are checked at load up to a byte budget (`index_verify_bytes`);
a file beyond it gets a hash of a fixed sample of its blocks at load and its whole hash in a background thread,
which marks the index damaged if it differs: from then on every question raises the damaged error.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import tokenize
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from rag.errors import IndexDamagedError, RagError, index_damaged

log = logging.getLogger(__name__)

# Bytes read per call while hashing.
READ_BYTES = 1 << 20
# The sample of a file hashed at load when its whole hash is left to the background: this many blocks of
# this size, evenly spaced from its first byte to its last, so a cut or a header change is always in it.
SAMPLE_BLOCKS = 64
SAMPLE_BLOCK_BYTES = 4096


def _hash_range(handle: IO[bytes], digest: Any, start: int, length: int) -> None:
    fd = handle.fileno()
    while length > 0:
        data = os.pread(fd, min(READ_BYTES, length), start)
        if not data:
            break
        digest.update(data)
        start += len(data)
        length -= len(data)


def full_sha256(handle: IO[bytes]) -> str:
    """Return the sha256 of the whole open file."""
    digest = hashlib.sha256()
    _hash_range(handle, digest, 0, os.fstat(handle.fileno()).st_size)
    return digest.hexdigest()


def sample_offsets(size: int) -> list[int]:
    """Return where the sampled blocks of a file of `size` bytes start (the same for the build and the load)."""
    if size <= SAMPLE_BLOCKS * SAMPLE_BLOCK_BYTES:
        return [0]
    last = size - SAMPLE_BLOCK_BYTES
    return sorted({last * i // (SAMPLE_BLOCKS - 1) for i in range(SAMPLE_BLOCKS)})


def sample_sha256(handle: IO[bytes]) -> str:
    """Return the sha256 of the sampled blocks of the open file (the whole file when it is small)."""
    size = os.fstat(handle.fileno()).st_size
    digest = hashlib.sha256()
    offsets = sample_offsets(size)
    block = size if offsets == [0] else SAMPLE_BLOCK_BYTES
    for start in offsets:
        _hash_range(handle, digest, start, block)
    return digest.hexdigest()


def file_records(folder: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return each file's size, sha256 and sampled sha256, as the manifest records them."""
    records = {}
    for name in names:
        with (folder / name).open("rb") as handle:
            records[name] = {
                "bytes": os.fstat(handle.fileno()).st_size,
                "sha256": full_sha256(handle),
                "sample_sha256": sample_sha256(handle),
            }
    return records


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """Return the sha256 of the manifest's content (without its `checksum`), independent of its layout."""
    body = {key: value for key, value in manifest.items() if key != "checksum"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class IndexHealth:
    """Whether a loaded index is still known to be whole; shared by its rows and its background check."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.error: IndexDamagedError | None = None
        self._checked = threading.Event()
        self._checked.set()

    def check(self) -> None:
        """Raise the damaged error if any check has found the index damaged."""
        if self.error is not None:
            raise self.error

    def mark(self, error: IndexDamagedError) -> None:
        """Record that the index is damaged: every later `check` raises `error`."""
        if self.error is None:
            self.error = error
            log.error("%s", error)

    def wait(self, timeout: float | None = None) -> bool:
        """Return True once the background check (if any) has finished, waiting at most `timeout` seconds."""
        return self._checked.wait(timeout)

    def verify_later(self, handles: list[tuple[str, IO[bytes], str]]) -> None:
        """Hash each open (name, file, expected sha256) in a background thread, marking the index damaged on a mismatch."""
        self._checked.clear()
        threading.Thread(target=self._verify, args=(handles,), name="rag-index-check", daemon=True).start()

    def _verify(self, handles: list[tuple[str, IO[bytes], str]]) -> None:
        try:
            for name, handle, expected in handles:
                if full_sha256(handle) != expected:
                    self.mark(index_damaged(self.folder, f"{name} does not match its checksum"))
        except OSError as error:
            self.mark(index_damaged(self.folder, f"cannot read it ({type(error).__name__})"))
        finally:
            for _, handle, _ in handles:
                handle.close()
            self._checked.set()


def _record(records: Any, name: str, folder: Path) -> tuple[int, str, str]:
    record = records.get(name) if isinstance(records, dict) else None
    if not isinstance(record, dict):
        raise index_damaged(folder, f"manifest.json records no checksum of {name}")
    size, full, sample = record.get("bytes"), record.get("sha256"), record.get("sample_sha256")
    if not isinstance(size, int) or not isinstance(full, str) or not isinstance(sample, str):
        raise index_damaged(folder, f"manifest.json's record of {name} is not a size and two hashes")
    return size, full, sample


def verify_files(folder: Path, names: Iterable[str], records: Any, budget: int | None, health: IndexHealth) -> None:
    """Check every file's size and, smallest first while `budget` bytes last (None: all), its whole sha256;
    the rest by a sample now and whole in the background. Raise the damaged error on the first difference."""
    expected = {name: _record(records, name, folder) for name in names}
    for name, (size, _, _) in expected.items():
        try:
            found = (folder / name).stat().st_size
        except OSError:
            raise index_damaged(folder, f"{name} is missing") from None
        if found != size:
            raise index_damaged(folder, f"{name} is {found} bytes, the build wrote {size}")
    left = budget
    later: list[tuple[str, IO[bytes], str]] = []
    try:
        for name in sorted(expected, key=lambda n: (expected[n][0], n)):
            size, full, sample = expected[name]
            try:
                handle = (folder / name).open("rb")
            except OSError as error:
                raise index_damaged(folder, f"{name} cannot be read ({type(error).__name__})") from None
            if left is None or size <= left:
                with handle:
                    if full_sha256(handle) != full:
                        raise index_damaged(folder, f"{name} does not match its checksum")
                left = None if left is None else left - size
                continue
            later.append((name, handle, full))
            if sample_sha256(handle) != sample:
                raise index_damaged(folder, f"{name} does not match its checksum")
    except BaseException:
        for _, handle, _ in later:
            handle.close()
        raise
    if later:
        health.verify_later(later)


# What a damaged file can make numpy, scipy, zipfile or FAISS raise while it is read.
_UNREADABLE = (
    OSError, ValueError, EOFError, SyntaxError, OverflowError, MemoryError, TypeError, KeyError, IndexError,
    AttributeError, RuntimeError, RecursionError, zipfile.BadZipFile, tokenize.TokenError,
)


@contextmanager
def reading(folder: Path, name: str) -> Iterator[None]:
    """Turn any error from reading `name` into the damaged error (the library's own errors pass unchanged)."""
    try:
        yield
    except RagError:
        raise
    except _UNREADABLE as error:
        raise index_damaged(folder, f"{name} cannot be read ({type(error).__name__})") from None
