"""The chat inside a host: the whole app mounted under /chat in a plain ASGI host and in Litestar's `asgi` mount,
and the routes as a Router through ChatPlugin; the host's own token check serves REST, the socket and files."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import uvicorn
from litestar import Litestar, asgi, get
from litestar.testing import TestClient
from litestar.types import Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chat_adapters.sql import create_engine, session_factory, upgrade
from chat_adapters.sql.users import SqlUserDirectory
from chat_http import ChatPlugin, RuntimeSlot, Settings, create_app
from chat_http.app import chat_lifespan
from chatcore import User
from tests.http.test_web import assert_strict
from tests.ports import free_port

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def verify(token: str) -> int | None:
    """The host's own sessions: 'tok-<employee id>'."""
    return int(token.removeprefix("tok-")) if token.startswith("tok-") and token[4:].isdigit() else None


async def verify_async(token: str) -> int | None:
    await asyncio.sleep(0)
    return verify(token)


@attrs.frozen
class Chat:
    settings: Settings
    alice: User
    john: User


async def migrated_with_two_people(tmp_path: Path, *, surname: str = "") -> tuple[str, User, User]:
    """A migrated SQLite chat database holding Alice and John (`surname` added to both names): its URL and both."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        users = SqlUserDirectory(session_factory(engine))
        alice = await users.add(name=f"Alice{surname}", email="alice@hr.test")
        john = await users.add(name=f"John{surname}", email="john@hr.test")
    finally:
        await engine.dispose()
    return url, alice, john


@pytest.fixture
async def chat(tmp_path: Path) -> Chat:
    url, alice, john = await migrated_with_two_people(tmp_path)
    settings = Settings(
        database_url=url, storage_url=f"file://{tmp_path / 'files'}", file_url_secret="f" * 40, mount_path="/chat"
    )
    return Chat(settings=settings, alice=alice, john=john)


def plain_asgi_host(chat_app: Litestar) -> Any:
    """A host that is no framework at all: /chat/... goes to the chat as a Starlette Mount does it (full path,
    `root_path` extended); lifespan events are the host's, so it enters the chat's lifespan itself."""

    async def host(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with AsyncExitStack() as stack:
                while (await receive())["type"] != "lifespan.shutdown":
                    await stack.enter_async_context(chat_app.lifespan())
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"].startswith("/chat/"):
            await chat_app({**scope, "root_path": scope.get("root_path", "") + "/chat"}, receive, send)  # type: ignore[arg-type]
            return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"host: not found"})

    return host


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """uvicorn in this loop on a free port: real close codes, unlike test clients."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws="websockets-sansio", log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn has no event for it)
                await asyncio.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _event(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while (event := json.loads(await ws.recv()))["type"] != kind:
            pass
    return event


async def test_the_app_mounted_in_a_plain_asgi_host_uses_the_hosts_tokens_everywhere(chat: Chat) -> None:
    app = create_app(chat.settings, verify_token=verify_async)
    alice, john = {"Authorization": f"Bearer tok-{chat.alice.id}"}, {"Authorization": f"Bearer tok-{chat.john.id}"}
    async with serving(plain_asgi_host(app)) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        assert (await http.get("/chat/health")).status_code == 200
        assert (await http.get("/elsewhere")).text == "host: not found"
        assert (await http.get("/chat/api/v1/chat/rooms", headers={"Authorization": "Bearer nope"})).status_code == 401
        found = await http.get("/chat/api/v1/chat/search-users", params={"email": "john@"}, headers=alice)
        assert [u["id"] for u in found.json()["users"]] == [chat.john.id]
        room = (await http.post("/chat/api/v1/chat/rooms", json={"receiver_id": chat.john.id}, headers=alice)).json()

        ws_url = f"ws://{address}/chat/api/v1/chat/ws"
        with pytest.raises(ConnectionClosed) as refused:
            async with connect(f"{ws_url}?token=nope") as ws:
                await ws.recv()
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 4001

        async with (
            connect(f"{ws_url}?token=tok-{chat.alice.id}&room_id={room['id']}") as a,
            connect(f"{ws_url}?token=tok-{chat.john.id}&room_id={room['id']}") as j,
        ):
            for ws in (a, j):  # answered once the server has registered the socket: no broadcast can miss it
                await ws.send(json.dumps({"type": "ping"}))
                await _event(ws, "pong")
            data = base64.b64encode(PNG).decode()
            await a.send(json.dumps({"type": "send_message", "data": {"content": "hi"}}))
            await a.send(
                json.dumps(
                    {"type": "send_message", "data": {"message_type": "image", "file_name": "p.png", "file_data": data}}
                )
            )
            assert (await _event(j, "new_message"))["data"]["content"] == "hi"
            image = (await _event(j, "new_message"))["data"]

        assert image["file_url"].startswith("/chat/static/chat_files/images/")
        assert (await http.get(image["file_url"])).content == PNG
        assert (await http.get(image["file_url"].partition("?")[0])).status_code == 401
        by_token = await http.get(image["file_url"].partition("?")[0], headers=john)
        assert by_token.content == PNG
        history = await http.get(f"/chat/api/v1/chat/rooms/{room['id']}/messages", headers=john)
        assert [m["message_type"] for m in history.json()["messages"]] == ["image", "text"]


@pytest.fixture
def litestar_host(chat: Chat) -> Iterator[TestClient[Litestar]]:
    """An HRMS on Litestar mounting the whole chat app with `asgi(..., is_mount=True)`."""
    chat_app = create_app(chat.settings, verify_token=verify)

    @asgi("/chat", is_mount=True, copy_scope=True)
    async def chat_mount(scope: Scope, receive: Receive, send: Send) -> None:
        await chat_app(scope, receive, send)

    @get("/hr/ping", sync_to_thread=False)
    def ping() -> dict[str, str]:
        return {"hrms": "ok"}

    @contextlib.asynccontextmanager
    async def with_chat(_: Litestar) -> AsyncIterator[None]:
        async with chat_app.lifespan():
            yield

    host = Litestar(route_handlers=[chat_mount, ping], lifespan=[with_chat])
    with TestClient(host) as client:
        yield client


def test_the_app_mounted_with_litestar_asgi_serves_rest_socket_and_files(
    chat: Chat, litestar_host: TestClient[Litestar]
) -> None:
    client = litestar_host
    alice = {"Authorization": f"Bearer tok-{chat.alice.id}"}
    assert client.get("/hr/ping").json() == {"hrms": "ok"}
    room = client.post("/chat/api/v1/chat/rooms", json={"receiver_id": chat.john.id}, headers=alice).json()

    with client.websocket_connect(f"/chat/api/v1/chat/ws?token=tok-{chat.alice.id}&room_id={room['id']}") as ws:
        data = base64.b64encode(PNG).decode()
        ws.send_json(
            {"type": "send_message", "data": {"message_type": "image", "file_name": "a.png", "file_data": data}}
        )
        while (event := ws.receive_json())["type"] != "new_message":
            pass

    url = event["data"]["file_url"]
    assert url.startswith("/chat/static/chat_files/images/")
    assert client.get(url).content == PNG
    assert client.get("/chat/api/v1/chat/unread-count", headers={"Authorization": "Bearer x"}).status_code == 401


def test_chat_plugin_adds_the_routes_and_the_lifespan_to_a_host_app(chat: Chat) -> None:
    @get("/hr/ping", sync_to_thread=False)
    def ping() -> dict[str, str]:
        return {"hrms": "ok"}

    plugin = ChatPlugin(attrs.evolve(chat.settings, mount_path=""), path="/chat/", verify_token=verify_async)
    host = Litestar(route_handlers=[ping], plugins=[plugin])
    alice = {"Authorization": f"Bearer tok-{chat.alice.id}"}
    with TestClient(host) as client:
        me = client.get("/chat/api/v1/chat/me", headers=alice)
        assert me.json()["email"] == "alice@hr.test"
        assert client.get("/chat/api/v1/chat/me").status_code == 401
        assert client.get("/hr/ping").json() == {"hrms": "ok"}  # the host's routes are the host's: no chat auth
        room = client.post("/chat/api/v1/chat/rooms", json={"receiver_id": chat.john.id}, headers=alice).json()
        with client.websocket_connect(f"/chat/api/v1/chat/ws?token=tok-{chat.john.id}&room_id={room['id']}") as ws:
            ws.send_json({"type": "typing", "data": {"is_typing": True}})
            while (event := ws.receive_json())["type"] != "typing":
                pass
        assert event["data"]["typing_users"] == [chat.john.id]
        upload = client.post(
            "/chat/api/v1/chat/uploads", files={"file": ("scan.png", PNG, "image/png")}, headers=alice
        ).json()
        sent = client.app.plugins.get(ChatPlugin).chat  # host code may act on the running ChatService
        assert sent is plugin.chat
        assert upload["message_type"] == "image"
        missing = client.get("/chat/api/v1/chat/rooms/999999", headers=alice)
        assert missing.json() == {"status_code": 404, "detail": "room not found"}
    assert plugin.settings.mount_path == "/chat"


def plugin_host(chat: Chat, **options: Any) -> Litestar:
    @get("/", sync_to_thread=False)
    def home() -> dict[str, str]:
        return {"hrms": "home"}

    return Litestar(
        route_handlers=[home], plugins=[ChatPlugin(chat.settings, path="/chat", verify_token=verify, **options)]
    )


def test_chat_plugin_serves_the_web_client_under_its_path_when_asked(chat: Chat) -> None:
    with TestClient(plugin_host(chat, web_client=True)) as client:
        page = client.get("/chat")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert_strict(page.headers)
        assert page.headers["x-frame-options"] == "DENY"
        assert 'data-dev="false"' in page.text
        links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert "/chat/web/main.js" in links
        assert all(link.startswith("/chat/web/") for link in links), links
        for link in [*links, "/chat/web/api.js", "/chat/web/voice-worklet.js"]:
            asset = client.get(link)
            assert asset.status_code == 200, link
            assert_strict(asset.headers)
        assert client.get("/chat/web/main.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/chat/web/index.html").status_code == 404
        assert client.get("/web/main.js").status_code == 404  # the host's root stays the host's
        assert client.get("/").json() == {"hrms": "home"}
        assert (
            client.get("/chat/api/v1/chat/me", headers={"Authorization": f"Bearer tok-{chat.alice.id}"}).json()["email"]
            == "alice@hr.test"
        )


def test_chat_plugin_serves_no_web_client_unless_asked(chat: Chat) -> None:
    with TestClient(plugin_host(chat)) as client:
        assert client.get("/chat").status_code == 404
        assert client.get("/chat/web/main.js").status_code == 404
        me = client.get("/chat/api/v1/chat/me", headers={"Authorization": f"Bearer tok-{chat.alice.id}"})
        assert me.status_code == 200


def test_chat_plugin_never_turns_on_the_dev_sign_in(chat: Chat) -> None:
    plugin = ChatPlugin(attrs.evolve(chat.settings, dev=True), verify_token=verify, web_client=True)
    assert plugin.settings.dev is False
    with TestClient(Litestar(plugins=[plugin])) as client:
        assert 'data-dev="false"' in client.get("/chat").text
        assert client.post("/chat/api/v1/dev/token", json={"email": "alice@hr.test"}).status_code == 404


def test_a_host_without_any_signing_secret_is_refused(chat: Chat) -> None:
    bare = attrs.evolve(chat.settings, file_url_secret=None)

    with pytest.raises(ValueError, match="CHAT_FILE_URL_SECRET"):
        ChatPlugin(bare, verify_token=verify)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"file_url_secret": None}, "CHAT_FILE_URL_SECRET", id="no-signing-secret"),
        pytest.param({"db_schema": "chat"}, "CHAT_DB_SCHEMA", id="schema-on-sqlite"),
    ],
)
async def test_a_router_wired_by_hand_is_refused_by_its_lifespan_as_the_plugin_is(
    chat: Chat, change: dict[str, Any], named: str
) -> None:
    """`chat_router` + `chat_lifespan` (docs/embedding.md, wiring by hand) check the settings as ChatPlugin does:
    without a key, file links would be signed with a key anyone can compute."""
    bad = attrs.evolve(chat.settings, **change)

    with pytest.raises(ValueError, match=named):
        async with chat_lifespan(RuntimeSlot(), bad, verify_token=verify):
            pass
