"""Request heads are bounded on a real `chat serve`: an over-size head gets 431 (or a closed connection) before
it is read whole, while normal requests with large headers, bodies and socket upgrades keep working."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect

from chat_http.http_limits import MAX_HEAD_BYTES, MAX_HEADER_FIELDS
from tests.e2e.conftest import WAIT, Api, Server

API = "/api/v1/chat"
COOKIE = "session=" + "c" * 8000  # a full cookie jar: well inside the limit


def address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def send_head(server: Server, pieces: list[bytes]) -> bytes:
    """Whatever the server answers to `pieces` before it closes; b"" when it resets the connection instead.
    A server that keeps reading and never answers fails this with a timeout."""
    with socket.create_connection(address(server), timeout=WAIT) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed while we were still sending
            for piece in pieces:
                sock.sendall(piece)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                answer += data
        return answer


def refused(answer: bytes) -> bool:
    return answer == b"" or answer.startswith(b"HTTP/1.1 431 ")


def test_too_many_header_fields_get_431_and_a_closed_connection(server: Server) -> None:
    fields = b"".join(b"X-Field-%d: %d\r\n" % (i, i) for i in range(2 * MAX_HEADER_FIELDS))
    answer = send_head(server, [b"GET /health HTTP/1.1\r\nHost: chat\r\n" + fields + b"\r\n"])
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert httpx.get(f"{server.base_url}/health", timeout=WAIT).status_code == 200


def test_an_oversize_header_is_refused_before_it_is_read_whole(server: Server) -> None:
    big = b"X-Big: " + b"a" * 2**20 + b"\r\n"  # 1 MiB, a whole request
    assert refused(send_head(server, [b"GET /health HTTP/1.1\r\nHost: chat\r\n" + big + b"\r\n"]))
    # 64 MiB that never ends: the server stops reading and closes, it does not keep the bytes.
    endless = [b"GET /health HTTP/1.1\r\nHost: chat\r\nX-Endless: "] + [b"a" * 2**16] * 2**10
    assert refused(send_head(server, endless))
    # Many requests each just over the limit, then the service still answers.
    for _ in range(20):
        assert refused(send_head(server, [b"GET / HTTP/1.1\r\nX-Big: " + b"b" * MAX_HEAD_BYTES + b"\r\n\r\n"]))
    assert httpx.get(f"{server.base_url}/health", timeout=WAIT).status_code == 200
    assert "Request head over" in server.log()


async def test_large_headers_bodies_and_socket_upgrades_within_the_limit_work(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    many = {f"X-Field-{i}": "v" * 500 for i in range(MAX_HEADER_FIELDS - 10)}  # ~50 KB in 90 fields
    rooms = await alice.http.get(f"{API}/rooms", headers={"Cookie": COOKIE, **many})
    assert rooms.status_code == 200
    url = f"{api.server.ws_url}?token={alice.token}"
    async with connect(url, additional_headers={"Cookie": COOKIE, **many}, open_timeout=WAIT) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "pong"
    # One keep-alive connection: a body far over the head limit is not a head; each request's head counts anew.
    host, port = address(api.server)
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:
        body = json.dumps({"receiver_id": bob.id}) + " " * (4 * MAX_HEAD_BYTES)
        headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json", "Cookie": COOKIE}
        conn.request("POST", f"{API}/rooms", body=body, headers=headers)
        first = conn.getresponse()
        first.read()
        assert first.status in (200, 201)
        sock = conn.sock
        conn.request("GET", "/health", headers={"Cookie": COOKIE})
        second = conn.getresponse()
        second.read()
        assert second.status == 200
        assert conn.sock is sock
        conn.request("GET", "/health", headers={f"X-Field-{i}": "1" for i in range(2 * MAX_HEADER_FIELDS)})
        third = conn.getresponse()
        third.read()
        assert third.status == 431
    finally:
        conn.close()
