"""The browser client served by `ChatPlugin(web_client=True)` inside a host's Litestar app, under /chat: the page
finds its files, the API and the socket under the mount path, with the host's own tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar, get

from chat_http import ChatPlugin, Settings
from chatcore import User
from tests.browser.conftest import DESKTOP, LOOP, WAIT_MS, ChatPage, expect
from tests.e2e.conftest import Person
from tests.http.test_mount import migrated_with_two_people, serving, verify

pytestmark = pytest.mark.asyncio(loop_scope=LOOP)


@pytest_asyncio.fixture(loop_scope=LOOP)
async def host(tmp_path: Path) -> AsyncIterator[tuple[str, User, User]]:
    """An HRMS on Litestar with the chat and its web client at /chat, served by uvicorn in this loop."""
    url, alice, john = await migrated_with_two_people(tmp_path, surname=" Host")
    settings = Settings(database_url=url, storage_url=f"file://{tmp_path / 'files'}", file_url_secret="f" * 40)

    @get("/", sync_to_thread=False)
    def home() -> dict[str, str]:
        return {"hrms": "home"}

    plugin = ChatPlugin(settings, path="/chat", verify_token=verify, web_client=True)
    async with serving(Litestar(route_handlers=[home], plugins=[plugin])) as address:
        yield f"http://{address}", alice, john


async def open_page(browser: Any, base_url: str, user: User) -> ChatPage:
    """The HRMS links an employee to the chat with its own session token in the fragment."""
    context = await browser.new_context(viewport=DESKTOP, base_url=base_url)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    person = Person(id=user.id, name=user.name, email=user.email, token=f"tok-{user.id}", http=None)  # type: ignore[arg-type]
    chat = ChatPage(page=page, person=person)
    chat.watch()
    await page.goto(f"/chat#token={person.token}")
    await chat.ready()  # /chat/api/v1/chat/me answered and the socket at /chat/api/v1/chat/ws is online
    return chat


async def test_the_embedded_web_client_chats_under_the_mount_path(browser: Any, host: tuple[str, User, User]) -> None:
    base_url, alice, john = host
    a = await open_page(browser, base_url, alice)
    j = await open_page(browser, base_url, john)
    try:
        await a.page.fill("#search", "john@")
        await a.page.locator(f'.result[data-user-id="{john.id}"]').click()
        await expect(a.page.locator("#peer-name")).to_have_text(john.name)
        await a.send("Hello from inside the HRMS")
        await expect(a.message("Hello from inside the HRMS")).to_have_attribute("data-state", "sent")
        room = j.room(a.person)
        await expect(room.locator(".room-preview")).to_have_text("Hello from inside the HRMS")
        assert a.page.url.endswith("/chat")  # the token left the address bar
        problems = a.problems + j.problems
        assert not problems, problems
    finally:
        for chat in (a, j):
            await chat.page.context.close()
