"""The socket writer in-process: a full outbox or a stuck send ends in close 1008, never in growing memory."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from chat_http.hub import Connection, Hub
from chat_http.ws import _writer
from chatcore import UserId
from chatcore.testing import MemoryBroker


class StuckSocket:
    """A peer that accepts `sent_before_stuck` frames, then never takes another one."""

    def __init__(self, sent_before_stuck: int) -> None:
        self.sent: list[str] = []
        self.closed: list[tuple[int, str]] = []
        self._left = sent_before_stuck

    async def send_text(self, text: str) -> None:
        if self._left == 0:
            await asyncio.Event().wait()
        self._left -= 1
        self.sent.append(text)

    async def close(self, code: int, reason: str = "") -> None:
        self.closed.append((code, reason))


class Settings:
    ws_send_timeout = 0.2


class Runtime:
    settings = Settings()


async def test_an_overflowing_outbox_closes_with_1008() -> None:
    conn = Connection(UserId(1), queue_size=2)
    sock = StuckSocket(sent_before_stuck=10)
    writer = asyncio.create_task(_writer(cast(Any, sock), conn, cast(Any, Runtime())))
    for n in range(50):  # far more than the queue holds, faster than the writer can send
        conn.offer(f"{n}".encode())
    await asyncio.wait_for(writer, 5)
    assert sock.closed == [(1008, "too slow: outgoing queue full")]
    assert len(conn.outbox) <= 2


async def test_a_send_that_never_completes_closes_with_1008() -> None:
    conn = Connection(UserId(1), queue_size=100)
    sock = StuckSocket(sent_before_stuck=1)
    writer = asyncio.create_task(_writer(cast(Any, sock), conn, cast(Any, Runtime())))
    conn.offer(b"first")
    conn.offer(b"second")
    await asyncio.wait_for(writer, 5)
    assert sock.sent == ["first"]
    assert sock.closed == [(1008, "too slow: send timed out")]


async def test_the_hub_fans_out_to_each_connection_of_a_user_and_of_a_room() -> None:
    broker = MemoryBroker()
    hub = Hub(broker, max_per_user=2)
    a1, a2, b = (
        Connection(UserId(1), queue_size=5),
        Connection(UserId(1), queue_size=5),
        Connection(UserId(2), queue_size=5),
    )
    for conn in (a1, a2, b):
        await hub.register(conn)
    await hub.join(b, 7)  # type: ignore[arg-type]
    await broker.publish(["user:1"], b"to alice")
    await broker.publish(["room:7"], b"to room")
    assert [list(a1.outbox), list(a2.outbox)] == [[b"to alice"], [b"to alice"]]
    assert list(b.outbox) == [b"to room"]
    b.outbox.clear()
    await hub.unregister(b)
    await broker.publish(["room:7"], b"nobody")
    assert not b.outbox
    assert hub.connection_count == 2
