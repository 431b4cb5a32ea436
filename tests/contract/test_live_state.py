"""The LiveState port: presence and typing with expiry, in memory (a FakeClock) and in Redis (short real TTLs).

Times are written as fractions of the TTL: the memory version advances its clock by that much, the Redis
one sleeps it (TTLs of a second), so the same test says the same thing about both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import attrs
import pytest
from redis.asyncio import Redis

from chat_adapters.broker.redis import RedisLiveState, redis_client
from chatcore.errors import TooManyConnectionsError, UnavailableError
from chatcore.model import RoomId, UserId
from chatcore.ports import LiveState
from chatcore.presence import PRESENCE_TTL, TYPING_TTL
from chatcore.testing import FakeClock, MemoryLiveState
from tests.redis_server import RedisServer, fresh_redis, redis_server

__all__ = ["fresh_redis", "redis_server"]

ALICE, BOB, CAROL = UserId(1), UserId(2), UserId(3)
ROOM, OTHER_ROOM = RoomId(10), RoomId(11)
REDIS_TTL = timedelta(seconds=1)


@attrs.define
class Live:
    """The live state under test, a second process sharing it, and a way to let time pass."""

    state: LiveState
    other: LiveState  # another server process: the same object in memory, another client for Redis
    presence_ttl: float
    typing_ttl: float
    _elapse: Callable[[float], Awaitable[None]]
    clients: list[Redis] = attrs.field(factory=list)

    async def after(self, seconds: float) -> None:
        await self._elapse(seconds)


@pytest.fixture(params=["memory", "redis"])
async def live(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    if request.param == "memory":
        clock = FakeClock()
        state = MemoryLiveState(clock)

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        yield Live(state, state, PRESENCE_TTL.total_seconds(), TYPING_TTL.total_seconds(), advance)
        return
    server = request.getfixturevalue("fresh_redis")
    assert isinstance(server, RedisServer)
    clients = [redis_client(server.url), redis_client(server.url)]
    here, there = (RedisLiveState(c, presence_ttl=REDIS_TTL, typing_ttl=REDIS_TTL) for c in clients)
    ttl = REDIS_TTL.total_seconds()
    try:
        yield Live(here, there, ttl, ttl, asyncio.sleep, clients)
    finally:
        for client in clients:
            await client.aclose()


async def test_a_user_is_online_until_the_last_connection_closes(live: Live) -> None:
    assert await live.state.connect(ALICE, "laptop") is True
    assert await live.other.connect(ALICE, "phone") is False
    assert await live.state.online([ALICE, BOB]) == {ALICE}

    assert await live.state.disconnect(ALICE, "laptop") is False
    assert await live.other.online([ALICE]) == {ALICE}
    assert await live.other.disconnect(ALICE, "phone") is True

    assert await live.state.online([ALICE]) == set()
    assert await live.other.online_users() == set()


async def test_reconnecting_a_connection_is_not_coming_online_again(live: Live) -> None:
    assert await live.state.connect(ALICE, "laptop") is True
    assert await live.state.connect(ALICE, "laptop") is False
    assert await live.state.disconnect(ALICE, "laptop") is True


async def test_closing_an_unknown_connection_is_not_going_offline(live: Live) -> None:
    assert await live.state.disconnect(ALICE, "never-opened") is False
    await live.state.connect(ALICE, "laptop")

    assert await live.other.disconnect(ALICE, "never-opened") is False
    assert await live.state.online([ALICE]) == {ALICE}
    assert await live.state.disconnect(ALICE, "laptop") is True
    assert await live.state.disconnect(ALICE, "laptop") is False


async def test_online_users_counts_connections_on_every_process(live: Live) -> None:
    await live.state.connect(ALICE, "a-1")
    await live.other.connect(BOB, "b-1")

    assert await live.state.online_users() == {ALICE, BOB}
    assert await live.other.online_users() == {ALICE, BOB}
    assert await live.state.online([ALICE, CAROL, ALICE]) == {ALICE}
    assert await live.state.online([]) == set()


async def test_a_heartbeat_keeps_a_connection_alive_and_silence_expires_it(live: Live) -> None:
    await live.state.connect(ALICE, "laptop")
    await live.other.connect(BOB, "laptop")

    await live.after(0.6 * live.presence_ttl)
    await live.state.heartbeat(ALICE, "laptop")
    await live.after(0.6 * live.presence_ttl)  # past the TTL since connecting; within it since the heartbeat

    assert await live.state.online([ALICE, BOB]) == {ALICE}
    assert await live.other.online_users() == {ALICE}
    assert await live.other.connect(BOB, "phone") is True  # BOB had gone offline by himself
    assert await live.state.disconnect(BOB, "laptop") is False  # expired: not his last connection any more
    assert await live.state.disconnect(ALICE, "laptop") is True


async def test_a_heartbeat_after_expiry_brings_the_connection_back(live: Live) -> None:
    await live.state.connect(ALICE, "laptop")
    await live.after(1.2 * live.presence_ttl)
    assert await live.state.online([ALICE]) == set()

    await live.state.heartbeat(ALICE, "laptop")

    assert await live.other.online([ALICE]) == {ALICE}
    assert await live.other.disconnect(ALICE, "laptop") is True


async def test_racing_connects_and_disconnects_give_one_coming_and_one_going(live: Live) -> None:
    connections = [f"tab-{n}" for n in range(20)]
    states = [live.state, live.other]

    came = await asyncio.gather(*(states[n % 2].connect(ALICE, c) for n, c in enumerate(connections)))
    went = await asyncio.gather(*(states[n % 2].disconnect(ALICE, c) for n, c in enumerate(connections)))

    assert came.count(True) == 1
    assert went.count(True) == 1
    assert await live.state.online([ALICE]) == set()


async def test_typing_users_are_listed_per_room(live: Live) -> None:
    assert await live.state.set_typing(ROOM, ALICE, True) == {ALICE}
    assert await live.other.set_typing(ROOM, BOB, True) == {ALICE, BOB}
    assert await live.state.set_typing(OTHER_ROOM, CAROL, True) == {CAROL}

    assert await live.state.set_typing(ROOM, ALICE, False) == {BOB}
    assert await live.other.set_typing(ROOM, CAROL, False) == {BOB}  # CAROL was not typing here
    assert await live.other.set_typing(ROOM, BOB, False) == frozenset()


async def test_a_typing_flag_expires_by_itself_unless_renewed(live: Live) -> None:
    await live.state.set_typing(ROOM, ALICE, True)
    await live.after(0.5 * live.typing_ttl)
    assert await live.other.set_typing(ROOM, BOB, True) == {ALICE, BOB}

    await live.after(0.6 * live.typing_ttl)  # ALICE's flag is older than the TTL, BOB's is not
    assert await live.state.set_typing(ROOM, CAROL, False) == {BOB}
    assert await live.state.set_typing(ROOM, BOB, True) == {BOB}  # renewed

    await live.after(0.6 * live.typing_ttl)
    assert await live.state.set_typing(ROOM, CAROL, False) == {BOB}
    await live.after(0.6 * live.typing_ttl)
    assert await live.state.set_typing(ROOM, CAROL, False) == frozenset()


async def test_expired_state_leaves_no_keys_behind_in_redis(fresh_redis: RedisServer) -> None:
    client = redis_client(fresh_redis.url)
    try:
        state = RedisLiveState(client, presence_ttl=timedelta(milliseconds=300), typing_ttl=timedelta(milliseconds=300))
        await state.connect(ALICE, "laptop")
        await state.set_typing(ROOM, ALICE, True)
        assert sorted(await client.keys("chat:*")) == [b"chat:online", b"chat:presence:1", b"chat:typing:10"]

        await asyncio.sleep(0.5)
        assert await state.online_users() == set()  # prunes the shared set, which then goes away

        assert await client.keys("*") == []
    finally:
        await client.aclose()


async def test_an_unreachable_redis_is_an_unavailable_error_and_recovery_is_seamless(fresh_redis: RedisServer) -> None:
    client = redis_client(fresh_redis.url)
    state = RedisLiveState(client)
    try:
        assert await state.connect(ALICE, "laptop") is True
        await asyncio.to_thread(fresh_redis.stop)

        started = time.monotonic()
        with pytest.raises(UnavailableError):
            await state.connect(BOB, "laptop")
        assert time.monotonic() - started < 3.5  # an error soon, not a hang

        await asyncio.to_thread(fresh_redis.start)  # empty again, and without our scripts loaded
        assert await state.connect(BOB, "laptop") is True
        assert await state.online_users() == {BOB}
    finally:
        await client.aclose()


async def test_an_expired_connection_does_not_count_as_another_one(live: Live) -> None:
    await live.state.connect(ALICE, "crashed")
    await live.after(0.6 * live.presence_ttl)
    await live.other.connect(ALICE, "laptop")
    await live.after(0.6 * live.presence_ttl)  # "crashed" has expired, "laptop" has not

    assert await live.state.disconnect(ALICE, "laptop") is True
    assert await live.state.online([ALICE]) == set()


async def test_a_connection_beyond_the_limit_is_refused_on_any_process_and_records_nothing(live: Live) -> None:
    await live.state.connect(ALICE, "one", limit=2)
    await live.other.connect(ALICE, "two", limit=2)

    with pytest.raises(TooManyConnectionsError):
        await live.state.connect(ALICE, "three", limit=2)
    with pytest.raises(TooManyConnectionsError):
        await live.other.connect(ALICE, "three", limit=2)
    await live.state.connect(ALICE, "one", limit=2)  # a known connection again (a refresh) is no new one
    await live.state.connect(BOB, "one", limit=2)  # the limit is per user

    assert await live.state.disconnect(ALICE, "three") is False  # never recorded
    await live.other.disconnect(ALICE, "two")
    assert await live.state.connect(ALICE, "three", limit=2) is False  # a place is free again


async def test_expired_connections_do_not_count_toward_the_limit(live: Live) -> None:
    await live.state.connect(ALICE, "crashed", limit=1)
    await live.after(1.2 * live.presence_ttl)

    assert await live.other.connect(ALICE, "laptop", limit=1) is True
