"""A token-bucket rate limit per key (a client address, a conversation), kept in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PRUNE_AT = 10_000  # keys held before idle (full) buckets are dropped


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """At most ``per_minute`` events per key in any minute, refilled continuously.

    A key starts with a full bucket of ``per_minute`` tokens (the allowed burst); each event
    takes one, and tokens come back at ``per_minute / 60`` per second. Memory stays bounded:
    buckets that have refilled completely carry no information and are dropped.

    Args:
        per_minute: the sustained rate and the burst, in events per minute (> 0).
        clock: monotonic seconds.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until one is back."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.refill)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.refill

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.stamp) * self.refill >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= PRUNE_AT:  # a flood of keys: forget the least recent half
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k].stamp)
            for key in by_age[: len(by_age) // 2]:
                del self._buckets[key]
