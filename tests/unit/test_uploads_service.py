"""Streamed uploads, claiming them by upload_id, their expiry, orphaned files and who may read a file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from chatcore import ConflictError, InvalidError, MessageType, NotFoundError, RoomId, SendMessage
from tests.unit.helpers import ALICE, BOB, CAROL, Chat, make_chat, pdf, png, small_policy


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_an_upload_is_streamed_checked_and_claimed_by_a_message(chat: Chat, room: RoomId) -> None:
    upload = await chat.service.upload_file(ALICE, "scan.pdf", chunks(pdf()))

    assert upload.kind is MessageType.FILE
    assert upload.file.file_size == len(pdf())
    assert chat.storage.files[upload.file.key] == (pdf(), "application/pdf")
    view, created = await chat.service.send_message(
        ALICE, SendMessage(room_id=room, message_type=MessageType.FILE, upload_id=upload.id)
    )
    assert created
    assert view.file_path == upload.file.file_path
    assert view.file_name == "scan.pdf"
    with pytest.raises(NotFoundError):  # used up
        await chat.service.send_message(
            ALICE, SendMessage(room_id=room, message_type=MessageType.FILE, upload_id=upload.id)
        )


async def test_the_kind_can_be_given_and_must_match_the_file(chat: Chat) -> None:
    with pytest.raises(InvalidError):
        await chat.service.upload_file(ALICE, "scan.pdf", chunks(pdf()), kind=MessageType.IMAGE)
    with pytest.raises(InvalidError):
        await chat.service.upload_file(ALICE, "note.txt", chunks(b"hi"), kind=MessageType.TEXT)
    assert chat.storage.files == {}


@pytest.mark.parametrize(
    ("name", "data"),
    [("x.png", pdf()), ("a.svg", b"<svg/>"), ("a.exe", b"MZ" + bytes(64)), ("empty.pdf", b""), ("noext", pdf())],
)
async def test_a_rejected_upload_stores_nothing(chat: Chat, name: str, data: bytes) -> None:
    with pytest.raises(InvalidError):
        await chat.service.upload_file(ALICE, name, chunks(data))
    assert chat.storage.files == {}
    assert chat.db.tables.uploads == {}


async def test_an_upload_over_the_limit_stores_nothing() -> None:
    chat = make_chat(policy=small_policy(1024))
    with pytest.raises(InvalidError) as error:
        await chat.service.upload_file(ALICE, "big.pdf", chunks(pdf() + bytes(2000), size=100))
    assert "at most" in error.value.detail
    assert chat.storage.files == {}


async def test_only_the_uploader_can_claim_and_only_as_its_kind(chat: Chat, room: RoomId) -> None:
    upload = await chat.service.upload_file(ALICE, "p.png", chunks(png()))
    with pytest.raises(NotFoundError):
        await chat.service.send_message(
            BOB, SendMessage(room_id=room, message_type=MessageType.IMAGE, upload_id=upload.id)
        )
    with pytest.raises(InvalidError):
        await chat.service.send_message(
            ALICE, SendMessage(room_id=room, message_type=MessageType.FILE, upload_id=upload.id)
        )
    view, _ = await chat.service.send_message(
        ALICE, SendMessage(room_id=room, message_type=MessageType.IMAGE, upload_id=upload.id)
    )
    assert view.mime_type == "image/png"


async def test_file_data_and_upload_id_together_are_invalid(chat: Chat, room: RoomId) -> None:
    upload = await chat.service.upload_file(ALICE, "p.png", chunks(png()))
    command = SendMessage(
        room_id=room, message_type=MessageType.IMAGE, upload_id=upload.id, file_data="aGk=", file_name="p.png"
    )
    with pytest.raises(InvalidError):
        await chat.service.send_message(ALICE, command)


async def test_a_failed_send_leaves_the_upload_claimable(chat: Chat, room: RoomId) -> None:
    upload = await chat.service.upload_file(ALICE, "p.png", chunks(png()))
    chat.db.fail_commits_with = ConflictError("database said no")
    with pytest.raises(ConflictError):
        await chat.service.send_message(
            ALICE, SendMessage(room_id=room, message_type=MessageType.IMAGE, upload_id=upload.id)
        )
    chat.db.fail_commits_with = None
    assert upload.file.key in chat.storage.files
    view, _ = await chat.service.send_message(
        ALICE, SendMessage(room_id=room, message_type=MessageType.IMAGE, upload_id=upload.id)
    )
    assert view.file_path == upload.file.file_path


async def test_unclaimed_uploads_expire_with_their_files(chat: Chat, room: RoomId) -> None:
    old = await chat.service.upload_file(ALICE, "old.png", chunks(png()))
    chat.clock.advance(3000)
    fresh = await chat.service.upload_file(ALICE, "new.png", chunks(png()))
    chat.clock.advance(1000)

    assert await chat.service.expire_uploads(timedelta(hours=1)) == 1
    assert old.file.key not in chat.storage.files
    assert fresh.file.key in chat.storage.files
    with pytest.raises(NotFoundError):
        await chat.service.send_message(
            ALICE, SendMessage(room_id=room, message_type=MessageType.IMAGE, upload_id=old.id)
        )


async def test_orphans_are_files_no_message_or_upload_holds(chat: Chat, room: RoomId) -> None:
    sent = await chat.send_file(ALICE, room, MessageType.IMAGE, "a.png", png())
    pending = await chat.service.upload_file(ALICE, "b.png", chunks(png()))
    await chat.storage.put("files/stray.pdf", pdf(), "application/pdf")
    seen: list[tuple[int, int]] = []

    orphans = await chat.service.orphan_files(batch=2, progress=lambda scanned, found: seen.append((scanned, found)))

    assert orphans == ["files/stray.pdf"]
    assert seen[-1] == (3, 1)
    assert await chat.service.remove_orphans(orphans) == ["files/stray.pdf"]
    assert set(chat.storage.files) == {sent.file_path.removeprefix("chat_files/"), pending.file.key}  # type: ignore[union-attr]


async def test_a_file_claimed_after_listing_is_not_removed(chat: Chat, room: RoomId) -> None:
    upload = await chat.service.upload_file(ALICE, "b.png", chunks(png()))
    assert await chat.service.remove_orphans([upload.file.key]) == []
    assert upload.file.key in chat.storage.files


async def test_participants_may_read_a_file_strangers_may_not(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, MessageType.IMAGE, "a.png", png())
    key = view.file_path.removeprefix("chat_files/")  # type: ignore[union-attr]
    assert await chat.service.can_read_file(BOB, key)
    assert await chat.service.can_read_file(ALICE, key)
    assert not await chat.service.can_read_file(CAROL, key)
    assert not await chat.service.can_read_file(BOB, "images/none.png")
    await chat.service.delete_message(ALICE, view.id)
    assert not await chat.service.can_read_file(BOB, key)


async def test_a_file_keeps_the_name_it_was_sent_with_for_its_download(chat: Chat, room: RoomId) -> None:
    upload = await chat.service.upload_file(ALICE, "Gehaltsabrechnung: März?.pdf", chunks(pdf()))
    assert upload.file.key.endswith("-Gehaltsabrechnung_ März_.pdf")  # what a key may hold
    assert chat.storage.names[upload.file.key] == "Gehaltsabrechnung: März?.pdf"  # the storage is told at once
    assert await chat.service.file_name_of(upload.file.key) is None  # no message holds it yet
    await chat.service.send_message(
        ALICE, SendMessage(room_id=room, message_type=MessageType.FILE, upload_id=upload.id)
    )
    assert await chat.service.file_name_of(upload.file.key) == "Gehaltsabrechnung: März?.pdf"
    assert await chat.service.file_name_of("files/none.pdf") is None
    assert await chat.service.file_name_of("files/\x00.pdf") is None

    view = await chat.send_file(ALICE, room, MessageType.IMAGE, "Büro.png", png())
    key = view.file_path.removeprefix("chat_files/")  # type: ignore[union-attr]
    assert chat.storage.names[key] == "Büro.png"
