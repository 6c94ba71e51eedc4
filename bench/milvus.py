"""The Milvus store beside the embedded default, on a synthetic index (bench/synthetic.py) and on sharded builds.

    # load: a synthetic index into Milvus, then questions against both (a real server runs in its own network):
    nice -n 10 .venv/bin/python -m bench.synthetic /tmp/synth1m --passages 1000000
    unshare --net sh -c 'ip link set lo up && exec nice -n 10 .venv/bin/python -m bench.milvus load /tmp/synth1m \
        --server milvus-server --json /tmp/milvus-1m.json'
    nice -n 10 .venv/bin/python -m bench.milvus load /tmp/synth1m --server milvus-lite --json /tmp/lite-1m.json

    # questions: the gold questions on the folder and on the same corpus in Milvus (latency, round trips):
    nice -n 10 .venv/bin/python -m bench.milvus questions --corpus seeds --index index --store milvus://127.0.0.1:19530/seeds

    # shards: build time of one worker against two at once (each worker one thread), then the final publish:
    nice -n 10 .venv/bin/python -m bench.milvus shards ../shared/eval/dev/cmrc-trial/corpus --workers 1 2

`load` starts the server it names (`milvus-server` of the `milvus` package: Milvus 2.3.5, dense vectors only;
`milvus-lite`: dense and sparse) on loopback, writes the synthetic index into it through the store's own
staging and publish (insert, flush, index, load), and measures: insert throughput, publish time, the server's
resident memory before and after (its process tree), dense search p50/p95 and recall@10 against exact search,
BM25 p50/p95 where the server has sparse vectors, and the same searches on the embedded folder with its memory.
`shards` builds a corpus with `rag build --shard i/n` workers as separate processes into a folder store.
Nothing is written inside the repository.
"""
from __future__ import annotations

import _thread
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.scale import memory_mib, percentiles
from rag.index.lexical import shared_tokenizer
from rag.index.store import load_index
from rag.index.stores.milvus import MilvusStore, dense_index
from rag.index.vectors.probes import exact_top
from rag.settings import load_settings

PROBES = 200
BIN = Path(sys.executable).parent


def tree_memory_mib(pid: int) -> dict[str, float]:
    """Return the resident memory (MiB) of process `pid` and all its descendants, from /proc: all of it (VmRSS),
    anonymous (RssAnon: must stay in RAM) and file-backed (RssFile: mapped files, the page cache can drop them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    todo = [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = (Path("/proc") / str(current) / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            key = line.split(":", 1)[0]
            if key in total:
                total[key] += int(line.split()[1])
    return {"rss": round(total["VmRSS"] / 1024, 1), "anon": round(total["RssAnon"] / 1024, 1),
            "file": round(total["RssFile"] / 1024, 1)}


def tree_rss_mib(pid: int) -> float:
    """Return the resident memory (MiB) of process `pid` and all its descendants."""
    return tree_memory_mib(pid)["rss"]


def available_gib() -> float:
    """Return the machine's available memory (MemAvailable) in GiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("inf")


class Watch:
    """A thread that samples the server's memory every few seconds, keeps its peak, and stops the benchmark (the
    server first) when the machine's available memory falls below `floor_gib`: other work shares the machine."""

    def __init__(self, server: subprocess.Popen, floor_gib: float, seconds: float = 2.0) -> None:
        self.server = server
        self.floor_gib = floor_gib
        self.peak = {"rss": 0.0, "anon": 0.0, "file": 0.0}
        self.lowest_available_gib = available_gib()
        self.stopped = ""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self._thread.start()

    def _run(self, seconds: float) -> None:
        while not self._done.wait(seconds):
            memory = tree_memory_mib(self.server.pid)
            self.peak = {key: max(self.peak[key], memory[key]) for key in memory}
            free = available_gib()
            self.lowest_available_gib = min(self.lowest_available_gib, free)
            if free < self.floor_gib:
                self.stopped = f"stopped: {free:.1f} GiB available, under the floor of {self.floor_gib} GiB"
                print(self.stopped, flush=True)
                try:
                    os.killpg(self.server.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _thread.interrupt_main()
                return

    def close(self) -> dict:
        """Stop watching; return the peak and the lowest available memory seen."""
        self._done.set()
        self._thread.join()
        return {"server_peak_mib": self.peak, "lowest_available_gib": round(self.lowest_available_gib, 1),
                **({"stopped": self.stopped} if self.stopped else {})}


# Runs the `milvus` package's server with queryNode.mmapDirPath set, which its milvus.yaml template does not list
# (`--extra-config` only changes keys the template has): Milvus 2.3 then maps the loaded segments' fields from files.
MMAP_SERVER = """import sys, milvus
config = milvus.default_server.config
config.template_text = config.template_text.replace("\\nqueryNode:\\n", "\\nqueryNode:\\n  mmapDirPath: " + sys.argv[2] + "\\n", 1)
sys.argv = ["milvus-server", "--data", sys.argv[1]]
milvus.main()
"""


def start_server(kind: str, data: Path, mmap: bool = False) -> tuple[subprocess.Popen, str]:
    """Start `milvus-server` (on 19530 in this network namespace; `mmap`: with queryNode.mmapDirPath under `data`)
    or `milvus-lite server` (a loopback port)."""
    if kind == "milvus-server":
        command = [str(BIN / "milvus-server"), "--data", str(data)]
        if mmap:
            command = [sys.executable, "-c", MMAP_SERVER, str(data), str(data / "mmap")]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return process, "127.0.0.1:19530"
    port = 19000 + os.getpid() % 1000
    process = subprocess.Popen([str(BIN / "milvus-lite"), "server", "--data-dir", str(data), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return process, f"127.0.0.1:{port}"


def stop_group(server: subprocess.Popen, seconds: float = 30) -> None:
    """Stop the server's whole process group (its wrapper's child outlives a signal to the wrapper): politely, then for good."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            server.poll()  # a wrapper that exited is reaped, so only live processes keep the group
            os.killpg(server.pid, 0)
            time.sleep(0.5)
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait()


def connect(address: str, seconds: float = 180) -> MilvusStore:
    """Return the store of collection `bench` once the server answers."""
    deadline = time.monotonic() + seconds
    while True:
        store = MilvusStore.from_uri(f"milvus://{address}/bench")
        try:
            store.client  # noqa: B018 - connects
            return store
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def timed(function, queries) -> tuple[list, dict[str, float]]:
    """Return what `function` gives for each query and its latency percentiles in ms."""
    results, latency = [], []
    for query in queries:
        tick = time.perf_counter()
        results.append(function(query))
        latency.append((time.perf_counter() - tick) * 1000)
    return results, percentiles(latency)


def cmd_load(args: argparse.Namespace) -> dict:
    result: dict = {"folder": str(args.folder), "server": args.server}
    settings = load_settings(index_dir=args.folder)
    tick = time.perf_counter()
    index = load_index(settings)
    result["embedded_load_s"] = round(time.perf_counter() - tick, 2)
    counts = index.manifest.counts
    result["counts"] = {"passages": counts.chunks, "sentences": counts.sentences, "articles": counts.articles}
    step = max(1, counts.sentences // PROBES)
    probes = index.vectors.sentence_vectors(np.arange(0, counts.sentences, step)[:PROBES])
    truth = exact_top(index.vectors._vectors, probes, 10)  # noqa: SLF001 - the benchmark's own exact answer
    found, result["embedded_dense_ms"] = timed(lambda q: index.vectors.search(q, 10)[0], probes)
    result["embedded_recall_at_10"] = round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])), 4)
    tokenizer = shared_tokenizer()
    questions = [tokenizer.tokens(index.sentences[int(i)].text)[:4] for i in np.arange(0, counts.sentences, step)[:PROBES]]
    _, result["embedded_bm25_ms"] = timed(lambda t: index.lexical.top(t, 50), questions)
    result["embedded_memory_mib"] = memory_mib()
    keep(result, args.json)

    data = Path(tempfile.mkdtemp(prefix="bench-milvus-", dir=args.data_parent))
    result["mmap"] = args.mmap
    server, address = start_server(args.server, data, args.mmap)
    watch = Watch(server, args.floor_gib)
    try:
        store = connect(address)
        result["version"] = store.version
        time.sleep(3)
        result["server_rss_mib_empty"] = tree_rss_mib(server.pid)
        result["server_memory_mib_empty"] = tree_memory_mib(server.pid)
        dense = dense_index(counts.chunks, settings) if args.index == "auto" else {"kind": "milvus", "index": args.index, "metric": "IP",
                                                                                    "M": settings.index.hnsw_m,
                                                                                    "ef_construction": settings.index.hnsw_ef_construction,
                                                                                    "ef_search": settings.index.hnsw_ef_search}
        result["dense_index"] = dense
        staged = store.stage(index.manifest.model.dimension, dense)
        tick = time.perf_counter()
        store.fill(staged, index, lambda done: print(f"  {done} articles inserted ({time.perf_counter() - tick:.0f} s, "
                                                     f"server {tree_rss_mib(server.pid):.0f} MiB, "
                                                     f"{available_gib():.1f} GiB available)", flush=True))
        for role in ("p", "s", "a", "t"):
            staged._flush(role)  # noqa: SLF001 - what is still pending belongs to the insert time
        inserted = time.perf_counter() - tick
        result["insert_s"] = round(inserted, 1)
        result["insert_passages_per_s"] = round(counts.chunks / inserted, 1)
        result["server_memory_mib_inserted"] = tree_memory_mib(server.pid)
        keep(result, args.json)
        print(f"  inserted in {inserted:.0f} s; publishing", flush=True)
        tick = time.perf_counter()
        staged.publish(index.manifest)
        result["publish_s"] = round(time.perf_counter() - tick, 1)
        time.sleep(5)
        result["server_rss_mib_loaded"] = tree_rss_mib(server.pid)
        result["server_memory_mib_loaded"] = tree_memory_mib(server.pid)
        result["server_mib_per_million_passages"] = round(
            (result["server_rss_mib_loaded"] - result["server_rss_mib_empty"]) / counts.chunks * 1e6, 1)
        print(f"  published in {result['publish_s']} s; server {result['server_memory_mib_loaded']}", flush=True)
        keep(result, args.json)
        result.update(milvus_searches(store, settings, probes, truth, questions))
        keep(result, args.json)
        result["server_rss_mib_after_questions"] = tree_rss_mib(server.pid)
        result["server_memory_mib_after_questions"] = tree_memory_mib(server.pid)
        if args.restart:
            # What a query node holds in a steady state: the server started again on the same data loads the
            # published generation, without what the inserts and index builds left in its heap.
            result["before_restart"] = watch.close()
            stop_group(server)
            server, address = start_server(args.server, data, args.mmap)
            watch = Watch(server, args.floor_gib)
            store = connect(address, seconds=1800)  # a restarted server replays its log before it answers
            tick = time.perf_counter()
            generation = store.live()
            store.loaded(*(f"{generation}_{role}" for role in ("p", "s", "a", "t")))
            result["restart_load_s"] = round(time.perf_counter() - tick, 1)
            time.sleep(5)
            restarted: dict = {"server_memory_mib_loaded": tree_memory_mib(server.pid)}
            restarted.update(milvus_searches(store, settings, probes, truth, questions))
            restarted["server_memory_mib_after_questions"] = tree_memory_mib(server.pid)
            loaded = restarted["server_memory_mib_loaded"]
            restarted["server_mib_per_million_passages"] = {
                key: round((loaded[key] - result["server_memory_mib_empty"][key]) / counts.chunks * 1e6, 1) for key in loaded}
            result["restarted"] = restarted
            print(f"  restarted: {restarted}", flush=True)
    except KeyboardInterrupt:
        if not watch.stopped:
            raise
    finally:
        result.update(watch.close())
        stop_group(server)
        shutil.rmtree(data, ignore_errors=True)
    if watch.stopped:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        raise SystemExit(watch.stopped)
    return result


def keep(result: dict, path: Path | None) -> None:
    """Print what is measured so far and write it to `path`, so a later step that fails loses none of it."""
    print(json.dumps(result, ensure_ascii=False), flush=True)
    if path is not None:
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


def milvus_searches(store: MilvusStore, settings, probes: np.ndarray, truth: np.ndarray, questions: list) -> dict:
    """Return dense search p50/p95 and recall@10 (against exact) of the live generation, and BM25 p50/p95 where the
    server has sparse vectors."""
    out: dict = {}
    vectors = store.dense()
    for q in probes[:5]:
        vectors.search(q, 10)
    found, out["milvus_dense_ms"] = timed(lambda q: vectors.search(q, 10)[0], probes)
    out["milvus_recall_at_10"] = round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])), 4)
    if store.sparse:
        lexicon = store.open(settings).lexical
        _, out["milvus_bm25_ms"] = timed(lambda t: lexicon.top(t, 50), questions)
    return out


class CountingClient:
    """A Milvus client that counts the calls made through it (each one a round trip to the server)."""

    def __init__(self, client) -> None:
        self._client = client
        self.calls = 0

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls += 1
            return attribute(*args, **kwargs)

        return counted


def cmd_questions(args: argparse.Namespace) -> dict:
    from rag.answer.assistant import Assistant
    from rag.embedding import load_embedder
    from rag.eval.metrics import load_questions
    from rag.index.stores import open_store

    result: dict = {"gold": str(args.gold), "store": args.store}
    questions = [q.question for q in load_questions(args.gold)]
    folder = load_settings(corpus_dir=args.corpus, index_dir=args.index)
    embedder = load_embedder(folder)
    for name, settings in (("embedded", folder), ("milvus", folder.with_overrides(store=args.store))):
        store = open_store(settings)
        counter = None
        if store.kind == "milvus":
            counter = CountingClient(store.client)
            store.__dict__["client"] = counter
        assistant = Assistant(settings, store.open(settings), embedder, shared_tokenizer())
        for question in questions[:3]:
            assistant.ask(question)
        latency, calls, retrieve = [], [], []
        for _ in range(args.rounds):
            for question in questions:
                before = counter.calls if counter else 0
                answer = assistant.ask(question)
                latency.append(answer.latency_ms)
                retrieve.append(answer.timings_ms["retrieve_ms"])
                calls.append((counter.calls if counter else 0) - before)
        result[name] = {"latency_ms": percentiles(latency), "retrieve_ms": percentiles(retrieve),
                        "round_trips_per_question": percentiles(calls) if counter else None}
    return result


def cmd_shards(args: argparse.Namespace) -> dict:
    result: dict = {"corpus": str(args.corpus), "fake": args.fake, "store": args.store, "runs": []}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAG_STORE": ""}
    if args.fake:
        env["RAG_EMBED_MODEL"] = "hash:384"
    server = None
    if args.store == "milvus-lite":
        data = Path(tempfile.mkdtemp(prefix="bench-shards-lite-"))
        server, address = start_server("milvus-lite", data)
        connect(address)
    try:
        for workers in args.workers:
            target = Path(tempfile.mkdtemp(prefix="bench-shards-")) / "index"
            if server is not None:
                env["RAG_STORE"] = f"milvus://{address}/shards{workers}"
            base = [sys.executable, "-m", "rag", "build", "--corpus", str(args.corpus), "--index", str(target)]
            tick = time.perf_counter()
            running = [subprocess.Popen([*base, "--shard", f"{n}/{workers}"], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for n in range(1, workers + 1)]
            if any(process.wait() for process in running):
                raise SystemExit("a shard worker failed: run it by hand to see why")
            shards_s = time.perf_counter() - tick
            tick = time.perf_counter()
            subprocess.run(base, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            publish_s = time.perf_counter() - tick
            if server is not None:
                passages = MilvusStore.from_uri(env["RAG_STORE"]).read_manifest().counts.chunks
            else:
                passages = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["counts"]["chunks"]
            result["runs"].append({"workers": workers, "passages": passages, "shards_s": round(shards_s, 1),
                                   "publish_s": round(publish_s, 1), "passages_per_s": round(passages / shards_s, 1),
                                   "passages_per_s_per_worker": round(passages / shards_s / workers, 1)})
            shutil.rmtree(target.parent, ignore_errors=True)
            print(json.dumps(result["runs"][-1]), flush=True)
    finally:
        if server is not None:
            stop_group(server)
            shutil.rmtree(data, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="a synthetic index into Milvus; searches on both stores")
    load.add_argument("folder", type=Path, help="a synthetic index folder (bench/synthetic.py)")
    load.add_argument("--server", choices=("milvus-server", "milvus-lite"), default="milvus-server")
    load.add_argument("--index", choices=("auto", "FLAT", "HNSW"), default="auto", help="the dense index (auto: as a build picks)")
    load.add_argument("--data-parent", type=Path, default=None, help="where the server's data folder goes (default: /tmp)")
    load.add_argument("--mmap", action="store_true", help="milvus-server with queryNode.mmapDirPath: loaded fields mapped from files")
    load.add_argument("--restart", action="store_true",
                      help="then start the server again on the same data and measure what loading the published index takes")
    load.add_argument("--floor-gib", type=float, default=3.5, help="stop (server first) when available memory falls under this")
    load.add_argument("--json", type=Path)
    shards = sub.add_parser("shards", help="sharded builds of a corpus with 1..n workers")
    shards.add_argument("corpus", type=Path)
    shards.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    shards.add_argument("--fake", action="store_true", help="the hashing embedder (measures everything but the model)")
    shards.add_argument("--store", choices=("files", "milvus-lite"), default="files",
                        help="where the workers write: index folders, or a milvus-lite server the benchmark starts on loopback")
    shards.add_argument("--json", type=Path)
    questions = sub.add_parser("questions", help="gold questions on the embedded folder and on a Milvus store: latency, round trips")
    questions.add_argument("--corpus", type=Path, default=Path("seeds"))
    questions.add_argument("--index", type=Path, default=Path("index"))
    questions.add_argument("--store", required=True, help="the RAG_STORE of the same corpus built into Milvus")
    questions.add_argument("--gold", type=Path, default=Path("../shared/eval/gold_public.jsonl"))
    questions.add_argument("--rounds", type=int, default=3)
    questions.add_argument("--json", type=Path)
    args = parser.parse_args()
    commands = {"load": cmd_load, "shards": cmd_shards, "questions": cmd_questions}
    result = commands[args.command](args)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
