from __future__ import annotations

import json

import numpy as np
import pytest
from test_damage import rehash

from rag.embedding import HashingEmbedder, check_precision
from rag.embedding.reader import READER_DIMENSION, READER_NAME, shared_reader
from rag.errors import CorpusError, IndexDamagedError, IndexMismatchError, IndexMissingError
from rag.index.build import build_index, stale_reason
from rag.index.store import FORMAT_VERSION, load_index
from rag.retrieval.search import hybrid_search
from rag.settings import SettingsError

from support import SEEDS, TINY, fake_settings, write_corpus


class CountingEmbedder(HashingEmbedder):
    """The fake embedder, counting the passages it is asked to embed and optionally failing midway."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__(64)
        self.embedded: list[str] = []
        self.fail_after = fail_after

    def encode_passages(self, texts, progress=None):
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise RuntimeError("power cut")
        self.embedded.extend(texts)
        return super().encode_passages(texts, progress)


def _search(settings, question="香蕉"):
    index = load_index(settings)
    embedder = HashingEmbedder(64)
    from rag.index.lexical import shared_tokenizer

    hits = hybrid_search(index, embedder.encode_queries([question])[0], shared_tokenizer().tokens(question), 5, settings)
    return [(h.chunk.file, h.chunk.text, h.chunk.line_start) for h in hits]


def test_round_trip_build_save_load_gives_the_same_hits(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, HashingEmbedder(64))
    first = _search(settings)
    assert first[0][0] == "corpus/b.md"
    index = load_index(settings)
    rows = index.vectors.passage_vectors(np.arange(len(index.vectors)))
    assert rows.dtype == np.float32 and np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert len(index.vectors) == len(index.chunks) == rows.shape[0] and index.vectors.dimension == 64
    assert first == _search(settings)


HANDBOOK = {"handbook.md": (
    "# 员工手册\n\n## 差旅报销\n\n"
    "员工因公外出须提前在OA系统提交出差申请，写明目的地、行程和预算，经直属主管批准后方可预订交通和酒店。未经批准自行出行的费用一律不予受理。\n\n"
    "机票一律预订经济舱，高铁预订二等座；行程临时变更的，须在出发前告知行政部并重新提交申请，改签产生的费用随行程单一并提交。\n\n"
    "住宿标准为一线城市每晚五百元，其他城市每晚三百五十元，超出部分由个人承担。返回后十个工作日内提交发票原件。\n\n"
    "## 年假\n\n工作满一年的员工每年享有五天带薪年假，满十年的享有十天，须提前一周在系统中申请。\n\n"
    "当年未休完的天数可顺延至次年三月底，逾期作废；因工作安排未能休假的，经部门负责人确认后按日工资的两倍折算。\n")}


def test_a_passage_is_searched_under_its_sections_headings(tmp_path):
    # The third paragraph under "## 差旅报销" never says 差旅 or 报销: a question naming the section still finds it by
    # its words, as a reader finds a paragraph under its heading. The heading is searched, never quoted.
    settings = fake_settings(tmp_path, write_corpus(tmp_path, HANDBOOK), chunk_size=100, chunk_overlap=20)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    lodging = next(c for c in index.chunks if "住宿标准" in c.text)
    assert "差旅" not in lodging.text and lodging.section == "差旅报销"
    carried = next(c for c in index.chunks if "顺延" in c.text)
    assert carried.section == "" and carried.text.startswith("年假")  # a passage that holds its heading
    from rag.index.lexical import shared_tokenizer

    scores = index.lexical.scores(shared_tokenizer().tokens("差旅报销"))
    under = {c.chunk_id for c in index.chunks if "差旅报销" in c.section or "差旅报销" in c.text}
    assert scores[lodging.chunk_id] > 0 and {i for i in range(len(index.chunks)) if scores[i] > 0} == under
    assert lodging.chunk_id in {i for i, _ in index.lexical.top(shared_tokenizer().tokens("差旅报销的住宿标准"), 1)}


def test_each_sentence_is_also_embedded_on_its_own(tmp_path):
    # The ranking reads these for questions in another language than the articles' (rag/answer/ranking.py).
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    embedder = HashingEmbedder(64)
    build_index(settings, embedder)
    index = load_index(settings)
    ids = np.arange(len(index.sentences))
    alone = index.vectors.alone_vectors(ids)
    assert alone is not None and alone.shape == (len(ids), 64)
    assert np.allclose(alone, embedder.encode_passages([index.sentences[int(i)].text for i in ids]), atol=2e-3)
    assert "sentence_alone_vectors.npy" in json.loads((settings.index.index_dir / "manifest.json").read_text(encoding="utf-8"))["files"]


def test_each_sentence_is_read_by_the_second_reader(tmp_path):
    # The answer-sentence ranking reads these beside the embedder's (rag/answer/ranking.py); an unchanged article's
    # readings are reused by the next build, a changed one's are read again.
    corpus = write_corpus(tmp_path, TINY)
    settings = fake_settings(tmp_path, corpus)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    ids = np.arange(len(index.sentences))
    read = index.vectors.reader_vectors(ids)
    expected = shared_reader().read([index.sentences[int(i)].text for i in ids])
    assert read is not None and read.shape == (len(ids), READER_DIMENSION)
    assert np.allclose(read, expected, atol=2e-3)
    manifest = json.loads((settings.index.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert "sentence_reader_vectors.npy" in manifest["files"] and manifest["dense"]["reader"] == READER_NAME

    changed = sorted(corpus.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n新加的一句话，说的是苹果很好吃。\n", encoding="utf-8")
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    ids = np.arange(len(index.sentences))
    texts = [index.sentences[int(i)].text for i in ids]
    assert "新加的一句话，说的是苹果很好吃。" in texts
    assert np.allclose(index.vectors.reader_vectors(ids), shared_reader().read(texts), atol=2e-3)


def test_manifest_records_model_settings_counts_and_hashes(tmp_path):
    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    manifest = json.loads((settings.index.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"]["name"] == "hash:64" and manifest["model"]["dimension"] == 64
    assert manifest["chunking"]["chunk_size"] == settings.index.chunk_size
    assert manifest["counts"]["articles"] == 5
    assert all(len(a["sha256"]) == 64 for a in manifest["articles"])
    assert "cosine" in manifest["model"]["similarity"] and manifest["built_at"]
    chunk_lines = (settings.index.index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(chunk_lines) == manifest["counts"]["chunks"]
    assert "文生视频" in "".join(chunk_lines)  # UTF-8, not \\u escapes


def test_loading_with_another_model_or_chunking_says_how_to_rebuild(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, HashingEmbedder(64))
    with pytest.raises(IndexMismatchError, match=r"embed_model='hash:64'.*python -m rag build"):
        load_index(settings.with_overrides(embed_model="hash:32"))
    with pytest.raises(IndexMismatchError, match="chunk_size"):
        load_index(settings.with_overrides(chunk_size=999))


def test_missing_and_damaged_indexes_say_how_to_build(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    with pytest.raises(IndexMissingError, match="python -m rag build"):
        load_index(settings)
    build_index(settings, HashingEmbedder(64))
    sentences = settings.index.index_dir / "sentences.jsonl"
    sentences.write_text(sentences.read_text(encoding="utf-8").replace('"quote"', '"quoted"'), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(settings)
    (settings.index.index_dir / "chunks.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(settings)


def test_incremental_build_embeds_only_added_and_changed_articles(tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = fake_settings(tmp_path, corpus)
    build_index(settings, HashingEmbedder(64))
    before = {c.text for c in load_index(settings).chunks if c.file == "corpus/a.txt"}

    (corpus / "b.md").write_text("---\ntitle: 香蕉\n---\n\n香蕉是黄色的，猴子很喜欢吃香蕉。\n", encoding="utf-8")
    (corpus / "c.html").unlink()
    (corpus / "d.txt").write_text("葡萄可以酿酒。\n", encoding="utf-8")
    embedder = CountingEmbedder()
    report = build_index(settings, embedder)

    assert report.changed == ("corpus/b.md",) and report.added == ("corpus/d.txt",)
    assert report.removed == ("corpus/c.html",) and report.unchanged == ("corpus/a.txt",)
    assert all("苹果" not in text for text in embedder.embedded)  # a.txt was reused, not re-embedded
    index = load_index(settings)
    assert {c.file for c in index.chunks} == {"corpus/a.txt", "corpus/b.md", "corpus/d.txt"}
    assert {c.text for c in index.chunks if c.file == "corpus/a.txt"} == before
    assert "猴子" in _search(settings, "猴子吃什么")[0][1]
    # Reused rows still point at their own sentences after renumbering.
    for chunk in index.chunks:
        assert all(index.sentences[i].file == chunk.file for i in chunk.sentence_ids)
    assert stale_reason(settings) is None


def test_an_interrupted_build_leaves_the_previous_index_whole(tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = fake_settings(tmp_path, corpus)
    build_index(settings, HashingEmbedder(64))
    before = _search(settings)
    (corpus / "e.txt").write_text("西瓜很甜。" * 50, encoding="utf-8")
    with pytest.raises(RuntimeError, match="power cut"):
        build_index(settings, CountingEmbedder(fail_after=0))
    assert _search(settings) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "index"]  # no half-written folders left
    assert "added" in stale_reason(settings)


def test_one_unreadable_article_does_not_stop_the_others(tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    (corpus / "bad.txt").write_bytes(bytes(range(128, 256)) * 8)
    (corpus / "gbk.txt").write_bytes("葡萄可以酿成葡萄酒。".encode("gbk"))
    settings = fake_settings(tmp_path, corpus)
    report = build_index(settings, HashingEmbedder(64))
    assert [name for name, _ in report.skipped] == ["corpus/bad.txt"]
    assert "UTF-8" in report.skipped[0][1]
    assert any("葡萄酒" in c.text for c in load_index(settings).chunks)


def test_a_folder_that_is_not_an_index_is_never_replaced(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    settings.index.index_dir.mkdir()
    (settings.index.index_dir / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="not an index"):
        build_index(settings, HashingEmbedder(64))
    assert (settings.index.index_dir / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_empty_corpus_says_what_to_add(tmp_path):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError, match="add articles"):
        build_index(fake_settings(tmp_path, tmp_path / "corpus"), HashingEmbedder(64))


def test_source_lines_serve_corpus_articles_and_nothing_else(tmp_path):
    from rag.ingest.sources import SourceNotFoundError, source_lines

    corpus = write_corpus(tmp_path, TINY)
    (tmp_path / "secret.txt").write_text("password", encoding="utf-8")
    (corpus / "link.txt").symlink_to(tmp_path / "secret.txt")
    got = source_lines(corpus, "corpus/a.txt", 3, 3)
    assert got.lines == ("苹果公司今天发布了新手机。新手机的价格是五千元。",) and got.total_lines == 5
    for bad in ("corpus/../secret.txt", "/etc/passwd", str(tmp_path / "secret.txt"), "corpus/link.txt", "corpus/none.txt", "other/a.txt"):
        with pytest.raises(SourceNotFoundError):
            source_lines(corpus, bad)


def test_rows_are_read_by_id_and_equal_the_files_rows(tmp_path):
    from rag.records import Chunk, Sentence

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    lines = (settings.index.index_dir / "sentences.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(index.sentences) == len(lines) > 300

    def parse(line: str) -> Sentence:
        row = json.loads(line)
        return Sentence(**{**row, "terms": tuple(row["terms"])})

    for i in (0, 17, len(lines) - 1):
        assert index.sentences[i] == parse(lines[i])
    assert index.sentences[-1] == index.sentences[len(lines) - 1]
    assert index.sentences[5:8] == [parse(line) for line in lines[5:8]]
    chunk = index.chunks[42]
    assert isinstance(chunk, Chunk) and chunk.chunk_id == 42 and chunk.sentence_ids
    assert all(index.sentences[i].file == chunk.file for i in chunk.sentence_ids)
    assert [c.chunk_id for c in index.chunks] == list(range(len(index.chunks)))
    with pytest.raises(IndexError):
        index.chunks[len(index.chunks)]


def test_answers_from_rows_read_on_demand_equal_answers_from_rows_in_memory(tmp_path):
    import dataclasses

    from rag.answer.assistant import Assistant
    from rag.index.lexical import shared_tokenizer

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    lazy = load_index(settings)
    held = dataclasses.replace(lazy, chunks=tuple(lazy.chunks), sentences=tuple(lazy.sentences))
    for question in ("Sora是在哪一天发布的？", "Adobe股价跌了多少？", "What did OpenAI release?"):
        a = Assistant(settings, lazy, HashingEmbedder(64), shared_tokenizer()).ask(question)
        b = Assistant(settings, held, HashingEmbedder(64), shared_tokenizer()).ask(question)
        assert (a.text, a.citations, a.hits, a.confidence) == (b.text, b.citations, b.hits, b.confidence)


def test_a_row_damaged_in_place_says_how_to_rebuild_when_read(tmp_path):
    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    path = settings.index.index_dir / "sentences.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[100] = lines[100].replace(b'"quote"', b'"quota"')  # same length: the offsets still fit
    path.write_bytes(b"\n".join(lines))
    rehash(settings.index.index_dir)  # damage beyond the hashing budget that the sampled hash misses
    index = load_index(settings)
    assert index.sentences[99].sentence_id == 99
    with pytest.raises(IndexDamagedError, match=r"^index damaged: sentences.jsonl: TypeError in row 100 .*python -m rag build`$"):
        index.sentences[100]


def test_an_index_of_the_previous_format_says_to_rebuild_and_a_build_replaces_it(tmp_path):
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, HashingEmbedder(64))
    manifest_path = settings.index.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format_version"] = 1
    del manifest["checksum"], manifest["files"]  # format 1 had neither
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    (settings.index.index_dir / "chunks.offsets.npy").unlink()  # format 1 had no offsets
    with pytest.raises(IndexMismatchError, match=rf"has format 1, this version reads {FORMAT_VERSION}: run `python -m rag build`"):
        load_index(settings)
    assert "format 1" in stale_reason(settings)
    report = build_index(settings, HashingEmbedder(64))
    assert len(report.added) == 3 and not report.unchanged  # nothing reused from the old format
    assert _search(settings)[0][0] == "corpus/b.md"


def test_an_unknown_embedding_precision_is_a_one_line_error_that_says_what_to_use():
    with pytest.raises(SettingsError, match="RAG_EMBED_PRECISION='half' is not one of auto, float32, bfloat16"):
        check_precision("half")
    assert check_precision("float32") == "float32"


def test_the_manifest_reads_back_as_typed_records_and_writes_the_same_json(tmp_path):
    from rag.index.manifest import ArticleEntry, Manifest
    from rag.index.store import read_manifest

    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, HashingEmbedder(64))
    on_disk = json.loads((settings.index.index_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest = read_manifest(settings.index.index_dir)
    assert manifest.model.name == "hash:64" and manifest.model.dimension == 64
    assert (manifest.counts.articles, manifest.counts.chunks) == (3, len(load_index(settings).chunks))
    assert all(isinstance(a, ArticleEntry) and len(a.sha256) == 64 for a in manifest.articles)
    assert manifest.to_json() == on_disk and list(manifest.to_json()) == list(on_disk)  # same keys, same order
    assert Manifest.from_json(on_disk, settings.index.index_dir) == manifest


@pytest.mark.parametrize("part, value", [
    ("counts", {"articles": 3, "chunks": "many", "sentences": 1}),
    ("model", {"name": "hash:64", "dimension": "64"}),
    ("articles", [{"file": "a.md", "title": "a", "sha256": "0", "chunks": [0], "sentences": [0, 1]}]),
    ("skipped", [{"reason": "too big"}]),
])
def test_the_manifest_reader_turns_a_part_of_another_type_into_the_one_line_damaged_error(tmp_path, part, value):
    from rag.index.integrity import manifest_checksum
    from rag.index.manifest import Manifest

    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, HashingEmbedder(64))
    manifest = json.loads((settings.index.index_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest[part] = value
    manifest["checksum"] = manifest_checksum(manifest)  # the checksum agrees: only the types can tell
    with pytest.raises(IndexDamagedError, match=rf"^index damaged: manifest.json's {part} do not have the types .*build`$"):
        Manifest.from_json(manifest, settings.index.index_dir)


def test_a_mismatch_says_its_reason_without_its_message_being_parsed(tmp_path):
    import dataclasses

    from rag.index.store import replace_folder

    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    build_index(settings, HashingEmbedder(64))
    reasons = {}
    for name, changed in (("model", {"embed_model": "hash:32"}), ("settings", {"chunk_size": 99})):
        with pytest.raises(IndexMismatchError) as error:
            load_index(dataclasses.replace(settings, **changed))
        reasons[name] = error.value.reason
        assert error.value.detail == stale_reason(dataclasses.replace(settings, **changed))
        assert "run `python -m rag build`" in str(error.value) and "run `" not in error.value.detail
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", encoding="utf-8")
    staged = tmp_path / "staged"
    staged.mkdir()
    with pytest.raises(IndexMismatchError) as error:
        replace_folder(staged, tmp_path / "other")
    reasons["not_an_index"] = error.value.reason
    (settings.index.index_dir / "vectors.npy").write_bytes(b"")
    with pytest.raises(IndexMismatchError) as error:
        load_index(settings)
    reasons["damaged"] = error.value.reason
    assert reasons == {"model": "model", "settings": "settings", "not_an_index": "not_an_index", "damaged": "damaged"}


def test_a_line_that_breaks_off_a_sentence_heads_no_section(tmp_path):
    # A news page broke "……很多人还 / 是被震撼到了。" across paragraphs: the first piece ends no sentence and is short, as a
    # heading is, but a phrase never ends on 还, and the passage after it is searched under no heading of it.
    article = ("# 文转片\n\n## 1 Sora 牛在哪？\n\n根据 OpenAI 发布的示范，只需一段二三十字的指令就能生成一分钟的影片，画面逼真，镜头流畅。\n\n"
               "不过，在看到公布的几十条示范视频的逼真性和清晰度后，很多人还\n\n是被震撼到了。比如那条雪地上撒欢的大狗，毛发丝丝闪亮发光。\n\n"
               "有网友在评论时称，皮克斯动画制作公司要完蛋了，连向来不对付的马斯克也说人类愿赌服输。\n")
    settings = fake_settings(tmp_path, write_corpus(tmp_path, {"a.md": article}), chunk_size=60, chunk_overlap=0)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    after = [c for c in index.chunks if "震撼" in c.text or "皮克斯" in c.text]
    assert after and all(c.section == "1 Sora 牛在哪？" for c in after if not c.text.startswith("1 Sora")), after


def test_a_rebuilt_folder_is_swapped_in_so_a_reader_never_finds_the_index_missing(tmp_path, monkeypatch):
    # `rag watch` rebuilds a knowledge base while the page serves it: with two renames there was a moment with no
    # folder, and a reader then found no manifest (CI's watch test read one in that moment, on a loaded machine).
    import os
    import shutil

    import rag.index.store as store

    target, staged = tmp_path / "notes", tmp_path / ".notes.tmp"
    for folder, text in ((target, "old"), (staged, "new")):
        folder.mkdir()
        (folder / "manifest.json").write_text(text, encoding="utf-8")
    seen = []

    def reading(real):
        def call(*args, **kwargs):
            manifest = target / "manifest.json"
            seen.append(manifest.read_text(encoding="utf-8") if manifest.exists() else "missing")
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(store.os, "rename", reading(os.rename))
    monkeypatch.setattr(store.shutil, "rmtree", reading(shutil.rmtree))
    store.replace_folder(staged, target)
    assert (target / "manifest.json").read_text(encoding="utf-8") == "new" and not staged.exists()
    assert seen and "missing" not in seen
    # Where folders cannot be swapped in one step, two renames still replace it.
    monkeypatch.setattr(store, "_exchange", lambda staged, target: False)
    staged.mkdir()
    (staged / "manifest.json").write_text("newer", encoding="utf-8")
    store.replace_folder(staged, target)
    assert (target / "manifest.json").read_text(encoding="utf-8") == "newer" and not staged.exists()
    assert not (tmp_path / "notes.old").exists()
