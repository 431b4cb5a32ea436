"""Short ways to put rooms and messages into a backend, committed, for the contract tests to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatcore import ChatService, Limits
from chatcore.model import Message, MessageDraft, MessageType, Room, RoomId, StoredFile, UserId
from chatcore.testing import FakeClock, MemoryBroker, MemoryLiveState, MemoryStorage, SequentialIds
from tests.contract.backends import Backend

T0 = datetime(2024, 1, 21, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL, DAVE = UserId(1), UserId(2), UserId(3), UserId(4)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def room(backend: Backend, a: UserId, b: UserId, *, when: datetime = T0) -> Room:
    async with backend.uow() as uow:
        created = await uow.rooms.create_direct(created_by=a, other=b, name="Direct Chat", at=when)
        await uow.commit()
    return created


def draft(
    room_id: RoomId,
    sender: UserId,
    receiver: UserId,
    content: str | None = "hi",
    *,
    when: datetime = T0,
    client_msg_id: str | None = None,
    file: StoredFile | None = None,
) -> MessageDraft:
    return MessageDraft(
        room_id=room_id,
        sender_id=sender,
        receiver_id=receiver,
        message_type=MessageType.IMAGE if file else MessageType.TEXT,
        content=content,
        file=file,
        created_at=when,
        client_msg_id=client_msg_id,
    )


async def send(backend: Backend, room_id: RoomId, sender: UserId, receiver: UserId, count: int = 1) -> list[Message]:
    """`count` text messages 'm0', 'm1', ... one second apart, committed; the room is touched like a send does."""
    sent = []
    async with backend.uow() as uow:
        for i in range(count):
            message = await uow.messages.add(draft(room_id, sender, receiver, f"m{i}", when=at(i + 1)))
            await uow.rooms.touch(room_id, message.created_at)
            sent.append(message)
        await uow.commit()
    return sent


def photo(name: str = "a.png") -> StoredFile:
    return StoredFile(key=f"images/{name}", file_name=name, file_size=3, mime_type="image/png")


def service_on(backend: Backend, limits: Limits | None = None) -> ChatService:
    """A ChatService on this backend's database and directory, with in-memory everything else."""
    clock = FakeClock()
    return ChatService(
        limits=limits,
        uow=backend.database,  # type: ignore[arg-type]
        users=backend.users,
        storage=MemoryStorage(clock),
        broker=MemoryBroker(),
        live=MemoryLiveState(clock),
        clock=clock,
        ids=SequentialIds(),
        writer=backend.writer,
    )
