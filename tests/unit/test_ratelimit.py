"""Token buckets on the FakeClock: a burst, then a steady rate."""

from __future__ import annotations

import pytest

from chatcore import RateLimitedError
from chatcore.ratelimit import KeyedLimiter, TokenBucket
from chatcore.testing import FakeClock


def test_a_bucket_allows_its_burst_then_refuses() -> None:
    bucket = TokenBucket(FakeClock(), rate=1, burst=3)
    for _ in range(3):
        bucket.take()

    with pytest.raises(RateLimitedError) as raised:
        bucket.take("messages")

    assert raised.value.retry_after == pytest.approx(1.0)
    assert "too many messages" in raised.value.detail
    assert raised.value.code == "rate_limited"


def test_a_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, rate=20, burst=50)
    for _ in range(50):
        bucket.take()

    clock.advance(0.5)  # 20/s: ten more
    for _ in range(10):
        bucket.take()
    with pytest.raises(RateLimitedError) as raised:
        bucket.take()

    assert raised.value.retry_after == pytest.approx(0.05)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, rate=1, burst=2)
    clock.advance(3600)

    bucket.take()
    bucket.take()
    with pytest.raises(RateLimitedError):
        bucket.take()


def test_a_refused_take_costs_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, rate=1, burst=1)
    bucket.take()
    for _ in range(5):
        with pytest.raises(RateLimitedError):
            bucket.take()

    clock.advance(1)

    bucket.take()


def test_a_bucket_is_idle_once_full_again() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, rate=2, burst=4)
    assert bucket.idle()
    bucket.take()
    assert not bucket.idle()

    clock.advance(0.5)

    assert bucket.idle()


def test_a_keyed_limiter_keeps_one_bucket_per_key() -> None:
    limiter = KeyedLimiter(FakeClock(), rate=1, burst=2)
    limiter.take("alice")
    limiter.take("alice")

    with pytest.raises(RateLimitedError):
        limiter.take("alice", "searches")
    limiter.take("bob")


def test_a_keyed_limiter_forgets_idle_buckets_when_it_grows_large() -> None:
    clock = FakeClock()
    limiter = KeyedLimiter(clock, rate=1, burst=1)
    for key in range(10_000):
        limiter.take(key)
    clock.advance(1)  # every bucket is full again
    limiter.take(0)  # ... except this one, just used

    limiter.take("newcomer")

    assert set(limiter._buckets) == {0, "newcomer"}
    with pytest.raises(RateLimitedError):
        limiter.take(0)
