"""What subscribers of 'user:<id>' and 'room:<id>' hear, as JSON a client decodes."""

from __future__ import annotations

import pytest

from chatcore import MessageType, RoomId, UnavailableError
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, Chat, png, uuid

MESSAGE_KEYS = {
    "id",
    "room_id",
    "sender_id",
    "receiver_id",
    "sender_name",
    "receiver_name",
    "sender_avatar",
    "receiver_avatar",
    "message_type",
    "content",
    "file_name",
    "file_path",
    "file_size",
    "mime_type",
    "file_url",
    "created_at",
    "updated_at",
    "is_read",
    "is_deleted",
    "is_edited",
    "client_msg_id",
    "system",  # contract section 11: what a group's system message records; null on every other message
    # contract section 12: replies, mentions, reactions and pins
    "reply_to_id",
    "reply_to",
    "mentions",
    "reactions",
    "pinned_by",
    "pinned_at",
}


async def test_a_new_message_reaches_both_participants_with_the_seeds_fields(chat: Chat, room: RoomId) -> None:
    to_alice = await chat.listen(f"user:{ALICE}")
    to_bob = await chat.listen(f"user:{BOB}")
    to_carol = await chat.listen(f"user:{CAROL}")

    sent = await chat.say(ALICE, room, "Hello!", client_msg_id="c-9")

    assert to_alice.types == to_bob.types == ["new_message"]
    assert to_carol.frames == []
    (data,) = to_bob.data("new_message")
    assert to_alice.data("new_message") == [data]
    assert set(data) == MESSAGE_KEYS
    assert data == {
        "id": sent.id,
        "room_id": room,
        "sender_id": ALICE,
        "receiver_id": BOB,
        "sender_name": "Alice Smith",
        "receiver_name": "John Doe",
        "sender_avatar": "https://example.com/alice.jpg",
        "receiver_avatar": "https://example.com/john.jpg",
        "message_type": "text",
        "content": "Hello!",
        "file_name": None,
        "file_path": None,
        "file_size": None,
        "mime_type": None,
        "file_url": None,
        "created_at": "2024-01-21T12:00:00Z",
        "updated_at": None,
        "is_read": False,
        "is_deleted": False,
        "is_edited": False,
        "client_msg_id": "c-9",
        "system": None,
        "reply_to_id": None,
        "reply_to": None,
        "mentions": [],
        "reactions": [],
        "pinned_by": None,
        "pinned_at": None,
    }


async def test_a_new_file_message_carries_its_file_fields(chat: Chat, room: RoomId) -> None:
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.send_file(ALICE, room, MessageType.IMAGE, "photo.png", png())

    (data,) = to_bob.data("new_message")
    assert data["message_type"] == "image"
    assert data["file_name"] == "photo.png"
    assert data["file_path"] == f"chat_files/images/{uuid(1)}-photo.png"
    assert data["file_size"] == len(png())
    assert data["mime_type"] == "image/png"
    assert data["file_url"].startswith("memory://images/")


async def test_a_refused_message_is_announced_to_nobody(chat: Chat, room: RoomId) -> None:
    to_bob = await chat.listen(f"user:{BOB}")

    chat.db.fail_commits_with = UnavailableError("database went away")

    with pytest.raises(UnavailableError):
        await chat.say(ALICE, room, "lost")

    assert to_bob.frames == []


async def test_an_edit_is_announced_as_message_updated(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "frist")
    to_alice = await chat.listen(f"user:{ALICE}")
    to_bob = await chat.listen(f"user:{BOB}")
    chat.clock.advance(600)

    await chat.service.edit_message(ALICE, sent.id, "first")

    assert to_alice.types == to_bob.types == ["message_updated"]
    (data,) = to_bob.data("message_updated")
    assert set(data) == MESSAGE_KEYS
    assert data["id"] == sent.id
    assert data["content"] == "first"
    assert data["is_edited"] is True
    assert data["created_at"] == "2024-01-21T12:00:00Z"
    assert data["updated_at"] == "2024-01-21T12:10:00Z"


async def test_a_deletion_is_announced_with_id_and_room_only(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "oops")
    to_alice = await chat.listen(f"user:{ALICE}")
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.delete_message(ALICE, sent.id)

    assert to_alice.frames == to_bob.frames == [{"type": "message_deleted", "data": {"id": sent.id, "room_id": room}}]


async def test_reading_a_room_is_announced_as_messages_read(chat: Chat, room: RoomId) -> None:
    await chat.say(ALICE, room, "one")
    newest = await chat.say(ALICE, room, "two")
    to_alice = await chat.listen(f"user:{ALICE}")
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.mark_read(BOB, room)

    expected = {"type": "messages_read", "data": {"room_id": room, "user_id": BOB, "last_read_message_id": newest.id}}
    assert to_alice.frames == [expected]
    assert to_bob.frames == [expected]


async def test_typing_goes_to_the_room_channel_only(chat: Chat, room: RoomId) -> None:
    in_room = await chat.listen(f"room:{room}")
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.set_typing(ALICE, room, True)

    assert in_room.frames == [
        {
            "type": "typing",
            "data": {
                "room_id": room,
                "user_id": ALICE,
                "user_name": "Alice Smith",
                "is_typing": True,
                "typing_users": [ALICE],
            },
        }
    ]
    assert to_bob.frames == []


async def test_presence_goes_to_people_who_share_a_room_only(chat: Chat, room: RoomId) -> None:
    await chat.room(ALICE, CAROL)
    to_alice = await chat.listen(f"user:{ALICE}")
    to_bob = await chat.listen(f"user:{BOB}")
    to_carol = await chat.listen(f"user:{CAROL}")
    to_dave = await chat.listen(f"user:{DAVE}")

    await chat.service.connect(ALICE, "tab-1")

    expected = {
        "type": "presence",
        "data": {"user_id": ALICE, "user_name": "Alice Smith", "is_online": True, "last_seen": "2024-01-21T12:00:00Z"},
    }
    assert to_bob.frames == [expected]
    assert to_carol.frames == [expected]
    assert to_dave.frames == []
    assert to_alice.frames == []


async def test_presence_of_someone_with_no_rooms_is_published_to_nobody(chat: Chat) -> None:
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.connect(DAVE, "tab-1")

    assert to_bob.frames == []
    assert await chat.live.online([DAVE]) == {DAVE}


async def test_an_unsubscribed_listener_hears_nothing_more(chat: Chat, room: RoomId) -> None:
    heard: list[bytes] = []
    stop = await chat.broker.subscribe(f"user:{BOB}", heard.append)
    await chat.say(ALICE, room, "one")

    await stop()
    await stop()  # twice is harmless
    await chat.say(ALICE, room, "two")

    assert len(heard) == 1
