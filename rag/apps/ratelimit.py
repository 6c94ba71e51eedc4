"""The per-client rate limit that the API, the widget and the chat page share: one allowance per address."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Buckets kept before idle ones (full again) are dropped, so many one-off clients cannot grow memory without bound.
MAX_TRACKED_CLIENTS = 10_000


class RateLimiter:
    """A token bucket per client: `burst` requests at once, refilled at `per_minute`; 0 per minute means no limit."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(1, burst))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one request of the client's allowance; return 0 if allowed, else the seconds until it would be."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - when) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_TRACKED_CLIENTS:
                self._forget_idle(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        full = [key for key, (tokens, when) in self._buckets.items() if tokens + (now - when) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]


def retry_after(seconds: float) -> str:
    """Return a Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
