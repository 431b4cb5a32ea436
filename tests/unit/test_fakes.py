"""The in-memory fakes keep the rules of the real adapters, so tests against them mean something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatcore import ConflictError, MessageType, NotFoundError, Presence, RoomId, User, UserId
from chatcore.model import HistoryQuery, Membership, Message, MessageDraft, MessageId, Room, RoomType, StoredFile
from chatcore.testing import FakeClock, MemoryBroker, MemoryDatabase, MemoryStorage, MemoryUserDirectory, SequentialIds

NOON = datetime(2024, 1, 21, 12, 0, tzinfo=UTC)
A, B, C = UserId(1), UserId(2), UserId(3)


def draft(
    room_id: RoomId, sender: UserId = A, *, client_msg_id: str | None = None, key: str | None = None
) -> MessageDraft:
    stored = StoredFile(key=key, file_name="a.png", file_size=3, mime_type="image/png") if key else None
    return MessageDraft(
        room_id=room_id,
        sender_id=sender,
        receiver_id=B if sender == A else A,
        message_type=MessageType.IMAGE if key else MessageType.TEXT,
        content=None if key else "hi",
        file=stored,
        created_at=NOON,
        client_msg_id=client_msg_id,
    )


async def new_room(db: MemoryDatabase, a: UserId = A, b: UserId = B) -> RoomId:
    async with db() as uow:
        room = await uow.rooms.create_direct(created_by=a, other=b, name="Direct Chat", at=NOON)
        await uow.commit()
    return room.id


# -- database -----------------------------------------------------------------------------------


async def test_nothing_is_kept_unless_committed() -> None:
    db = MemoryDatabase()
    async with db() as uow:
        await uow.rooms.create_direct(created_by=A, other=B, name="x", at=NOON)

    async with db() as uow:
        assert await uow.rooms.direct_between(A, B) is None
    assert db.commits == 0


async def test_a_rollback_undoes_uncommitted_work() -> None:
    db = MemoryDatabase()
    room_id = await new_room(db)
    async with db() as uow:
        await uow.messages.add(draft(room_id))
        await uow.rollback()
        await uow.commit()

    async with db() as uow:
        assert await uow.messages.count(room_id) == 0


async def test_a_second_direct_room_for_a_pair_is_a_conflict() -> None:
    db = MemoryDatabase()
    await new_room(db, A, B)

    async with db() as uow:
        with pytest.raises(ConflictError):
            await uow.rooms.create_direct(created_by=B, other=A, name="x", at=NOON)


async def test_racing_units_of_work_cannot_both_create_a_pairs_room() -> None:
    db = MemoryDatabase()
    first, second = db(), db()
    async with first, second:
        await first.rooms.create_direct(created_by=A, other=B, name="x", at=NOON)
        await second.rooms.create_direct(created_by=B, other=A, name="x", at=NOON)
        await first.commit()
        with pytest.raises(ConflictError):
            await second.commit()

    async with db() as uow:
        assert len(await uow.rooms.summaries(A)) == 1


async def test_racing_units_of_work_never_hand_out_the_same_id() -> None:
    db = MemoryDatabase()
    room_id = await new_room(db)
    first, second = db(), db()
    async with first, second:
        one = await first.messages.add(draft(room_id))
        two = await second.messages.add(draft(room_id, B))
        await first.commit()
        await second.commit()

    assert one.id != two.id
    async with db() as uow:
        assert [m.content for m in await uow.messages.latest(room_id, 10)] == ["hi", "hi"]
        assert {m.sender_id for m in await uow.messages.latest(room_id, 10)} == {A, B}


async def test_a_client_msg_id_is_unique_per_sender() -> None:
    db = MemoryDatabase()
    room_id = await new_room(db)
    async with db() as uow:
        await uow.messages.add(draft(room_id, client_msg_id="c"))
        await uow.messages.add(draft(room_id, B, client_msg_id="c"))
        with pytest.raises(ConflictError):
            await uow.messages.add(draft(room_id, client_msg_id="c"))


async def test_racing_units_of_work_cannot_both_use_a_client_msg_id() -> None:
    db = MemoryDatabase()
    room_id = await new_room(db)
    first, second = db(), db()
    async with first, second:
        await first.messages.add(draft(room_id, client_msg_id="c"))
        await second.messages.add(draft(room_id, client_msg_id="c"))
        await first.commit()
        with pytest.raises(ConflictError):
            await second.commit()


async def test_a_message_needs_an_existing_room() -> None:
    async with MemoryDatabase()() as uow:
        with pytest.raises(NotFoundError):
            await uow.messages.add(draft(RoomId(9)))


async def test_saving_a_message_that_does_not_exist_is_not_found() -> None:
    message = Message(
        id=MessageId(9), room_id=RoomId(1), sender_id=A, receiver_id=B, message_type=MessageType.TEXT, content="x",
        created_at=NOON,
    )  # fmt: skip
    async with MemoryDatabase()() as uow:
        with pytest.raises(NotFoundError):
            await uow.messages.save(message)


async def test_latest_with_no_limit_is_empty() -> None:
    db = MemoryDatabase()
    room_id = await new_room(db)
    async with db() as uow:
        await uow.messages.add(draft(room_id))
        assert await uow.messages.latest(room_id, 0) == []


async def test_referenced_keys_are_those_of_live_messages() -> None:
    db = MemoryDatabase()
    room_id = await new_room(db)
    async with db() as uow:
        kept = await uow.messages.add(draft(room_id, key="images/kept.png"))
        gone = await uow.messages.add(draft(room_id, key="images/gone.png"))
        await uow.messages.save(gone.deleted(by=A, at=NOON))
        await uow.commit()

    async with db() as uow:
        found = await uow.messages.referenced_keys(["images/kept.png", "images/gone.png", "images/never.png"])

    assert found == {"images/kept.png"}
    assert kept.file_path == "chat_files/images/kept.png"


async def test_presence_records_are_kept_per_user() -> None:
    db = MemoryDatabase()
    async with db() as uow:
        await uow.presence.save(Presence(user_id=A, is_online=False, last_seen=NOON))
        await uow.commit()
    async with db() as uow:
        assert await uow.presence.get_many([A, B]) == {A: Presence(user_id=A, is_online=False, last_seen=NOON)}


async def test_co_participants_are_everyone_sharing_a_room() -> None:
    db = MemoryDatabase()
    await new_room(db, A, B)
    await new_room(db, C, A)
    await new_room(db, B, C)

    async with db() as uow:
        assert await uow.rooms.co_participants(A) == {B, C}
        assert await uow.rooms.co_participants(UserId(42)) == set()


# -- directory ----------------------------------------------------------------------------------


async def test_the_directory_adds_users_with_fresh_ids_and_unique_emails() -> None:
    users = MemoryUserDirectory([User(id=UserId(7), name="Seven", email="seven@corp.test")])

    added = await users.add(name="Eight", email="eight@corp.test", avatar_url="https://x/8.png")

    assert added.id == 8
    assert (await users.get_many([added.id, UserId(404)])) == {added.id: added}
    with pytest.raises(ConflictError) as raised:
        await users.add(name="Copy", email="EIGHT@corp.test")
    assert raised.value.field == "email"


async def test_the_directory_upserts_by_email() -> None:
    users = MemoryUserDirectory()

    created, was_created = await users.upsert_by_email(name="Ann", email="ann@corp.test")
    updated, was_created_again = await users.upsert_by_email(name="Ann B.", email="ANN@corp.test", avatar_url="a.png")

    assert (was_created, was_created_again) == (True, False)
    assert updated.id == created.id
    assert (updated.name, updated.email, updated.avatar_url) == ("Ann B.", "ann@corp.test", "a.png")


# -- storage, broker, clock, ids ------------------------------------------------------------------


async def test_storage_keeps_bytes_by_key() -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock)
    await storage.put("images/b.png", b"png", "image/png")
    await storage.put("files/a.pdf", b"pdf", "application/pdf")

    assert await storage.get("images/b.png") == b"png"
    assert await storage.exists("files/a.pdf")
    assert [key async for key in storage.keys()] == ["files/a.pdf", "images/b.png"]  # noqa: SIM118
    url = await storage.url("images/b.png", expires_in=timedelta(minutes=15))
    assert url == f"memory://images/b.png?expires={int((clock.now() + timedelta(minutes=15)).timestamp())}"

    await storage.delete("images/b.png")
    await storage.delete("images/b.png")  # a missing key is no error

    assert not await storage.exists("images/b.png")
    with pytest.raises(NotFoundError):
        await storage.get("images/b.png")


async def test_the_broker_delivers_once_per_subscriber_in_order() -> None:
    broker = MemoryBroker()
    heard: list[bytes] = []
    await broker.subscribe("user:1", heard.append)

    await broker.publish(["user:1", "user:1", "user:2"], b"one")
    await broker.publish(["user:1"], b"two")

    assert heard == [b"one", b"two"]


def test_the_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock()
    start = clock.now()

    clock.advance(1.5)

    assert clock.now() - start == timedelta(seconds=1.5)
    assert start.tzinfo is UTC


def test_sequential_ids_look_like_uuid_hex() -> None:
    ids = SequentialIds()

    assert [ids.uuid4(), ids.uuid4()] == ["0" * 31 + "1", "0" * 31 + "2"]


# -- model rules --------------------------------------------------------------------------------


def test_the_receiver_is_whoever_is_not_the_sender() -> None:
    room = Room(id=RoomId(1), name="x", room_type=RoomType.DIRECT, created_by=A, created_at=NOON, updated_at=NOON)
    membership = Membership(room=room, user_id=A, other_user_id=B)

    assert membership.receiver_for(A) == B
    assert membership.receiver_for(B) == A


def test_history_queries_page_by_offset_or_follow_a_cursor() -> None:
    assert HistoryQuery(page=3, per_page=20).offset == 40
    after = HistoryQuery(page=3, after_id=MessageId(5))
    assert after.offset == 0


def test_a_message_without_a_file_has_no_storage_key() -> None:
    message = Message(
        id=MessageId(1), room_id=RoomId(1), sender_id=A, receiver_id=B, message_type=MessageType.TEXT, content="x",
        created_at=NOON,
    )  # fmt: skip

    assert message.storage_key is None
    assert message.edited(by=A, content="y", at=NOON).storage_key is None
