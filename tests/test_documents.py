"""PDF (text layer, lines numbered per page) and DOCX (a line per paragraph) articles: cited to the right
page and line, shown in the sources as indexed; unreadable documents are skipped with one line saying why."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.apps.service import Service
from rag.embedding import load_embedder
from rag.index.build import build_index

from support import fake_settings, write_corpus


def tiny_pdf(pages: list[list[str]]) -> bytes:
    """Return a PDF whose pages show these lines of text (any BMP characters) in a text layer pypdf reads."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /U def "
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange "
            b"1 beginbfrange <0000> <FFFF> <0000> endbfrange endcmap CMapName currentdict /CMap defineresource pop end end")
    tounicode = add(b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream")
    descendant = add(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Plain /CIDSystemInfo "
                     b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>")
    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /Plain /Encoding /Identity-H "
               b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (descendant, tounicode))
    pages_id = len(objects) + 1 + 2 * len(pages)
    kids = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 14 TL 50 750 Td"]
        for line in lines:
            ops.append(b"<" + line.encode("utf-16-be").hex().encode() + b"> Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def tiny_docx(paragraphs: list[str], table: list[list[str]] = ()) -> bytes:
    """Return a .docx with these paragraphs, then a table of these rows, written by python-docx."""
    from docx import Document

    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for cells, row in zip(table, grid.rows):
            for text, cell in zip(cells, row.cells):
                cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    """Return a PDF with a text layer that opens only with a password."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(tiny_pdf([["机密文件的内容。"]]))))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_pdf() -> bytes:
    """Return a PDF whose page has no text layer, as a scan without OCR is."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """Return a .docx-named zip whose document part expands a thousandfold."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", " " * (16 * 1024 * 1024))
    return out.getvalue()


PDF_PAGES = [["# 差旅制度", "出差补贴每天300元。", "住宿标准按城市分级。"],
             ["报销需要在30天内提交。", "发票必须是原件，复印件不予报销。"]]
DOCX_PARAGRAPHS = ["会议室预订办法", "会议室需要提前一天在系统里预订。", "每次预订最长四个小时。"]
# An HTML table whose second row lays its cells out over several lines.
ABROAD_HTML = """<html><head><title>海外住宿标准</title></head><body><p>海外出差的住宿上限见下表。</p>
<table>
<tr><th>国家</th><th>每晚上限</th></tr>
<tr>
  <td>日本</td>
  <td>1200元</td>
</tr>
<tr><td>美国</td><td><b>1500</b>元</td></tr>
</table></body></html>
"""
DOCX_TABLE = [["房间", "座位", "投影仪"], ["大会议室", "20人", "有"], ["小会议室", "6人", "无"]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = write_corpus(tmp_path_factory.mktemp("documents"), {"note.txt": "# 食堂\n\n食堂中午十二点开门。\n",
                                                                  "abroad.html": ABROAD_HTML})
    (folder / "travel.pdf").write_bytes(tiny_pdf(PDF_PAGES))
    (folder / "rooms.docx").write_bytes(tiny_docx(DOCX_PARAGRAPHS, DOCX_TABLE))
    (folder / "scanned.pdf").write_bytes(scanned_pdf())
    (folder / "locked.pdf").write_bytes(encrypted_pdf())
    (folder / "setup.pdf").write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64))
    (folder / "bomb.docx").write_bytes(zip_bomb_docx())
    return folder


def test_unreadable_documents_are_skipped_with_one_line_each(corpus, tmp_path):
    settings = fake_settings(tmp_path, corpus)
    report = build_index(settings, load_embedder(settings))
    assert set(report.added) == {"corpus/note.txt", "corpus/abroad.html", "corpus/travel.pdf", "corpus/rooms.docx"}
    reasons = dict(report.skipped)
    assert set(reasons) == {"corpus/scanned.pdf", "corpus/locked.pdf", "corpus/setup.pdf", "corpus/bomb.docx"}
    assert "no text layer" in reasons["corpus/scanned.pdf"]
    assert "encrypted" in reasons["corpus/locked.pdf"]
    assert "is not a PDF" in reasons["corpus/setup.pdf"]
    assert "over the limits" in reasons["corpus/bomb.docx"]
    assert all("\n" not in reason for reason in reasons.values())


@pytest.fixture(scope="module")
def service(corpus, tmp_path_factory) -> Service:
    settings = fake_settings(tmp_path_factory.mktemp("documents-index"), corpus, rate_limit_per_minute=0)
    ready = Service(settings).start()
    assert ready.wait(120) and ready.assistant is not None, ready.error
    return ready




def _shown(client: TestClient, citation: dict) -> dict:
    response = client.get(f"/api/sources/{citation['file']}?start={citation['line_start']}&end={citation['line_end']}")
    assert response.status_code == 200, response.text
    body = response.json()
    clean = "".join("".join(line["clean"] for line in body["lines"]).split())
    assert "".join(citation["quote"].split()) in clean, (citation, body)
    return body


def test_a_pdf_answer_cites_the_page_and_the_line_on_it(client, handlers):
    answer = client.post("/api/ask", json={"question": "发票复印件可以报销吗"}).json()
    assert not answer["refused"], answer
    citation = next(c for c in answer["citations"] if c["file"] == "corpus/travel.pdf")
    assert "复印件不予报销" in citation["quote"]
    assert (citation["page"], citation["page_line"]) == (2, 2)
    body = _shown(client, citation)
    assert [(line["page"], line["page_line"]) for line in body["lines"]] == [(2, 2)]
    href = f"#src/cite/{citation['n']}/{citation['line_start']}-{citation['line_end']}/corpus%2Ftravel.pdf"
    panel = handlers.open_source(href, "zh-CN")
    assert "第 2 页第 2 行" in panel and "复印件不予报销" in panel


def test_a_docx_answer_cites_its_paragraph_as_a_line(client):
    answer = client.post("/api/ask", json={"question": "会议室每次预订最长几个小时"}).json()
    assert not answer["refused"], answer
    citation = next(c for c in answer["citations"] if c["file"] == "corpus/rooms.docx")
    assert "四个小时" in citation["quote"]
    assert (citation["line_start"], citation["line_end"]) == (3, 3) and "page" not in citation
    body = _shown(client, citation)
    assert body["lines"][0]["text"] == DOCX_PARAGRAPHS[2]


def _answered_from(client: TestClient, question: str, file: str) -> tuple[dict, list[dict], str]:
    """Ask; return the answer, its citations of `file` and their quotes run together."""
    answer = client.post("/api/ask", json={"question": question}).json()
    assert not answer["refused"], answer
    cited = [c for c in answer["citations"] if c["file"] == file]
    return answer, cited, "".join(c["quote"] for c in cited)


def test_a_docx_table_row_answers_read_with_its_header(client):
    answer, cited, quoted = _answered_from(client, "大会议室有多少个座位", "corpus/rooms.docx")
    # The row, after the paragraphs, one line a row, with the header that names its columns.
    assert "| 房间 | 座位 | 投影仪 |" in quoted and "| 大会议室 | 20人 | 有 |" in quoted, answer
    header = next(c for c in cited if c["quote"].startswith("| 房间"))
    assert header["line_start"] == len(DOCX_PARAGRAPHS) + 1
    assert "20人" in answer["answer"]


def test_an_html_table_row_answers_as_a_row_the_sources_panel_marks(client):
    answer, cited, quoted = _answered_from(client, "去美国出差住宿每晚上限是多少", "corpus/abroad.html")
    assert "| 国家 | 每晚上限 |" in quoted and "| 美国 | 1500元 |" in quoted, answer
    for citation in cited:
        _shown(client, citation)  # each quote stands in the clean lines the panel shows


def test_a_docx_is_titled_by_its_title_or_first_heading_paragraph(tmp_path):
    # It was titled by its first body paragraph, and its suggested question read "会议室需提前一天…讲了什么？".
    from docx import Document

    from rag.ingest.corpus import SourceFile, read_article

    def titled(add_heading) -> str:
        document = Document()
        add_heading(document)
        document.add_paragraph("会议室需提前一天在OA系统预订，每次预订最长4小时。")
        path = tmp_path / "rooms.docx"
        document.save(str(path))
        return read_article(SourceFile(path, "corpus/rooms.docx", "")).title

    assert titled(lambda d: d.add_heading("会议室预订规定", level=1)) == "会议室预订规定"
    assert titled(lambda d: d.add_heading("会议室预订规定", level=0)) == "会议室预订规定"  # Word's Title style
    assert titled(lambda d: None) == "会议室需提前一天在OA系统预订，每次预订最长4小时"  # none: its first sentence
