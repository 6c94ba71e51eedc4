"""Summary numbers for noisy timings: medians across runs, percentiles within a run, ratios of medians."""
from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence


def median(values: Iterable[float]) -> float:
    """Return the median of the values (the mean of the middle two for an even count); NaN when empty."""
    present = [float(v) for v in values]
    return float(statistics.median(present)) if present else math.nan


def percentile(values: Iterable[float], q: float) -> float:
    """Return the q-th percentile (0–100) by linear interpolation between closest ranks, as numpy's default."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0–100")
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def medians(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Return, for every key present in any run, the median of its values across the runs that have it."""
    keys = dict.fromkeys(key for run in runs for key in run)
    return {key: median(run[key] for run in runs if key in run) for key in keys}


def ratio(numerator: float, denominator: float) -> float:
    """Return numerator / denominator, NaN when the denominator is zero or either side is NaN."""
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Return the median of per-run ratios, pairing run i with run i so both sides saw the same machine load."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators but {len(denominators)} denominators")
    return median(ratio(n, d) for n, d in zip(numerators, denominators))


def latency_summary(latencies_ms: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Return p50 and p95 of every stage's latencies, keyed like `embed_ms_p50`."""
    out = {}
    for stage, values in latencies_ms.items():
        out[f"{stage}_p50"] = percentile(values, 50)
        out[f"{stage}_p95"] = percentile(values, 95)
    return out


def known_item_hit(ranked_files: Sequence[Sequence[str]], gold_files: Sequence[str], k: int) -> float:
    """Return the share of questions whose gold file is among the files of their top k passages."""
    if len(ranked_files) != len(gold_files):
        raise ValueError(f"{len(ranked_files)} rankings for {len(gold_files)} questions")
    if not gold_files:
        return math.nan
    return sum(gold in files[:k] for files, gold in zip(ranked_files, gold_files)) / len(gold_files)
