from __future__ import annotations

from rag.ingest.chunking import article_sentences, chunk_article, make_splitter
from rag.ingest.corpus import SourceFile, read_article
from rag.ingest.sentences import sentence_spans
from rag.ingest.textnorm import normalize

from support import SEEDS, stands_in_lines


def _seed_chunks(size: int = 220, overlap: int = 40):
    splitter = make_splitter(size, overlap)
    for path in sorted(SEEDS.glob("*.txt")):
        article = read_article(SourceFile(path, f"seeds/{path.name}", ""))
        sentences = article_sentences(article, 0)
        yield path, article, sentences, chunk_article(article, sentences, splitter, 0)


def test_chunk_line_ranges_hold_their_first_and_last_sentences():
    for path, _article, sentences, chunks in _seed_chunks():
        assert chunks, path
        for chunk in chunks:
            assert 1 <= chunk.line_start <= chunk.line_end
            inside = [sentences[i] for i in chunk.sentence_ids]
            assert inside, chunk.text
            for s in inside:
                if normalize(s.text) in normalize(chunk.text):  # whole sentences inside the chunk
                    assert chunk.line_start <= s.line_start and s.line_end <= chunk.line_end
            assert stands_in_lines(path, chunk.line_start, chunk.line_start, inside[0].quote) or inside[0].line_start < chunk.line_start


def test_chunks_respect_size_and_overlap_and_cover_the_article():
    for _path, article, _sentences, chunks in _seed_chunks(200, 50):
        assert max(len(c.text) for c in chunks) <= 200
        covered = "".join(c.text for c in chunks)
        assert len(covered) >= len(article.text.replace("\n", "")) * 0.95
        assert [c.chunk_id for c in chunks] == list(range(len(chunks)))


def test_chunks_end_at_sentence_ends_when_they_can():
    ends = [c.text[-1] for *_rest, chunks in _seed_chunks() for c in chunks]
    sentence_like = sum(ch in "。！？；…”」）!?;" or ch.isalnum() for ch in ends)
    assert sentence_like / len(ends) > 0.8


def test_an_end_inside_a_bracketed_aside_does_not_end_the_sentence():
    text = ("亚马逊雨林（葡萄牙语：Floresta Amazônica；荷兰语：Amazoneregenwoud），是一片潮湿的阔叶林。"
            "它覆盖了盆地的大部分（约 550 万平方公里）。图见下（图 1。）左括号（没有闭合。下一句。")
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "亚马逊雨林（葡萄牙语：Floresta Amazônica；荷兰语：Amazoneregenwoud），是一片潮湿的阔叶林。",
        "它覆盖了盆地的大部分（约 550 万平方公里）。",
        "图见下（图 1。）",
        "左括号（没有闭合。",
        "下一句。",
    ]


def test_a_semicolon_joins_clauses_and_cuts_an_overlong_sentence_first():
    text = "V＆A起源于1851年的大博览会，亨利·科尔参与了它的建设规划；最初它被定义为工业博览馆。时至9月，博物馆被迁移。"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "V＆A起源于1851年的大博览会，亨利·科尔参与了它的建设规划；最初它被定义为工业博览馆。",
        "时至9月，博物馆被迁移。",
    ]
    first = "一是 Sora 具备推理能力，" + "人类长期以来孜孜以求的通用人工智能成为可能，" * 3 + "这是第一点；"
    second = "二是在当今视频时代，Sora 将助力传媒业降本增效，" + "极大地扩大能力范围和能力边界，" * 3 + "影响远超 ChatGPT。"
    text = first + second
    assert len(text) > 150 > max(len(first), len(second))
    assert [text[a:b] for a, b in sentence_spans(text)] == [first, second]  # not at the comma nearest the limit
