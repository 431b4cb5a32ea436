"""send_message with files: real tiny files of every allowed type, and every way a file is refused."""

from __future__ import annotations

from collections.abc import Callable, Collection

import pytest

from chatcore import (
    InvalidError,
    Limits,
    MessageType,
    RoomId,
    SendMessage,
    UnavailableError,
    UploadPolicy,
    User,
    UserId,
)
from tests.unit.helpers import (
    ALICE,
    BOB,
    Chat,
    aac,
    b64,
    docx,
    gif,
    jpeg,
    m4a,
    make_chat,
    mp3,
    ogg,
    ole2,
    pdf,
    png,
    rar,
    small_policy,
    uuid,
    wav,
    webp,
)

IMAGE, FILE, VOICE = MessageType.IMAGE, MessageType.FILE, MessageType.VOICE
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def text_file() -> bytes:
    return "Grüße aus dem Büro\n".encode()


ALLOWED: list[tuple[MessageType, str, Callable[[], bytes], str, str]] = [
    (IMAGE, "photo.png", png, "image/png", "images"),
    (IMAGE, "photo.jpg", jpeg, "image/jpeg", "images"),
    (IMAGE, "photo.JPEG", jpeg, "image/jpeg", "images"),
    (IMAGE, "anim.gif", gif, "image/gif", "images"),
    (IMAGE, "pic.webp", webp, "image/webp", "images"),
    (FILE, "document.pdf", pdf, "application/pdf", "files"),
    (FILE, "report.docx", docx, DOCX_MIME, "files"),
    (FILE, "sheet.xlsx", docx, XLSX_MIME, "files"),
    (FILE, "archive.zip", docx, "application/zip", "files"),
    (FILE, "old.doc", ole2, "application/msword", "files"),
    (FILE, "old.xls", ole2, "application/vnd.ms-excel", "files"),
    (FILE, "notes.txt", text_file, "text/plain; charset=utf-8", "files"),
    (FILE, "bundle.rar", rar, "application/vnd.rar", "files"),
    (VOICE, "voice_message.mp3", mp3, "audio/mpeg", "voices"),
    (VOICE, "memo.wav", wav, "audio/wav", "voices"),
    (VOICE, "memo.ogg", ogg, "audio/ogg", "voices"),
    (VOICE, "memo.m4a", m4a, "audio/mp4", "voices"),
    (VOICE, "memo.aac", aac, "audio/aac", "voices"),
]


@pytest.mark.parametrize(("kind", "name", "build", "mime", "folder"), ALLOWED, ids=[row[1] for row in ALLOWED])
async def test_an_allowed_file_is_stored_under_a_fresh_name(
    chat: Chat, room: RoomId, kind: MessageType, name: str, build: Callable[[], bytes], mime: str, folder: str
) -> None:
    data = build()

    view = await chat.send_file(ALICE, room, kind, name, data, file_size=len(data))

    key = f"{folder}/{uuid(1)}-{name}"
    assert chat.storage.files == {key: (data, mime)}
    assert view.message_type == kind
    assert view.file_name == name
    assert view.file_path == f"chat_files/{key}"
    assert view.file_size == len(data)
    assert view.mime_type == mime
    assert view.file_url is not None
    assert view.file_url.startswith(f"memory://{folder}/")
    assert view.content is None
    assert chat.db.tables.messages[view.id].file_path == f"chat_files/{key}"


async def test_each_file_gets_its_own_stored_name(chat: Chat, room: RoomId) -> None:
    first = await chat.send_file(ALICE, room, IMAGE, "same.png", png())
    second = await chat.send_file(BOB, room, IMAGE, "same.png", png())

    assert first.file_path != second.file_path
    assert len(chat.storage.files) == 2


async def test_a_file_message_may_carry_a_caption(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, FILE, "document.pdf", pdf(), content="the contract")

    assert view.content == "the contract"


async def test_a_caption_over_the_text_limit_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, FILE, "document.pdf", pdf(), content="x" * 10_001)

    assert raised.value.field == "content"
    assert chat.storage.files == {}


async def test_the_clients_mime_type_is_ignored_for_the_detected_one(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, IMAGE, "photo.png", png(), mime_type="text/html")

    assert view.mime_type == "image/png"
    assert next(iter(chat.storage.files.values()))[1] == "image/png"


async def test_a_data_url_is_accepted_as_base64(chat: Chat, room: RoomId) -> None:
    command = SendMessage(
        room_id=room, message_type=IMAGE, file_name="p.png", file_data="data:image/png;base64," + b64(png())
    )

    view, _ = await chat.service.send_message(ALICE, command)

    assert chat.storage.files[f"images/{uuid(1)}-p.png"][0] == png()
    assert view.file_size == len(png())


@pytest.mark.parametrize(
    ("kind", "name", "data"),
    [
        pytest.param(IMAGE, "photo.png", pdf(), id="pdf-named-png"),
        pytest.param(IMAGE, "cat.jpg", b"MZ\x90\x00\x03" + bytes(64), id="exe-renamed-jpg"),
        pytest.param(IMAGE, "logo.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', id="svg-as-png"),
        pytest.param(IMAGE, "page.gif", b"<!DOCTYPE html><html><script>alert(1)</script>", id="html-as-gif"),
        pytest.param(FILE, "document.pdf", png(), id="png-named-pdf"),
        pytest.param(FILE, "report.docx", pdf(), id="pdf-named-docx"),
        pytest.param(FILE, "notes.txt", b"MZ\x00\x00binary", id="binary-named-txt"),
        pytest.param(VOICE, "memo.wav", webp(), id="webp-named-wav"),
        pytest.param(VOICE, "memo.mp3", b"<html>" + bytes(10), id="html-named-mp3"),
    ],
)
async def test_content_that_does_not_match_its_extension_is_refused(
    chat: Chat, room: RoomId, kind: MessageType, name: str, data: bytes
) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, kind, name, data)

    assert raised.value.field == "file_data"
    assert chat.storage.files == {}
    assert chat.message_count == 0


@pytest.mark.parametrize(
    ("kind", "name", "data"),
    [
        pytest.param(IMAGE, "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', id="svg"),
        pytest.param(IMAGE, "page.html", b"<html></html>", id="html"),
        pytest.param(FILE, "setup.exe", b"MZ\x90\x00", id="exe"),
        pytest.param(FILE, "run.sh", b"#!/bin/sh\n", id="script"),
        pytest.param(FILE, "noextension", pdf(), id="no-extension"),
        pytest.param(IMAGE, "song.mp3", mp3(), id="voice-as-image"),
        pytest.param(VOICE, "photo.png", png(), id="image-as-voice"),
    ],
)
async def test_a_type_not_allowed_for_the_kind_is_refused(
    chat: Chat, room: RoomId, kind: MessageType, name: str, data: bytes
) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, kind, name, data)

    assert raised.value.field == "file_name"
    assert chat.storage.files == {}


async def test_a_declared_file_size_that_differs_from_the_data_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, IMAGE, "photo.png", png(), file_size=245760)

    assert raised.value.field == "file_size"
    assert chat.storage.files == {}


async def test_a_file_at_the_size_limit_is_accepted() -> None:
    chat = make_chat(policy=small_policy(1024))
    room = await chat.room()
    data = pdf().ljust(1024, b" ")

    view = await chat.send_file(ALICE, room, FILE, "big.pdf", data)

    assert view.file_size == 1024


@pytest.mark.parametrize("kind", [IMAGE, FILE, VOICE])
async def test_a_file_over_its_kinds_limit_is_refused(kind: MessageType) -> None:
    chat = make_chat(policy=small_policy(1024))
    room = await chat.room()
    name, data = {IMAGE: ("p.png", png()), FILE: ("d.pdf", pdf()), VOICE: ("v.mp3", mp3())}[kind]

    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, kind, name, data.ljust(1025, b"\x00"))

    assert raised.value.field == "file_data"
    assert chat.storage.files == {}
    assert chat.message_count == 0


async def test_oversized_base64_is_refused_before_it_is_decoded() -> None:
    chat = make_chat(policy=small_policy(1024))
    room = await chat.room()
    command = SendMessage(room_id=room, message_type=FILE, file_name="d.pdf", file_data="A" * 10_000 + "!")

    with pytest.raises(InvalidError) as raised:  # not a base64 error: the length alone decides
        await chat.service.send_message(ALICE, command)

    assert "at most" in raised.value.detail
    assert chat.storage.files == {}


async def test_an_empty_file_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, FILE, "empty.txt", b"")

    assert raised.value.field == "file_data"
    assert chat.storage.files == {}


@pytest.mark.parametrize(
    "file_data",
    [
        pytest.param("not base64!!", id="outside-alphabet"),
        pytest.param("iVBORw0KGgo", id="bad-padding"),
        pytest.param(b64(png())[:8] + "\n" + b64(png())[8:], id="newline-inside"),
        pytest.param(b64(png()) + "$$$", id="trailing-junk"),
    ],
)
async def test_bad_base64_is_invalid(chat: Chat, room: RoomId, file_data: str) -> None:
    command = SendMessage(room_id=room, message_type=IMAGE, file_name="p.png", file_data=file_data)

    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, command)

    assert raised.value.field == "file_data"
    assert chat.storage.files == {}


async def test_a_file_message_without_file_data_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, SendMessage(room_id=room, message_type=IMAGE, file_name="p.png"))

    assert raised.value.field == "file_data"


@pytest.mark.parametrize("file_name", [None, ""])
async def test_a_file_message_without_file_name_is_invalid(chat: Chat, room: RoomId, file_name: str | None) -> None:
    command = SendMessage(room_id=room, message_type=IMAGE, file_data=b64(png()), file_name=file_name)

    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, command)

    assert raised.value.field == "file_name"
    assert chat.storage.files == {}


async def test_a_kind_the_policy_has_no_limit_for_is_refused() -> None:
    chat = make_chat(policy=UploadPolicy(limits={IMAGE: 1024}))
    room = await chat.room()

    with pytest.raises(InvalidError) as raised:
        await chat.send_file(ALICE, room, VOICE, "memo.mp3", mp3())

    assert raised.value.field == "message_type"
    assert chat.storage.files == {}


async def test_a_path_traversal_name_is_stored_under_its_last_part(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, FILE, "../../etc/passwd.txt", b"root:x:0:0\n")

    assert list(chat.storage.files) == [f"files/{uuid(1)}-passwd.txt"]
    assert view.file_path == f"chat_files/files/{uuid(1)}-passwd.txt"
    assert view.file_name == "../../etc/passwd.txt"  # the original name, for display only


async def test_a_windows_path_name_is_stored_under_its_last_part(chat: Chat, room: RoomId) -> None:
    await chat.send_file(ALICE, room, FILE, "..\\..\\Windows\\win.ini.txt", b"[fonts]\n")

    assert list(chat.storage.files) == [f"files/{uuid(1)}-win.ini.txt"]


async def test_control_characters_are_dropped_from_names(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, IMAGE, "evil\r\nname\x00\x1b[31m.png", png())

    key = f"images/{uuid(1)}-evilname[31m.png"
    assert list(chat.storage.files) == [key]
    assert view.file_name == "evilname[31m.png"


async def test_an_over_long_name_is_shortened_keeping_its_extension(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, FILE, "a" * 500 + ".pdf", pdf())

    (key,) = chat.storage.files
    stored_name = key.removeprefix(f"files/{uuid(1)}-")
    assert len(stored_name) == 120
    assert stored_name.endswith("aaa.pdf")
    assert view.file_name is not None
    assert len(view.file_name) == 255


async def test_a_file_message_stored_but_not_published_keeps_its_file() -> None:
    """The directory fails after the commit (names for the event): the sender gets the error, but the message
    and its file stay, and the retry with the same client_msg_id gets the stored message back."""
    chat = make_chat(limits=Limits(cache=False))
    room = await chat.room(ALICE, BOB)
    command = SendMessage(
        room_id=room, message_type=MessageType.IMAGE, file_data=b64(png()), file_name="a.png", client_msg_id="pic"
    )
    real_get_many = chat.users.get_many

    async def directory_down(ids: Collection[UserId]) -> dict[UserId, User]:
        raise UnavailableError("the directory is away")

    bob_hears = await chat.listen("user:2")
    chat.users.get_many = directory_down  # type: ignore[method-assign]
    with pytest.raises(UnavailableError):
        await chat.service.send_message(ALICE, command)
    stored_keys = [key async for key in chat.storage.keys()]  # noqa: SIM118 (an async iterator, not a dict)
    chat.users.get_many = real_get_many  # type: ignore[method-assign]
    again, created = await chat.service.send_message(ALICE, command)

    assert not created
    assert again.file_path is not None
    assert stored_keys == [again.file_path.removeprefix("chat_files/")]
    assert bob_hears.frames == []  # nothing was announced: the retry's echo goes to the sender alone
