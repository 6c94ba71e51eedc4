"""Benchmarks and tuning scripts, kept out of the product package: build time, embedding throughput, question
latency, memory and index size beside LangChain (`python -m bench`), dense-index scale (`bench.ann`,
`bench.synthetic`, `bench.scale`), many users at once (`bench.concurrent_users`), and the fits behind the
settings (`bench.tune_retrieval`, `bench.fit_ranking`, `bench.fit_decision`). Figures go to BENCHMARKS.md and docs/.
"""
from __future__ import annotations

from bench.stats import median, percentile

__all__ = ["median", "percentile"]
