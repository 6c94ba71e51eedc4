"""Benchmarks of build time, embedding throughput, question latency, memory and index size, beside LangChain."""
from __future__ import annotations

from .stats import median, percentile

__all__ = ["median", "percentile"]
