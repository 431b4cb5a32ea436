"""Faults on the production profile (two `chat serve` on PostgreSQL + Redis): nothing acknowledged is lost.

Each test drives a client that sends numbered messages with `client_msg_id`, waits for its echo, and
retries the same id on another process when its socket dies. At the end every message must be stored
exactly once, and the receiver must have all of them (live, or from history with `after_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from chat_adapters.sql.engine import create_engine
from tests.e2e.conftest import Api, Person, Server, start_server, stop_server
from tests.pg import PgServer, create_database, pg_server, start_cluster, stop_cluster
from tests.redis_server import RedisServer, redis_server

__all__ = ["pg_server", "redis_server"]

MESSAGES = 40
ECHO_WAIT = 3.0
DEADLINE = 90.0


@attrs.define
class Node:
    proc: subprocess.Popen[bytes]
    server: Server


@attrs.define
class Pair:
    a: Node
    b: Node
    database_url: str
    api: Api


@pytest.fixture
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path, pg_server: PgServer, redis_server: RedisServer
) -> AsyncIterator[Pair]:
    """Two processes; CHAT_PRESENCE_TTL is 3 s unless the test asks for another (indirect parameter)."""
    redis_server.flush()
    name = await create_database(pg_server)
    connection = await pg_server.connect()
    try:  # the shared test cluster commits asynchronously for speed; a crash test needs durable commits
        await connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
    finally:
        await connection.close()
    database = pg_server.url(name)
    env = {
        "CHAT_DATABASE_URL": database,
        "CHAT_BROKER_URL": redis_server.url,
        "CHAT_STORAGE_URL": f"file://{tmp_path / 'files'}",
        "CHAT_PRESENCE_TTL": str(getattr(request, "param", 3)),
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = await asyncio.to_thread(start_server, tmp_path / "a", env)
    second = await asyncio.to_thread(start_server, tmp_path / "b", env)
    api = Api.open(first[1])
    try:
        yield Pair(a=Node(*first), b=Node(*second), database_url=database, api=api)
    finally:
        await api.aclose()
        for proc in (first[0], second[0]):
            await asyncio.to_thread(stop_server, proc)
        if not redis_server.running:
            redis_server.start()
    for server in (first[1], second[1]):
        assert "Exception in ASGI application" not in server.log(), server.log()[-4000:]


async def stored(database_url: str, room: int) -> list[tuple[int, str]]:
    """(id, client_msg_id) of every message in the room, straight from the database."""
    from sqlalchemy import select

    from chat_adapters.sql.tables import messages

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(messages.c.id, messages.c.client_msg_id)
                .where(messages.c.room_id == room)
                .order_by(messages.c.id)
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        await engine.dispose()


@attrs.define
class Sender:
    """A client that retries unacknowledged messages, on whichever process still answers."""

    person: Person
    room: int
    urls: list[str]
    acked: dict[str, int] = attrs.field(factory=dict)
    errors: list[str] = attrs.field(factory=list)
    reconnects: int = 0
    ws: ClientConnection | None = None

    async def _connect(self) -> ClientConnection:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for url in self.urls:
                with contextlib.suppress(OSError, InvalidHandshake, TimeoutError):
                    return await connect(f"{url}?token={self.person.token}&room_id={self.room}", open_timeout=2)
            await asyncio.sleep(0.2)
        raise AssertionError("no process accepted the socket within 20 s")

    async def send(self, client_msg_id: str, content: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.ws is None:
                self.ws = await self._connect()
                self.reconnects += 1
            try:
                await self.ws.send(
                    json.dumps({"type": "send_message", "data": {"content": content, "client_msg_id": client_msg_id}})
                )
                if await self._await_echo(client_msg_id):
                    return
            except ConnectionClosed:
                await self.ws.close()  # type: ignore[union-attr]
                self.ws = None
        raise AssertionError(f"{client_msg_id} was never acknowledged")

    async def _await_echo(self, client_msg_id: str) -> bool:
        assert self.ws is not None
        deadline = time.monotonic() + ECHO_WAIT
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                return False
            data = event.get("data") or {}
            if event["type"] == "new_message" and data.get("client_msg_id") == client_msg_id:
                self.acked[client_msg_id] = data["id"]
                return True
            if event["type"] == "error" and data.get("client_msg_id") == client_msg_id:
                self.errors.append(data["code"])
                await asyncio.sleep(0.3)  # e.g. the database is away: retry the same id shortly
                return False
        return False

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@attrs.define
class Receiver:
    """Collects message ids live from one process; whatever it missed it gets from history."""

    ws: ClientConnection
    live: set[int] = attrs.field(factory=set)

    async def run(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                event = json.loads(raw)
                if event["type"] == "new_message":
                    self.live.add(event["data"]["id"])


async def send_all(sender: Sender, faults: dict[int, Callable[[], Any]]) -> None:
    for n in range(MESSAGES):
        if n in faults:
            result = faults[n]()
            if asyncio.iscoroutine(result):
                await result
        await sender.send(f"m{n}", f"message {n}")
        await asyncio.sleep(0.02)


async def history_ids(api: Api, person: Person, base_url: str, room: int) -> set[int]:
    """Everything after id 0, page by page, the way a reconnecting client catches up."""
    seen: set[int] = set()
    after = 0
    for _ in range(100):
        page = (
            await person.http.get(
                f"{base_url}/api/v1/chat/rooms/{room}/messages", params={"after_id": after, "per_page": 100}
            )
        ).json()
        seen.update(m["id"] for m in page["messages"])
        if not page["has_more"]:
            return seen
        after = page["messages"][-1]["id"]
    raise AssertionError("history did not end")


def assert_nothing_lost(sender: Sender, rows: list[tuple[int, str]]) -> None:
    """Every numbered message acknowledged, stored exactly once, under the id its echo carried."""
    acked = {client_id: message_id for client_id, message_id in sender.acked.items() if client_id.startswith("m")}
    numbered = [(message_id, client_id) for message_id, client_id in rows if client_id.startswith("m")]
    assert len(acked) == MESSAGES
    assert sorted(client_id for _, client_id in numbered) == sorted(f"m{n}" for n in range(MESSAGES))
    assert {message_id for message_id, _ in numbered} == set(acked.values())


async def _people(pair: Pair) -> tuple[Person, Person, int]:
    alice, bob = await pair.api.person("Alice"), await pair.api.person("Bob")
    room = await pair.api.room(alice, bob)
    return alice, bob, room


@attrs.define
class FollowingReceiver:
    """A client that follows the rule: events live, and after any close a reconnect and a catch-up by `after_id`
    from the last message it saw. Whatever it ends up with, it got without a final look at the whole history."""

    person: Person
    room: int
    ws_url: str
    base_url: str
    seen: set[int] = attrs.field(factory=set)
    live: set[int] = attrs.field(factory=set)
    closes: list[int | None] = attrs.field(factory=list)

    async def run(self) -> None:
        for _ in range(200):  # bounded: the test cancels it long before
            try:
                async with connect(
                    f"{self.ws_url}?token={self.person.token}&room_id={self.room}", open_timeout=2
                ) as ws:
                    await ws.send(json.dumps({"type": "ping", "data": {}}))
                    while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "pong":
                        pass  # answered: subscribed, so nothing published from here on can miss this socket
                    await self._catch_up()
                    async for raw in ws:
                        event = json.loads(raw)
                        if event["type"] == "new_message":
                            self.live.add(event["data"]["id"])
                            self.seen.add(event["data"]["id"])
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except (OSError, InvalidHandshake, TimeoutError):
                await asyncio.sleep(0.2)

    async def _catch_up(self) -> None:
        after = max(self.seen, default=0)
        for _ in range(100):
            page = (
                await self.person.http.get(
                    f"{self.base_url}/api/v1/chat/rooms/{self.room}/messages",
                    params={"after_id": after, "per_page": 100},
                )
            ).json()
            self.seen.update(m["id"] for m in page["messages"])
            if not page["has_more"] or not page["messages"]:
                return
            after = page["messages"][-1]["id"]


async def _online_within(api: Api, base_url: str, users: set[int], *, within: float) -> float | None:
    """Seconds until every one of `users` is listed online by the process at `base_url`; None if not in time."""
    watcher = await api.person("Watcher")
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < within:
        listed = await watcher.http.get(f"{base_url}/api/v1/chat/online-users")
        if users <= {u["user_id"] for u in listed.json()["online_users"]}:
            return elapsed
        await asyncio.sleep(0.1)
    return None


@pytest.mark.parametrize("pair", [60], indirect=True)  # the default TTL: heartbeats alone take 20 s
async def test_redis_restart_mid_traffic_loses_nothing_and_fan_out_resumes(
    pair: Pair, redis_server: RedisServer
) -> None:
    """Redis restarts (empty: no persistence) while Alice sends through a to Bob on b. Sockets whose subscription
    had a gap are closed with 1012 once fan-out is back; a client following the rule then has every message
    without reading the whole history, and presence is true again within 5 s (not at the next heartbeat)."""
    alice, bob, room = await _people(pair)
    sender = Sender(alice, room, [pair.a.server.ws_url])
    receiver = FollowingReceiver(bob, room, pair.b.server.ws_url, pair.b.server.base_url)
    listening = asyncio.create_task(receiver.run())
    presence: list[asyncio.Task[float | None]] = []

    async def restart() -> None:
        await asyncio.to_thread(redis_server.start)
        watch = _online_within(pair.api, pair.b.server.base_url, {alice.id, bob.id}, within=5)
        presence.append(asyncio.create_task(watch))  # while Alice goes on sending (and reconnecting)

    try:
        await asyncio.wait_for(send_all(sender, {10: redis_server.stop, 20: restart}), DEADLINE)
        restarted, resumed = time.monotonic(), False
        for probe in range(50):  # fan-out across processes is back within 5 s of the restart
            await sender.send(f"probe{probe}", "probe")
            resumed = await _arrives(receiver, sender.acked[f"probe{probe}"], within=0.5)
            if resumed or time.monotonic() - restarted > 5:
                break
        assert resumed
        assert time.monotonic() - restarted < 5
        rows = await stored(pair.database_url, room)
        for _ in range(100):  # bounded: the receiver's last catch-up may still be under way
            if {i for i, _ in rows} <= receiver.seen:
                break
            await asyncio.sleep(0.05)
    finally:
        await sender.close()
        listening.cancel()
    assert_nothing_lost(sender, rows)
    assert {i for i, _ in rows} <= receiver.seen, "a message never reached the following client"
    assert 1012 in receiver.closes
    assert await presence[0] is not None, "presence was not true again within 5 s of the restart"


async def _arrives(receiver: Receiver | FollowingReceiver, message_id: int, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if message_id in receiver.live:
            return True
        await asyncio.sleep(0.02)
    return message_id in receiver.live


async def test_postgres_restart_gives_503s_and_errors_then_recovers(pair: Pair) -> None:
    alice, _, room = await _people(pair)
    sender = Sender(alice, room, [pair.a.server.ws_url])
    statuses: list[int] = []
    recovered_after: list[float] = []
    refused: list[int | None] = []

    newcomer = await pair.api.person("Carol")  # in the database, never looked up by the server yet

    async def outage() -> None:
        await asyncio.to_thread(stop_cluster)
        async with connect(f"{pair.a.server.ws_url}?token={newcomer.token}", open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 20)  # the user lookup waits for the pool, then gives up
            refused.append(closed.value.rcvd.code if closed.value.rcvd else None)
        for _ in range(3):
            statuses.append((await alice.http.get(f"{pair.a.server.base_url}/api/v1/chat/rooms")).status_code)
        ready = await pair.api.http.get(f"{pair.a.server.base_url}/ready")
        statuses.append(ready.status_code)
        assert ready.status_code == 503
        await asyncio.to_thread(start_cluster)
        started = time.monotonic()
        for _ in range(100):
            response = await alice.http.get(f"{pair.a.server.base_url}/api/v1/chat/rooms")
            statuses.append(response.status_code)
            if response.status_code == 200:
                recovered_after.append(time.monotonic() - started)
                return
            await asyncio.sleep(0.1)

    async def send_during_outage() -> None:
        await asyncio.to_thread(stop_cluster)
        try:
            await sender.ws.send(  # type: ignore[union-attr]
                json.dumps({"type": "send_message", "data": {"content": "down", "client_msg_id": "m15"}})
            )
            error = await _next_error(sender)
            assert error == "unavailable"
        finally:
            await asyncio.to_thread(start_cluster)

    try:
        await asyncio.wait_for(send_all(sender, {10: outage, 15: send_during_outage}), DEADLINE)
    finally:
        await sender.close()
    assert 503 in statuses
    assert 500 not in statuses
    assert refused == [1013]  # try again later: not 4000 (a bad token) nor 4500 (a crash)
    assert recovered_after
    assert recovered_after[0] < 5
    assert_nothing_lost(sender, await stored(pair.database_url, room))
    assert pair.a.proc.poll() is None
    assert pair.b.proc.poll() is None


async def _next_error(sender: Sender) -> str:
    assert sender.ws is not None
    for _ in range(20):
        event = json.loads(await asyncio.wait_for(sender.ws.recv(), 10))
        if event["type"] == "error":
            return str(event["data"]["code"])
    raise AssertionError("no error event")


async def test_a_killed_process_loses_nothing_its_clients_reconnect_elsewhere(pair: Pair) -> None:
    alice, bob, room = await _people(pair)
    sender = Sender(alice, room, [pair.a.server.ws_url, pair.b.server.ws_url])
    receiver_ws = await connect(f"{pair.b.server.ws_url}?token={bob.token}&room_id={room}", open_timeout=5)
    receiver = Receiver(receiver_ws)
    listening = asyncio.create_task(receiver.run())

    def kill_a() -> None:
        os.kill(pair.a.proc.pid, signal.SIGKILL)
        pair.a.proc.wait(timeout=10)

    try:
        await asyncio.wait_for(send_all(sender, {15: kill_a}), DEADLINE)
    finally:
        await sender.close()
        listening.cancel()
    assert sender.reconnects >= 2
    rows = await stored(pair.database_url, room)
    assert_nothing_lost(sender, rows)
    assert {i for i, _ in rows} <= receiver.live | await history_ids(pair.api, bob, pair.b.server.base_url, room)
    # The killed process's users go offline when their heartbeats expire (CHAT_PRESENCE_TTL=3 here).
    await receiver_ws.close()
    watcher = await pair.api.person("Carol")
    deadline = time.monotonic() + 10
    online: list[int] = [alice.id]
    while time.monotonic() < deadline and alice.id in online:
        listed = await watcher.http.get(f"{pair.b.server.base_url}/api/v1/chat/online-users")
        online = [u["user_id"] for u in listed.json()["online_users"]]
        await asyncio.sleep(0.5)
    assert alice.id not in online


async def test_sigterm_drains_with_1012_and_exits_cleanly(pair: Pair) -> None:
    alice, _, room = await _people(pair)
    sender = Sender(alice, room, [pair.a.server.ws_url])
    for n in range(5):
        await sender.send(f"m{n}", "before shutdown")
    assert sender.ws is not None
    pair.a.proc.send_signal(signal.SIGTERM)
    try:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(sender.ws.recv(), 15)  # nothing else comes to this socket but the close
    finally:
        await sender.close()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code in (1001, 1012)
    # uvicorn drains, runs the shutdown, then re-raises the signal it caught: -15 after a clean finish.
    assert await asyncio.to_thread(pair.a.proc.wait, 20) in (0, -signal.SIGTERM)
    log = pair.a.server.log()
    assert "Application shutdown complete." in log
    assert "Finished server process" in log
    assert [client_id for _, client_id in await stored(pair.database_url, room)] == [f"m{n}" for n in range(5)]
