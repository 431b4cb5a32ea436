"""Issue 19 in the browser: the message search panel (hits grouped by room, matches marked, accents ignored, "More
results"), a hit opening its room at the message, one far back shown with the messages around it and the way back
to the latest, the server's refusal shown, and markup in a hit shown as text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PHONE, ChatPage, Pages, employee, expect
from tests.browser.test_groups import assert_on_screen, make_group
from tests.browser.test_reactions import XSS, by_id, no_markup_ran, say
from tests.e2e.conftest import Api, Person

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def search(chat: ChatPage, query: str) -> None:
    """Opens the search panel if it is closed and types `query` into it."""
    if await chat.page.locator("#finder").is_hidden():
        await chat.page.click("#finder-button")
    await chat.page.fill("#finder-input", query)


async def say_all(api: Api, person: Person, room_id: int, texts: list[str]) -> list[dict[str, Any]]:
    """Sends `texts` in order, 30 to a socket: each socket keeps within its rate limit."""
    sent = []
    for start in range(0, len(texts), 30):
        async with api.socket(person) as sock:
            sent += [await say(sock, room_id, text) for text in texts[start : start + 30]]
    return sent


def groups(chat: ChatPage) -> Any:
    return chat.page.locator("#finder-results .finder-group")


def hit(chat: ChatPage, message_id: int) -> Any:
    return chat.page.locator(f'#finder-results .finder-hit[data-message-id="{message_id}"]')


async def test_hits_are_grouped_by_room_with_their_matches_marked(api: Api, pages: Pages) -> None:
    alice, bob, carol = [await employee(api, name) for name in ("Alice Smith", "Bob Jones", "Carol White")]
    direct = await api.room(alice, bob)
    group = await make_group(alice, "Payroll", bob, carol)
    async with api.socket(bob) as sock:
        signed = await say(sock, direct, "The contract for Herr Müller is signed")
        await say(sock, direct, "Lunch tomorrow?")
    async with api.socket(carol) as sock:
        draft = await say(sock, group, "Müller asked about the contract draft")
    a = await pages.signed_in(alice)

    await search(a, "muller")  # no umlaut typed: accents and case are ignored
    await expect(a.page.locator("#rooms")).to_be_hidden()  # the panel takes the room list's place
    await expect(groups(a)).to_have_count(2)
    await expect(groups(a).locator(".finder-room")).to_have_text(["Payroll", "Bob Jones"])  # the newest hit first
    await expect(groups(a).locator(".finder-sender")).to_have_text(["Carol White", "Bob Jones"])
    await expect(hit(a, draft["id"]).locator(".finder-snippet")).to_have_text("Müller asked about the contract draft")
    await expect(a.page.locator("#finder-results mark")).to_have_text(["Müller", "Müller"])
    await a.shot("30-search-grouped-by-room")

    await search(a, "contract mül")  # every word, the last one a prefix
    await expect(a.page.locator("#finder-results mark")).to_have_text(["Müller", "contract", "contract", "Müller"])

    await search(a, "payslip")
    await expect(a.page.locator("#finder-results .finder-empty")).to_have_text("No messages found")
    await expect(groups(a)).to_have_count(0)

    await search(a, "herr muller")
    await hit(a, signed["id"]).click()  # opens the room it is in, at the message
    await expect(a.page.locator("#peer-name")).to_have_text("Bob Jones")
    await expect(by_id(a, signed["id"])).to_be_in_viewport()
    await expect(by_id(a, signed["id"])).to_have_class(re.compile(r"\bflash\b"))

    await a.page.click("#finder-button")  # closed: the room list is back
    await expect(a.page.locator("#finder")).to_be_hidden()
    await expect(a.page.locator("#rooms")).to_be_visible()


async def test_more_results_come_in_pages_and_join_their_room_groups(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    room = await api.room(alice, bob)
    await say_all(api, bob, room, [f"timesheet reminder {n}" for n in range(25)])  # more than one page of 20
    a = await pages.signed_in(alice)
    await search(a, "timesheet")
    snippets = a.page.locator("#finder-results .finder-snippet")
    await expect(snippets).to_have_count(20)
    await expect(snippets.first).to_have_text("timesheet reminder 24")
    await a.page.click("#finder-results .finder-more")
    await expect(snippets).to_have_count(25)
    await expect(snippets.last).to_have_text("timesheet reminder 0")
    await expect(groups(a)).to_have_count(1)  # the older hits joined their room's group
    await expect(a.page.locator("#finder-results .finder-more")).to_have_count(0)


async def test_a_hit_far_back_is_shown_with_the_messages_around_it(short_rooms: tuple[Api, Pages]) -> None:
    api, pages = short_rooms  # rooms open with their latest 20 messages
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    room = await api.room(alice, bob)
    *_, target = await say_all(api, alice, room, [*(f"early {n}" for n in range(30)), "The offsite budget is approved"])
    await say_all(api, bob, room, [f"later {n}" for n in range(60)])
    a = await pages.signed_in(alice)
    await a.open_room_with(bob)
    await expect(a.message("later 59")).to_be_visible()
    await expect(by_id(a, target["id"])).to_have_count(0)  # not loaded: 60 messages came after it

    await search(a, "offsite")
    await hit(a, target["id"]).click()
    await expect(by_id(a, target["id"])).to_be_in_viewport()
    await expect(by_id(a, target["id"])).to_have_class(re.compile(r"\bflash\b"))
    for neighbour in ("early 29", "early 5", "later 0", "later 24"):  # 25 on each side
        await expect(a.message(neighbour)).to_have_count(1)
    for beyond in ("early 4", "later 25", "later 59"):  # nothing with a gap before or after it
        await expect(a.message(beyond)).to_have_count(0)
    await expect(a.page.locator("#load-older")).to_be_visible()
    await expect(a.page.locator("#load-newer")).to_be_visible()
    await a.shot("31-search-hit-in-history")

    # a message arriving now is counted in the room list, not put after this stretch of history
    async with api.socket(bob) as sock:
        await say(sock, room, "Are you still there?")
    await expect(a.room(bob).locator(".room-preview")).to_have_text("Are you still there?")
    await expect(a.message("Are you still there?")).to_have_count(0)

    await a.page.click("#load-newer")  # what came after, up to the latest: live messages join in again
    await expect(a.message("later 59")).to_have_count(1)
    await expect(a.page.locator("#load-newer")).to_be_hidden()
    await expect(a.page.locator("#message-list li.msg[data-id] .text").last).to_have_text("Are you still there?")
    async with api.socket(bob) as sock:
        await say(sock, room, "Hello again")
    await expect(a.message("Hello again")).to_be_visible()
    texts = await a.page.locator("#message-list li.msg[data-id] .text").all_text_contents()
    assert texts[texts.index("The offsite budget is approved") :][:2] == ["The offsite budget is approved", "later 0"]
    assert texts[-3:] == ["later 59", "Are you still there?", "Hello again"]


async def test_sending_while_reading_far_back_returns_to_the_latest(short_rooms: tuple[Api, Pages]) -> None:
    api, pages = short_rooms
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    room = await api.room(alice, bob)
    texts = ["Where do I find the holiday calendar?", *(f"chatter {n}" for n in range(60))]
    target, *_ = await say_all(api, bob, room, texts)
    a = await pages.signed_in(alice)
    await search(a, "holiday calendar")
    await hit(a, target["id"]).click()
    await expect(by_id(a, target["id"])).to_be_in_viewport()
    await expect(a.message("chatter 59")).to_have_count(0)

    await a.send("On the intranet, under HR")
    await expect(a.message("On the intranet, under HR")).to_be_visible()
    await expect(a.message("chatter 59")).to_be_visible()  # the room's latest, not a gap before my reply
    await expect(a.message("Where do I find the holiday calendar?")).to_have_count(0)
    await expect(a.page.locator("#load-newer")).to_be_hidden()


async def test_on_a_phone_a_hit_opens_its_room_and_back_leads_to_the_hits(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    room = await api.room(alice, bob)
    async with api.socket(bob) as sock:
        found = await say(sock, room, "Your parental leave request PL-2031 is approved, see the attached letter")
    a = await pages.signed_in(alice, viewport=PHONE)
    await search(a, "pl-2031")
    await expect(hit(a, found["id"]).locator("mark")).to_have_text(["PL-2031"])
    await assert_on_screen(a, "#finder-button", "#finder-input", ".finder-hit")
    await a.shot("32-search-phone")

    await hit(a, found["id"]).click()
    await expect(a.page.locator(".sidebar")).to_be_hidden()  # the room takes the screen
    await expect(by_id(a, found["id"])).to_be_in_viewport()
    await a.page.click("#back")
    await expect(hit(a, found["id"])).to_be_visible()  # the hits are still there
    await expect(a.page.locator("#finder-input")).to_have_value("pl-2031")


async def test_the_servers_refusal_is_shown_and_markup_in_a_hit_is_text(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    room = await api.room(alice, bob)
    async with api.socket(bob) as sock:
        bait = await say(sock, room, f"{XSS} invoice 2024")
        party = await say(
            sock, room, "🎉🎉 Party for Zoë on Friday"
        )  # characters before the match, two UTF-16 units each
    a = await pages.signed_in(alice)

    await search(a, "invoice")
    await expect(hit(a, bait["id"]).locator(".finder-snippet")).to_have_text(f"{XSS} invoice 2024")
    await expect(hit(a, bait["id"]).locator("mark")).to_have_text(["invoice"])
    assert await a.page.locator("#finder-results img").count() == 0
    await no_markup_ran(a)

    await search(a, "zoe")
    await expect(hit(a, party["id"]).locator("mark")).to_have_text(["Zoë"])

    pages.tolerated.append("status of 400")
    await search(a, '" "')  # two characters, but no word
    await expect(a.page.locator("#finder-results .finder-problem")).to_have_text("q must hold at least one word")
    await expect(groups(a)).to_have_count(0)
    await search(a, "z")  # too short to ask: the hint again, no problem shown
    await expect(a.page.locator("#finder-results .finder-problem")).to_have_count(0)
    await expect(a.page.locator("#finder-results .finder-hint")).to_be_visible()
