"""The embedded store, the default: the index as a folder of plain files (rag/index/store.py), replaced whole."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.manifest import Manifest
from rag.index.store import Index, check_compatible, load_folder_index, read_manifest, replace_folder, write_index
from rag.index.vectors.base import VectorIndex
from rag.index.vectors.factory import build_vectors
from rag.settings import Settings

KIND = "files"


class FolderStore:
    """The `Store` of one index folder: written into a staging folder beside it, then renamed into place."""

    kind = KIND

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)

    def read_manifest(self) -> Manifest:
        return read_manifest(self.folder)

    def check(self, manifest: Manifest, settings: Settings) -> None:
        check_compatible(manifest, settings, self.folder)

    def open(self, settings: Settings, verify_all: bool = False) -> Index:
        return load_folder_index(settings.with_overrides(index_dir=self.folder), verify_all)

    def new_vectors(self, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, settings: Settings,
                    alone_vectors: np.ndarray | None = None, reader_vectors: np.ndarray | None = None) -> VectorIndex:
        return build_vectors(chunk_vectors, sentence_vectors, settings, alone_vectors, reader_vectors)

    def write(self, index: Index) -> Manifest:
        target = self.folder
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        try:
            manifest = write_index(staged, index)
            replace_folder(staged, target)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return manifest

    def describe(self) -> dict[str, Any]:
        return {"kind": KIND}

    def shard(self, number: int, count: int) -> FolderStore:
        return FolderStore(self.folder.with_name(f"{self.folder.name}.shard-{number}-of-{count}"))

    def shards(self) -> list[FolderStore]:
        pattern = re.compile(rf"{re.escape(self.folder.name)}\.shard-\d+-of-\d+")
        return [FolderStore(path) for path in sorted(self.folder.parent.glob(f"{self.folder.name}.shard-*"))
                if pattern.fullmatch(path.name) and (path / "manifest.json").is_file()]

    def drop(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
