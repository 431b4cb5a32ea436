"""The client on a phone and its small print: nothing pushed off screen, presence said once, files refused early."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from chatcore.model import MessageType
from chatcore.uploads import DEFAULT_LIMITS, FILE_TYPES
from tests.browser.conftest import PDF, PHONE, OpenPair, Pages, employee, expect, png
from tests.e2e.conftest import Api, Server

pytestmark = pytest.mark.asyncio(loop_scope="module")

BUSY = "object storage failed: the connection was reset while the file was being stored; nothing was kept"
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


async def test_last_seen_names_the_time_once(pair: OpenPair) -> None:
    a, b = await pair()
    status = a.page.locator("#peer-status")
    await expect(status).to_have_text("Online")
    await b.page.context.close()
    await expect(status).to_contain_text("Last seen")
    text = await status.inner_text()
    times = re.findall(r"\d{1,2}:\d{2}", text)
    assert len(times) == 1, text
    assert "," not in text, text  # seen today: the time alone, no repeated "06:55 AM, 06:55 AM"


def extensions(*kinds: MessageType) -> set[str]:
    return {f".{ft.extension}" for kind in kinds for ft in FILE_TYPES[kind]}


async def test_the_pickers_offer_only_what_the_server_takes_and_refusals_are_said_before_uploading(
    pair: OpenPair,
) -> None:
    a, _ = await pair()
    picker = await a.page.locator("#file-input").get_attribute("accept")
    assert set((picker or "").split(",")) == extensions(MessageType.IMAGE, MessageType.FILE, MessageType.VOICE)
    voice = await a.page.locator("#voice-input").get_attribute("accept")
    assert set((voice or "").split(",")) == extensions(MessageType.VOICE)
    uploads: list[str] = []
    a.page.on("request", lambda request: "/uploads" in request.url and uploads.append(request.url))

    # a picker's filter can be bypassed (drag and drop, "All files"): the page checks again before sending
    toast = a.page.locator("#toast")
    await a.page.set_input_files(
        "#file-input",
        files=[
            {"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ" + b"\0" * 62},
            {"name": "staff.csv", "mimeType": "text/csv", "buffer": b"name,salary\n"},
            {"name": "IMG_0042.heic", "mimeType": "image/heic", "buffer": b"\0\0\0\x18ftypheic"},
        ],
    )
    await expect(toast).to_contain_text("“setup.exe”, “staff.csv”, “IMG_0042.heic” were not sent")
    await expect(toast).to_contain_text("images (JPG, JPEG, PNG, GIF, WEBP; up to 10 MB)")
    await expect(toast).to_contain_text("files (PDF, DOC, DOCX, XLS, XLSX, TXT, ZIP, RAR; up to 50 MB)")
    await a.shot("12-refused-before-upload")

    big = png() + b"\0" * (DEFAULT_LIMITS[MessageType.IMAGE] - len(png()) + 1)
    await a.page.set_input_files("#file-input", files=[{"name": "scan.png", "mimeType": "image/png", "buffer": big}])
    await expect(toast).to_have_text("“scan.png” is too large: images may be at most 10 MB.")

    await a.page.set_input_files(
        "#voice-input", files=[{"name": "memo.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await expect(toast).to_have_text(
        "“memo.pdf” was not sent: you can send voice notes (MP3, WAV, M4A, AAC, OGG; up to 20 MB)."
    )
    await expect(a.page.locator("li.msg.pending")).to_have_count(0)
    assert uploads == []


async def test_a_file_the_server_refuses_offers_no_retry(pages: Pages, pair: OpenPair) -> None:
    pages.tolerated.append("status of 400")
    a, _ = await pair()
    fake = {"name": "Payslip.pdf", "mimeType": "application/pdf", "buffer": b"this is not a PDF at all"}
    await a.page.set_input_files("#file-input", files=[fake])
    failed = a.page.locator('li.msg.pending[data-state="failed"]')
    await expect(failed.locator(".failed")).to_have_text("the content is not a PDF file")
    await expect(failed.locator("button.discard")).to_be_visible()
    await expect(failed.locator("button.retry")).to_have_count(0)
    await failed.locator("button.discard").click()
    await expect(a.page.locator("li.msg.pending")).to_have_count(0)


async def test_a_failure_a_retry_can_fix_offers_retry_on_one_line(pages: Pages, pair: OpenPair) -> None:
    pages.tolerated += ["status of 503", "HTTP 503"]
    a, b = await pair(viewport=PHONE)
    answers = iter([503])

    async def busy_once(route: Any) -> None:
        status = next(answers, None)
        if status is None:
            await route.continue_()
        else:
            await route.fulfill(status=status, json={"status_code": status, "detail": BUSY})

    await a.page.route("**/api/v1/chat/uploads", busy_once)
    pdf = {"name": "Quarterly headcount plan.pdf", "mimeType": "application/pdf", "buffer": PDF}
    await a.page.set_input_files("#file-input", files=[pdf])
    failed = a.page.locator('li.msg.pending[data-state="failed"]')
    await expect(failed.locator(".failed")).to_have_text(BUSY)
    for button in ("button.retry", "button.discard"):  # each on one line, never broken mid-word
        height = await failed.locator(button).evaluate(
            "el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).fontSize)"
        )
        assert height < 2, f"{button} wraps: {height} em high"
    await a.shot("13-retry-on-phone")
    await failed.locator("button.retry").click()
    await expect(b.page.locator("li.msg.kind-file[data-id] .file-name")).to_have_text("Quarterly headcount plan.pdf")
    await expect(a.page.locator("li.msg.pending")).to_have_count(0)


async def test_swagger_ui_shows_with_every_other_host_blocked(browser: Any, server: Server) -> None:
    """Offline or behind a strict proxy: only this server answers, and the API's page still renders."""
    context = await browser.new_context(base_url=server.base_url)
    own = urlsplit(server.base_url).netloc
    elsewhere: list[str] = []

    async def only_this_server(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    try:
        await context.route("**/*", only_this_server)
        page = await context.new_page()
        await page.goto("/schema/swagger")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("chatcore")
        await expect(page.locator(".opblock-summary-path").first).to_be_visible()
        assert elsewhere == []
    finally:
        await context.close()
