"""JSONL rows read on demand: a byte-offset array beside each file, so loading an index parses no rows."""
from __future__ import annotations

import json
import os
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, Protocol, Sequence, TypeVar, overload

import numpy as np

from rag.errors import IndexDamagedError, index_damaged
from rag.index.arrays import load_array

T = TypeVar("T")

# Parsed rows kept per file: questions keep coming back to the same passages and sentences, and a row costs
# a read and a JSON parse. Bounded, so a million-passage index holds only its recently used rows.
CACHED_ROWS = 16_384


class Health(Protocol):
    """What rows ask before every read and tell when a row turns out damaged (rag/index/integrity.py IndexHealth)."""

    def check(self) -> None: ...

    def mark(self, error: IndexDamagedError) -> None: ...


def offsets_path(path: Path) -> Path:
    """Return where the byte offsets of the JSONL file `path` are kept (chunks.jsonl -> chunks.offsets.npy)."""
    return path.with_name(path.name.removesuffix(".jsonl") + ".offsets.npy")


class RowWriter:
    """Writes rows as UTF-8 JSON lines and, when closed without error, their n+1 byte offsets beside them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out = path.open("wb")
        self._offsets = array("q", [0])

    def write(self, row: dict[str, Any]) -> None:
        """Append one row."""
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        self._out.write(line)
        self._offsets.append(self._offsets[-1] + len(line))

    @property
    def count(self) -> int:
        """Rows written so far."""
        return len(self._offsets) - 1

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._out.close()
        if kind is None:
            np.save(offsets_path(self.path), np.frombuffer(self._offsets, dtype=np.int64), allow_pickle=False)


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as UTF-8 JSON lines and their n+1 byte offsets beside them; return the number of rows."""
    with RowWriter(path) as writer:
        for row in rows:
            writer.write(row)
    return writer.count


class LazyRows(Sequence[T], Generic[T]):
    """Row i of a JSONL file, parsed only when asked for; safe to share between threads (reads use pread)."""

    def __init__(self, path: Path, parse: Callable[[int, dict[str, Any]], T], health: Health | None = None) -> None:
        """Open `path` and its offsets; `parse(i, row)` turns row i into a record or raises on a bad row;
        `health` is asked before every read and told when a row is damaged."""
        self.path = path
        self._parse = parse
        self._health = health
        self._offsets = load_array(offsets_path(path))
        self._file = path.open("rb")
        self._row: Callable[[int], T] = lru_cache(maxsize=CACHED_ROWS)(lambda i: self._read(i, i + 1)[0])
        self._size = os.fstat(self._file.fileno()).st_size
        offsets = self._offsets
        if (offsets.dtype != np.int64 or offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0
                or offsets[-1] != self._size or not np.all(offsets[1:] > offsets[:-1])):
            self._file.close()
            raise self._damaged("its offsets do not match the file")

    def _damaged(self, why: str) -> IndexDamagedError:
        error = index_damaged(self.path.parent, f"{self.path.name}: {why}")
        if self._health is not None:
            self._health.mark(error)
        return error

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _read(self, start: int, stop: int) -> list[T]:
        if self._health is not None:
            self._health.check()
        begin, end = int(self._offsets[start]), int(self._offsets[stop])
        if not 0 <= begin <= end <= self._size:
            raise self._damaged(f"rows {start}..{stop - 1} are not where the offsets say")
        lines = os.pread(self._file.fileno(), end - begin, begin).split(b"\n")[:-1]
        if len(lines) != stop - start:
            raise self._damaged(f"rows {start}..{stop - 1} are not where the offsets say")
        out = []
        for i, line in enumerate(lines, start=start):
            try:
                out.append(self._parse(i, json.loads(line)))
            except (TypeError, KeyError, ValueError, AttributeError, RecursionError) as error:
                raise self._damaged(f"{type(error).__name__} in row {i}") from None
        return out

    @overload
    def __getitem__(self, key: int) -> T: ...

    @overload
    def __getitem__(self, key: slice) -> list[T]: ...

    def __getitem__(self, key: int | slice) -> T | list[T]:
        """Return row `key` (negative counts from the end), or the rows of a slice as a list."""
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self._read(start, stop) if stop > start else []
        i = int(key) + n if int(key) < 0 else int(key)
        if not 0 <= i < n:
            raise IndexError(f"row {key} of {n}")
        if self._health is not None:
            self._health.check()  # the cache may hold the row from before the damage was found
        return self._row(i)

    def __iter__(self) -> Iterator[T]:
        step = 4096
        for start in range(0, len(self), step):
            yield from self._read(start, min(start + step, len(self)))

    def close(self) -> None:
        """Close the file (the rows can no longer be read)."""
        self._file.close()
