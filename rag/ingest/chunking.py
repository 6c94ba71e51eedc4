"""Split an article into overlapping passages that know their source lines and sentences."""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.ingest.headings import LIST_ITEM_LINE, section_heading, sections
from rag.ingest.language import WESTERN_SCALE, is_western
from rag.ingest.sentences import sentence_spans
from rag.ingest.textnorm import stands_in, strip_tags
from rag.records import Article, Chunk, Sentence

# Paragraphs first, then lines, then Chinese and Western sentence ends, then clause breaks.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "…", "!", "?", ";", ". ", "，", ",", "、", " ", ""]


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    """Return the text splitter with separators for Chinese sentence ends, paragraphs and lines."""
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )


@dataclass(frozen=True)
class Splitters:
    """The splitter for Chinese articles and the one for Western articles, whose passages are `WESTERN_SCALE` times
    as long in characters: they hold as much as a Chinese passage does. At the Chinese size an English passage held
    about one sentence, and a question's answer was rarely in the same passage as its subject."""

    chinese: RecursiveCharacterTextSplitter
    western: RecursiveCharacterTextSplitter

    def for_article(self, article: Article) -> RecursiveCharacterTextSplitter:
        """Return the splitter for this article's script."""
        return self.western if is_western(article.text) else self.chinese


def make_splitters(chunk_size: int, chunk_overlap: int) -> Splitters:
    """Return the splitters for passages of `chunk_size` characters of Chinese (and their Western equivalent)."""
    return Splitters(make_splitter(chunk_size, chunk_overlap),
                     make_splitter(chunk_size * WESTERN_SCALE, chunk_overlap * WESTERN_SCALE))


def article_sentences(article: Article, first_id: int) -> list[Sentence]:
    """Return the article's sentences with source lines and a quote that stands in them, numbered from `first_id`."""
    lines = article.raw.split("\n")
    sentences = []
    for offset, (start, end) in enumerate(sentence_spans(article.text)):
        line_start, line_end = article.lines_of_span(start, end)
        text = article.text[start:end]
        quote = text
        if not stands_in(lines, line_start, line_end, text):
            # Markup inside the sentence (e.g. **bold**): quote the source itself, tags removed.
            quote = " ".join(strip_tags(article.source_slice(start, end)).split())
        elif line_start == line_end and text not in lines[line_start - 1]:
            # Spaces cleaning took out ("生成视频; 静态图片生成视频" read as "生成视频;静态图片生成视频"): the quote keeps
            # them, as the line has them.
            spaced = " ".join(article.source_slice(start, end).split())
            if spaced.replace(" ", "") == text.replace(" ", "") and spaced in lines[line_start - 1]:
                quote = spaced
        sentences.append(Sentence(first_id + offset, article.file, text, quote, line_start, line_end, start, end))
    return sentences


def _locate(text: str, pieces: Sequence[str]) -> list[tuple[int, int]]:
    """Find each split piece in `text`, in order; overlap means a piece may start before the previous ended."""
    spans = []
    cursor = 0
    for piece in pieces:
        start = text.find(piece, cursor)
        if start < 0:  # the splitter only strips and cuts, so this cannot happen; fail loudly if it ever does
            raise AssertionError(f"chunk text not found in article: {piece[:30]!r}")
        spans.append((start, start + len(piece)))
        cursor = start + 1
    return spans


def chunk_article(
    article: Article, sentences: Sequence[Sentence], splitter: RecursiveCharacterTextSplitter, first_id: int
) -> list[Chunk]:
    """Return the article's passages numbered from `first_id`, each with line range, overlapping sentences and the
    headings of the section it starts in that stand above it (`Chunk.section`)."""
    starts = [s.char_start for s in sentences]
    ends = [s.char_end for s in sentences]
    lines = article.raw.split("\n")

    def list_item(sentence: Sentence) -> bool:
        return 0 < sentence.line_start <= len(lines) and LIST_ITEM_LINE.match(lines[sentence.line_start - 1]) is not None

    runs, _ = sections(sentences, list_item)
    chunks = []
    for offset, (start, end) in enumerate(_locate(article.text, splitter.split_text(article.text))):
        line_start, line_end = article.lines_of_span(start, end)
        first = bisect_right(ends, start)  # first sentence ending after the chunk starts
        last = bisect_left(starts, end)  # sentences starting before the chunk ends
        ids = tuple(s.sentence_id for s in sentences[first:last])
        section = section_heading(sentences, runs[first], first) if first < len(runs) else ""
        chunks.append(Chunk(first_id + offset, article.file, article.title, article.text[start:end], line_start,
                            line_end, ids, start, end, section))
    return chunks
