"""Two people in two browsers: real-time chat, files and images, typing, presence, read marks, edits."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.browser.conftest import PDF, PHONE, ROOT, OpenPair, Pages, employee, expect, png, wav
from tests.e2e.conftest import Api, Person

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_two_people_chat_both_ways_in_real_time(api: Api, pages: Pages) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    a = await pages.signed_in(alice)
    b = await pages.signed_in(bob)
    await expect(b.page.locator("#rooms-empty")).to_be_visible()
    await a.shot("01-empty")

    await a.page.fill("#search", bob.email[:10])
    result = a.page.locator(f'.result[data-user-id="{bob.id}"]')
    await expect(result).to_contain_text(bob.email)
    await a.shot("02-search")
    await result.click()
    await expect(a.page.locator("#peer-name")).to_have_text("Bob")
    await a.send("Hi Bob, have you got a minute?")
    await expect(a.message("Hi Bob, have you got a minute?")).to_have_attribute("data-state", "sent")

    # Bob was never told about the room: it appears live, with the message and an unread badge
    room = b.room(alice)
    await expect(room.locator(".room-preview")).to_have_text("Hi Bob, have you got a minute?")
    await expect(room.locator(".badge")).to_have_text("1")
    await a.send("It is about the offsite.")
    await expect(room.locator(".badge")).to_have_text("2")
    await b.shot("03-unread-badge")

    await b.open_room_with(alice)
    await expect(b.message("It is about the offsite.")).to_be_visible()
    await expect(room.locator(".badge")).to_have_count(0)
    await b.send("Sure, go ahead!")
    await expect(a.message("Sure, go ahead!")).to_be_visible()
    await expect(a.room(bob).locator(".room-preview")).to_have_text("Sure, go ahead!")
    await a.send("Great — sending the agenda now.")
    await expect(b.message("Great — sending the agenda now.")).to_be_visible()
    await expect(b.page.locator("li.msg.theirs")).to_have_count(3)
    await expect(b.page.locator("li.msg.mine")).to_have_count(1)
    await a.shot("04-chat-alice")
    await b.shot("04-chat-bob")


async def colleague_writes(api: Api, sender: Person, to: Person, *texts: str) -> int:
    """`sender` opens a room with `to` and sends `texts` over a plain WebSocket (not a browser)."""
    room_id = await api.room(sender, to)
    async with api.socket(sender, room_id) as ws:
        for text in texts:
            await ws.send("send_message", content=text)
            await ws.next("new_message")
    return room_id


async def test_files_and_images_are_sent_and_open(api: Api, pages: Pages) -> None:
    alice, john = await employee(api, "Alice Smith"), await employee(api, "John Doe")
    priya, marco = await employee(api, "Priya Patel"), await employee(api, "Marco Rossi")
    marco_room = await colleague_writes(api, marco, alice, "Payroll export for November is done.")
    await alice.http.post(f"/api/v1/chat/rooms/{marco_room}/read")
    await colleague_writes(api, priya, alice, "Can you review the Q3 headcount plan?", "No rush, Friday is fine.")
    await api.room(alice, john)
    a = await pages.signed_in(alice)
    b = await pages.signed_in(john)
    await a.open_room_with(john)
    await b.open_room_with(alice)
    await b.send("Morning! Any photos from the team offsite?")
    await expect(a.message("Morning! Any photos from the team offsite?")).to_be_visible()
    await a.send("Yes! Here is the view from the terrace")

    await a.page.set_input_files(
        "#file-input", files=[{"name": "terrace.png", "mimeType": "image/png", "buffer": png()}]
    )
    image = b.page.locator("li.msg.kind-image[data-id] img.image")
    await expect(image).to_be_visible()
    await image.evaluate("img => img.decode()")  # rejects unless the image loads and decodes
    assert await image.evaluate("img => img.naturalWidth") == 480
    await expect(a.page.locator("li.msg.kind-image[data-id] img.image")).to_be_visible()
    await b.send("Wow, that looks amazing!")
    await expect(a.message("Wow, that looks amazing!")).to_be_visible()

    agenda = PDF + b"%" * (184 * 1024 - len(PDF))  # 184 KB
    pdf = {"name": "Offsite agenda.pdf", "mimeType": "application/pdf", "buffer": agenda}
    await a.page.set_input_files("#file-input", files=[pdf])
    card = b.page.locator("li.msg.kind-file[data-id] a.file-card")
    await expect(card.locator(".file-name")).to_have_text("Offsite agenda.pdf")
    await expect(card.locator(".file-size")).to_have_text("184 KB")
    href = await card.get_attribute("href")
    assert href
    assert "sig=" in href
    opened = await b.page.request.get(href)  # the link works, for the person it was sent to
    assert opened.status == 200
    assert await opened.body() == agenda
    assert opened.headers["content-disposition"].startswith("attachment")
    assert opened.headers["x-content-type-options"] == "nosniff"
    await b.send("Thanks, I will add it to the calendar.")
    await expect(a.message("Thanks, I will add it to the calendar.")).to_be_visible()
    await b.page.fill("#text", "See you")
    await expect(a.page.locator("#typing")).to_be_visible()
    await expect(a.room(priya).locator(".badge")).to_have_text("2")
    await a.page.locator("#messages").evaluate("box => box.scrollTo(0, box.scrollHeight)")
    shot = await a.shot("05-files-and-image")
    if os.environ.get("CHAT_UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "screenshot-chat.png")
    await b.shot("05-files-and-image-john")


async def test_typing_and_presence_show_on_the_other_side(api: Api, pages: Pages) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    await api.room(alice, bob)
    a = await pages.signed_in(alice)
    await a.open_room_with(bob)
    status = a.page.locator("#peer-status")
    await expect(status).to_have_text("Offline")
    await expect(a.room(bob).locator(".presence")).not_to_have_class("presence online")

    b = await pages.signed_in(bob)
    await expect(status).to_have_text("Online")
    await expect(a.room(bob).locator(".presence.online")).to_have_count(1)
    await b.open_room_with(alice)
    await b.page.fill("#text", "Let me check the calendar")
    await expect(status).to_have_text("typing…")
    await expect(a.page.locator("#typing")).to_contain_text("Bob is typing")
    await expect(a.room(bob).locator(".room-preview")).to_have_text("typing…")
    await a.shot("06-typing")
    await b.page.fill("#text", "")  # cleared: typing stops at once
    await expect(a.page.locator("#typing")).to_be_hidden()
    await expect(status).to_have_text("Online")

    await b.page.fill("#text", "Thursday works")
    await expect(status).to_have_text("typing…")
    await b.page.press("#text", "Enter")  # sending ends typing too
    await expect(a.message("Thursday works")).to_be_visible()
    await expect(status).to_have_text("Online")

    await b.page.context.close()
    await expect(status).to_contain_text("Last seen")
    await expect(a.room(bob).locator(".presence.online")).to_have_count(0)


async def test_read_marks_appear_when_the_other_reads(api: Api, pages: Pages) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    await api.room(alice, bob)
    a = await pages.signed_in(alice)
    b = await pages.signed_in(bob, viewport=PHONE)  # Bob is on his phone
    await a.open_room_with(bob)
    await a.send("Did you read the new leave policy?")
    await a.send("It changes from next month.")
    first, second = a.message("Did you read the new leave policy?"), a.message("It changes from next month.")
    await expect(second).to_have_attribute("data-state", "sent")
    await expect(first.locator(".status")).to_have_attribute("aria-label", "Sent")
    await expect(b.room(alice).locator(".badge")).to_have_text("2")
    await b.shot("07-phone-rooms")

    await b.open_room_with(alice)  # Bob reads
    await expect(first).to_have_attribute("data-state", "read")
    await expect(second).to_have_attribute("data-state", "read")
    await expect(second.locator(".status")).to_have_attribute("aria-label", "Read")

    await a.send("Let me know if you have questions.")  # Bob has the room open: read at once
    await expect(a.message("Let me know if you have questions.")).to_have_attribute("data-state", "read")
    await expect(b.room(alice).locator(".badge")).to_have_count(0)
    await b.send("Will do, thanks!")
    await b.shot("08-phone-chat")
    await b.page.click("#back")
    await expect(b.page.locator("#rooms")).to_be_visible()
    await expect(b.room(alice).locator(".room-preview")).to_have_text("You: Will do, thanks!")


async def test_edit_and_delete_own_messages_show_on_the_other_side(pair: OpenPair) -> None:
    a, b = await pair()
    await a.send("See you at 10")
    await b.send("OK")
    await expect(b.message("See you at 10")).to_be_visible()
    # nobody edits or deletes another's message (reacting, replying and pinning are for anyone's)
    assert await b.page.locator("li.msg.theirs .actions :is(.edit, .delete)").count() == 0

    mine = a.message("See you at 10")
    await mine.hover()
    await mine.locator("button.edit").click()
    await expect(a.page.locator("#edit-banner")).to_be_visible()
    await expect(a.page.locator("#text")).to_have_value("See you at 10")
    await a.page.fill("#text", "See you at 11 instead")
    await a.page.press("#text", "Enter")
    edited = b.message("See you at 11 instead")
    await expect(edited.locator(".edited")).to_have_text("edited")
    await expect(a.message("See you at 11 instead").locator(".edited")).to_be_visible()
    await expect(b.page.get_by_text("See you at 10", exact=True)).to_have_count(0)
    await expect(a.page.locator("#edit-banner")).to_be_hidden()

    await a.send("Oops, wrong chat")
    gone = a.message("Oops, wrong chat")
    message_id = await gone.get_attribute("data-id")
    await expect(b.message("Oops, wrong chat")).to_be_visible()
    await gone.hover()
    await gone.locator("button.delete").click()
    await expect(gone.locator("button.delete")).to_have_class("action delete armed")  # asks once more
    await gone.locator("button.delete").click()
    on_b = b.page.locator(f'li.msg[data-id="{message_id}"]')
    await expect(on_b.locator(".deleted-text")).to_have_text("This message was deleted")
    await expect(on_b.locator(".text")).to_have_count(0)
    deleted_on_a = a.page.locator(f'li.msg[data-id="{message_id}"]')
    await expect(deleted_on_a.locator(".deleted-text")).to_have_text("This message was deleted")
    await expect(deleted_on_a.locator(".actions")).to_have_count(0)
    await expect(b.room(a.person).locator(".room-preview")).to_have_text("Message deleted")
    await b.shot("09-edited-and-deleted")


async def test_markup_in_messages_and_names_is_shown_as_text(api: Api, pages: Pages) -> None:
    payload = "<img src=x onerror=window.__xss=1>"
    alice = await api.person("Alice")
    mallory = await employee(api, payload, email=f"mallory.{alice.id}@example.com")
    await api.room(mallory, alice)
    a = await pages.signed_in(alice)
    m = await pages.signed_in(mallory)
    await m.open_room_with(alice)
    await m.send(payload)
    await m.page.set_input_files(
        "#file-input", files=[{"name": f"{payload}.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )

    room = a.room(mallory)  # the name, the preview and the file name are all plain text
    await expect(room.locator(".room-name")).to_have_text(payload)
    await room.click()
    await expect(a.page.locator("#peer-name")).to_have_text(payload)
    await expect(a.message(payload).locator(".text")).to_have_text(payload)
    await expect(a.page.locator("li.msg.kind-file .file-name")).to_have_text(f"{payload}.txt")
    await a.page.fill("#search", "mallory.")
    await expect(a.page.locator(f'.result[data-user-id="{mallory.id}"] .result-name')).to_have_text(payload)
    await a.shot("10-markup-as-text")
    for chat in (a, m):
        assert await chat.page.evaluate("typeof window.__xss") == "undefined"
        assert await chat.page.locator("img[src='x']").count() == 0


async def test_dev_server_signs_in_by_email(api: Api, pages: Pages) -> None:
    carol = await api.person("Carol")
    pages.tolerated += ["status of 401", "status of 404"]  # the refused token and the unknown email
    chat = await pages.open(carol)
    page = chat.page
    await expect(page.locator("#dev-form")).to_be_visible()
    await page.fill("#token-input", "not-a-token")
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#signin-error")).to_contain_text("not accepted")
    await chat.shot("00-sign-in")

    await page.fill("#dev-email", f"nobody.{carol.id}@example.com")
    await page.click("#dev-form button[type=submit]")
    await expect(page.locator("#dev-error")).to_contain_text("no user has this email")
    await page.fill("#dev-email", carol.email.upper())
    await page.click("#dev-form button[type=submit]")
    await chat.ready()
    await page.reload()  # the tab keeps its sign-in
    await chat.ready()

    await page.click("#sign-out")
    await expect(page.locator("#token-form")).to_be_visible()
    await page.fill("#dev-email", f"dan.{carol.id}@example.com")
    await page.fill("#dev-name", "Dan Developer")
    await page.click("#dev-form button[type=submit]")
    await expect(page.locator("#me-name")).to_have_text("Dan Developer")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "online")


async def test_a_link_with_the_token_in_its_fragment_signs_in(api: Api, pages: Pages) -> None:
    """An HR system may link to /chat#token=...: the fragment never reaches the server, and the page drops it."""
    erin = await api.person("Erin")
    chat = await pages.open(erin, path=f"/chat#token={erin.token}")
    await chat.ready()
    assert chat.page.url.endswith("/chat")


async def test_voice_notes_recorded_in_the_browser_or_picked_from_disk(pair: OpenPair) -> None:
    a, b = await pair()

    await a.page.click("#mic")  # Chromium's fake microphone
    await expect(a.page.locator("#recording")).to_be_visible()
    await expect(a.page.locator("#rec-time")).to_have_text("0:01", timeout=5_000)
    await a.page.click("#rec-send")
    recorded = b.page.locator("li.msg.kind-voice[data-id]")
    await expect(recorded.locator("audio")).to_have_count(1)
    name = await recorded.locator(".voice-name").inner_text()
    assert re.fullmatch(r"voice-[0-9T-]+\.(m4a|ogg|wav)", name), name  # never webm: not an allowed voice type
    src = await recorded.locator("audio").get_attribute("src")
    assert src
    played = await b.page.request.get(src)
    assert played.status == 200
    assert played.headers["content-type"] in {"audio/mp4", "audio/ogg", "audio/wav"}
    assert len(await played.body()) > 1000

    await b.page.set_input_files(
        "#voice-input", files=[{"name": "reply.wav", "mimeType": "audio/wav", "buffer": wav()}]
    )
    picked = a.page.locator("li.msg.kind-voice[data-id]", has=a.page.get_by_text("reply.wav", exact=True))
    await expect(picked.locator("audio")).to_have_count(1)

    # A browser whose MediaRecorder has neither Ogg nor MP4 (older Chromium: WebM only) records WAV itself
    await b.page.evaluate("MediaRecorder.isTypeSupported = () => false")
    await b.page.click("#mic")
    await expect(b.page.locator("#rec-time")).to_have_text("0:01", timeout=5_000)
    await b.page.click("#rec-send")
    fallback = a.page.locator("li.msg.kind-voice[data-id]", has=a.page.get_by_text(re.compile(r"^voice-.*\.wav$")))
    await expect(fallback.locator("audio")).to_have_count(1)
    wav_src = await fallback.locator("audio").get_attribute("src")
    assert wav_src
    recorded_wav = await a.page.request.get(wav_src)
    assert recorded_wav.headers["content-type"] == "audio/wav"
    assert len(await recorded_wav.body()) > 16000  # a second or more at 16 kHz, 16 bit
    await a.shot("14-voice-notes")

    # The WAV encoder the page falls back to where MediaRecorder has neither Ogg nor MP4
    header = await a.page.evaluate(
        """async () => {
            const { encodeWav } = await import("/web/voice.js");
            const bytes = new Uint8Array(encodeWav([new Float32Array(48000).fill(0.25)], 48000, 16000));
            const text = (from, to) => String.fromCharCode(...bytes.slice(from, to));
            return [text(0, 4), text(8, 12), bytes.length];
        }"""
    )
    assert header == ["RIFF", "WAVE", 44 + 16000 * 2]
