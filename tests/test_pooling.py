"""Where each sentence's vector is read from: one span per sentence, in the chunk holding most of it."""
from __future__ import annotations

import numpy as np

from rag.embedding import HashingEmbedder
from rag.index.build import build_index
from rag.index.pooling import pooled_spans
from rag.index.store import load_index
from rag.ingest.chunking import article_sentences, chunk_article, make_splitter
from rag.ingest.corpus import list_sources, read_article
from rag.records import Chunk, Sentence

from support import SEEDS, fake_settings, write_corpus


def _sentence(i: int, start: int, end: int, text: str) -> Sentence:
    return Sentence(i, "a.md", text[start:end], text[start:end], 1, 1, start, end)


def _chunk(i: int, start: int, end: int, text: str, ids: tuple[int, ...]) -> Chunk:
    return Chunk(i, "a.md", "标题", text[start:end], 1, 1, ids, start, end)


def test_a_sentence_cut_between_two_chunks_is_read_where_most_of_it_is():
    text = "第一句很短。第二句比较长，被切在两段之间，后半截更长一些。"
    first, second = _sentence(0, 0, 6, text), _sentence(1, 6, len(text), text)
    cut = 12  # the first chunk ends inside the second sentence, with its shorter part
    chunks = [_chunk(0, 0, cut, text, (0, 1)), _chunk(1, cut, len(text), text, (1,))]
    spans = pooled_spans(chunks, [first, second])
    assert [(s.sentence, s.chunk) for s in spans] == [(0, 0), (1, 1)]
    assert chunks[1].text[spans[1].start : spans[1].end] == text[cut:]


def test_a_sentence_two_overlapping_chunks_hold_whole_is_read_away_from_the_edges():
    text = "甲。" * 3 + "乙句在中间。" + "丙。" * 3
    middle = _sentence(0, 6, 12, text)
    chunks = [_chunk(0, 0, 12, text, (0,)), _chunk(1, 4, 16, text, (0,))]  # the second has context on both sides
    [span] = pooled_spans(chunks, [middle])
    assert span.chunk == 1 and chunks[1].text[span.start : span.end] == "乙句在中间。"


def test_every_seed_sentence_gets_one_span_inside_itself():
    splitter = make_splitter(220, 40)
    for source in list_sources(SEEDS):
        article = read_article(source)
        sentences = article_sentences(article, 0)
        chunks = chunk_article(article, sentences, splitter, 0)
        spans = pooled_spans(chunks, sentences)
        assert [s.sentence for s in spans] == list(range(len(sentences)))
        for span in spans:
            piece = chunks[span.chunk].text[span.start : span.end]
            assert piece and piece in sentences[span.sentence].text


def test_build_embeds_each_chunk_once_and_reads_sentences_from_it(tmp_path):
    corpus = write_corpus(tmp_path, {"a.md": "# 水果\n\n香蕉是黄色的。苹果是红色的。\n\n葡萄是紫色的，也可以酿酒。\n"})
    settings = fake_settings(tmp_path, corpus)
    seen: list[tuple[int, int]] = []
    build_index(settings, HashingEmbedder(64), progress=lambda done, total: seen.append((done, total)))
    index = load_index(settings)
    # each chunk once; then each sentence on its own, for questions in another language (index format 7)
    assert seen[-1] == (len(index.chunks) + len(index.sentences),) * 2
    fake = HashingEmbedder(64)
    for sentence in index.sentences:  # the fake reads a span as the text of that span
        expected = fake.encode_passages([sentence.text])[0]
        assert np.allclose(index.vectors.sentence_vectors(np.array([sentence.sentence_id]))[0], expected, atol=2e-3)
