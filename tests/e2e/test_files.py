"""Files over the real service: each kind round-trips byte for byte; rejected files leave nothing on disk."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat_http.cli import frame_limit
from chat_http.settings import Settings
from tests.e2e.conftest import WAIT, Api, Person, start_server, stop_server
from tests.unit import helpers as samples

API = "/api/v1/chat"

KINDS: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("image", "photo.png", samples.png, "image/png"),
    ("image", "photo.jpg", samples.jpeg, "image/jpeg"),
    ("image", "anim.gif", samples.gif, "image/gif"),
    ("image", "pic.webp", samples.webp, "image/webp"),
    ("file", "payslip.pdf", samples.pdf, "application/pdf"),
    ("file", "contract.docx", samples.docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("file", "notes.txt", lambda: "Grüße, HR\n".encode(), "text/plain; charset=utf-8"),
    ("voice", "note.mp3", samples.mp3, "audio/mpeg"),
    ("voice", "note.wav", samples.wav, "audio/wav"),
    ("voice", "note.ogg", samples.ogg, "audio/ogg"),
    ("voice", "note.m4a", samples.m4a, "audio/mp4"),
]


def stored_files(root: Path) -> set[str]:
    files = root / "files"
    return {p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()} if files.exists() else set()


@pytest.mark.parametrize(("kind", "name", "make", "mime"), KINDS, ids=[k[1] for k in KINDS])
async def test_file_round_trips_byte_for_byte(
    api: Api, kind: str, name: str, make: Callable[[], bytes], mime: str
) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    data = make()
    async with api.socket(alice, room) as a, api.socket(bob, room) as b:
        await a.send(
            "send_message",
            message_type=kind,
            file_data=base64.b64encode(data).decode(),
            file_name=name,
            file_size=len(data),
            mime_type="application/x-whatever",  # never trusted
        )
        event = (await b.next("new_message"))["data"]
    assert event["message_type"] == kind
    assert event["file_name"] == name
    assert event["file_size"] == len(data)
    assert event["mime_type"] == mime
    folder = {"image": "images", "file": "files", "voice": "voices"}[kind]
    assert event["file_path"].startswith(f"chat_files/{folder}/")
    assert event["file_path"].endswith(f"-{name}")
    response = await api.http.get(event["file_url"])
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"].startswith(mime.split(";")[0])
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = "inline" if kind == "image" else "attachment"
    assert response.headers["content-disposition"] == f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{name}"


async def test_downloads_carry_the_name_the_file_was_sent_with(api: Api) -> None:
    """Not the storage key (`<32 hex>-payslip.pdf`), and not mangled (`M_rz.pdf`): RFC 6266 with a fallback."""
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    uploaded = await alice.http.post(
        f"{API}/uploads", files={"file": ("Gehaltsabrechnung März.pdf", samples.pdf(), "application/pdf")}
    )
    assert uploaded.status_code == 201, uploaded.text
    hostile = 'x"; filename="evil.exe.txt'
    async with api.socket(alice, room) as a, api.socket(bob, room) as b:
        await a.send("send_message", message_type="file", upload_id=uploaded.json()["upload_id"])
        march = (await b.next("new_message"))["data"]
        await a.send("send_message", message_type="file", file_name=hostile, file_data=samples.b64(b"hello"))
        evil = (await b.next("new_message"))["data"]
        await a.send("send_message", message_type="image", file_name="Büro.png", file_data=samples.b64(samples.png()))
        photo = (await b.next("new_message"))["data"]
    assert march["file_name"] == "Gehaltsabrechnung März.pdf"  # the seed's fields are as they were
    assert re.fullmatch(r"chat_files/files/[0-9a-f]{32}-Gehaltsabrechnung März\.pdf", march["file_path"])
    expected = "attachment; filename=\"Gehaltsabrechnung Marz.pdf\"; filename*=UTF-8''Gehaltsabrechnung%20M%C3%A4rz.pdf"
    by_link = await api.http.get(march["file_url"])
    by_token = await bob.http.get("/static/" + march["file_path"])  # a participant's own token
    for response in (by_link, by_token):
        assert response.status_code == 200
        assert response.content == samples.pdf()
        assert response.headers["content-disposition"] == expected
    evil_header = (await api.http.get(evil["file_url"])).headers.get_list("content-disposition")
    assert evil_header == [
        "attachment; filename=\"x__ filename=_evil.exe.txt\"; filename*=UTF-8''x%22%3B%20filename%3D%22evil.exe.txt"
    ]
    shown = (await api.http.get(photo["file_url"])).headers["content-disposition"]
    assert shown == "inline; filename=\"Buro.png\"; filename*=UTF-8''B%C3%BCro.png"


async def image_link(api: Api, file_name: str) -> tuple[Person, str]:
    """Alice sends Bob a PNG over her socket: Alice, and the signed `file_url` her echo carries."""
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as a:
        data = base64.b64encode(samples.png()).decode()
        await a.send("send_message", message_type="image", file_data=data, file_name=file_name)
        url: str = (await a.next("new_message"))["data"]["file_url"]
    return alice, url


async def test_static_files_need_a_valid_signature(api: Api) -> None:
    _, url = await image_link(api, "a.png")
    path, _, query = url.partition("?")
    assert (await api.http.get(path)).status_code == 401
    assert (await api.http.get(url[:-4] + "0000")).status_code == 403
    expires = next(p for p in query.split("&") if p.startswith("expires="))
    assert (await api.http.get(url.replace(expires, "expires=1000"))).status_code == 403
    traversal = await api.http.get("/static/chat_files/../chat.db")
    assert traversal.status_code in (401, 403, 404)
    for odd in ("sig=%C3%A9", "expires=%C2%B2&sig=ab", "expires=9999999999&sig=%00"):  # each was a 500
        assert (await api.http.get(f"{path}?{odd}")).status_code == 403, odd


async def test_signed_links_are_redacted_in_the_access_log(api: Api) -> None:
    """A link's signature opens the file for anyone who reads the log until it expires, like a token."""
    alice, url = await image_link(api, "l.png")
    assert (await api.http.get(url)).status_code == 200
    assert (await api.http.get(url + "&token=" + alice.token)).status_code == 200
    path, _, query = url.partition("?")
    sig = next(p for p in query.split("&") if p.startswith("sig=")).removeprefix("sig=")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:  # the access log line is written once the response is sent
        logged = [line for line in api.server.log().splitlines() if path in line]
        if len(logged) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(logged) == 2, logged
    assert all("sig=[redacted]" in line and sig not in line for line in logged), logged
    assert alice.token not in api.server.log()


async def test_rejected_files_leave_nothing_on_disk(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    before = stored_files(api.server.workdir)
    cases = [
        {"message_type": "image", "file_data": base64.b64encode(samples.pdf()).decode(), "file_name": "x.png"},
        {"message_type": "image", "file_data": base64.b64encode(b"MZ\x90\x00" * 10).decode(), "file_name": "x.jpg"},
        {"message_type": "image", "file_data": base64.b64encode(b"<svg onload=alert(1)>").decode(),
         "file_name": "a.svg"},
        {"message_type": "file", "file_data": base64.b64encode(b"<html><script>").decode(), "file_name": "a.html"},
        {"message_type": "file", "file_data": "not*base64!", "file_name": "a.pdf"},
        {"message_type": "file", "file_data": base64.b64encode(samples.pdf()).decode(), "file_name": "a.pdf",
         "file_size": 1},
        {"message_type": "voice", "file_data": base64.b64encode(samples.png()).decode(), "file_name": "a.mp3"},
        {"message_type": "file", "file_data": "", "file_name": "a.pdf"},
        {"message_type": "file", "file_name": "a.pdf"},
    ]  # fmt: skip
    async with api.socket(alice, room) as a:
        for case in cases:
            await a.send("send_message", **case)
            error = await a.next()
            assert error["type"] == "error", case
            assert error["data"]["code"] == "invalid"
    assert stored_files(api.server.workdir) == before
    history = (await alice.http.get(f"{API}/rooms/{room}/messages")).json()
    assert history["total"] == 0


async def test_traversal_names_are_stored_safely(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as a:
        await a.send(
            "send_message",
            message_type="file",
            file_data=base64.b64encode(samples.pdf()).decode(),
            file_name="../../etc/\x07passwd.pdf",
        )
        event = (await a.next("new_message"))["data"]
    assert event["file_path"].startswith("chat_files/files/")
    assert ".." not in event["file_path"]
    assert event["file_path"].endswith("-passwd.pdf")
    assert (await api.http.get(event["file_url"])).content == samples.pdf()


async def test_deleting_a_file_message_removes_the_file(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as a:
        await a.send(
            "send_message", message_type="file", file_data=base64.b64encode(samples.pdf()).decode(), file_name="a.pdf"
        )
        event = (await a.next("new_message"))["data"]
    on_disk = api.server.workdir / "files" / event["file_path"].removeprefix("chat_files/")
    assert on_disk.read_bytes() == samples.pdf()
    assert (await alice.http.delete(f"{API}/messages/{event['id']}")).status_code == 200
    assert not on_disk.exists()
    assert (await api.http.get(event["file_url"])).status_code == 404


async def _send_then_receive(ws: ClientConnection, frame: str | AsyncIterator[str]) -> None:
    """Without per-message deflate the server sees the size in the frame header and may close while the frame is
    still being sent: the close then surfaces from send() rather than recv()."""
    await ws.send(frame)
    await asyncio.wait_for(ws.recv(), 30)


async def test_oversize_frame_closes_with_1009(api: Api) -> None:
    alice = await api.person("Alice")
    url = f"{api.server.ws_url}?token={alice.token}"
    async with connect(url, open_timeout=WAIT, max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await _send_then_receive(ws, "x" * (70 * 2**20))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_upload_then_send_by_upload_id(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    data = samples.pdf() + b"%" * 300_000
    reply = await alice.http.post(f"{API}/uploads", files={"file": ("contract.pdf", data, "application/x-anything")})
    assert reply.status_code == 201, reply.text
    upload = reply.json()
    assert upload["message_type"] == "file"
    assert upload["file_size"] == len(data)
    assert upload["mime_type"] == "application/pdf"
    async with api.socket(alice, room) as a, api.socket(bob, room) as b:
        await a.send("send_message", message_type="file", upload_id=upload["upload_id"], client_msg_id="u1")
        event = (await b.next("new_message"))["data"]
        assert event["file_name"] == "contract.pdf"
        assert event["file_size"] == len(data)
        assert (await api.http.get(event["file_url"])).content == data
        await a.send("send_message", message_type="file", upload_id=upload["upload_id"])
        error = await a.next("error")
        assert error["data"]["code"] == "not_found"


async def test_an_upload_belongs_to_its_uploader(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    reply = await alice.http.post(f"{API}/uploads", files={"file": ("a.png", samples.png())})
    async with api.socket(bob, room) as b:
        await b.send("send_message", message_type="image", upload_id=reply.json()["upload_id"])
        assert (await b.next("error"))["data"]["code"] == "not_found"
        await b.send("send_message", message_type="file", upload_id=reply.json()["upload_id"])
        assert (await b.next("error"))["type"] == "error"


async def test_rejected_uploads_leave_nothing_on_disk(api: Api) -> None:
    alice = await api.person("Alice")
    before = stored_files(api.server.workdir)
    cases = [
        {"files": {"file": ("x.png", samples.pdf())}},
        {"files": {"file": ("a.svg", b"<svg onload=alert(1)>")}},
        {"files": {"file": ("a.exe", b"MZ" + bytes(100))}},
        {"files": {"file": ("big.png", samples.png() + bytes(10 * 2**20))}},
        {"files": {"file": ("empty.pdf", b"")}},
        {"files": {"other": ("a.pdf", samples.pdf())}},
        {"files": {"file": ("a.pdf", samples.pdf())}, "params": {"message_type": "image"}},
        {"content": b"not multipart", "headers": {"Content-Type": "text/plain"}},
        {"content": b"--x\r\ngarbage", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
    ]
    for case in cases:
        response = await alice.http.post(f"{API}/uploads", **case)  # type: ignore[arg-type]
        assert response.status_code == 400, (case.get("files"), response.text)
        assert response.json()["status_code"] == 400
    assert stored_files(api.server.workdir) == before
    too_big = await alice.http.post(f"{API}/uploads", files={"file": ("huge.pdf", bytes(52 * 2**20))})
    assert too_big.status_code == 413
    assert stored_files(api.server.workdir) == before
    assert (await api.http.post(f"{API}/uploads", files={"file": ("a.png", samples.png())})).status_code == 401


async def test_a_participants_token_opens_the_file_a_strangers_does_not(api: Api) -> None:
    alice, bob, eve = await api.person("Alice"), await api.person("Bob"), await api.person("Eve")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as a:
        await a.send(
            "send_message", message_type="image", file_data=base64.b64encode(samples.gif()).decode(), file_name="g.gif"
        )
        path = "/static/" + (await a.next("new_message"))["data"]["file_path"]
    assert (await bob.http.get(path)).content == samples.gif()
    assert (await api.http.get(path, params={"token": bob.token})).status_code == 200
    assert (await eve.http.get(path)).status_code == 401
    assert (await api.http.get(path)).status_code == 401


async def test_an_oversize_message_sent_in_fragments_closes_with_1009_too(api: Api) -> None:
    """The limit is on the message, not on each frame: fragments up to 10 bytes short of it, then one of 100.

    The last fragment is small so that all of it is read before the server closes: a close with client data
    still unread resets the connection, and the client would never see the close frame."""
    alice = await api.person("Alice")
    url = f"{api.server.ws_url}?token={alice.token}"
    limit = frame_limit(Settings())

    async def fragments() -> AsyncIterator[str]:
        left = limit - 10
        while left > 0:
            piece = min(left, 8 * 2**20)
            yield "x" * piece
            left -= piece
        yield "x" * 100

    async with connect(url, open_timeout=WAIT, max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await _send_then_receive(ws, fragments())
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_a_500_logs_its_traceback_with_method_and_path_but_no_secret(tmp_path: Path) -> None:
    """A storage folder turned into a plain file (a broken disk, a bad mount) is a real 500. Litestar logs an
    unhandled exception only in debug mode; the server must log it always, and never the link's signature."""
    proc, server = start_server(tmp_path)
    api = Api.open(server)
    try:
        _, url = await image_link(api, "a.png")
        folder = tmp_path / "files" / "images"
        shutil.rmtree(folder)
        folder.write_bytes(b"not a folder")
        async with httpx.AsyncClient(base_url=server.base_url) as plain:  # not recorded: this 500 is the point
            broken = await plain.get(url)
        assert broken.status_code == 500
        assert broken.json() == {"status_code": 500, "detail": "Internal Server Error"}  # nothing leaks to clients
    finally:
        await api.aclose()
        stop_server(proc)
    log = server.log()
    path = url.partition("?")[0]
    (line,) = [line for line in log.splitlines() if " ERROR " in line]  # the 2xx and 4xx logged none
    # The path alone, no query string; then the request's id, also on its access line.
    assert re.search(f"500 on GET '{re.escape(path)}': NotADirectoryError \\[request_id=[0-9a-f]{{32}}\\]$", line)
    assert log.count("Traceback") == 1
    assert log.split(line, 1)[1].lstrip("\n").startswith("Traceback")
    assert "NotADirectoryError: [Errno 20]" in log
