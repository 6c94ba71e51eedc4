"""Milvus for the store tests: `milvus-lite server` on a free loopback port, and the real Milvus 2.3.5 server
(the `milvus` package) inside a network namespace of its own, since it listens on every address.

`make test` installs both (`make milvus-setup`, requirements-milvus.txt); a test skips, saying why, only when
the package or its program is missing from the venv that runs the tests.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from servers import free_port

BIN = Path(sys.executable).parent
SETUP = "run `make milvus-setup` (requirements-milvus.txt) to install it"


def program(name: str) -> Path:
    """Return the path of a program of the test venv, or skip the test saying it is missing."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed in {BIN}: {SETUP}")
        path = Path(found)
    return path


def need_pymilvus() -> None:
    """Skip the test, saying why, when pymilvus is not installed."""
    pytest.importorskip("pymilvus", reason=f"pymilvus is not installed: {SETUP}")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class LiteServer:
    """A running `milvus-lite server`: its `host:port` and its process (a test may kill it)."""

    address: str
    process: subprocess.Popen


@contextmanager
def lite_server(data_dir: Path) -> Iterator[LiteServer]:
    """Run `milvus-lite server` on a free loopback port over `data_dir`; yield it once it listens."""
    need_pymilvus()
    lite = program("milvus-lite")
    port = free_port()
    log = data_dir.with_name(data_dir.name + ".log")
    with log.open("w") as out:
        process = subprocess.Popen([str(lite), "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                                   stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"milvus-lite server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield LiteServer(f"127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def in_own_network(script: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python script args` in a new network namespace with only loopback up (the real server listens on
    every address: there, every address is this process's own); return what it printed."""
    need_pymilvus()
    program("milvus-server")
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed: the real Milvus server runs in a network namespace of its own")
    if os.geteuid() != 0 and subprocess.run([unshare, "--net", "--map-root-user", "true"], capture_output=True).returncode:
        pytest.skip("this user cannot make a network namespace (unshare --net --map-root-user)")
    root = [] if os.geteuid() == 0 else ["--map-root-user"]
    command = f"ip link set lo up && exec {sys.executable} {script} {' '.join(args)}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "MILVUS_SERVER": str(program("milvus-server"))}
    return subprocess.run([unshare, "--net", *root, "sh", "-c", command], capture_output=True, text=True, timeout=timeout,
                          env=env)
