"""The client on a phone and its small print: nothing pushed off screen, presence said once, files refused early."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import PHONE, Pages, employee, expect
from tests.e2e.conftest import Api

pytestmark = pytest.mark.asyncio(loop_scope="module")

LONG = "Could you send me the signed contract and the onboarding checklist before Monday morning, please?"


async def test_a_long_last_message_keeps_the_room_list_on_a_phone_screen(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    room_id = await api.room(bob, alice)
    async with api.socket(bob, room_id) as ws:
        await ws.send("send_message", content=LONG)
        await ws.next("new_message")
    a = await pages.signed_in(alice, viewport=PHONE)
    preview = a.room(bob).locator(".room-preview")
    await expect(preview).to_have_text(LONG)
    await a.shot("11-phone-long-preview")
    width = PHONE["width"]
    for selector in ("#rooms", ".sidebar", "#sign-out", ".room-time"):
        box = await a.page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert 0 <= box["x"] <= box["x"] + box["width"] <= width, f"{selector} leaves the screen: {box}"
    assert await a.page.evaluate("document.documentElement.scrollWidth") <= width
    # the preview is cut with an ellipsis instead of widening its row
    assert await preview.evaluate("el => el.scrollWidth > el.clientWidth")


async def test_last_seen_names_the_time_once(api: Api, pages: Pages) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    await api.room(alice, bob)
    a = await pages.signed_in(alice)
    b = await pages.signed_in(bob)
    await a.open_room_with(bob)
    status = a.page.locator("#peer-status")
    await expect(status).to_have_text("Online")
    await b.page.context.close()
    await expect(status).to_contain_text("Last seen")
    text = await status.inner_text()
    times = re.findall(r"\d{1,2}:\d{2}", text)
    assert len(times) == 1, text
    assert "," not in text, text  # seen today: the time alone, no repeated "06:55 AM, 06:55 AM"
