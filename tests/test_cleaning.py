from __future__ import annotations

import pytest

from rag.errors import CorpusError
from rag.ingest.chunking import article_sentences
from rag.ingest.cleaning import clean, line_numbers
from rag.ingest.corpus import SourceFile, decode, list_sources, read_article

from support import SEEDS, stands_in_lines


def test_front_matter_html_entities_and_links_are_removed_and_title_kept():
    raw = (
        "---\ntitle: 'Sora爆火'\ntags: ['x']\n---\n<div><p>OpenAI发布了Sora&amp;更多。</p>"
        "<p>详见[原文](https://example.com/a)和 https://example.com/b 。</p></div>\n![](https://img/x.png)\n"
    )
    cleaned = clean(raw)
    assert cleaned.title == "Sora爆火"
    assert "title:" not in cleaned.text and "<" not in cleaned.text and "&amp;" not in cleaned.text
    assert "OpenAI发布了Sora&更多。" in cleaned.text
    assert "详见原文和" in cleaned.text
    # A link's address and an image go; an address the sentence writes out is what it says, and stays ("访问
    # https://vpn.example.cn 下载" lost the one thing asked for); a line that is only an address is a reference.
    assert "example.com/a" not in cleaned.text and "img" not in cleaned.text
    assert "详见原文和 https://example.com/b 。" in cleaned.text
    page = clean('<?xml version="1.0"?>\n<!DOCTYPE html>\n<html><body><p>总部位于杭州。</p></body></html>\n').text
    assert page == "总部位于杭州。"  # the declarations were quoted as the page's first line
    lines = clean("打开浏览器，访问 https://vpn.example.cn 下载客户端。\n\n[1]https://twitter.com/x\nwww.example.com/y\n").text
    assert lines == "打开浏览器，访问 https://vpn.example.cn 下载客户端。"


def test_a_plain_texts_short_first_line_of_chinese_alone_is_its_title_a_byline_is_not():
    # "停车场管理办法" was passed over for the first long sentence, and the suggested question read "员工停车位…讲了什么？".
    body = "\n\n员工停车位位于地下二层B区，共120个车位。\n"
    assert clean("停车场管理办法" + body).title == "停车场管理办法"
    assert clean("记者 刘宗智" + body).title == "员工停车位位于地下二层B区，共120个车位"
    assert clean("N 新京报澎湃新闻" + body).title == "员工停车位位于地下二层B区，共120个车位"


def test_ocr_spaces_inside_chinese_words_are_joined_but_english_spacing_kept():
    cleaned = clean("一位时尚女性走在东京街 道上, 她走路自信。OpenAI 在官网发布了 Sora model。\n")
    assert "东京街道上,她走路自信" in cleaned.text
    assert "OpenAI 在官网发布了 Sora model" in cleaned.text
    # The space after a numbered provision's number is the document's: joined, "第一条员工" reads "the first employee".
    cleaned = clean("第一条 员工每年享有五天带薪年假。\n第十二章\u3000附则 本 制度自发布之日起施行。\n")
    assert "第一条 员工每年享有五天带薪年假" in cleaned.text
    assert "第十二章 附则本制度自发布之日起施行" in cleaned.text


def test_boilerplate_lines_are_dropped_and_content_kept():
    raw = "正文第一段，讲了Sora。\n\n— **完** —\n\n**点这里 👇关注我，记得标星哦～**\n\n美编：陈明丽\n\n正文第二段。\n"
    cleaned = clean(raw)
    assert cleaned.text == "正文第一段，讲了Sora。\n\n正文第二段。"


def test_an_articles_author_source_and_date_lines_stay_as_content():
    raw = "文章作者: 量子位\n发布时间: 2024-02-19 13:42\n\n■采写：新快报记者 郑志辉\n\n正文。\n\n本文来自微信公众号“读懂财经”，作者：小白。\n"
    text = clean(raw).text
    for kept in ("文章作者:量子位", "发布时间: 2024-02-19 13:42", "采写：新快报记者郑志辉", "本文来自微信公众号“读懂财经”，作者：小白。"):
        assert kept in text


def test_every_clean_character_maps_to_the_source_line_it_came_from():
    raw = "第一行\n\n<p>第三行&amp;内容</p>\n第四 行\n"
    cleaned = clean(raw)
    lines = line_numbers(raw, cleaned.origin)
    by_char = dict(zip(cleaned.text, lines))
    assert by_char["一"] == 1 and by_char["三"] == 3 and by_char["&"] == 3 and by_char["四"] == 4


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name)
def test_every_sentence_quote_of_every_seed_stands_in_its_cited_lines(path):
    article = read_article(SourceFile(path, f"seeds/{path.name}", ""))
    sentences = article_sentences(article, 0)
    assert len(sentences) > 30
    for s in sentences:
        assert stands_in_lines(path, s.line_start, s.line_end, s.quote), (s.line_start, s.line_end, s.quote)
    # The quote falls back to the marked-up source only where markup sits inside a sentence (bold, in the seeds), and
    # keeps the spaces cleaning took out ("新快报记者 郑志辉"); a single-line quote stands in its line as
    # it is, where the line is no HTML.
    fallback = [s.quote for s in sentences if s.quote != s.text]
    assert all("**" in quote or " " in quote for quote in fallback), fallback
    marked = [quote for quote in fallback if "**" in quote]
    lines = path.read_text(encoding="utf-8").split("\n")
    assert all(s.quote in lines[s.line_start - 1] for s in sentences
               if s.line_start == s.line_end and "**" not in s.quote and "<" not in lines[s.line_start - 1])
    assert len(marked) <= 0.15 * len(sentences)


def test_seed_noise_is_gone():
    texts = {p.name: read_article(SourceFile(p, p.name, "")).text for p in SEEDS.glob("*.txt")}
    joined = "\n".join(texts.values())
    for noise in ("mmbiz.qpic.cn", "<div>", "<p>", "![](", "showToc", "点这里", "一键三连", "东京街 道上", "公益广告"):
        assert noise not in joined
    assert "东京街道上" in texts["003_4150582dbce200e9.txt"]


def test_titles_come_from_the_articles():
    titles = {p.name[:3]: read_article(SourceFile(p, p.name, "")).title for p in SEEDS.glob("*.txt")}
    assert titles["001"] == "Sora爆火，一次典型的OpenAI式胜利"
    assert titles["004"].startswith("“Sora概念股”一片红")
    assert titles["002"].startswith("59秒视频质量媲美")


def test_gbk_and_gb18030_files_are_read():
    text = "文生视频模型Sora发布了。"
    assert decode(text.encode("gbk"), "a.txt") == text
    assert decode(text.encode("gb18030"), "a.txt") == text
    assert decode(("\ufeff" + text).encode("utf-8"), "a.txt") == text


def test_undecodable_file_is_refused_with_its_name():
    with pytest.raises(CorpusError, match="bad.txt.*UTF-8"):
        decode(bytes(range(128, 256)) * 4, "bad.txt")
    with pytest.raises(CorpusError, match="binary"):
        decode(b"\x89PNG\x00\x00\x01", "image.txt")


def test_missing_corpus_folder_says_what_to_pass(tmp_path):
    with pytest.raises(CorpusError, match="--corpus"):
        list_sources(tmp_path / "nope")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_as_text(encoding):
    text = "文生视频模型Sora发布了。\n一位时尚女性走在东京街道上，时长60秒。\nOpenAI said so on 16 February.\n"
    assert decode(text.encode(encoding), "a.txt") == text
    with pytest.raises(CorpusError, match="binary"):
        decode(bytes(range(256)) * 8, "noise.txt")  # zeros on both halves: not text in any byte order


def test_old_mac_line_breaks_are_line_breaks_for_citations_and_the_sources_route(tmp_path):
    from rag.ingest.sources import source_lines

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    raw = "# 苹果公司发布新手机\r\r苹果公司今天发布了新手机。\r新手机的价格是五千元。\r\r这款手机有三个摄像头。\r"
    (corpus / "mac.txt").write_bytes(raw.encode("utf-8"))
    (corpus / "dos.txt").write_bytes(raw.replace("\r", "\r\n").encode("utf-8"))
    for name in ("mac.txt", "dos.txt"):
        article = read_article(SourceFile(corpus / name, f"corpus/{name}", ""))
        shown = source_lines(corpus, f"corpus/{name}")
        assert shown.total_lines == 6 and shown.lines[2] == "苹果公司今天发布了新手机。"
        cited = {s.quote: (s.line_start, s.line_end) for s in article_sentences(article, 0)}
        assert cited["新手机的价格是五千元。"] == (4, 4) and cited["这款手机有三个摄像头。"] == (6, 6)
        for quote, (start, end) in cited.items():
            assert quote in "".join(shown.lines[start - 1 : end])
