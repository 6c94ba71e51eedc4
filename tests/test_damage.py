"""A damaged index: every file cut, garbled, deleted or of the wrong type gives the one-line "index damaged:
... run `python -m rag build`" error (at load, or at the first question that can see it), never a traceback or a
changed answer; the server reports it; a build repairs it; killed builds' folders are cleaned up."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.answer.assistant import Assistant
from rag.embedding import HashingEmbedder
from rag.errors import IndexDamagedError, RagError
from rag.index import integrity
from rag.index.build import build_index, remove_abandoned, stale_reason
from rag.index.integrity import file_records, manifest_checksum
from rag.index.store import FILES, load_index

from support import TINY, fake_settings, write_corpus

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("香蕉富含什么？", "新手机的价格是多少？", "明天北京天气怎么样？")
MODES = ("truncate", "garble", "delete", "empty", "wrong_type")
ENDING = "run `python -m rag build`"


def _wrong_type(path: Path) -> None:
    """Replace the file with a well-formed file of the wrong JSON type or content type."""
    name = path.name
    if name == "manifest.json":
        path.write_text("[]", encoding="utf-8")
    elif name == "vocabulary.json":
        path.write_text('{"香蕉": 0}', encoding="utf-8")
    elif name.endswith(".jsonl"):
        rows = path.read_bytes().count(b"\n")
        path.write_bytes(b"[1, 2]\n" * rows)
    elif name.endswith(".offsets.npy"):
        np.save(path, np.linspace(0, 1, 7), allow_pickle=False)
    elif name.endswith(".npy"):
        np.save(path, np.zeros((3, 4, 5), dtype=np.int32), allow_pickle=False)
    elif name == "dense.faiss":
        faiss.write_index(faiss.IndexFlatL2(8), str(path))
    elif name == "lexical.npz":
        np.savez(path.with_suffix(""), weights=np.arange(6))
    else:
        raise AssertionError(name)


def damage(path: Path, mode: str) -> None:
    """Damage one file the way a disk, a copy or a person does."""
    data = path.read_bytes()
    if mode == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif mode == "garble":  # 64 bytes in the middle, each changed
        middle = max(0, len(data) // 2 - 32)
        garbled = bytes(b ^ 0x5A for b in data[middle : middle + 64])
        path.write_bytes(data[:middle] + garbled + data[middle + 64 :])
    elif mode == "delete":
        path.unlink()
    elif mode == "empty":
        path.write_bytes(b"")
    elif mode == "wrong_type":
        _wrong_type(path)


def rehash(folder: Path) -> None:
    """Make the manifest's checksums agree with the files as they are now: damage the checksums cannot see,
    as when a file comes from another build or lies beyond the hashing budget and the sample misses it."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return  # the manifest itself is what is damaged
    if not isinstance(manifest, dict):
        return
    manifest["files"] = file_records(folder, [name for name in FILES if (folder / name).exists()])
    manifest["checksum"] = manifest_checksum(manifest)
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def answers(assistant: Assistant) -> list[tuple]:
    """Return what a user sees of each question's answer."""
    out = []
    for question in QUESTIONS:
        answer = assistant.ask(question)
        out.append((answer.text, answer.refused, answer.citations, [(h.chunk, round(h.score, 6)) for h in answer.hits]))
    return out


def assert_damaged(error: BaseException) -> None:
    assert isinstance(error, IndexDamagedError), repr(error)
    message = str(error)
    assert message.startswith("index damaged: ") and message.endswith(ENDING) and "\n" not in message


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[tuple]]:
    """A whole index over TINY, and the answers it gives."""
    folder = tmp_path_factory.mktemp("whole")
    settings = fake_settings(folder, write_corpus(folder, TINY))
    build_index(settings, HashingEmbedder(64))
    return settings.index.index_dir, answers(Assistant.load(settings, HashingEmbedder(64)))


def copy_of(built_index: Path, tmp_path: Path):
    """Return settings over a fresh copy of the whole index (and its corpus)."""
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY))
    settings.index.index_dir.mkdir()
    for path in built_index.iterdir():
        (settings.index.index_dir / path.name).write_bytes(path.read_bytes())
    return settings


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [*FILES, "manifest.json"])
def test_every_damaged_file_gives_the_one_line_error_at_load_and_a_build_repairs_it(built, tmp_path, name, mode):
    index_dir, whole = built
    settings = copy_of(index_dir, tmp_path)
    damage(settings.index.index_dir / name, mode)
    with pytest.raises(IndexDamagedError) as error:
        load_index(settings)
    assert_damaged(error.value)
    assert name in str(error.value)
    with pytest.raises(IndexDamagedError) as error:
        Assistant.load(settings, HashingEmbedder(64))
    assert_damaged(error.value)

    build_index(settings, HashingEmbedder(64))  # what the message says to do
    assert answers(Assistant.load(settings, HashingEmbedder(64))) == whole


@pytest.mark.parametrize("mode", ("truncate", "garble", "empty", "wrong_type"))
@pytest.mark.parametrize("name", [*FILES, "manifest.json"])
def test_damage_the_checksums_cannot_see_is_never_a_traceback(built, tmp_path, name, mode):
    """With the checksums made to agree, every reader still turns what it cannot read into the damaged error,
    at load or at the question that reads it; only changed numbers inside a file can pass unseen."""
    index_dir, _ = built
    settings = copy_of(index_dir, tmp_path)
    damage(settings.index.index_dir / name, mode)
    rehash(settings.index.index_dir)
    try:
        assistant = Assistant.load(settings, HashingEmbedder(64))
        answers(assistant)
    except RagError as error:
        assert_damaged(error)
    else:
        # Garbled vector values or bytes inside a string of a row read by no question stay unseen here.
        assert mode == "garble", f"{name} {mode} went unnoticed"


def test_a_row_damaged_in_place_is_the_damaged_error_when_read_and_every_later_question_too(built, tmp_path):
    from fastapi.testclient import TestClient

    from rag.apps.server.app import create_app
    from rag.apps.service import Service
    from rag.apps.web.chat import ChatHandlers

    settings = copy_of(built[0], tmp_path)
    path = settings.index.index_dir / "chunks.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"title"', b'"titel"')  # same length: the offsets still fit
    path.write_bytes(b"\n".join(lines))
    rehash(settings.index.index_dir)

    service = Service(settings, prepare=lambda s: Assistant.load(s, HashingEmbedder(64)))
    service.run()
    client = TestClient(create_app(service))
    assert client.get("/api/health").json()["status"] == "ready"
    assert service.assistant.index.chunks[0].chunk_id == 0  # the rows around it still read
    response = client.post("/api/ask", json={"question": "新手机的价格是多少？"})
    assert response.status_code == 503
    assert response.json()["error"].startswith("index damaged: chunks.jsonl: TypeError in row 1")
    assert response.json()["error"].endswith(ENDING)
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "failed"
    assert health.json()["message"].startswith("index damaged: ") and health.json()["message"].endswith(ENDING)
    again = client.post("/api/ask", json={"question": "香蕉富含什么？"})  # reads only undamaged rows
    assert again.status_code == 503 and "index damaged: chunks.jsonl" in again.json()["error"]
    banner, _ = ChatHandlers(service).status("en")
    assert "index damaged: chunks.jsonl" in banner and "python -m rag build" in banner


@pytest.mark.parametrize("name", ["vocabulary.json", "manifest.json"])
def test_a_server_started_on_a_damaged_index_says_to_rebuild_in_health_and_the_page(built, tmp_path, name):
    from fastapi.testclient import TestClient

    from rag.apps.server.app import create_app
    from rag.apps.service import Service
    from rag.apps.web.chat import ChatHandlers

    settings = copy_of(built[0], tmp_path)
    damage(settings.index.index_dir / name, "truncate")
    service = Service(settings)  # the server's own start: build if stale, then load
    service.run()
    client = TestClient(create_app(service))
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "failed"
    message = health.json()["message"]
    assert message.startswith(f"index damaged: {name}") and message.endswith(ENDING)
    ask = client.post("/api/ask", json={"question": "香蕉"})
    assert ask.status_code == 503 and ask.json()["error"].endswith(ENDING) and "index damaged" in ask.json()["error"]
    banner, finished = ChatHandlers(service).status("zh")
    assert finished and f"index damaged: {name}" in banner


def test_a_file_beyond_the_hashing_budget_is_checked_whole_in_the_background(tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "SAMPLE_BLOCKS", 2)  # a sample of the first and last 16 bytes
    monkeypatch.setattr(integrity, "SAMPLE_BLOCK_BYTES", 16)
    settings = fake_settings(tmp_path, write_corpus(tmp_path, TINY), index_verify_bytes=0)
    build_index(settings, HashingEmbedder(64))
    whole = answers(Assistant.load(settings, HashingEmbedder(64)))

    damage(settings.index.index_dir / "vectors.npy", "truncate")  # a size the manifest does not record: at load
    with pytest.raises(IndexDamagedError, match="vectors.npy is"):
        load_index(settings)
    build_index(settings, HashingEmbedder(64))
    path = settings.index.index_dir / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x5A  # between the sampled blocks: the load cannot see it
    path.write_bytes(bytes(data))
    release = threading.Event()
    hash_whole = integrity.full_sha256

    def held_back(handle):  # the background check waits until the load has returned
        if threading.current_thread().name == "rag-index-check":
            release.wait(30)
        return hash_whole(handle)

    monkeypatch.setattr(integrity, "full_sha256", held_back)
    assistant = Assistant.load(settings, HashingEmbedder(64))
    assert not assistant.index.health.wait(0)  # loaded, the whole hash still to come
    release.set()
    assert assistant.index.health.wait(30)
    with pytest.raises(IndexDamagedError) as error:
        answers(assistant)
    assert_damaged(error.value)
    assert "vectors.npy does not match its checksum" in str(error.value)

    build_index(settings, HashingEmbedder(64))
    assistant = Assistant.load(settings, HashingEmbedder(64))
    assert assistant.index.health.wait(30) and answers(assistant) == whole


def test_the_cli_says_index_damaged_in_one_line(built, tmp_path, capsys):
    from rag.apps.cli import main

    settings = copy_of(built[0], tmp_path)
    damage(settings.index.index_dir / "manifest.json", "wrong_type")
    code = main(["ask", "香蕉", "--corpus", str(settings.index.corpus_dir), "--index", str(settings.index.index_dir), "--model", "hash:64"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: index damaged: manifest.json is not a JSON object") and err.endswith(ENDING)
    assert "\n" not in err


# --- staging folders left by killed builds ---


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_build_killed_while_writing_leaves_a_folder_the_next_build_removes(tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = fake_settings(tmp_path, corpus)
    build_index(settings, HashingEmbedder(64))
    before = answers(Assistant.load(settings, HashingEmbedder(64)))
    (corpus / "d.txt").write_text("葡萄可以酿酒。\n", encoding="utf-8")
    script = (
        "import os, signal, sys\n"
        "import rag.index.build, rag.index.store, rag.index.stores.files\n"
        "from rag.embedding import HashingEmbedder\n"
        "from rag.settings import load_settings\n"
        "from pathlib import Path\n"
        "def write_and_die(folder, index):\n"
        "    rag.index.store.write_rows(folder / 'chunks.jsonl', [])\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "rag.index.stores.files.write_index = write_and_die\n"
        f"settings = load_settings(env={{}}, corpus_dir=Path({str(corpus)!r}), index_dir=Path({str(tmp_path / 'index')!r}), embed_model='hash:64')\n"
        "rag.index.build.build_index(settings, HashingEmbedder(64))\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".index.tmp-")]
    assert len(left) == 1
    assert answers(Assistant.load(settings, HashingEmbedder(64))) == before  # the old index is untouched

    report = build_index(settings, HashingEmbedder(64))
    assert report.added == ("corpus/d.txt",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "index"]


def test_only_staging_folders_of_builds_no_longer_running_are_removed(tmp_path):
    target = tmp_path / "index"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        folders = {
            "dead": tmp_path / f".index.tmp-{_dead_pid()}",
            "running": tmp_path / f".index.tmp-{sleeper.pid}",  # another build writing right now
            "reused": tmp_path / f".index.tmp-{reused.pid}",  # a dead build's pid, since taken by another process
            "mine": tmp_path / f".index.tmp-{os.getpid()}",
        }
        for folder in folders.values():
            folder.mkdir()
            (folder / "vectors.npy").write_bytes(b"half")
        an_hour_ago = time.time() - 3600
        os.utime(folders["reused"], (an_hour_ago, an_hour_ago))
        (tmp_path / ".other.tmp-1").mkdir()  # another index's: not ours to judge
        removed = remove_abandoned(target)
        assert sorted(removed) == sorted([folders["dead"], folders["reused"], folders["mine"]])
        assert folders["running"].is_dir() and (tmp_path / ".other.tmp-1").is_dir()
    finally:
        sleeper.kill()
        reused.kill()
        sleeper.wait()
        reused.wait()


# --- articles over the size limit, and what a build says it is doing ---


def test_an_article_over_the_size_limit_is_skipped_with_a_message(tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    (corpus / "dump.txt").write_text("日志" * 1000, encoding="utf-8")  # 6,000 bytes
    settings = fake_settings(tmp_path, corpus, max_article_bytes=4000)
    report = build_index(settings, HashingEmbedder(64))
    assert [name for name, _ in report.skipped] == ["corpus/dump.txt"]
    assert "is 6,000 bytes, over the limit of 4,000" in report.skipped[0][1] and "RAG_MAX_ARTICLE_BYTES" in report.skipped[0][1]
    index = load_index(settings)
    assert {c.file for c in index.chunks} == {"corpus/a.txt", "corpus/b.md", "corpus/c.html"}
    assert stale_reason(settings) is None  # a skipped article is not a reason to build again


def test_a_folder_whose_files_are_all_unreadable_is_refused_and_the_index_kept(tmp_path):
    corpus = write_corpus(tmp_path, TINY)
    settings = fake_settings(tmp_path, corpus, max_article_bytes=4000)
    build_index(settings, HashingEmbedder(64))
    for path in list(corpus.iterdir()):
        path.unlink()
    (corpus / "dump.txt").write_text("日志" * 1000, encoding="utf-8")  # over the limit
    (corpus / "empty.md").write_text("", encoding="utf-8")
    with pytest.raises(RagError, match="none of the 2 files .* could be read .*the index was left as it was"):
        build_index(settings, HashingEmbedder(64))
    assert {c.file for c in load_index(settings).chunks} == {"corpus/a.txt", "corpus/b.md", "corpus/c.html"}


def test_the_cli_build_prints_each_stage_and_the_skipped_article(tmp_path, capsys, monkeypatch):
    from rag.apps.cli import main

    corpus = write_corpus(tmp_path, TINY)
    (corpus / "dump.txt").write_text("日志" * 1000, encoding="utf-8")
    monkeypatch.setenv("RAG_MAX_ARTICLE_BYTES", "4000")
    code = main(["build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", "hash:64"])
    err = capsys.readouterr().err
    assert code == 0
    stages = [line for line in err.splitlines() if line.startswith(("reading", "embedding ", "building the dense", "writing"))]
    assert [line.split()[0] for line in stages] == ["reading", "embedding", "reading", "building", "writing"]
    assert stages[0].startswith("reading 4 articles")
    assert stages[2].endswith("sentences with the second reader")
    # The bar counts passages and sentences: the line says both. The skipped file is reported once, named once.
    assert re.search(r"embedding \d+ passages and \d+ sentences of 3 new or changed articles", stages[1])
    skipped = [line for line in err.splitlines() if "dump.txt" in line]
    assert skipped == ["skipped corpus/dump.txt: it is 6,000 bytes, over the limit of 4,000 for one article: split it, "
                       "or raise RAG_MAX_ARTICLE_BYTES"]
