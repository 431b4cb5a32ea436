"""The RateLimiter port: per-user buckets in one process (memory) and shared by every process (Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import pytest
from redis.asyncio import Redis

from chat_adapters.broker.redis import RedisLiveState, redis_client
from chatcore.errors import RateLimitedError
from chatcore.ports import RateLimiter
from chatcore.ratelimit import MemoryRateLimiter
from chatcore.testing import FakeClock
from tests.redis_server import RedisServer, fresh_redis, redis_server

__all__ = ["fresh_redis", "redis_server"]


@attrs.define
class Limiters:
    """The limiter under test, another process's (the same object in memory) and a way to let time pass."""

    here: RateLimiter
    there: RateLimiter
    after: Callable[[float], Awaitable[None]]
    clients: list[Redis] = attrs.field(factory=list)


def _redis_limiter(client: Redis) -> RateLimiter:
    return RedisLiveState(client).rate_limiter(fallback=MemoryRateLimiter(FakeClock()))


@pytest.fixture(params=["memory", "redis"])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[Limiters]:
    if request.param == "memory":
        clock = FakeClock()
        limiter = MemoryRateLimiter(clock)

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        yield Limiters(limiter, limiter, advance)
        return
    server = request.getfixturevalue("fresh_redis")
    assert isinstance(server, RedisServer)
    clients = [redis_client(server.url), redis_client(server.url)]
    try:
        yield Limiters(_redis_limiter(clients[0]), _redis_limiter(clients[1]), asyncio.sleep, clients)
    finally:
        for client in clients:
            await client.aclose()


async def test_a_burst_shared_by_two_processes_then_a_refusal_saying_when_to_retry(limiters: Limiters) -> None:
    for n in range(30):  # 30 a minute: half on each process
        await (limiters.here if n % 2 else limiters.there).take("search:7", rate=0.5, burst=30, what="searches")

    for limiter in (limiters.here, limiters.there):
        with pytest.raises(RateLimitedError) as refused:
            await limiter.take("search:7", rate=0.5, burst=30, what="searches")
        assert "too many searches" in refused.value.detail
        assert 1.5 < refused.value.retry_after <= 2.0  # one token every 2 s
    await limiters.here.take("search:8", rate=0.5, burst=30)  # another key has its own bucket


async def test_a_refusal_spends_nothing(limiters: Limiters) -> None:
    await limiters.here.take("k", rate=10, burst=1)
    for _ in range(5):  # had these spent tokens, the bucket would be empty for another 0.5 s
        with pytest.raises(RateLimitedError):
            await limiters.there.take("k", rate=10, burst=1)

    await limiters.after(0.15)

    await limiters.here.take("k", rate=10, burst=1)


async def test_while_redis_is_down_each_process_counts_on_its_own(fresh_redis: RedisServer) -> None:
    client = redis_client(fresh_redis.url)
    fallback = MemoryRateLimiter(FakeClock())
    limiter = RedisLiveState(client).rate_limiter(fallback=fallback)
    try:
        await asyncio.to_thread(fresh_redis.stop)
        await limiter.take("search:1", rate=1, burst=2)
        await limiter.take("search:1", rate=1, burst=2)
        with pytest.raises(RateLimitedError):
            await limiter.take("search:1", rate=1, burst=2)
    finally:
        await asyncio.to_thread(fresh_redis.start)
        await client.aclose()
