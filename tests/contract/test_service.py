"""ChatService end to end on every backend: the use cases give the same answers on the fakes and on SQL."""

from __future__ import annotations

import base64
import json

import attrs
import pytest

from chatcore import ChatService, SendMessage, User
from chatcore.errors import ForbiddenError, NotFoundError
from chatcore.events import user_channel
from chatcore.model import MessageId, MessageType, RoomId
from chatcore.testing import FakeClock, MemoryBroker, MemoryLiveState, MemoryStorage, SequentialIds
from tests.contract.backends import Backend

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)


@attrs.define
class World:
    chat: ChatService
    storage: MemoryStorage
    clock: FakeClock
    alice: User
    bob: User
    carol: User
    inbox: list[dict[str, object]]


@pytest.fixture
async def world(backend: Backend) -> World:
    clock = FakeClock()
    storage = MemoryStorage(clock)
    broker = MemoryBroker()
    alice = await backend.users.add(name="Alice Smith", email="alice@example.com")
    bob = await backend.users.add(name="John Doe", email="john@example.com")
    carol = await backend.users.add(name="Carol King", email="carol@corp.test")
    chat = ChatService(
        uow=backend.database,  # type: ignore[arg-type]  # MemoryDatabase's attributes are its own classes
        users=backend.users,
        storage=storage,
        broker=broker,
        live=MemoryLiveState(clock),
        clock=clock,
        ids=SequentialIds(),
    )
    inbox: list[dict[str, object]] = []
    await broker.subscribe(user_channel(bob.id), lambda payload: inbox.append(json.loads(payload)))
    return World(chat=chat, storage=storage, clock=clock, alice=alice, bob=bob, carol=carol, inbox=inbox)


async def _say(world: World, room_id: RoomId, text: str, *, client_msg_id: str | None = None) -> MessageId:
    world.clock.advance(1)
    view, _ = await world.chat.send_message(
        world.alice.id, SendMessage(room_id=room_id, content=text, client_msg_id=client_msg_id)
    )
    return view.id


async def test_open_room_creates_once_for_the_pair(world: World) -> None:
    room, created = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    again, created_again = await world.chat.open_direct_room(world.bob.id, world.alice.id)

    assert (created, created_again) == (True, False)
    assert again.id == room.id
    assert room.other_user.id == world.bob.id
    assert again.other_user.name == "Alice Smith"
    assert (room.last_message, room.unread_count) == (None, 0)


async def test_send_history_and_room_list(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    other, _ = await world.chat.open_direct_room(world.carol.id, world.alice.id)
    first = await _say(world, room.id, "hello")
    last = await _say(world, room.id, "there")

    page = await world.chat.history(world.bob.id, room.id, per_page=1)
    rooms = await world.chat.list_rooms(world.bob.id)
    alices = await world.chat.list_rooms(world.alice.id)
    detail = await world.chat.room_detail(world.bob.id, room.id)

    assert [m.content for m in page.messages] == ["there"]
    assert (page.total, page.has_more) == (2, True)
    assert page.messages[0].sender_name == "Alice Smith"
    assert page.messages[0].receiver_name == "John Doe"
    assert [r.id for r in rooms] == [room.id]
    assert rooms[0].last_message is not None
    assert (rooms[0].last_message.id, rooms[0].last_message.sender_name) == (last, "Alice Smith")
    assert rooms[0].unread_count == 2
    assert [r.id for r in alices] == [room.id, other.id]
    assert [m.id for m in detail.message_list.messages] == [first, last]
    assert detail.message_list.total == 2
    assert [e["type"] for e in world.inbox] == ["new_message", "new_message"]


async def test_after_id_catches_up_oldest_first(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    seen = await _say(world, room.id, "one")
    await _say(world, room.id, "two")
    await _say(world, room.id, "three")

    missed = await world.chat.history(world.bob.id, room.id, after_id=seen)

    assert [m.content for m in missed.messages] == ["two", "three"]


async def test_mark_read_zeroes_unread_and_tells_the_other_side(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.bob.id, world.alice.id)
    await _say(world, room.id, "one")
    last = await _say(world, room.id, "two")

    event = await world.chat.mark_read(world.bob.id, room.id)

    assert event.last_read_message_id == last
    assert await world.chat.unread_counts(world.bob.id) == {room.id: 0}
    assert await world.chat.unread_counts(world.carol.id) == {}
    page = await world.chat.history(world.alice.id, room.id)
    assert all(m.is_read for m in page.messages)


async def test_edit_and_delete_by_the_sender_only(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    message_id = await _say(world, room.id, "draft")

    with pytest.raises(ForbiddenError):
        await world.chat.edit_message(world.bob.id, message_id, "hijack")
    with pytest.raises(NotFoundError):
        await world.chat.edit_message(world.carol.id, message_id, "stranger")
    edited = await world.chat.edit_message(world.alice.id, message_id, "final")
    await world.chat.delete_message(world.alice.id, message_id)
    await world.chat.delete_message(world.alice.id, message_id)  # twice is no error

    assert (edited.content, edited.is_edited) == ("final", True)
    (gone,) = (await world.chat.history(world.bob.id, room.id)).messages
    assert (gone.is_deleted, gone.content) == (True, None)


async def test_deleting_a_file_message_removes_the_stored_file(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    command = SendMessage(
        room_id=room.id,
        message_type=MessageType.IMAGE,
        file_data=base64.b64encode(PNG).decode(),
        file_name="pic.png",
    )
    view, _ = await world.chat.send_message(world.alice.id, command)
    key = view.file_path.removeprefix("chat_files/") if view.file_path else ""
    assert await world.storage.exists(key)

    await world.chat.delete_message(world.alice.id, view.id)

    assert not await world.storage.exists(key)


async def test_who_may_read_a_file_is_asked_of_any_key(world: World) -> None:
    """A key with a NUL (any signed-in user's GET /static/chat_files/%00) was a 500 on PostgreSQL, which
    refuses NUL in text; no stored key holds one."""
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    png = base64.b64encode(PNG).decode()
    command = SendMessage(room_id=room.id, message_type=MessageType.IMAGE, file_data=png, file_name="pic.png")
    view, _ = await world.chat.send_message(world.alice.id, command)
    key = view.file_path.removeprefix("chat_files/") if view.file_path else ""

    assert await world.chat.can_read_file(world.bob.id, key)
    assert not await world.chat.can_read_file(world.carol.id, key)
    for odd in ("\x00", f"{key}\x00", "images/\x00.png", "é/😀", "../" * 20):
        assert not await world.chat.can_read_file(world.bob.id, odd)


async def test_a_resent_client_msg_id_returns_the_original(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)
    first = await _say(world, room.id, "once", client_msg_id="abc")

    view, stored = await world.chat.send_message(
        world.alice.id, SendMessage(room_id=room.id, content="twice?", client_msg_id="abc")
    )

    assert (view.id, view.content, stored) == (first, "once", False)
    assert (await world.chat.history(world.bob.id, room.id)).total == 1


async def test_strangers_see_no_room(world: World) -> None:
    room, _ = await world.chat.open_direct_room(world.alice.id, world.bob.id)

    with pytest.raises(NotFoundError):
        await world.chat.history(world.carol.id, room.id)
    with pytest.raises(NotFoundError):
        await world.chat.room_detail(world.carol.id, room.id)
    assert await world.chat.list_rooms(world.carol.id) == []


async def test_presence_is_logged(world: World) -> None:
    await world.chat.connect(world.alice.id, "c1")

    online = await world.chat.online_users(world.bob.id)

    assert [(u.user_id, u.is_online, u.last_seen) for u in online] == [(world.alice.id, True, world.clock.now())]
