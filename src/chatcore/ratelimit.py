"""Token buckets on a Clock: per connection for socket events, per user for directory search (one process)."""

from __future__ import annotations

from datetime import datetime

from chatcore.errors import RateLimitedError
from chatcore.ports import Clock


class TokenBucket:
    def __init__(self, clock: Clock, *, rate: float, burst: int) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._tokens = float(burst)
        self._at: datetime = clock.now()

    def take(self, what: str = "requests") -> None:
        """Spend one token or raise RateLimitedError saying when to retry."""
        now = self._clock.now()
        elapsed = (now - self._at).total_seconds()
        self._at = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        if self._tokens < 1:
            wait = (1 - self._tokens) / self._rate
            raise RateLimitedError(f"too many {what}; retry in {wait:.1f} s", retry_after=wait)
        self._tokens -= 1

    def idle(self) -> bool:
        """Full again: forgetting this bucket changes nothing."""
        elapsed = (self._clock.now() - self._at).total_seconds()
        return self._tokens + elapsed * self._rate >= self._burst


class KeyedLimiter:
    """One bucket per key (a user id), created on first use; idle full buckets are dropped."""

    def __init__(self, clock: Clock, *, rate: float, burst: int) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._buckets: dict[object, TokenBucket] = {}

    def take(self, key: object, what: str = "requests") -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= 10_000:
                self._buckets = {k: b for k, b in self._buckets.items() if not b.idle()}
            bucket = self._buckets[key] = TokenBucket(self._clock, rate=self._rate, burst=self._burst)
        bucket.take(what)


class MemoryRateLimiter:
    """The RateLimiter of a single process: one KeyedLimiter per (rate, burst)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._limiters: dict[tuple[float, int], KeyedLimiter] = {}

    async def take(self, key: str, *, rate: float, burst: int, what: str = "requests") -> None:
        limiter = self._limiters.get((rate, burst))
        if limiter is None:
            limiter = self._limiters[(rate, burst)] = KeyedLimiter(self._clock, rate=rate, burst=burst)
        limiter.take(key, what)
