"""Where each knowledge base keeps its documents and its index, and what it suggests asking.

A knowledge base is a name, a source folder and its own index folder, `<index root>/<name>/` (the index root
is `RAG_INDEX_DIR`, `index` by default). The default one, `default`, reads `RAG_CORPUS_DIR` (the seeds);
another one reads the folder its index was built from (its manifest records it), or, made by uploading,
`<RAG_DOCUMENTS_DIR>/<name>/`. Building one writes only its own index folder.

With RAG_STORE naming a Milvus collection, a knowledge base's index is the collection `<collection>_<name>` there
instead (the default one keeps `<collection>`; rag/index/stores/milvus.py spells `-` and a trailing `_`), and
building one writes only its own collections.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError, IndexMismatchError, IndexMissingError, RagError
from rag.index.manifest import Manifest
from rag.index.store import corpus_of, recover
from rag.index.stores.factory import kb_names, kb_store, store_at
from rag.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_KB = "default"
# Names go into folder names and URLs: lowercase ASCII only, so two names never share a folder on a
# case-insensitive disk and no name needs escaping.
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
# A knowledge base's own settings, in its source folder: {"title": "…", "examples": ["…", …]}.
KB_FILE = "kb.json"
MAX_EXAMPLES = 4
# Where a flat index is moved aside while it becomes the default knowledge base's folder.
MOVING = ".moving-to-kb"


class KnowledgeBaseError(RagError, ValueError):
    """A knowledge base name is not valid, or names none that exists."""


def check_name(name: object) -> str:
    """Return `name` when it is a valid knowledge base name, else raise saying what a name may hold."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = repr(name)[:60]
        raise KnowledgeBaseError(
            f"{shown} is not a knowledge base name: use 1-40 lowercase letters, digits, - or _, starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class KnowledgeBase:
    """One knowledge base: its name, the folder its documents are read from, its index folder, and its store (the
    RAG_STORE of its own collection; empty when its index is the folder)."""

    name: str
    corpus_dir: Path
    index_dir: Path
    store: str = ""

    def settings(self, base: Settings) -> Settings:
        """Return `base` pointed at this knowledge base's folders and store."""
        return base.with_overrides(corpus_dir=self.corpus_dir, index_dir=self.index_dir, store=self.store)

    def manifest(self) -> Manifest:
        """Return the manifest of this knowledge base's published index, or raise IndexMissingError / what is wrong."""
        return store_at(self.store, self.index_dir).read_manifest()


class Catalog:
    """The knowledge bases of one settings object: the default one and one index folder each under the index root."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index.index_dir
        self.documents = settings.index.documents_dir
        self.store = settings.index.store.strip()

    def default(self) -> KnowledgeBase:
        """Return the default knowledge base: the configured corpus folder (the seeds), indexed in `<root>/default`
        (or in RAG_STORE's collection itself)."""
        return KnowledgeBase(DEFAULT_KB, self.settings.index.corpus_dir, self.root / DEFAULT_KB, self.store)

    def _new(self, name: str, corpus_dir: Path) -> KnowledgeBase:
        """Return knowledge base `name` over `corpus_dir`, indexed in `<root>/<name>` (or its own collection)."""
        if name == DEFAULT_KB:
            return KnowledgeBase(name, corpus_dir, self.root / name, self.store)
        return KnowledgeBase(name, corpus_dir, self.root / name, kb_store(self.store, name))

    def names(self) -> list[str]:
        """Return the names of the knowledge bases there are: the default first, then the others sorted."""
        found: set[str] = set(kb_names(self.store))
        if self.root.is_dir() and not self.store:
            found |= {p.name for p in self.root.iterdir() if NAME.fullmatch(p.name) and (p / "manifest.json").is_file()}
        if self.documents.is_dir():
            found |= {p.name for p in self.documents.iterdir() if NAME.fullmatch(p.name) and p.is_dir()}
        found.discard(DEFAULT_KB)
        return [DEFAULT_KB, *sorted(found)]

    def get(self, name: str) -> KnowledgeBase:
        """Return the knowledge base called `name`, or raise saying how to make one."""
        check_name(name)
        if name == DEFAULT_KB:
            return self.default()
        built = self._built_from(self._new(name, self.documents / name))
        if built is not None:
            return self._new(name, built)
        if (self.documents / name).is_dir():
            return self._new(name, self.documents / name)
        raise KnowledgeBaseError(
            f"there is no knowledge base {name!r}: `python -m rag kbs` lists them; make one with "
            f"`python -m rag build --kb {name} --corpus DIR`, or upload documents into it"
        )

    def exists(self, name: str) -> bool:
        """True when a knowledge base called `name` exists."""
        try:
            self.get(name)
        except KnowledgeBaseError:
            return False
        return True

    def create(self, name: str, corpus_dir: Path | None = None) -> KnowledgeBase:
        """Return the knowledge base `name`, made when new: over `corpus_dir`, else an empty `<documents>/<name>/`.

        An existing one is returned as it is when `corpus_dir` is None or its own folder; another folder is an error.
        """
        check_name(name)
        if self.exists(name):
            kb = self.get(name)
            if corpus_dir is not None and corpus_dir.resolve() != kb.corpus_dir.resolve():
                raise IndexMismatchError(
                    f"the knowledge base {name!r} reads {kb.corpus_dir}, not {corpus_dir}: leave out --corpus, "
                    f"or give the new folder a knowledge base of its own (--kb OTHER_NAME)",
                    "settings",
                )
            return kb
        if name == DEFAULT_KB:
            return self.default()
        if corpus_dir is None:
            corpus_dir = self.documents / name
            corpus_dir.mkdir(parents=True, exist_ok=True)
        return self._new(name, corpus_dir)

    def for_folder(self, corpus_dir: Path, name: str | None = None) -> KnowledgeBase:
        """Return the knowledge base over `corpus_dir` (app.py --corpus): `name`'s, else the one already reading that
        folder, else a new one named after it. A folder that does not exist is an error, never the seeds instead."""
        if not corpus_dir.is_dir():
            raise CorpusError(f"corpus folder {corpus_dir} does not exist: pass --corpus DIR with your documents")
        if name is not None:
            return self.create(name, corpus_dir)
        wanted = corpus_dir.resolve()
        for known in self.names():
            kb = self.get(known)
            if kb.corpus_dir.resolve() == wanted:
                return kb
        free = self._free_name(_name_of_folder(wanted))
        return self._new(free, corpus_dir)

    def _free_name(self, wanted: str) -> str:
        """Return `wanted`, or `wanted-2`, `wanted-3`… when a knowledge base or an index folder has that name."""
        taken = set(self.names())
        name, n = wanted, 2
        while name in taken or (self.root / name).exists():
            name, n = f"{wanted}-{n}", n + 1
        return name

    def settings_for(self, name: str) -> Settings:
        """Return the settings pointed at knowledge base `name`'s folders."""
        return self.get(name).settings(self.settings)

    def _built_from(self, kb: KnowledgeBase) -> Path | None:
        try:
            return corpus_of(kb.manifest())
        except (IndexMissingError, IndexMismatchError):
            return None

    def migrate(self) -> str | None:
        """Move an index left flat in the index root (before knowledge bases) into its own folder; return what was done.

        The index built from the configured corpus becomes the default knowledge base; one built from another
        folder becomes a knowledge base named after that folder. Two renames, nothing rebuilt or lost: a move
        stopped half way is finished by the next call.
        """
        root = self.root
        moving = root.with_name(f".{root.name}{MOVING}")
        if not moving.exists():
            recover(root)
            if not (root / "manifest.json").is_file():
                return None
            os.rename(root, moving)
        root.mkdir(parents=True, exist_ok=True)
        name = self._name_for(moving)
        os.rename(moving, root / name)
        message = (f"moved the index in {root} to {root / name} (each knowledge base has its own folder now; "
                   f"`python -m rag kbs` lists them)")
        log.info("%s", message)
        return message

    def _name_for(self, folder: Path) -> str:
        """Return the knowledge base name a flat index in `folder` is moved to."""
        built = self._built_from(KnowledgeBase(DEFAULT_KB, folder, folder))  # a flat index is always a folder
        wanted = DEFAULT_KB if built is None or built == self.settings.index.corpus_dir.resolve() else _name_of_folder(built)
        name, n = wanted, 2
        while (self.root / name).exists():
            name, n = f"{wanted}-{n}", n + 1
        return name


def _name_of_folder(folder: Path) -> str:
    """Return a knowledge base name made of a folder's name ("My Notes" → "my-notes"; "kb" when nothing is left)."""
    return re.sub(r"[^a-z0-9_-]+", "-", folder.name.lower()).strip("-_")[:40] or "kb"


def _own_examples(corpus_dir: Path) -> list[str] | None:
    """Return the example questions written in the folder's kb.json, or None when it writes none."""
    path = corpus_dir / KB_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("ignoring %s: %s", path, error)
        return None
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list):
        return None
    return [text.strip() for text in examples if isinstance(text, str) and text.strip()][:MAX_EXAMPLES]


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def example_questions(corpus_dir: Path, titles: list[str]) -> list[str]:
    """Return the questions a knowledge base suggests: those written in its kb.json, else drawn from its titles."""
    own = _own_examples(corpus_dir)
    if own is not None:
        return own
    questions = []
    for title in dict.fromkeys(t.strip() for t in titles if t and t.strip()):
        if _has_chinese(title):
            questions.append(f"{title if len(title) <= 30 else title[:30] + '…'}讲了什么？")
        else:  # a Western title cut at a word, not inside one ("Platform Team Weekly Sync - Ap…")
            short = title if len(title) <= 60 else title[:60].rsplit(" ", 1)[0].rstrip(" -–—,:;") + "…"
            questions.append(f"What does “{short}” say?")
        if len(questions) == MAX_EXAMPLES:
            break
    return questions


def kb_title(corpus_dir: Path, name: str) -> str:
    """Return the knowledge base's title as its kb.json writes it, else its name."""
    try:
        data = json.loads((corpus_dir / KB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return name
    title = data.get("title") if isinstance(data, dict) else None
    return title.strip() if isinstance(title, str) and title.strip() else name


def describe(kb: KnowledgeBase, manifest: Manifest | None = None) -> dict[str, object]:
    """Return what a listing shows of a knowledge base: name, title, source folder, articles, when built, example questions.

    Pass the manifest of its loaded index when there is one: it is what answers, and reading it again costs a parse.
    """
    if manifest is None:
        try:
            manifest = kb.manifest()
        except (IndexMissingError, IndexMismatchError):
            manifest = None
    titles = [entry.title for entry in manifest.articles] if manifest is not None else []
    return {
        "name": kb.name,
        "title": kb_title(kb.corpus_dir, kb.name),
        "corpus": str(kb.corpus_dir),
        "articles": manifest.counts.articles if manifest is not None else 0,
        "built_at": manifest.built_at if manifest is not None else None,
        "examples": example_questions(kb.corpus_dir, titles),
    }


def describe_all(catalog: Catalog) -> list[dict[str, object]]:
    """Return `describe` of every knowledge base of the catalog, the default first."""
    return [describe(catalog.get(name)) for name in catalog.names()]
