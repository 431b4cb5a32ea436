"""Room lists and unread counts run the same number of SQL statements for 3 rooms or 30, 10 messages or 300."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from chatcore import ChatService
from chatcore.model import RoomId, User, UserId
from tests.contract.backends import Backend
from tests.contract.builders import at, draft, service_on


class StatementCounter:
    """Counts what SQLAlchemy sends to the driver (BEGIN/COMMIT are driver calls and not counted)."""

    def __init__(self, backend: Backend) -> None:
        assert backend.engine is not None
        self.engine = backend.engine.sync_engine
        self.statements: list[str] = []
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.statements.append(statement)

    async def count(self, action: Callable[[], Awaitable[object]]) -> int:
        self.statements.clear()
        await action()
        return len(self.statements)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


async def _seed(backend: Backend, owner: User, partners: list[User], messages: int) -> list[RoomId]:
    """Rooms of `owner` with each partner and `messages` spread over them, half of them to `owner`, unread."""
    room_ids = []
    async with backend.uow() as uow:
        for partner in partners:
            created = await uow.rooms.create_direct(created_by=owner.id, other=partner.id, name="Direct Chat", at=at(0))
            room_ids.append(created.id)
        for i in range(messages):
            room_id, partner = room_ids[i % len(room_ids)], partners[i % len(partners)]
            sender, receiver = (partner.id, owner.id) if i % 2 else (owner.id, partner.id)
            message = await uow.messages.add(draft(room_id, sender, receiver, f"m{i}", when=at(i + 1)))
            await uow.rooms.touch(room_id, message.created_at)
        await uow.commit()
    return room_ids


async def _measure(
    backend: Backend, counter: StatementCounter, chat: ChatService, me: UserId, room: RoomId
) -> dict[str, int]:
    async def in_unit(name: str) -> object:
        async with backend.uow() as uow:
            return await (uow.rooms.summaries(me) if name == "summaries" else uow.rooms.unread_counts(me))

    return {
        "summaries": await counter.count(lambda: in_unit("summaries")),
        "unread_counts": await counter.count(lambda: in_unit("unread_counts")),
        "list_rooms": await counter.count(lambda: chat.list_rooms(me)),
        "room_detail": await counter.count(lambda: chat.room_detail(me, room)),
        "service_unread_counts": await counter.count(lambda: chat.unread_counts(me)),
    }


async def test_statement_count_does_not_grow_with_rooms_or_messages(sql_backend: Backend) -> None:
    add = sql_backend.users.add
    small_owner = await add(name="Small", email="small@example.com")
    large_owner = await add(name="Large", email="large@example.com")
    partners = [await add(name=f"P{i}", email=f"p{i}@example.com") for i in range(30)]
    small_rooms = await _seed(sql_backend, small_owner, partners[:3], messages=10)
    large_rooms = await _seed(sql_backend, large_owner, partners, messages=300)
    chat = service_on(sql_backend)
    counter = StatementCounter(sql_backend)
    try:
        small = await _measure(sql_backend, counter, chat, small_owner.id, small_rooms[0])
        large = await _measure(sql_backend, counter, chat, large_owner.id, large_rooms[0])
    finally:
        counter.close()

    assert small == large
    assert small["summaries"] <= 2
    assert small["unread_counts"] == 1
    assert len(await chat.list_rooms(large_owner.id)) == 30
    assert sum((await chat.unread_counts(large_owner.id)).values()) == 150
