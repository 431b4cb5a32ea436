"""examples/hrms end to end: an HRMS with its own employees, login and session tokens, and chat mounted in it.

Two employees log in through the HRMS, find each other by email through the chat, open a room, talk over the
WebSocket under /chat, send a file and fetch it; the HRMS's own table is never written by the chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import stop_server
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hrms"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@attrs.frozen
class Hrms:
    base_url: str
    data: Path
    log: Path

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/chat/api/v1/chat/ws"

    def employees(self) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.data / "hrms.db")) as db:
            return db.execute("SELECT * FROM employees ORDER BY emp_id").fetchall()

    def tables(self) -> set[str]:
        with contextlib.closing(sqlite3.connect(self.data / "hrms.db")) as db:
            return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.fixture
def hrms(tmp_path: Path) -> Iterator[Hrms]:
    port = free_port()
    server = Hrms(base_url=f"http://127.0.0.1:{port}", data=tmp_path / "data", log=tmp_path / "hrms.log")
    with server.log.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "app.py"), "--port", str(port), "--data", str(server.data)],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the HRMS did not start:\n{server.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.base_url}/me", timeout=1).status_code == 401:
                    break
            time.sleep(0.1)
        yield server
    finally:
        stop_server(proc)
    assert "Traceback" not in server.log.read_text()


async def _login(http: httpx.AsyncClient, email: str, password: str = "demo") -> tuple[int, dict[str, str]]:
    reply = await http.post("/login", json={"email": email, "password": password})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return body["employee"]["emp_id"], {"Authorization": f"Bearer {body['token']}"}


async def _ready(*sockets: ClientConnection) -> None:
    """A socket answers ping only once the server has registered it: after this, no broadcast can miss it."""
    for ws in sockets:
        await ws.send(json.dumps({"type": "ping"}))
        await _next(ws, "pong")


async def _next(ws: ClientConnection, kind: str, **fields: Any) -> dict[str, Any]:
    """The next event of `kind` whose data has these `fields` (sockets also hear their own messages echoed)."""
    async with asyncio.timeout(5):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == kind and all(event["data"].get(k) == v for k, v in fields.items()):
                return event


async def test_two_employees_log_in_through_the_hrms_and_chat(hrms: Hrms) -> None:
    before = hrms.employees()
    async with httpx.AsyncClient(base_url=hrms.base_url, timeout=30) as http:
        assert (await http.post("/login", json={"email": "alice@acme.test", "password": "nope"})).status_code == 401
        alice_id, alice = await _login(http, "alice@acme.test")
        john_id, john = await _login(http, "john@acme.test")
        assert (await http.get("/me", headers=alice)).json()["full_name"] == "Alice Smith"

        found = (await http.get("/chat/api/v1/chat/search-users", params={"email": "JOHN@"}, headers=alice)).json()
        assert [(u["id"], u["name"], u["email"]) for u in found["users"]] == [(john_id, "John Doe", "john@acme.test")]
        me = (await http.get("/chat/api/v1/chat/me", headers=alice)).json()
        assert (me["id"], me["avatar_url"]) == (alice_id, "https://i.pravatar.cc/150?u=alice")
        opened = await http.post("/chat/api/v1/chat/rooms", json={"receiver_id": john_id}, headers=alice)
        assert opened.status_code == 201
        room = opened.json()["id"]

        alice_token = alice["Authorization"].removeprefix("Bearer ")
        john_token = john["Authorization"].removeprefix("Bearer ")
        async with (
            connect(f"{hrms.ws_url}?token={alice_token}&room_id={room}") as a,
            connect(f"{hrms.ws_url}?token={john_token}&room_id={room}") as j,
        ):
            await _ready(a, j)
            await a.send(
                json.dumps({"type": "send_message", "data": {"content": "Payslips are out", "client_msg_id": "m1"}})
            )
            heard = (await _next(j, "new_message"))["data"]
            assert (heard["content"], heard["sender_name"], heard["sender_id"]) == (
                "Payslips are out",
                "Alice Smith",
                alice_id,
            )

            stored = await http.post(
                "/chat/api/v1/chat/uploads", files={"file": ("payslip.pdf", PDF, "application/pdf")}, headers=alice
            )
            assert stored.status_code == 201, stored.text
            upload = {"message_type": "file", "upload_id": stored.json()["upload_id"]}
            await a.send(json.dumps({"type": "send_message", "data": upload}))
            file_event = (await _next(j, "new_message", message_type="file"))["data"]
            await j.send(json.dumps({"type": "send_message", "data": {"content": "Thanks!"}}))
            assert (await _next(a, "new_message", content="Thanks!"))["data"]["sender_id"] == john_id

        assert file_event["file_name"] == "payslip.pdf"
        assert file_event["file_url"].startswith("/chat/static/chat_files/files/")
        fetched = await http.get(file_event["file_url"])
        assert (fetched.status_code, fetched.content) == (200, PDF)

        history = (await http.get(f"/chat/api/v1/chat/rooms/{room}/messages", headers=john)).json()
        assert [m["content"] for m in history["messages"]] == ["Thanks!", None, "Payslips are out"]

        with pytest.raises(ConnectionClosed) as refused:
            async with connect(f"{hrms.ws_url}?token=forged") as ws:
                await ws.recv()
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 4001
        assert (
            await http.get("/chat/api/v1/chat/rooms", headers={"Authorization": "Bearer forged"})
        ).status_code == 401

    assert hrms.employees() == before  # the chat read the HRMS's employees and never wrote them
    assert "users" not in hrms.tables()
    assert {"hrchat_chat_rooms", "hrchat_chat_messages", "hrchat_alembic_version"} <= hrms.tables()


def test_the_example_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    """The public API as a host uses it is typed: the example passes `mypy --strict`."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(EXAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_commands_run_as_written(hrms: Hrms, tmp_path: Path) -> None:
    """The example README's shell lines in bash (only the port changed): logins, search, a room, an upload."""
    readme = (EXAMPLE / "README.md").read_text()
    port = hrms.base_url.rsplit(":", 1)[1]
    (script,) = re.findall(r"```sh\n(login\(\).*?)```", readme, re.S)
    script = script.replace("localhost:8000", f"localhost:{port}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{hrms.log.read_text()[-3000:]}"
    assert '"email":"john@acme.test"' in done.stdout
    assert '"other_user":{"avatar_url":null,"email":"john@acme.test","id":12' in done.stdout  # the room
    assert '"file_name":"payslip.pdf"' in done.stdout
    assert '"upload_id":"' in done.stdout
