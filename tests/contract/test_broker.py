"""The Broker port: in-memory fan-out and Redis pub/sub deliver alike; Redis also across processes and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable

import attrs
import pytest

from chat_adapters.broker.redis import RedisBroker, open_redis, redis_client
from chatcore.errors import UnavailableError
from chatcore.model import UserId
from chatcore.ports import Broker
from chatcore.testing import MemoryBroker
from tests.redis_server import RedisServer, fresh_redis, redis_server

__all__ = ["fresh_redis", "redis_server"]

WAIT = 5.0  # seconds: the bound on every wait for an asynchronous delivery
_fences = itertools.count(1)


class Inbox:
    """A subscriber that keeps what it is given."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    def __call__(self, payload: bytes) -> None:
        self.got.append(payload)


async def eventually(check: Callable[[], bool], within: float = WAIT) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def settle(broker: Broker) -> None:
    """Wait until what was published before has been delivered: Redis keeps order on one connection."""
    fence = Inbox()
    channel = f"fence:{next(_fences)}"
    unsubscribe = await broker.subscribe(channel, fence)
    await broker.publish([channel], b"fence")
    assert await eventually(lambda: fence.got == [b"fence"])
    await unsubscribe()


@attrs.define
class Brokers:
    """The broker under test and a way to get another 'process' on the same backend."""

    broker: Broker
    server: RedisServer | None = None
    opened: list[RedisBroker] = attrs.field(factory=list)

    async def another(self) -> Broker:
        """A second process: a RedisBroker with its own pool; in memory there is only one process."""
        if self.server is None:
            return self.broker
        broker = await _open_redis_broker(self.server.url)
        self.opened.append(broker)
        return broker

    async def close(self) -> None:
        for broker in self.opened:
            await broker.aclose()


async def _open_redis_broker(url: str, key_prefix: str = "chat:") -> RedisBroker:
    broker = RedisBroker.from_url(url, key_prefix=key_prefix, backoff=(0.05, 0.5))
    await broker.start()
    return broker


@pytest.fixture(params=["memory", "redis"])
async def brokers(request: pytest.FixtureRequest) -> AsyncIterator[Brokers]:
    if request.param == "memory":
        yield Brokers(broker=MemoryBroker())
        return
    server = request.getfixturevalue("fresh_redis")
    assert isinstance(server, RedisServer)
    main = await _open_redis_broker(server.url)
    opened = Brokers(broker=main, server=server, opened=[main])
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def redis_brokers(fresh_redis: RedisServer) -> AsyncIterator[Brokers]:
    main = await _open_redis_broker(fresh_redis.url)
    opened = Brokers(broker=main, server=fresh_redis, opened=[main])
    try:
        yield opened
    finally:
        await opened.close()


async def test_publish_reaches_every_subscriber_of_the_channel_and_only_them(brokers: Brokers) -> None:
    broker = brokers.broker
    laptop, phone, bob, room = Inbox(), Inbox(), Inbox(), Inbox()
    await broker.subscribe("user:1", laptop)
    await broker.subscribe("user:1", phone)
    await broker.subscribe("user:2", bob)
    await broker.subscribe("room:5", room)

    await broker.publish(["user:1", "room:5", "user:1", "room:6"], b"hello")
    await settle(broker)

    assert laptop.got == phone.got == room.got == [b"hello"]  # once, though user:1 was named twice
    assert bob.got == []


async def test_order_is_kept_within_a_channel(brokers: Brokers) -> None:
    broker = brokers.broker
    inbox = Inbox()
    await broker.subscribe("room:1", inbox)
    sent = [f"message {n}".encode() for n in range(50)]

    for payload in sent:
        await broker.publish(["room:1"], payload)

    assert await eventually(lambda: len(inbox.got) >= len(sent))
    assert inbox.got == sent


async def test_publishing_to_no_channel_or_an_unheard_one_is_no_error(brokers: Brokers) -> None:
    await brokers.broker.publish([], b"nothing")
    await brokers.broker.publish(["user:404"], b"nobody listens")


async def test_unsubscribe_stops_delivery_and_may_be_called_twice(brokers: Brokers) -> None:
    broker = brokers.broker
    inbox = Inbox()
    unsubscribe = await broker.subscribe("user:1", inbox)
    await broker.publish(["user:1"], b"one")
    await settle(broker)

    await unsubscribe()
    await unsubscribe()
    await broker.publish(["user:1"], b"two")
    await settle(broker)

    assert inbox.got == [b"one"]


async def test_a_channel_stays_live_while_any_local_subscriber_remains(brokers: Brokers) -> None:
    broker = brokers.broker
    first, second, later = Inbox(), Inbox(), Inbox()
    leave_first = await broker.subscribe("room:1", first)
    leave_second = await broker.subscribe("room:1", second)

    await leave_first()
    await broker.publish(["room:1"], b"still here")
    await settle(broker)
    await leave_second()
    await broker.publish(["room:1"], b"nobody left")
    await settle(broker)
    await broker.subscribe("room:1", later)
    await broker.publish(["room:1"], b"back again")
    await settle(broker)

    assert first.got == []
    assert second.got == [b"still here"]
    assert later.got == [b"back again"]


async def test_a_failing_subscriber_does_not_stop_the_others(
    brokers: Brokers, caplog: pytest.LogCaptureFixture
) -> None:
    broker = brokers.broker
    before, after = Inbox(), Inbox()

    def broken(payload: bytes) -> None:
        raise RuntimeError("subscriber bug")

    await broker.subscribe("room:1", before)
    await broker.subscribe("room:1", broken)
    await broker.subscribe("room:1", after)

    await broker.publish(["room:1"], b"first")
    await broker.publish(["room:1"], b"second")
    await settle(broker)

    assert before.got == after.got == [b"first", b"second"]
    assert [r.levelname for r in caplog.records if "room:1" in r.getMessage()] == ["ERROR", "ERROR"]


async def test_two_processes_on_one_redis_both_receive(redis_brokers: Brokers) -> None:
    here, there = redis_brokers.broker, await redis_brokers.another()
    on_here, on_there = Inbox(), Inbox()
    await here.subscribe("user:1", on_here)
    await there.subscribe("user:1", on_there)

    await here.publish(["user:1"], b"from here")
    await there.publish(["user:1"], b"from there")

    assert await eventually(lambda: len(on_here.got) == 2 and len(on_there.got) == 2)
    assert on_here.got == on_there.got == [b"from here", b"from there"]


async def test_key_prefixes_keep_deployments_apart(fresh_redis: RedisServer) -> None:
    blue = await _open_redis_broker(fresh_redis.url, key_prefix="blue:")
    green = await _open_redis_broker(fresh_redis.url, key_prefix="green:")
    try:
        on_blue, on_green = Inbox(), Inbox()
        await blue.subscribe("room:1", on_blue)
        await green.subscribe("room:1", on_green)

        await blue.publish(["room:1"], b"blue only")
        await settle(green)
        await settle(blue)

        assert on_blue.got == [b"blue only"]
        assert on_green.got == []
    finally:
        await blue.aclose()
        await green.aclose()


async def test_subscriptions_resume_after_a_redis_restart(redis_brokers: Brokers) -> None:
    broker, server = redis_brokers.broker, redis_brokers.server
    assert server is not None
    before, made_while_down = Inbox(), Inbox()
    await broker.subscribe("user:1", before)
    await broker.publish(["user:1"], b"before")
    assert await eventually(lambda: before.got == [b"before"])

    await asyncio.to_thread(server.stop)
    started = time.monotonic()
    with pytest.raises(UnavailableError):
        await broker.publish(["user:1"], b"while down")
    assert time.monotonic() - started < 3.5  # an error soon, not a hang
    await asyncio.wait_for(broker.subscribe("room:9", made_while_down), 3.0)  # no error, no hang either
    await asyncio.to_thread(server.start)

    async def delivered_again() -> bool:  # the reader is backing off: retry the publish until it gets through
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(UnavailableError):
                await broker.publish(["user:1", "room:9"], b"ping")
            if await eventually(lambda: b"ping" in before.got and b"ping" in made_while_down.got, 0.2):
                return True
        return False

    assert await delivered_again()
    await broker.publish(["user:1"], b"after")
    assert await eventually(lambda: before.got[-1:] == [b"after"])
    assert b"while down" not in before.got


async def test_redis_is_subscribed_once_per_process_while_local_subscribers_remain(redis_brokers: Brokers) -> None:
    broker, server = redis_brokers.broker, redis_brokers.server
    assert server is not None
    client = redis_client(server.url)

    async def subscribers_in_redis() -> int:
        [(_, count)] = await client.pubsub_numsub("chat:room:1")
        return int(count)

    try:
        leave_first = await broker.subscribe("room:1", Inbox())
        leave_second = await broker.subscribe("room:1", Inbox())
        assert await subscribers_in_redis() == 1
        await leave_first()
        await settle(broker)
        assert await subscribers_in_redis() == 1
        await leave_second()
        await settle(broker)  # UNSUBSCRIBE went before the fence's commands on the same connection
        assert await subscribers_in_redis() == 0
    finally:
        await client.aclose()


async def test_open_redis_gives_a_working_broker_and_live_state(fresh_redis: RedisServer) -> None:
    async with open_redis(fresh_redis.url, key_prefix="app:") as (broker, live):
        inbox = Inbox()
        await broker.subscribe("user:1", inbox)
        await broker.publish(["user:1"], b"hi")
        assert await live.connect(UserId(1), "tab") is True
        assert await live.online_users() == {UserId(1)}
        assert await eventually(lambda: inbox.got == [b"hi"])


class Gaps:
    """An `on_gap` that counts its calls."""

    def __init__(self) -> None:
        self.told = 0

    def __call__(self) -> None:
        self.told += 1


async def test_a_subscription_that_stays_up_is_never_told_of_a_gap(brokers: Brokers) -> None:
    inbox, gaps = Inbox(), Gaps()
    await brokers.broker.subscribe("user:1", inbox, on_gap=gaps)
    await brokers.broker.publish(["user:1"], b"one")
    await settle(brokers.broker)

    assert inbox.got == [b"one"]
    assert gaps.told == 0


async def test_a_redis_restart_tells_each_subscriber_once_when_delivery_is_certain_again(
    redis_brokers: Brokers,
) -> None:
    """Subscribers of a process whose subscriptions went down hear of the gap once Redis confirmed them again, and
    what is published from that moment arrives: a client that catches up then misses nothing. A payload
    published by another process right when Redis came back (before re-subscription) may be lost, but then
    the gap was told after it."""
    broker, server = redis_brokers.broker, redis_brokers.server
    assert server is not None
    other = await redis_brokers.another()
    laptop, phone, room = Inbox(), Inbox(), Inbox()
    laptop_gaps, phone_gaps = Gaps(), Gaps()
    await broker.subscribe("user:1", laptop, on_gap=laptop_gaps)
    await broker.subscribe("user:1", phone, on_gap=phone_gaps)
    await broker.subscribe("room:1", room)  # no on_gap: nothing to tell

    await asyncio.to_thread(server.restart)
    assert await eventually(lambda: laptop_gaps.told == 1 and phone_gaps.told == 1)
    await other.publish(["user:1"], b"after the gap")

    assert await eventually(lambda: laptop.got == phone.got == [b"after the gap"])
    await settle(broker)
    assert (laptop_gaps.told, phone_gaps.told) == (1, 1)


async def test_a_subscription_made_while_redis_is_down_is_told_of_the_gap_once_it_is_live(
    redis_brokers: Brokers,
) -> None:
    broker, server = redis_brokers.broker, redis_brokers.server
    assert server is not None
    await asyncio.to_thread(server.stop)
    inbox, gaps = Inbox(), Gaps()
    await asyncio.wait_for(broker.subscribe("user:7", inbox, on_gap=gaps), 3.0)
    assert gaps.told == 0

    await asyncio.to_thread(server.start)

    assert await eventually(lambda: gaps.told == 1)
    await broker.publish(["user:7"], b"live")
    assert await eventually(lambda: inbox.got == [b"live"])


async def test_a_redis_outage_logs_one_warning_however_many_calls_fail(
    fresh_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chat_adapters.broker")
    async with open_redis(fresh_redis.url) as (broker, live):
        await broker.subscribe("user:1", Inbox())
        await asyncio.to_thread(fresh_redis.stop)
        for _ in range(20):
            with contextlib.suppress(UnavailableError):
                await broker.publish(["user:1"], b"lost")
            with contextlib.suppress(UnavailableError):
                await live.heartbeat(UserId(1), "tab")
        await asyncio.to_thread(fresh_redis.start)
        await _published_once_up(broker)

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "cannot reach Redis" in warnings[0].getMessage()
    assert warnings[0].exc_info is None
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def _published_once_up(broker: Broker) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            await broker.publish(["user:1"], b"back")
            return
        except UnavailableError:
            await asyncio.sleep(0.1)
    raise AssertionError("Redis did not come back")
