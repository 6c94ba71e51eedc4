"""What machine a benchmark ran on: cores, CPU model, memory, load, and the versions that shape the figures."""
from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages whose versions change the figures (missing ones are reported as absent).
PACKAGES = (
    "torch", "sentence-transformers", "transformers", "faiss-cpu", "numpy", "jieba",
    "langchain-core", "langchain-community", "langchain-classic", "rank-bm25",
)


def cpu_model(cpuinfo: str) -> str:
    """Return the first `model name` in /proc/cpuinfo text, or 'unknown'."""
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return found.group(1).strip() if found else "unknown"


def memory_gib(meminfo: str) -> float:
    """Return MemTotal of /proc/meminfo text in GiB (NaN when absent)."""
    found = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.M)
    return int(found.group(1)) / 1024**2 if found else float("nan")


def peak_rss_mib(status: str) -> float:
    """Return VmHWM (peak resident memory) of /proc/PID/status text in MiB (NaN when absent)."""
    found = re.search(r"^VmHWM:\s*(\d+)\s*kB", status, re.M)
    return int(found.group(1)) / 1024 if found else float("nan")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def versions() -> dict[str, str | None]:
    """Return the installed version of each package in PACKAGES (None when not installed)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe() -> dict[str, Any]:
    """Return the machine's cores, CPU model, memory, load average and Python and package versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": usable,
        "cpu_model": cpu_model(_read("/proc/cpuinfo")),
        "memory_gib": round(memory_gib(_read("/proc/meminfo")), 1),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions(),
        # torch's intra-op threads (OMP_NUM_THREADS sets them); known once torch has been imported
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch_threads": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
    }
