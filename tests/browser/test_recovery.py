"""The page comes back by itself after a killed socket or a restarted server, and loses nothing sent meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SOCKET_URL, OpenPair, Pages, SocketSwitch, expect
from tests.e2e.conftest import Api, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECONNECT_MS = 20_000  # backoff is capped at 5 s; a restarted server needs a few seconds to come up


async def test_page_reconnects_after_its_socket_is_killed_and_fetches_what_it_missed(pair: OpenPair) -> None:
    switch = SocketSwitch()

    async def routed(context: Any) -> None:
        await context.route_web_socket(SOCKET_URL, lambda page_side: switch.route(page_side))

    a, b = await pair(before=routed)
    await b.send("Before the cut")
    await expect(a.message("Before the cut")).to_be_visible()
    catch_ups: list[str] = []
    a.page.on("request", lambda request: "after_id=" in request.url and catch_ups.append(request.url))

    await switch.cut()
    await expect(a.page.locator("#connection")).to_have_attribute("data-status", "reconnecting")
    await b.send("Sent while Alice was cut off")
    await b.send("And one more")
    await expect(b.message("And one more")).to_have_count(1)  # stored and fanned out by now
    await a.send("Written while offline")
    await expect(a.page.locator('li.msg.pending[data-state="sending"]')).to_have_count(1)
    await a.shot("12-reconnecting")
    assert await a.message("And one more").count() == 0

    switch.blocked = False
    await expect(a.page.locator("#connection")).to_have_attribute("data-status", "online", timeout=RECONNECT_MS)
    await expect(a.message("Sent while Alice was cut off")).to_be_visible()
    await expect(a.message("And one more")).to_be_visible()
    await expect(b.message("Written while offline")).to_be_visible()  # the outbox went out once it could
    await expect(a.message("Written while offline")).to_have_attribute("data-state", "read")
    await expect(a.page.locator("li.msg.pending")).to_have_count(0)
    assert catch_ups, "the page did not ask for what it missed (after_id)"
    assert switch.attempts >= 2
    for chat, text in ((a, "And one more"), (b, "Written while offline"), (a, "Written while offline")):
        shown = chat.page.locator("li.msg", has=chat.page.get_by_text(text, exact=True))
        assert await shown.count() == 1, f"{text!r} shown twice"


async def test_page_recovers_after_the_server_restarts(browser: Any, tmp_path: Path) -> None:
    proc, server = start_server(tmp_path)  # without --dev
    port = int(server.base_url.rsplit(":", 1)[1])
    api = Api.open(server)
    pages = Pages(browser=browser, server=server)
    pages.tolerated += ["WebSocket connection to", "ERR_CONNECTION_REFUSED", "Failed to load resource"]
    logs = ""
    try:
        alice, bob = await api.person("Alice"), await api.person("Bob")
        room_id = await api.room(alice, bob)
        a = await pages.open(alice)
        await expect(a.page.locator("#token-form")).to_be_visible()
        await expect(a.page.locator("#dev-form")).to_be_hidden()  # no --dev: no sign-in by email
        refused = await api.http.post("/api/v1/dev/token", json={"email": alice.email})
        assert refused.status_code == 404
        await a.page.fill("#token-input", alice.token)
        await a.page.click("#token-form button[type=submit]")
        await a.ready()
        b = await pages.signed_in(bob)
        await a.open_room_with(bob)
        await b.open_room_with(alice)
        await a.send("Is the server still up?")
        await expect(b.message("Is the server still up?")).to_be_visible()

        logs += server.log()
        stop_server(proc)
        await expect(a.page.locator("#connection")).not_to_have_attribute("data-status", "online")
        await expect(b.page.locator("#connection")).not_to_have_attribute("data-status", "online")
        await b.send("Queued while the server was down")
        proc, server = start_server(tmp_path, port=port)
        async with api.socket(bob, room_id) as ws:
            await ws.send("send_message", content="Sent right after the restart", client_msg_id="after-restart")
            await ws.next("new_message")

        await expect(a.page.locator("#connection")).to_have_attribute("data-status", "online", timeout=RECONNECT_MS)
        await expect(b.page.locator("#connection")).to_have_attribute("data-status", "online", timeout=RECONNECT_MS)
        await expect(a.message("Sent right after the restart")).to_be_visible()
        await expect(a.message("Queued while the server was down")).to_be_visible()
        await expect(b.message("Queued while the server was down")).to_have_count(1)
        await a.send("Back online")
        await expect(b.message("Back online")).to_be_visible()
        await a.shot("13-after-server-restart")
    finally:
        for chat in pages.opened:
            await chat.page.context.close()
        await api.aclose()
        stop_server(proc)
    logs += server.log()
    assert "Traceback" not in logs, logs[-5000:]
    assert "token=ey" not in logs
    pages.check()
