"""The socket reader in-process: large frames share one decode budget per process; beyond it, `busy`."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import attrs

from chat_http.hub import Connection, DecodeBudget
from chat_http.ws import _reader, peek_client_msg_id
from chatcore import InvalidError, SendMessage, UserId
from chatcore.testing import FakeClock


class FrameSocket:
    """A peer that sends the frames put in `frames`, then disconnects when given None."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()

    async def receive(self) -> dict[str, Any]:
        frame = await self.frames.get()
        if frame is None:
            return {"type": "websocket.disconnect", "code": 1000}
        return {"type": "websocket.receive", "text": frame}


class BlockingChat:
    """Sends wait for `release`, so a frame stays 'being decoded' for as long as the test wants."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[str | None] = []

    async def send_message(self, me: UserId, command: SendMessage, *, joined: object = None) -> Any:
        self.started.append(command.client_msg_id)
        await self.release.wait()
        raise InvalidError("not stored: this test only counts what reached the service")


@attrs.define
class Settings:
    ws_rate: float = 1000.0
    ws_burst: int = 1000


@attrs.define
class Runtime:
    chat: BlockingChat
    decoding: DecodeBudget
    settings: Settings = attrs.field(factory=Settings)
    clock: FakeClock = attrs.field(factory=FakeClock)


def file_frame(client_msg_id: str, size: int) -> str:
    data = {"room_id": 1, "message_type": "file", "file_name": "a.pdf", "client_msg_id": client_msg_id}
    data["file_data"] = "A" * size
    return json.dumps({"type": "send_message", "data": data})


def errors(conn: Connection) -> list[dict[str, Any]]:
    return [json.loads(p)["data"] for p in conn.outbox if json.loads(p)["type"] == "error"]


async def test_a_large_frame_beyond_the_budget_is_refused_busy_and_the_socket_goes_on() -> None:
    rt = Runtime(chat=BlockingChat(), decoding=DecodeBudget(3 * 2**20))
    first, second = FrameSocket(), FrameSocket()
    first_conn, second_conn = Connection(UserId(1), queue_size=10), Connection(UserId(2), queue_size=10)
    readers = [
        asyncio.create_task(_reader(cast(Any, first), first_conn, cast(Any, rt))),
        asyncio.create_task(_reader(cast(Any, second), second_conn, cast(Any, rt))),
    ]
    await first.frames.put(file_frame("f1", 2 * 2**20))
    for _ in range(100):
        if rt.chat.started:
            break
        await asyncio.sleep(0)
    assert rt.chat.started == ["f1"]  # being decoded: 2 MiB of the 3 MiB budget in use

    await second.frames.put(file_frame("f2", 2 * 2**20))
    await second.frames.put(json.dumps({"type": "ping", "data": {}}))  # small frames never wait for the budget
    for _ in range(100):
        if len(second_conn.outbox) == 2:
            break
        await asyncio.sleep(0)

    assert [e["code"] for e in errors(second_conn)] == ["busy"]
    assert errors(second_conn)[0]["client_msg_id"] == "f2"
    assert json.loads(second_conn.outbox[-1])["type"] == "pong"
    assert rt.chat.started == ["f1"]
    rt.chat.release.set()
    for _ in range(100):
        if rt.decoding.used == 0:
            break
        await asyncio.sleep(0)
    assert rt.decoding.used == 0
    await second.frames.put(file_frame("f2", 2 * 2**20))  # sent again: there is room now
    for _ in range(100):
        if rt.chat.started == ["f1", "f2"]:
            break
        await asyncio.sleep(0)
    assert rt.chat.started == ["f1", "f2"]
    for sock in (first, second):
        await sock.frames.put(None)
    await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert rt.decoding.used == 0


async def test_one_frame_larger_than_the_whole_budget_still_passes_alone() -> None:
    rt = Runtime(chat=BlockingChat(), decoding=DecodeBudget(2**20))
    rt.chat.release.set()
    sock, conn = FrameSocket(), Connection(UserId(1), queue_size=10)
    reader = asyncio.create_task(_reader(cast(Any, sock), conn, cast(Any, rt)))
    await sock.frames.put(file_frame("big", 3 * 2**20))
    await sock.frames.put(None)
    await asyncio.wait_for(reader, 5)

    assert rt.chat.started == ["big"]
    assert [e["code"] for e in errors(conn)] == ["invalid"]  # what BlockingChat raised, not "busy"


def test_the_client_msg_id_of_a_large_frame_is_found_before_or_after_the_file() -> None:
    head = file_frame("before", 100_000)
    tail = json.dumps({"type": "send_message", "data": {"file_data": "A" * 100_000, "client_msg_id": "after"}})

    assert (peek_client_msg_id(head), peek_client_msg_id(tail)) == ("before", "after")
    assert peek_client_msg_id(json.dumps({"data": {"file_data": "A" * 100_000}})) is None
