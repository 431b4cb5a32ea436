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


class SlowSocket(StuckSocket):
    """Every send takes `each` seconds; the one numbered `stuck_at` never completes."""

    def __init__(self, each: float, stuck_at: int | None = None) -> None:
        super().__init__(sent_before_stuck=-1 if stuck_at is None else stuck_at)
        self.each = each
        self.stuck_started: float | None = None

    async def send_text(self, text: str) -> None:
        if self._left == 0:
            self.stuck_started = asyncio.get_running_loop().time()
        await super().send_text(text)
        await asyncio.sleep(self.each)


async def test_sends_that_each_finish_in_time_are_never_cut_however_long_they_go_on() -> None:
    conn = Connection(UserId(1), queue_size=100)
    sock = SlowSocket(each=0.05)  # 12 sends over ~0.6 s, three times the 0.2 s timeout
    writer = asyncio.create_task(_writer(cast(Any, sock), conn, cast(Any, Runtime())))
    for n in range(12):
        conn.offer(f"{n}".encode())
    for _ in range(100):
        if len(sock.sent) == 12:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the watchdog fires while idle and must leave the socket alone
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    assert sock.sent == [f"{n}" for n in range(12)]
    assert sock.closed == []


async def test_a_send_stuck_after_others_is_cut_a_whole_timeout_after_it_began() -> None:
    conn = Connection(UserId(1), queue_size=100)
    sock = SlowSocket(each=0.07, stuck_at=2)  # the watchdog armed by the first send is due mid-way
    writer = asyncio.create_task(_writer(cast(Any, sock), conn, cast(Any, Runtime())))
    for n in range(4):
        conn.offer(f"{n}".encode())
    await asyncio.wait_for(writer, 5)
    assert sock.sent == ["0", "1"]
    assert sock.closed == [(1008, "too slow: send timed out")]
    assert sock.stuck_started is not None
    assert asyncio.get_running_loop().time() - sock.stuck_started >= Settings.ws_send_timeout


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
