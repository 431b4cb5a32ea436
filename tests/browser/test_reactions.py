"""Issue 18 in the browser: reactions toggled by two people and seen live, replies whose quote leads back to the
original (loading history for it) and follows its edit and deletion, @ autocomplete and mentions in a group with the
room list's "@" badge, pins and the pinned-messages panel (and who is offered to pin), links that open without an
opener, and markup in quotes, mentioned names and reactions shown as text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.conftest import ChatPage, OpenPair, Pages, employee, expect
from tests.browser.test_groups import group_item, make_group, open_group
from tests.e2e.conftest import Api, Socket

pytestmark = pytest.mark.asyncio(loop_scope="module")

XSS = "<img src=x onerror=window.__xss=1>"


def by_id(chat: ChatPage, message_id: int | str) -> Any:
    return chat.page.locator(f'li.msg[data-id="{message_id}"]')


def chip(message: Any, emoji: str) -> Any:
    return message.locator(f'.reaction[data-emoji="{emoji}"]')


async def act(message: Any, action: str) -> None:
    """Clicks one of a message's action buttons (shown on hover)."""
    await message.hover()
    await message.locator(f'.actions [data-action="{action}"]').click()


async def react(message: Any, emoji: str) -> None:
    await act(message, "react")
    await message.locator(f'.reaction-picker [data-emoji="{emoji}"]').click()
    await expect(message.locator(".reaction-picker")).to_have_count(0)


async def say(sock: Socket, room_id: int, content: str, **fields: Any) -> dict[str, Any]:
    await sock.send("send_message", room_id=room_id, content=content, **fields)
    sent: dict[str, Any] = (await sock.next("new_message"))["data"]
    return sent


async def no_markup_ran(*chats: ChatPage) -> None:
    for chat in chats:
        assert await chat.page.evaluate("typeof window.__xss") == "undefined"
        assert await chat.page.locator("#message-list img, #message-list b, #reply-quote img").count() == 0


async def test_reactions_are_toggled_by_both_people_and_seen_live(pair: OpenPair) -> None:
    a, b = await pair()
    await a.send("Lunch at noon?")
    on_a, on_b = a.message("Lunch at noon?"), b.message("Lunch at noon?")
    await expect(on_b).to_be_visible()

    await react(on_b, "👍")  # Bob reacts from the picker
    for message, mine in ((on_b, "true"), (on_a, "false")):
        await expect(chip(message, "👍").locator(".reaction-count")).to_have_text("1")
        await expect(chip(message, "👍")).to_have_attribute("aria-pressed", mine)
    await chip(on_a, "👍").click()  # Alice joins by clicking Bob's chip
    for message in (on_a, on_b):
        await expect(chip(message, "👍").locator(".reaction-count")).to_have_text("2")
        await expect(chip(message, "👍")).to_have_attribute("aria-pressed", "true")
    await react(on_a, "🎉")  # a second emoji comes after the first
    for message in (on_a, on_b):
        await expect(message.locator(".reaction .reaction-emoji")).to_have_text(["👍", "🎉"])
    await a.shot("24-reactions")

    await chip(on_b, "👍").click()  # Bob takes his back: Alice's stays
    for message in (on_a, on_b):
        await expect(chip(message, "👍").locator(".reaction-count")).to_have_text("1")
    await expect(chip(on_b, "👍")).to_have_attribute("aria-pressed", "false")
    await expect(chip(on_a, "👍")).to_have_attribute("aria-pressed", "true")
    await react(on_a, "🎉")  # picking an emoji I have takes it back too
    await chip(on_a, "👍").click()
    for message in (on_a, on_b):
        await expect(message.locator(".reaction")).to_have_count(0)

    # the picker closes on a click elsewhere and on Escape, without reacting
    await act(on_b, "react")
    await expect(on_b.locator(".reaction-picker")).to_be_visible()
    await b.page.click("#peer-name")
    await expect(on_b.locator(".reaction-picker")).to_have_count(0)
    await act(on_b, "react")
    await b.page.keyboard.press("Escape")
    await expect(on_b.locator(".reaction-picker")).to_have_count(0)
    await expect(on_a.locator(".reaction")).to_have_count(0)


async def test_a_reply_quotes_its_original_and_follows_its_edit_and_deletion(pair: OpenPair) -> None:
    a, b = await pair()
    await a.send("The Q3 report is in the shared folder")
    for n in range(20):  # enough to scroll the original out of sight
        await a.send(f"filler {n}")
    await expect(b.message("filler 19")).to_be_visible()
    original_id = await a.message("The Q3 report is in the shared folder").get_attribute("data-id")

    await act(b.message("The Q3 report is in the shared folder"), "reply")
    banner = b.page.locator("#reply-banner")
    await expect(banner).to_be_visible()
    await expect(banner.locator(".quote-sender")).to_have_text("Alice")
    await expect(banner.locator(".quote-text")).to_have_text("The Q3 report is in the shared folder")
    await b.page.click("#reply-cancel")  # changed his mind, then replies after all
    await expect(banner).to_be_hidden()
    await act(b.message("The Q3 report is in the shared folder"), "reply")
    await b.send("Thanks, reading it now")
    await expect(banner).to_be_hidden()

    for chat, who in ((a, "You"), (b, "Alice")):
        quote = chat.message("Thanks, reading it now").locator("button.quote")
        await expect(quote.locator(".quote-sender")).to_have_text(who)
        await expect(quote.locator(".quote-text")).to_have_text("The Q3 report is in the shared folder")
    await b.shot("25-reply")

    # the quote leads back to the original: scrolled to and lit up
    original = by_id(a, original_id)
    await expect(original).not_to_be_in_viewport()
    await a.message("Thanks, reading it now").locator("button.quote").click()
    await expect(original).to_be_in_viewport()
    await expect(original).to_have_class(re.compile(r"\bflash\b"))

    # the original is edited, then deleted: every quote of it follows
    await act(original, "edit")
    await a.page.fill("#text", "The Q3 report is in the finance folder")
    await a.page.press("#text", "Enter")
    for chat in (a, b):
        quote = chat.message("Thanks, reading it now").locator(".quote-text")
        await expect(quote).to_have_text("The Q3 report is in the finance folder")
    await act(original, "delete")
    await original.locator("button.delete").click()
    for chat in (a, b):
        quote = chat.message("Thanks, reading it now").locator(".quote")
        await expect(quote).to_have_class(re.compile(r"\bgone\b"))
        await expect(quote.locator(".quote-text")).to_have_text("Message deleted")


async def test_a_quote_of_an_old_message_loads_earlier_messages_until_it_is_found(
    short_rooms: tuple[Api, Pages],
) -> None:
    api, pages = short_rooms
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice) as sock:
        original = await say(sock, room, "Where is the onboarding checklist?")
    for batch in range(3):  # two pages of history past the first 20; each socket keeps within its rate limit
        async with api.socket(alice) as sock:
            for n in range(34):
                await say(sock, room, f"older news {batch}.{n}")
    async with api.socket(bob) as sock:
        await say(sock, room, "In the HR wiki", reply_to_id=original["id"])
    a = await pages.signed_in(alice)
    await a.open_room_with(bob)
    reply = a.message("In the HR wiki")
    await expect(reply.locator(".quote-text")).to_have_text("Where is the onboarding checklist?")
    await expect(by_id(a, original["id"])).to_have_count(0)  # not loaded yet

    await reply.locator("button.quote").click()
    await expect(by_id(a, original["id"])).to_be_in_viewport()
    await expect(by_id(a, original["id"])).to_have_class(re.compile(r"\bflash\b"))


async def test_a_quote_leads_back_through_a_bounded_number_of_pages_at_most(short_rooms: tuple[Api, Pages]) -> None:
    api, pages = short_rooms
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice) as sock:
        original = await say(sock, room, "Is the office open on Monday?")
        fillers = [await say(sock, room, f"filler {n}") for n in range(25)]
        await say(sock, room, "Yes, from 8", reply_to_id=original["id"])
    asked: list[str] = []

    async def endless_history(context: Any) -> None:
        """Every page of earlier messages says there are more, and never reaches the original."""

        async def handle(route: Any) -> None:
            asked.append(route.request.url)
            page = {"messages": [fillers[4]], "total": 10_000, "has_more": True}
            await route.fulfill(status=200, content_type="application/json", body=json.dumps(page))

        await context.route(re.compile(rf"/api/v1/chat/rooms/{room}/messages\?.*before_id="), handle)

    a = await pages.signed_in(alice, before=endless_history)
    await a.open_room_with(bob)
    await a.message("Yes, from 8").locator("button.quote").click()
    await expect(a.page.locator("#toast")).to_have_text("That message is too far back to show here.")
    assert len(asked) == 10  # rooms.js's JUMP_PAGES
    await expect(by_id(a, original["id"])).to_have_count(0)


async def test_mentions_are_offered_in_a_group_highlighted_and_badged(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    carol = await employee(api, "Carol White")
    await make_group(alice, "Benefits", bob, carol)
    a = await pages.signed_in(alice)
    b = await pages.signed_in(bob)
    c = await pages.signed_in(carol)
    await open_group(a, "Benefits")
    await open_group(c, "Benefits")  # Bob has not opened it

    # "@" offers the others by name, arrows move, Escape closes
    offer = a.page.locator("#mention-list")
    await a.page.locator("#text").press_sequentially("Hello @")
    await expect(offer).to_be_visible()
    await expect(offer.locator(".person-name")).to_have_text(["Bob Jones", "Carol White"])
    await expect(offer.locator(".mention-option.active .person-name")).to_have_text("Bob Jones")
    await a.page.press("#text", "ArrowDown")
    await expect(offer.locator(".mention-option.active .person-name")).to_have_text("Carol White")
    await a.page.press("#text", "Escape")
    await expect(offer).to_be_hidden()
    await expect(a.page.locator("#text")).to_have_value("Hello @")

    # letters narrow it (a name's second word, or the email, match too); Enter writes the token
    await a.page.locator("#text").press_sequentially("jon")
    await expect(offer.locator(".person-name")).to_have_text(["Bob Jones"])
    await a.shot("26-mention-autocomplete")
    await a.page.press("#text", "Enter")
    await expect(offer).to_be_hidden()
    await expect(a.page.locator("#text")).to_have_value(f"Hello <@{bob.id}> ")
    await a.page.locator("#text").press_sequentially("can you check the form")
    await a.page.press("#text", "Enter")
    sent = "Hello @Bob Jones can you check the form"
    await expect(group_item(c, "Benefits").locator(".room-preview")).to_have_text(f"Alice Smith: {sent}")
    for chat in (a, c):
        mention = chat.message(sent).locator(".mention")
        await expect(mention).to_have_text("@Bob Jones")
        await expect(mention).not_to_have_class(re.compile(r"\bme\b"))

    # Bob: an "@" badge beside the unread count in his list; opened, the group is read and the badge goes
    item = group_item(b, "Benefits")
    await expect(item.locator(".mention-badge")).to_have_text("@")
    await expect(item.locator(".badge")).to_have_text("1")
    await expect(group_item(c, "Benefits").locator(".mention-badge")).to_have_count(0)
    await b.shot("27-mention-badge")
    await open_group(b, "Benefits")
    await expect(b.message(sent).locator(".mention.me")).to_have_text("@Bob Jones")
    await expect(item.locator(".mention-badge")).to_have_count(0)
    await expect(a.message(sent)).to_have_attribute("data-state", "read")  # Bob's read reached the server
    await b.page.reload()  # which counts the mention read too (the tab keeps its sign-in)
    await b.ready()
    await expect(group_item(b, "Benefits")).to_be_visible()
    await expect(group_item(b, "Benefits").locator(".mention-badge")).to_have_count(0)

    # a token of someone not in the group stays text
    await a.send(f"ping <@{bob.id + 999}>")
    await expect(a.message(f"ping <@{bob.id + 999}>").locator(".mention")).to_have_count(0)


async def test_pins_in_a_direct_room_and_the_pinned_messages_panel(pair: OpenPair) -> None:
    a, b = await pair()
    await a.send("Badge pickup is at reception")
    await a.send("Parking is on level 2")
    await b.send("Great, thanks")
    badge, parking = b.message("Badge pickup is at reception"), b.message("Parking is on level 2")
    await expect(b.message("Great, thanks")).to_be_visible()

    await a.page.click("#pins-button")  # Alice watches the panel while Bob pins
    await expect(a.page.locator("#pins-list")).to_have_text("No pinned messages yet")
    await act(badge, "pin")  # anyone may pin in a direct room, another's message too
    await expect(badge.locator(".pin-mark")).to_be_visible()
    await expect(a.message("Badge pickup is at reception").locator(".pin-mark")).to_be_visible()
    await act(parking, "pin")
    items = a.page.locator("#pins-list .pin-text")
    await expect(items).to_have_text(["Parking is on level 2", "Badge pickup is at reception"])  # latest first
    await expect(a.page.locator("#pins-list .pin-sender").first).to_have_text("You")
    await a.shot("28-pins-panel")

    # a pin leads to its message and the panel closes
    await a.page.locator("#pins-list li", has_text="Badge pickup").locator("button").click()
    await expect(a.page.locator("#pins")).to_be_hidden()
    await expect(a.message("Badge pickup is at reception")).to_have_class(re.compile(r"\bflash\b"))

    # Alice unpins one: its mark goes on both sides, and from Bob's open panel
    await b.page.click("#pins-button")
    await expect(b.page.locator("#pins-list .pin-text")).to_have_count(2)
    await act(a.message("Parking is on level 2"), "unpin")
    await expect(parking.locator(".pin-mark")).to_have_count(0)
    await expect(b.page.locator("#pins-list .pin-text")).to_have_text(["Badge pickup is at reception"])
    await expect(a.message("Parking is on level 2").locator('.actions [data-action="pin"]')).to_have_count(1)

    # the button closes the panel again
    await b.page.click("#pins-button")
    await expect(b.page.locator("#pins")).to_be_hidden()


async def test_in_a_group_only_owners_and_admins_are_offered_to_pin(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    carol = await employee(api, "Carol White")
    await make_group(alice, "Facilities", bob, carol)
    a = await pages.signed_in(alice)
    c = await pages.signed_in(carol)
    await open_group(a, "Facilities")
    await open_group(c, "Facilities")
    await c.send("The kitchen is closed on Friday")
    on_a, on_c = a.message("The kitchen is closed on Friday"), c.message("The kitchen is closed on Friday")
    await expect(on_a.locator('.actions [data-action="pin"]')).to_have_count(1)  # the owner
    await expect(on_c.locator('.actions [data-action="reply"]')).to_have_count(1)
    await expect(c.page.locator('[data-action="pin"], [data-action="unpin"]')).to_have_count(0)  # a plain member
    await act(on_a, "pin")
    await expect(on_c.locator(".pin-mark")).to_be_visible()
    await expect(c.page.locator('[data-action="unpin"]')).to_have_count(0)
    await c.page.click("#pins-button")  # the panel is for everyone
    await expect(c.page.locator("#pins-list .pin-text")).to_have_text(["The kitchen is closed on Friday"])


async def test_links_open_in_a_new_tab_without_an_opener_and_other_schemes_stay_text(pair: OpenPair) -> None:
    a, b = await pair()
    text = "Handbook: https://example.com/handbook?x=1&y=2. Not javascript:alert(1) nor data:text/html,hi"
    await a.send(text)
    message = b.message(text)
    links = message.locator(".text a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_text("https://example.com/handbook?x=1&y=2")
    await expect(links).to_have_attribute("href", "https://example.com/handbook?x=1&y=2")
    await expect(links).to_have_attribute("target", "_blank")
    await expect(links).to_have_attribute("rel", "noopener noreferrer")
    await expect(message.locator(".text")).to_have_text(text)  # the sentence's dot is not part of the link
    await b.page.locator("#text").press_sequentially("@A")
    await expect(b.page.locator("#mention-list")).to_be_hidden()  # a direct room offers nobody to mention


async def test_markup_in_quotes_mentioned_names_and_reactions_stays_text(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    mallory = await employee(api, "<b>x</b>", email=f"mallory.{alice.id}@example.com")
    room = await make_group(alice, "Security", bob, mallory)
    async with api.socket(mallory) as sock:
        bait = await say(sock, room, XSS)

    async def hostile_reactions(context: Any) -> None:
        """The server refuses anything but an emoji; a client must still never read one as HTML."""

        async def handle(route: Any) -> None:
            response = await route.fetch()
            detail = await response.json()
            for message in detail["message_list"]["messages"]:
                if message["id"] == bait["id"]:
                    message["reactions"] = [{"emoji": XSS, "user_ids": [bob.id]}]
            await route.fulfill(response=response, body=json.dumps(detail))

        await context.route(re.compile(rf"/api/v1/chat/rooms/{room}$"), handle)

    a = await pages.signed_in(alice, before=hostile_reactions)
    b = await pages.signed_in(bob)
    await open_group(a, "Security")
    await open_group(b, "Security")
    await expect(chip(by_id(a, bait["id"]), XSS).locator(".reaction-emoji")).to_have_text(XSS)

    # Bob mentions Mallory (by the autocomplete) and replies to the bait
    await act(b.message(XSS), "reply")
    await expect(b.page.locator("#reply-quote .quote-text")).to_have_text(XSS)
    await b.page.locator("#text").press_sequentially("@mall")
    await expect(b.page.locator("#mention-list .person-name")).to_have_text(["<b>x</b>"])
    await b.page.press("#text", "Enter")
    await b.page.locator("#text").press_sequentially("what is this?")
    await b.page.press("#text", "Enter")
    for chat in (a, b):
        reply = chat.message("@<b>x</b> what is this?")
        await expect(reply.locator(".mention")).to_have_text("@<b>x</b>")
        await expect(reply.locator(".quote-sender")).to_have_text("<b>x</b>")
        await expect(reply.locator(".quote-text")).to_have_text(XSS)
    await act(by_id(a, bait["id"]), "pin")
    await a.page.click("#pins-button")
    await expect(a.page.locator("#pins-list .pin-sender")).to_have_text(["<b>x</b>"])
    await expect(a.page.locator("#pins-list .pin-text")).to_have_text([XSS])
    await no_markup_ran(a, b)
    assert await a.page.locator("#pins-list img, #pins-list b").count() == 0
    await a.shot("29-markup-in-quotes-and-mentions")
