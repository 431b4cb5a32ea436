"""A real `chat serve` on a free port, real HTTP and WebSocket clients, and a guard against any 5xx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.users import SqlUserDirectory
from tests.ports import free_port

SECRET = "e2e-secret-" + "x" * 40
SEEN_STATUSES: list[tuple[str, str, int]] = []
WAIT = 5.0


@attrs.frozen
class Server:
    base_url: str
    ws_url: str
    env: dict[str, str]
    workdir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def chat_command(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat_http.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_server(
    workdir: Path, extra_env: dict[str, str] | None = None, *, port: int | None = None, args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], Server]:
    """`chat serve` on `port` (a free one by default), with extra `args` such as --dev."""
    port = port or free_port()
    env = {
        **os.environ,
        "CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'chat.db'}",
        "CHAT_STORAGE_URL": f"file://{workdir / 'files'}",
        "CHAT_JWT_SECRET": SECRET,
        **(extra_env or {}),
    }
    log_path = workdir / "server.log"
    with log_path.open("wb") as log_file:  # the child keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat_http.cli", "serve", "--port", str(port), *args],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(
        base_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}/api/v1/chat/ws",
        env=env,
        workdir=workdir,
        log_path=log_path,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chat serve exited with {proc.returncode}:\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return proc, server
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"chat serve did not become healthy:\n{server.log()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def serving(workdir: Path, extra_env: dict[str, str] | None = None, *, args: tuple[str, ...] = ()) -> Iterator[Server]:
    """`chat serve` for as long as it is entered; then its log must hold no traceback and no secret."""
    proc, srv = start_server(workdir, extra_env, args=args)
    try:
        yield srv
    finally:
        stop_server(proc)
    log = srv.log()
    assert "Traceback" not in log, f"the server logged a traceback:\n{log[-5000:]}"
    assert "token=ey" not in log, "a token reached the server log"
    leaked = re.search(r"sig=(?!\[redacted\])[^&\s\"']", log)  # an empty sig= shows nothing
    assert not leaked, "a file link's signature reached the server log"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("chat")) as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_server_errors() -> Iterator[None]:
    """Every HTTP status this test saw is recorded; any 5xx fails the test."""
    start = len(SEEN_STATUSES)
    yield
    errors = [s for s in SEEN_STATUSES[start:] if s[2] >= 500]
    assert not errors, f"server errors: {errors}"


async def _record(response: httpx.Response) -> None:
    SEEN_STATUSES.append((response.request.method, str(response.request.url.path), response.status_code))


def token_for(user_id: int, *, ttl: int = 3600, secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "iat": now, "exp": now + ttl, **claims}, secret, algorithm="HS256")


@attrs.define
class Person:
    id: int
    name: str
    email: str
    token: str
    http: httpx.AsyncClient

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@attrs.define
class Api:
    server: Server
    http: httpx.AsyncClient
    _clients: list[httpx.AsyncClient] = attrs.field(factory=list)

    @classmethod
    def open(cls, server: Server) -> Api:
        """An Api whose own client (no token) is closed with the rest by `aclose`."""
        api = cls(server=server, http=httpx.AsyncClient())
        api.http = api.client()
        return api

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(
            base_url=self.server.base_url, headers=headers, timeout=30, event_hooks={"response": [_record]}
        )
        self._clients.append(client)
        return client

    async def person(self, name: str = "Alice", *, email: str | None = None) -> Person:
        """A fresh user in the server's database, with a token and an authenticated client."""
        email = email or f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.com"
        engine = create_engine(self.server.env["CHAT_DATABASE_URL"])
        try:
            user = await SqlUserDirectory(session_factory(engine)).add(name=name, email=email)
        finally:
            await engine.dispose()
        token = token_for(user.id)
        return Person(id=user.id, name=name, email=email, token=token, http=self.client(token))

    async def room(self, a: Person, b: Person) -> int:
        response = await a.http.post("/api/v1/chat/rooms", json={"receiver_id": b.id})
        assert response.status_code in (200, 201), response.text
        room_id: int = response.json()["id"]
        return room_id

    @contextlib.asynccontextmanager
    async def socket(self, person: Person | str, room_id: int | None = None) -> AsyncIterator[Socket]:
        token = person.token if isinstance(person, Person) else person
        url = f"{self.server.ws_url}?token={token}" + (f"&room_id={room_id}" if room_id else "")
        async with connect(url, max_size=None, open_timeout=WAIT) as ws:
            sock = Socket(ws)
            # The server accepts before it authenticates and subscribes; its first answer means it is
            # listening, so no event sent after this can miss the socket (the web client does the same).
            await sock.send("ping")
            await sock.next("pong")
            yield sock

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


async def close_code(url: str) -> int:
    """The code the server closes a socket opened at `url` with, before sending it anything."""
    async with connect(url, open_timeout=WAIT) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@attrs.define
class Socket:
    ws: ClientConnection

    async def send(self, kind: str, **data: Any) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    async def next(self, kind: str | None = None, *, within: float = WAIT) -> dict[str, Any]:
        """The next event (of `kind`, skipping others such as presence), or fail after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or 'event'} within {within} s")
            try:
                event: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                raise AssertionError(f"no {kind or 'event'} within {within} s") from None
            if kind is None or event["type"] == kind:
                return event

    async def closed_with(self, *, within: float = WAIT) -> int:
        """The code the server closes this socket with, skipping any events before it, or fail after `within`."""
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else 1006  # 1006: no close frame came
        except TimeoutError:
            raise AssertionError(f"not closed within {within} s") from None

    async def silent(self, kind: str, *, for_seconds: float = 0.5) -> None:
        """Assert no event of `kind` arrives within a short window."""
        try:
            event = await self.next(kind, within=for_seconds)
        except AssertionError:
            return
        raise AssertionError(f"unexpected {kind}: {event}")


@contextlib.asynccontextmanager
async def opened_api(server: Server) -> AsyncIterator[Api]:
    api = Api.open(server)
    try:
        yield api
    finally:
        await api.aclose()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    async with opened_api(server) as api:
        yield api
