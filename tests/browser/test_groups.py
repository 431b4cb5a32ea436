"""Groups in three (and four) browsers: made from the people picker, seen live by the others, typing by several,
who has read a message, roles, adding and removing people, renaming and leaving, on a desktop and a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PHONE, SOCKET_URL, ChatPage, Pages, SocketSwitch, employee, expect
from tests.e2e.conftest import Api, Person

pytestmark = pytest.mark.asyncio(loop_scope="module")


def group_item(chat: ChatPage, name: str) -> Any:
    """The room list's line of the group called `name`."""
    return chat.page.locator('.room-item[data-kind="group"]', has=chat.page.get_by_text(name, exact=True))


def note(chat: ChatPage, text: str) -> Any:
    """A system message of the open room: a centred note, never a bubble."""
    return chat.page.locator("li.note[data-id]", has_text=text)


def member_row(chat: ChatPage, person: Person) -> Any:
    return chat.page.locator(f'#members li.person[data-user-id="{person.id}"]')


async def open_group(chat: ChatPage, name: str) -> None:
    await group_item(chat, name).click()
    await expect(chat.page.locator("#peer-name")).to_have_text(name)


async def pick(chat: ChatPage, person: Person) -> None:
    """Finds `person` by email in the picker and picks them."""
    await chat.page.fill("#picker-search", person.email)
    await chat.page.locator(f'#picker-results .result[data-user-id="{person.id}"]').click()
    await expect(chat.page.locator(f'#picker-picked .chip[data-user-id="{person.id}"]')).to_have_text(person.name)


async def make_group(owner: Person, name: str, *members: Person) -> int:
    response = await owner.http.post("/api/v1/chat/rooms", json={"name": name, "member_ids": [m.id for m in members]})
    assert response.status_code == 201, response.text
    room_id: int = response.json()["id"]
    return room_id


async def assert_on_screen(chat: ChatPage, *selectors: str) -> None:
    width = PHONE["width"]
    for selector in selectors:
        box = await chat.page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert 0 <= box["x"] <= box["x"] + box["width"] <= width, f"{selector} leaves the screen: {box}"
    assert await chat.page.evaluate("document.documentElement.scrollWidth") <= width


async def test_a_group_made_from_the_picker_reaches_everyone_live(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    carol = await employee(api, "Carol White")
    a = await pages.signed_in(alice)
    b = await pages.signed_in(bob)
    c = await pages.signed_in(carol)
    await expect(b.page.locator("#rooms-empty")).to_be_visible()

    # from the people search: the picker takes the search over, then more people are found in it
    await a.page.fill("#search", bob.email)
    await expect(a.page.locator(f'#search-results .result[data-user-id="{bob.id}"]')).to_be_visible()
    await a.page.click("#search-results .new-group-entry")
    await expect(a.page.locator("#picker")).to_be_visible()
    await expect(a.page.locator("#search-results")).to_be_hidden()
    await expect(a.page.locator("#picker-search")).to_have_value(bob.email)
    await a.page.locator(f'#picker-results .result[data-user-id="{bob.id}"]').click()
    await expect(a.page.locator(f'#picker-picked .chip[data-user-id="{bob.id}"]')).to_have_text("Bob Jones")
    submit = a.page.locator("#picker-submit")
    await expect(submit).to_be_disabled()
    await a.page.fill("#picker-name", "Offsite planning")
    await expect(submit).to_be_disabled()  # two people are not a group yet
    await expect(a.page.locator("#picker-hint")).to_have_text("Pick one more person for a group.")
    await pick(a, carol)
    await expect(submit).to_be_enabled()
    await a.shot("20-new-group-picker")
    await submit.click()

    await expect(a.page.locator("#picker")).to_be_hidden()
    await expect(a.page.locator("#peer-name")).to_have_text("Offsite planning")
    await expect(a.page.locator("#peer-status")).to_contain_text("3 members")
    await expect(note(a, "Alice Smith created the group Offsite planning")).to_be_visible()
    await expect(a.page.locator("li.note .bubble, li.note .actions")).to_have_count(0)

    # Bob and Carol were never told: the group appears in their lists, by its name and with its mark
    for other in (b, c):
        item = group_item(other, "Offsite planning")
        await expect(item).to_be_visible()
        await expect(item.locator(".group-avatar")).to_be_visible()
        await expect(item.locator(".room-preview")).to_have_text("Alice Smith created the group Offsite planning")

    # Bob reads at once; Carol has not opened the group yet
    await open_group(b, "Offsite planning")
    await a.send("Welcome, both of you!")
    welcome = b.message("Welcome, both of you!")
    await expect(welcome.locator(".sender")).to_have_text("Alice Smith")
    item = group_item(c, "Offsite planning")
    await expect(item.locator(".room-preview")).to_have_text("Alice Smith: Welcome, both of you!")
    await expect(item.locator(".badge")).to_have_text("1")
    mine = a.message("Welcome, both of you!")
    await expect(mine.locator(".sender")).to_have_count(0)  # my own messages carry no name
    await expect(mine).to_have_attribute("data-state", "sent")  # Carol has not read it

    # who has read it: Bob, not Carol yet; the lists move when Carol reads
    await mine.locator('[data-action="reads"]').click()
    await expect(a.page.locator("#reads")).to_be_visible()
    await expect(a.page.locator("#read-by")).to_contain_text("Bob Jones")
    await expect(a.page.locator("#not-read-by")).to_contain_text("Carol White")
    await expect(a.page.locator("#read-by")).not_to_contain_text("Carol White")
    await a.shot("21-group-reads")
    await open_group(c, "Offsite planning")
    await expect(c.message("Welcome, both of you!").locator(".sender")).to_have_text("Alice Smith")
    await expect(a.page.locator("#read-by")).to_contain_text("Carol White")
    await expect(a.page.locator("#not-read-by")).to_have_text("Everyone has read it")
    await expect(mine).to_have_attribute("data-state", "read")  # read by every other member: double ticks
    await a.page.click('#reads [data-action="close-reads"]')
    await expect(a.page.locator("#reads")).to_be_hidden()

    # a message from Bob reaches both others, under his name
    await b.send("Thanks Alice!")
    for other in (a, c):
        await expect(other.message("Thanks Alice!").locator(".sender")).to_have_text("Bob Jones")

    # two people typing at once are both named
    await b.page.fill("#text", "I can bring")
    await c.page.fill("#text", "Count me")
    await expect(a.page.locator("#typing-text")).to_have_text("Bob Jones and Carol White are typing")
    await expect(a.page.locator("#peer-status")).to_have_text("Bob Jones and Carol White are typing…")
    await a.shot("22-group-typing")
    await c.send("Count me in")
    await expect(a.page.locator("#typing-text")).to_have_text("Bob Jones is typing")


async def test_admins_add_and_remove_people_and_everyone_sees_it_live(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    carol, dave = await employee(api, "Carol White"), await employee(api, "Dave Brown")
    await make_group(alice, "Payroll", bob, carol)
    a = await pages.signed_in(alice)
    b = await pages.signed_in(bob, viewport=PHONE)
    c = await pages.signed_in(carol)
    d = await pages.signed_in(dave)
    await expect(d.page.locator("#rooms-empty")).to_be_visible()
    for chat in (a, b, c):
        await open_group(chat, "Payroll")

    # the owner makes Bob an admin; Bob's own panel then lets him add people
    await a.page.click("#group-info")
    await expect(member_row(a, alice).locator(".role")).to_have_text("Owner")
    await expect(member_row(a, bob).locator(".role")).to_have_count(0)
    await member_row(a, bob).get_by_role("button", name="Make admin").click()
    await expect(member_row(a, bob).locator(".role")).to_have_text("Admin")
    await expect(note(a, "Alice Smith made Bob Jones an admin")).to_be_visible()
    await b.page.click("#group-info")
    await expect(b.page.locator("#add-people")).to_be_visible()
    await expect(member_row(b, carol).get_by_role("button", name="Remove")).to_be_visible()
    await expect(member_row(b, alice).get_by_role("button", name="Remove")).to_have_count(0)  # nobody removes the owner
    await expect(member_row(b, carol).get_by_role("button", name="Make admin")).to_have_count(0)  # only the owner
    await c.page.click("#group-info")
    await expect(c.page.locator("#add-people")).to_be_hidden()  # a member neither adds nor removes
    await expect(c.page.locator("#members button")).to_have_count(0)
    await expect(c.page.locator("#rename-form")).to_be_hidden()
    await expect(member_row(c, alice).locator(".presence.online")).to_be_visible()
    await assert_on_screen(b, "#group-panel", "#members", "#leave-group")
    await b.shot("23-phone-group-panel")

    # Bob (an admin, on a phone) adds Dave, who was never in it: the group appears in Dave's list
    await b.page.click("#add-people")
    await expect(b.page.locator("#picker-title")).to_have_text("Add people to Payroll")
    await b.page.fill("#picker-search", carol.email)
    carol_found = b.page.locator(f'#picker-results .result[data-user-id="{carol.id}"]')
    await expect(carol_found).to_be_disabled()
    await expect(carol_found).to_contain_text("Already in the group")
    await pick(b, dave)
    await assert_on_screen(b, "#picker-form", "#picker-submit")
    await b.page.click("#picker-submit")
    await expect(b.page.locator("#picker")).to_be_hidden()
    await expect(group_item(d, "Payroll")).to_be_visible()
    await expect(member_row(a, dave)).to_contain_text("Dave Brown")
    await expect(a.page.locator("#member-count")).to_have_text("4 members")
    await expect(note(c, "Bob Jones added Dave Brown")).to_be_visible()

    # Bob removes Carol: her client drops the group and closes it, while it is open
    await member_row(b, carol).get_by_role("button", name="Remove").click()
    await expect(group_item(c, "Payroll")).to_have_count(0)
    await expect(c.page.locator("#room")).to_be_hidden()
    await expect(c.page.locator("#placeholder")).to_be_visible()
    await expect(c.page.locator("#toast")).to_have_text("You were removed from “Payroll”")
    await expect(member_row(a, carol)).to_have_count(0)
    await expect(note(a, "Bob Jones removed Carol White")).to_be_visible()
    await b.send("Carol moved to the Berlin team")
    await expect(a.message("Carol moved to the Berlin team")).to_be_visible()
    await expect(group_item(c, "Payroll")).to_have_count(0)  # and nothing of it comes back
    await expect(c.page.locator("#rooms .room-item")).to_have_count(0)

    # the owner renames it: the new name shows live in every list and header
    await a.page.fill("#group-name", "Payroll & Benefits")
    await a.page.click("#rename-save")
    await expect(b.page.locator("#peer-name")).to_have_text("Payroll & Benefits")
    await expect(group_item(d, "Payroll & Benefits")).to_be_visible()
    await expect(group_item(d, "Payroll")).to_have_count(0)
    await expect(note(a, "Alice Smith renamed the group to Payroll & Benefits")).to_be_visible()

    # Dave leaves (the button asks once more): gone from his list, one member fewer for the others
    await open_group(d, "Payroll & Benefits")
    await d.page.click("#group-info")
    leave = d.page.locator("#leave-group")
    await leave.click()
    await expect(leave).to_have_text("Click again to leave")
    await expect(group_item(d, "Payroll & Benefits")).to_be_visible()
    await leave.click()
    await expect(group_item(d, "Payroll & Benefits")).to_have_count(0)
    await expect(d.page.locator("#room")).to_be_hidden()
    await expect(a.page.locator("#member-count")).to_have_text("2 members")
    await expect(note(b, "Dave Brown left")).to_be_visible()
    await expect(a.page.locator("#peer-status")).to_have_text(re.compile(r"^2 members"))


async def test_a_member_removed_while_cut_off_loses_the_group_when_back(api: Api, pages: Pages) -> None:
    alice, bob = await employee(api, "Alice Smith"), await employee(api, "Bob Jones")
    carol = await employee(api, "Carol White")
    room_id = await make_group(alice, "Hiring", bob, carol)
    switch = SocketSwitch()

    async def routed(context: Any) -> None:
        await context.route_web_socket(SOCKET_URL, lambda page_side: switch.route(page_side))

    c = await pages.signed_in(carol, before=routed)
    await open_group(c, "Hiring")
    await switch.cut()
    await expect(c.page.locator("#connection")).to_have_attribute("data-status", "reconnecting")
    removed = await alice.http.delete(f"/api/v1/chat/rooms/{room_id}/members/{carol.id}")
    assert removed.status_code == 200, removed.text
    await expect(group_item(c, "Hiring")).to_be_visible()  # nothing could tell the page yet

    switch.blocked = False
    await expect(c.page.locator("#connection")).to_have_attribute("data-status", "online", timeout=20_000)
    await expect(group_item(c, "Hiring")).to_have_count(0)
    await expect(c.page.locator("#room")).to_be_hidden()
