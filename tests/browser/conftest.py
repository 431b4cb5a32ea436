"""Debian's Chromium, driven by Playwright, against a real `chat serve --dev`; screenshots go to test-artifacts/."""

from __future__ import annotations

import math
import re
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest
import pytest_asyncio

from tests.conftest import IN_CI, skip_or_fail
from tests.e2e.conftest import Api, Person, Server, start_server, stop_server

if IN_CI:  # the test extra has it: missing in CI is an error, not a skip
    import importlib

    playwright_api = importlib.import_module("playwright.async_api")
else:
    playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a fake microphone, allowed without a prompt, for voice notes
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
WAIT_MS = 10_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 780}
SOCKET_URL = re.compile(r"/api/v1/chat/ws")

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `chat serve --dev` for the browser tests; each test makes its own people."""
    proc, srv = start_server(tmp_path_factory.mktemp("browser"), args=("--dev",))
    try:
        yield srv
    finally:
        stop_server(proc)
    check_log(srv)


def check_log(server: Server) -> None:
    log = server.log()
    assert "Traceback" not in log, f"the server logged a traceback:\n{log[-5000:]}"
    assert "token=ey" not in log, "a token reached the server log"


# Tests of a module share one event loop, so they can share one browser: a launch costs a second or two.
LOOP = "module"


@pytest_asyncio.fixture(loop_scope=LOOP)
async def api(server: Server) -> AsyncIterator[Api]:
    api = Api.open(server)
    try:
        yield api
    finally:
        await api.aclose()


async def employee(api: Api, name: str, *, email: str | None = None) -> Person:
    """Like `Api.person`, with a full name and a name-based email (or the given one)."""
    return await api.person(name, email=email or f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.com")


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium: Playwright's own browser downloads are never used."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/system-deps.sh)")
    return CHROMIUM


@pytest_asyncio.fixture(scope="module", loop_scope=LOOP)
async def browser(chromium: Path) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            await launched.close()


@attrs.define
class ChatPage:
    """One person's browser tab, with everything that went wrong in it collected for the end of the test."""

    page: Any
    person: Person
    problems: list[str] = attrs.field(factory=list)

    async def ready(self) -> None:
        await expect(self.page.locator("#me-name")).to_have_text(self.person.name)
        await expect(self.page.locator("#connection")).to_have_attribute("data-status", "online")

    async def send(self, text: str) -> None:
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")

    def message(self, text: str) -> Any:
        """The sent message (not a pending one) whose text is exactly `text`."""
        return self.page.locator("li.msg[data-id]", has=self.page.get_by_text(text, exact=True))

    def room(self, other: Person) -> Any:
        return self.page.locator(".room-item", has=self.page.get_by_text(other.name, exact=True))

    async def open_room_with(self, other: Person) -> None:
        await self.room(other).click()
        await expect(self.page.locator("#peer-name")).to_have_text(other.name)

    async def shot(self, name: str, *, full: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full)
        return path

    def watch(self) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                self.problems.append(f"console: {message.text}")

        def on_response(response: Any) -> None:
            if response.status >= 500:
                self.problems.append(f"HTTP {response.status} {response.url}")

        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", on_console)
        self.page.on("response", on_response)


@attrs.define
class Pages:
    browser: Any
    server: Server
    opened: list[ChatPage] = attrs.field(factory=list)
    tolerated: list[str] = attrs.field(factory=list)  # console errors a test provokes on purpose

    async def open(
        self, person: Person, *, viewport: dict[str, int] = DESKTOP, before: Any = None, path: str = "/chat"
    ) -> ChatPage:
        """A fresh browser context at `path`, not signed in yet; `before(context)` may route it first."""
        context = await self.browser.new_context(
            viewport=viewport, device_scale_factor=1, permissions=["microphone"], base_url=self.server.base_url
        )
        if before is not None:
            await before(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        chat = ChatPage(page=page, person=person)
        chat.watch()
        self.opened.append(chat)
        await page.goto(path)
        return chat

    async def signed_in(self, person: Person, *, viewport: dict[str, int] = DESKTOP, before: Any = None) -> ChatPage:
        """`open`, then sign in by pasting the token; returns once the socket is online."""
        chat = await self.open(person, viewport=viewport, before=before)
        await chat.page.fill("#token-input", person.token)
        await chat.page.click("#token-form button[type=submit]")
        await chat.ready()
        return chat

    def check(self) -> None:
        problems = [
            f"{chat.person.name}: {p}"
            for chat in self.opened
            for p in chat.problems
            if not any(t in p for t in self.tolerated)
        ]
        assert not problems, "\n".join(problems)


@pytest_asyncio.fixture(loop_scope=LOOP)
async def pages(browser: Any, server: Server) -> AsyncIterator[Pages]:
    """Each test's browser contexts (one per person), closed after it; any page error fails the test."""
    opened = Pages(browser=browser, server=server)
    try:
        yield opened
    finally:
        for chat in opened.opened:
            await chat.page.context.close()
    opened.check()


@pytest_asyncio.fixture(loop_scope=LOOP)
async def short_rooms(browser: Any, tmp_path: Path) -> AsyncIterator[tuple[Api, Pages]]:
    """A server of its own whose rooms open with their latest 20 messages (500 by default), so a quote or a search hit
    can point further back than what opening a room loads."""
    proc, server = start_server(tmp_path, {"CHAT_ROOM_DETAIL_LIMIT": "20"}, args=("--dev",))
    api = Api.open(server)
    opened = Pages(browser=browser, server=server)
    try:
        yield api, opened
    finally:
        for chat in opened.opened:
            await chat.page.context.close()
        await api.aclose()
        stop_server(proc)
    opened.check()
    check_log(server)


@attrs.define
class SocketSwitch:
    """Routes a page's sockets through Playwright, so a test can cut them and refuse new ones for a while."""

    blocked: bool = False
    attempts: int = 0
    live: list[tuple[Any, Any]] = attrs.field(factory=list)

    async def route(self, page_side: Any) -> None:
        self.attempts += 1
        if self.blocked:
            await page_side.close(code=1011, reason="refused by the test")
            return
        self.live.append((page_side, page_side.connect_to_server()))

    async def cut(self) -> None:
        self.blocked = True
        for page_side, server_side in self.live:
            await server_side.close(code=1000, reason="cut by the test")
            await page_side.close(code=1011, reason="cut by the test")
        self.live.clear()


class OpenPair(Protocol):
    async def __call__(
        self, *, viewport: dict[str, int] = DESKTOP, before: Callable[[Any], Awaitable[None]] | None = None
    ) -> tuple[ChatPage, ChatPage]: ...


@pytest.fixture
def pair(api: Api, pages: Pages) -> OpenPair:
    """Opens the conversation most tests start from: Alice and Bob, a direct room between them, both signed in with
    the room open. `viewport` and `before` (see `Pages.open`) are Alice's."""

    async def open_pair(
        *, viewport: dict[str, int] = DESKTOP, before: Callable[[Any], Awaitable[None]] | None = None
    ) -> tuple[ChatPage, ChatPage]:
        alice, bob = await api.person("Alice"), await api.person("Bob")
        await api.room(alice, bob)
        a = await pages.signed_in(alice, viewport=viewport, before=before)
        b = await pages.signed_in(bob)
        await a.open_room_with(bob)
        await b.open_room_with(alice)
        return a, b

    return open_pair


def png(width: int = 480, height: int = 320) -> bytes:
    """A small landscape (sky, sun, hills) as a real PNG, made here so the tests ship no binary files."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        t = y / height
        for x in range(width):
            r, g, b = 255 - 120 * (1 - t), 200 + 30 * t, 250 - 90 * t  # dusk to warm horizon
            if math.hypot(x - width * 0.72, y - height * 0.38) < height * 0.11:
                r, g, b = 255, 236, 170
            far = height * (0.62 + 0.06 * math.sin(x / width * 5.0 + 1.0))
            near = height * (0.74 + 0.08 * math.sin(x / width * 3.2 + 3.5))
            if y > near:
                r, g, b = 34 + 30 * (1 - t), 120 + 40 * (1 - t), 90
            elif y > far:
                r, g, b = 76, 150, 140
            row += bytes((int(r), int(g), int(b)))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A short 440 Hz tone as 16-bit mono PCM WAV."""
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))
    )
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(samples), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         rate * 2, 2, 16, b"data", len(samples))  # fmt: skip
    return header + samples
