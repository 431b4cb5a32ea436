"""Two `chat serve` processes on PostgreSQL + Redis: events, presence and typing cross between them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Api, Server, start_server, stop_server
from tests.pg import PgServer, create_database, pg_server
from tests.redis_server import RedisServer, redis_server

__all__ = ["pg_server", "redis_server"]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer, redis_server: RedisServer
) -> Iterator[tuple[Server, Server]]:
    redis_server.flush()
    database = pg_server.url(asyncio.run(create_database(pg_server)))
    files = tmp_path_factory.mktemp("shared-files")
    env = {"CHAT_DATABASE_URL": database, "CHAT_BROKER_URL": redis_server.url, "CHAT_STORAGE_URL": f"file://{files}"}
    first, a = start_server(Path(tmp_path_factory.mktemp("a")), env)
    try:
        second, b = start_server(Path(tmp_path_factory.mktemp("b")), env)
        try:
            yield a, b
        finally:
            stop_server(second)
    finally:
        stop_server(first)
    for server in (a, b):
        assert "Traceback" not in server.log(), server.log()[-3000:]


@pytest.fixture
async def nodes(cluster: tuple[Server, Server]) -> AsyncIterator[tuple[Api, Api]]:
    a, b = Api.open(cluster[0]), Api.open(cluster[1])
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_message_sent_on_a_reaches_the_receiver_on_b(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    alice, bob = await a.person("Alice"), await a.person("Bob")
    room = await a.room(alice, bob)
    async with a.socket(alice, room) as sender, b.socket(bob, room) as receiver, b.socket(alice) as sender_elsewhere:
        await sender.send("send_message", content="across processes", client_msg_id="x1")
        got = await receiver.next("new_message")
        echo = await sender.next("new_message")
        other_tab = await sender_elsewhere.next("new_message")
    assert got["data"]["content"] == "across processes"
    assert got == echo == other_tab
    history = (await bob.http.get(f"{b.server.base_url}/api/v1/chat/rooms/{room}/messages")).json()
    assert history["total"] == 1


async def test_presence_and_online_users_are_cluster_wide(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    alice, bob = await a.person("Alice"), await a.person("Bob")
    await a.room(alice, bob)
    async with a.socket(alice) as watcher:
        async with b.socket(bob):
            online = await watcher.next("presence")
            assert online["data"]["user_id"] == bob.id
            assert online["data"]["is_online"] is True
            listed = (await alice.http.get(f"{a.server.base_url}/api/v1/chat/online-users")).json()
            assert bob.id in [u["user_id"] for u in listed["online_users"]]
        offline = await watcher.next("presence")
        assert offline["data"]["is_online"] is False


async def test_typing_crosses_processes(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    alice, bob = await a.person("Alice"), await a.person("Bob")
    room = await a.room(alice, bob)
    async with a.socket(alice, room) as typist, b.socket(bob, room) as reader:
        await typist.send("typing", is_typing=True)
        event = await reader.next("typing")
    assert event["data"]["typing_users"] == [alice.id]


async def test_workers_share_events_through_redis(
    tmp_path: Path, pg_server: PgServer, redis_server: RedisServer
) -> None:
    """`chat serve --workers 2`: sockets land on either worker and still hear each other."""
    database = pg_server.url(await create_database(pg_server))
    env = {"CHAT_DATABASE_URL": database, "CHAT_BROKER_URL": redis_server.url, "CHAT_STORAGE_URL": f"file://{tmp_path}"}
    proc, server = await asyncio.to_thread(start_server, tmp_path, env, args=("--workers", "2"))
    api = Api.open(server)
    try:
        alice, bob = await api.person("Alice"), await api.person("Bob")
        room = await api.room(alice, bob)
        async with contextlib.AsyncExitStack() as stack:
            bobs = [await stack.enter_async_context(api.socket(bob, room)) for _ in range(4)]
            sender = await stack.enter_async_context(api.socket(alice, room))
            await sender.send("send_message", content="to every worker")
            for sock in bobs:
                assert (await sock.next("new_message"))["data"]["content"] == "to every worker"
        pids = {
            line.split("[")[1].split("]")[0] for line in server.log().splitlines() if "Started server process" in line
        }
        assert len(pids) == 2
    finally:
        await api.aclose()
        await asyncio.to_thread(stop_server, proc)
