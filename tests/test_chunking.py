from __future__ import annotations

from rag.ingest.chunking import article_sentences, chunk_article, make_splitter, make_splitters
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


def test_a_western_sentence_is_cut_only_when_it_says_more_than_a_chinese_one_and_never_inside_a_word():
    # Half the sentences of English articles are longer than the 150 characters a Chinese one may take: cut at
    # their commas, an answer quoted " the media often used the term…", and a word with no break in reach was cut
    # in two ("anc estry").
    sentence = ("Mathew is African-American, while Tina is of Louisiana Creole descent (with African, Native American, "
                "French, Cajun, and distant Irish and Spanish ancestry).")
    text = sentence + " She was raised in a Methodist household."
    assert [text[a:b] for a, b in sentence_spans(text)] == [sentence, "She was raised in a Methodist household."]
    endless = " ".join(["ancestry"] * 120)  # no punctuation at all: cut at a space, with no space kept at either end
    pieces = [endless[a:b] for a, b in sentence_spans(endless)]
    assert len(pieces) > 1 and all(set(piece.split()) == {"ancestry"} for piece in pieces)
    assert all(piece == piece.strip() and len(piece) <= 450 for piece in pieces)
    assert " ".join(pieces) == endless


def test_a_western_article_has_passages_as_long_as_its_content_needs(tmp_path):
    path = tmp_path / "aurora.md"
    path.write_text("# Aurora\n\n" + " ".join(f"The Aurora S{n} thermostat learns a schedule within {n} days."
                                             for n in range(40)) + "\n", encoding="utf-8")
    article = read_article(SourceFile(path, "aurora.md", ""))
    splitters = make_splitters(220, 80)
    assert splitters.for_article(article) is splitters.western
    chunks = chunk_article(article, article_sentences(article, 0), splitters.for_article(article), 0)
    assert 220 < max(len(c.text) for c in chunks) <= 660
    chinese = read_article(SourceFile(SEEDS / sorted(p.name for p in SEEDS.glob("*.txt"))[0], "seeds/x.txt", ""))
    assert splitters.for_article(chinese) is splitters.chinese
