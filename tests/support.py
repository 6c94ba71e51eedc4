"""Shared helpers for the tests: tiny corpora, the fake-embedder settings, and the citation check users rely on."""
from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

from rag.settings import Settings, load_settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def normal(text: str) -> str:
    """The eval README's comparison form: NFKC, HTML unescaped, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", html.unescape(text)).split())


def stands_in_lines(path: Path, line_start: int, line_end: int, quote: str) -> bool:
    """True when `quote` stands in lines line_start..line_end (1-based, inclusive) of the file, tags removed."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if not 1 <= line_start <= line_end <= len(lines):
        return False
    joined = re.sub(r"<[^>]+>", "", "\n".join(lines[line_start - 1 : line_end]))
    return normal(quote) in normal(joined)


def fake_settings(tmp_path: Path, corpus: Path, **overrides) -> Settings:
    """Settings for a build with the deterministic hashing embedder into tmp_path/index."""
    return load_settings(env={}, corpus_dir=corpus, index_dir=tmp_path / "index", embed_model="hash:64", **overrides)


def write_corpus(folder: Path, files: dict[str, str]) -> Path:
    """Write a small corpus of UTF-8 files into folder/corpus and return that folder."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return corpus


TINY = {
    "a.txt": "# 苹果公司发布新手机\n\n苹果公司今天发布了新手机。新手机的价格是五千元。\n\n这款手机有三个摄像头。\n",
    "b.md": "---\ntitle: '香蕉的故事'\n---\n\n香蕉是一种热带水果。\n\n香蕉富含钾元素，对心脏有益。\n",
    "c.html": "<html><body><h1>天气预报</h1><p>明天北京有大雨，气温十五度。</p><p>后天转晴&amp;有风。</p></body></html>\n",
}
