"""mark_read, edit_message and delete_message: who may, what changes, and what stays."""

from __future__ import annotations

import pytest

from chatcore import ForbiddenError, InvalidError, MessageId, MessageType, NotFoundError, RoomId
from chatcore.testing import MemoryStorage
from tests.unit.helpers import ALICE, BOB, CAROL, Chat, make_chat, pdf, png, uuid

# -- mark_read ----------------------------------------------------------------------------------


async def test_marking_a_room_read_clears_its_unread_count_only(chat: Chat, room: RoomId) -> None:
    other = await chat.room(ALICE, CAROL)
    for _ in range(3):
        await chat.say(BOB, room)
    await chat.say(CAROL, other)

    await chat.service.mark_read(ALICE, room)

    assert await chat.service.unread_counts(ALICE) == {room: 0, other: 1}
    (listed,) = [r for r in await chat.service.list_rooms(ALICE) if r.id == room]
    assert listed.unread_count == 0


async def test_marked_messages_read_show_is_read(chat: Chat, room: RoomId) -> None:
    to_me = await chat.say(BOB, room, "to Alice")
    mine = await chat.say(ALICE, room, "to Bob")

    await chat.service.mark_read(ALICE, room)

    page = {m.id: m.is_read for m in (await chat.service.history(ALICE, room)).messages}
    assert page == {to_me.id: True, mine.id: False}  # Bob has not read Alice's yet


async def test_new_messages_after_reading_are_unread_again(chat: Chat, room: RoomId) -> None:
    await chat.say(BOB, room)
    await chat.service.mark_read(ALICE, room)

    await chat.say(BOB, room)

    assert await chat.service.unread_counts(ALICE) == {room: 1}


async def test_own_messages_are_never_unread(chat: Chat, room: RoomId) -> None:
    for _ in range(3):
        await chat.say(ALICE, room)

    assert await chat.service.unread_counts(ALICE) == {room: 0}
    assert await chat.service.unread_counts(BOB) == {room: 3}


async def test_marking_an_empty_room_read_names_no_message(chat: Chat, room: RoomId) -> None:
    event = await chat.service.mark_read(ALICE, room)

    assert event.last_read_message_id is None
    assert (event.room_id, event.user_id) == (room, ALICE)


async def test_last_read_message_id_is_the_newest_message_of_that_room(chat: Chat, room: RoomId) -> None:
    await chat.say(BOB, room)
    newest = await chat.say(ALICE, room)
    other = await chat.room(BOB, CAROL)
    await chat.say(CAROL, other)  # newer, but elsewhere

    event = await chat.service.mark_read(BOB, room)

    assert event.last_read_message_id == newest.id
    assert chat.db.tables.participants[(room, BOB)].last_read_message_id == newest.id


async def test_marking_a_room_read_as_a_non_participant_is_not_found(chat: Chat, room: RoomId) -> None:
    await chat.say(BOB, room)

    with pytest.raises(NotFoundError):
        await chat.service.mark_read(CAROL, room)

    assert await chat.service.unread_counts(ALICE) == {room: 1}


# -- edit ---------------------------------------------------------------------------------------


async def test_the_sender_can_edit_a_text_message(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "helo")
    chat.clock.advance(600)

    edited = await chat.service.edit_message(ALICE, sent.id, "hello")

    assert edited.content == "hello"
    assert edited.is_edited is True
    assert edited.updated_at == chat.clock.now()
    assert edited.created_at == sent.created_at
    stored = chat.db.tables.messages[sent.id]
    assert (stored.content, stored.is_edited, stored.updated_at) == ("hello", True, chat.clock.now())


async def test_edit_by_other_user_is_forbidden(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "mine")

    with pytest.raises(ForbiddenError):
        await chat.service.edit_message(BOB, sent.id, "yours now")

    assert chat.db.tables.messages[sent.id].content == "mine"


async def test_editing_a_file_message_is_forbidden(chat: Chat, room: RoomId) -> None:
    sent = await chat.send_file(ALICE, room, MessageType.IMAGE, "p.png", png())

    with pytest.raises(ForbiddenError):
        await chat.service.edit_message(ALICE, sent.id, "a caption")


async def test_editing_a_deleted_message_is_forbidden(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "gone")
    await chat.service.delete_message(ALICE, sent.id)

    with pytest.raises(ForbiddenError):
        await chat.service.edit_message(ALICE, sent.id, "back")

    assert chat.db.tables.messages[sent.id].content is None


async def test_an_edit_longer_than_ten_thousand_characters_is_invalid(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "short")

    with pytest.raises(InvalidError) as raised:
        await chat.service.edit_message(ALICE, sent.id, "x" * 10_001)

    assert raised.value.field == "content"


@pytest.mark.parametrize("content", ["", "   "])
async def test_an_empty_edit_is_invalid(chat: Chat, room: RoomId, content: str) -> None:
    sent = await chat.say(ALICE, room, "short")

    with pytest.raises(InvalidError):
        await chat.service.edit_message(ALICE, sent.id, content)


async def test_editing_in_a_room_you_are_not_in_is_not_found(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "private")

    with pytest.raises(NotFoundError) as raised:
        await chat.service.edit_message(CAROL, sent.id, "hacked")

    assert raised.value.field == "message_id"


async def test_editing_a_missing_message_is_not_found(chat: Chat, room: RoomId) -> None:
    with pytest.raises(NotFoundError):
        await chat.service.edit_message(ALICE, MessageId(404), "anything")


# -- delete -------------------------------------------------------------------------------------


async def test_deleting_a_text_message_keeps_the_row_without_content(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "secret")
    chat.clock.advance(5)

    await chat.service.delete_message(ALICE, sent.id)

    stored = chat.db.tables.messages[sent.id]
    assert stored.is_deleted is True
    assert stored.content is None
    assert stored.updated_at == chat.clock.now()
    page = await chat.service.history(BOB, room)
    assert [(m.id, m.is_deleted, m.content) for m in page.messages] == [(sent.id, True, None)]
    assert page.total == 1


async def test_deleting_a_file_message_clears_its_fields_and_removes_the_file(chat: Chat, room: RoomId) -> None:
    sent = await chat.send_file(ALICE, room, MessageType.FILE, "d.pdf", pdf(), content="see attached")
    kept = await chat.send_file(ALICE, room, MessageType.FILE, "keep.pdf", pdf())

    await chat.service.delete_message(ALICE, sent.id)

    stored = chat.db.tables.messages[sent.id]
    assert stored.is_deleted is True
    fields = (stored.content, stored.file_name, stored.file_path, stored.file_size, stored.mime_type)
    assert fields == (None,) * 5
    assert list(chat.storage.files) == [f"files/{uuid(2)}-keep.pdf"]
    (shown,) = [m for m in (await chat.service.history(BOB, room)).messages if m.id == sent.id]
    assert shown.file_url is None
    assert kept.file_path == f"chat_files/files/{uuid(2)}-keep.pdf"


async def test_delete_by_other_user_is_forbidden(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "mine")

    with pytest.raises(ForbiddenError):
        await chat.service.delete_message(BOB, sent.id)

    assert chat.db.tables.messages[sent.id].is_deleted is False


async def test_deleting_twice_is_no_error_and_announced_once(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "oops")
    to_bob = await chat.listen(f"user:{BOB}")
    await chat.service.delete_message(ALICE, sent.id)
    commits = chat.db.commits

    await chat.service.delete_message(ALICE, sent.id)

    assert to_bob.types == ["message_deleted"]
    assert chat.db.commits == commits
    assert chat.db.tables.messages[sent.id].is_deleted is True


async def test_deleting_in_a_room_you_are_not_in_is_not_found(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "private")

    with pytest.raises(NotFoundError):
        await chat.service.delete_message(CAROL, sent.id)

    assert chat.db.tables.messages[sent.id].is_deleted is False


async def test_deleting_a_missing_message_is_not_found(chat: Chat) -> None:
    with pytest.raises(NotFoundError):
        await chat.service.delete_message(ALICE, MessageId(404))


class UndeletableStorage(MemoryStorage):
    async def delete(self, key: str) -> None:
        raise OSError("bucket is read-only")


async def test_a_file_that_cannot_be_removed_does_not_stop_the_deletion() -> None:
    chat = make_chat(storage=UndeletableStorage())
    room = await chat.room()
    sent = await chat.send_file(ALICE, room, MessageType.IMAGE, "p.png", png())
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.delete_message(ALICE, sent.id)

    assert chat.db.tables.messages[sent.id].is_deleted is True
    assert to_bob.types == ["message_deleted"]
