"""A socket that reads slower than events arrive is dropped instead of being buffered for without limit."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Api, Server, opened_api, serving


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a small outbox and a short send timeout, and no rate limit in the way."""
    extra = {"CHAT_WS_QUEUE_SIZE": "8", "CHAT_WS_SEND_TIMEOUT": "1", "CHAT_WS_RATE": "1e5", "CHAT_WS_BURST": "100000"}
    with serving(Path(tmp_path_factory.mktemp("tight")), extra) as server:
        yield server


@pytest.fixture
async def tight(tight_server: Server) -> AsyncIterator[Api]:
    async with opened_api(tight_server) as api:
        yield api


def open_raw_socket(server: Server, token: str) -> socket.socket:
    """A WebSocket handshake on a plain socket with a tiny receive buffer, so reading speed is ours to set."""
    port = int(server.base_url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/v1/chat/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def read_slowly(sock: socket.socket, *, seconds: float) -> bytes:
    """16 KiB every 50 ms until the server closes, for at most `seconds`."""
    data = bytearray()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = sock.recv(16384)
        if not chunk:
            break
        data += chunk
        time.sleep(0.05)
    return bytes(data)


async def test_a_slow_reader_is_dropped(tight: Api) -> None:
    alice, bob = await tight.person("Alice"), await tight.person("Bob")
    room = await tight.room(alice, bob)
    sock = open_raw_socket(tight.server, bob.token)
    try:
        reader = asyncio.create_task(asyncio.to_thread(read_slowly, sock, seconds=60))
        async with tight.socket(alice, room) as sender:
            for n in range(600):  # bounded: ~5 MB towards a reader taking ~300 KB/s
                await sender.send("send_message", content=f"{n} " + "x" * 9_000)
                await sender.next("new_message")  # the fast reader keeps getting every echo
        received = await asyncio.wait_for(reader, 90)
    finally:
        sock.close()
    # The reader got some of it, then the connection was closed under it (a reader this far behind
    # may never see the 1008 frame, which waits behind megabytes in the kernel's buffers).
    assert 0 < len(received) < 600 * 9_000
    await _logged(tight.server, f"dropping a slow reader (user {bob.id})")
    online = (await alice.http.get("/api/v1/chat/online-users")).json()["online_users"]
    assert bob.id not in [u["user_id"] for u in online]
    history = (await alice.http.get(f"/api/v1/chat/rooms/{room}/messages", params={"per_page": 1})).json()
    assert history["total"] == 600


async def _logged(server: Server, line: str, *, within: float = 10) -> None:
    """The server wrote `line` to its log: it may come a moment after the client saw the connection end."""
    deadline = time.monotonic() + within
    while line not in server.log():
        assert time.monotonic() < deadline, f"{line!r} not in the log within {within} s"
        await asyncio.sleep(0.1)
