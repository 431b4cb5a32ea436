"""Rooms on SQL: direct rooms kept unique by `direct_key`, membership, room lists and read markers."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, insert, select, update

from chat_adapters.sql.errors import driver_errors
from chat_adapters.sql.session import SqlSession
from chatcore.errors import NotFoundError
from chatcore.model import Membership, MessageId, Room, RoomCursor, RoomId, RoomSummary, RoomType, UserId


def direct_key(a: UserId, b: UserId) -> str:
    """'3:7' for both (3, 7) and (7, 3): the unique column that keeps one direct room per pair."""
    low, high = sorted((int(a), int(b)))
    return f"{low}:{high}"


def room_from_row(row: Mapping[Any, Any]) -> Room:
    return Room(
        id=RoomId(row["id"]),
        name=row["name"],
        room_type=RoomType(row["room_type"]),
        created_by=UserId(row["created_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        is_active=row["is_active"],
    )


class SqlRooms:
    def __init__(self, session: SqlSession) -> None:
        self._session = session
        self._tables = session.tables

    async def direct_between(self, a: UserId, b: UserId) -> Room | None:
        rooms = self._tables.rooms
        statement = select(rooms).where(rooms.c.direct_key == direct_key(a, b), rooms.c.room_type == RoomType.DIRECT)
        row = (await self._session.execute(statement)).mappings().first()
        return room_from_row(row) if row is not None else None

    async def create_direct(self, *, created_by: UserId, other: UserId, name: str, at: datetime) -> Room:
        rooms, participants = self._tables.rooms, self._tables.participants
        values = {
            "name": name,
            "room_type": RoomType.DIRECT.value,
            "created_by": created_by,
            "created_at": at,
            "updated_at": at,
            "is_active": True,
            "direct_key": direct_key(created_by, other),
        }
        result = await self._session.insert(
            insert(rooms).values(values).returning(rooms.c.id), conflict="a direct room for this pair exists"
        )
        room_id = RoomId(result.scalar_one())
        people = dict.fromkeys((created_by, other))  # one participant when both are the same user
        members = [{"room_id": room_id, "user_id": user, "joined_at": at} for user in people]
        await self._session.execute(insert(participants), members)
        return room_from_row({**values, "id": room_id})

    async def membership(self, user: UserId, room_id: RoomId) -> Membership:
        rooms, participants = self._tables.rooms, self._tables.participants
        me, other = participants.alias("me"), participants.alias("other")
        statement = (
            select(rooms, other.c.user_id.label("other_user_id"))
            .select_from(me)
            .join(rooms, rooms.c.id == me.c.room_id)
            .outerjoin(other, and_(other.c.room_id == me.c.room_id, other.c.user_id != me.c.user_id))
            .where(me.c.user_id == user, me.c.room_id == room_id)
            .limit(1)
        )
        row = (await self._session.execute(statement)).mappings().first()
        if row is None:
            raise NotFoundError("room not found", field="room_id")
        return self._membership(user, row)

    @staticmethod
    def _membership(user: UserId, row: Mapping[Any, Any]) -> Membership:
        other = row["other_user_id"]
        return Membership(
            room=room_from_row(row), user_id=user, other_user_id=UserId(other) if other is not None else user
        )

    async def summaries(
        self,
        user: UserId,
        room_ids: Collection[RoomId] | None = None,
        *,
        after: RoomCursor | None = None,
        limit: int | None = None,
    ) -> list[RoomSummary]:
        """One statement: the rooms with the other participant, their last message and an unread count.

        Both lookups are correlated index seeks: the newest id over (room_id, id) for the last message, and
        the partial unread index for the count, so the cost grows with the user's rooms (or the page's), not
        with the history. Through the driver (room_list.py): SQLAlchemy's result layer cost four times the
        query itself.
        """
        if room_ids is not None and not room_ids:
            return []
        query = self._session.room_list_query()
        driver = await self._session.driver()
        with driver_errors():
            return await query.run(driver, user, room_ids, after, limit)

    async def versions(self, user: UserId) -> dict[RoomId, int]:
        query = self._session.room_list_query()
        driver = await self._session.driver()
        with driver_errors():
            return await query.versions(driver, user)

    async def count(self, user: UserId) -> int:
        participants = self._tables.participants
        statement = select(func.count()).select_from(participants).where(participants.c.user_id == user)
        return int((await self._session.execute(statement)).scalar_one())

    async def touch(self, room_id: RoomId, at: datetime) -> None:
        rooms = self._tables.rooms
        await self._session.execute(
            update(rooms).where(rooms.c.id == room_id).values(updated_at=at, version=rooms.c.version + 1)
        )

    async def co_participants(self, user: UserId) -> set[UserId]:
        participants = self._tables.participants
        me, other = participants.alias("me"), participants.alias("other")
        statement = (
            select(other.c.user_id)
            .distinct()
            .select_from(me)
            .join(other, other.c.room_id == me.c.room_id)
            .where(me.c.user_id == user, other.c.user_id != user)
        )
        return {UserId(user_id) for user_id in (await self._session.execute(statement)).scalars()}

    async def mark_read(self, room_id: RoomId, user: UserId) -> MessageId | None:
        """Two statements: flag the unread messages to `user`, then move the read marker to the newest message."""
        participants, messages = self._tables.participants, self._tables.messages
        flagged = await self._session.execute(
            update(messages)
            .where(messages.c.room_id == room_id, messages.c.receiver_id == user, messages.c.is_read == false())
            .values(is_read=True)
        )
        newest = (
            select(messages.c.id).where(messages.c.room_id == room_id).order_by(messages.c.id.desc()).limit(1)
        ).scalar_subquery()
        result = await self._session.execute(
            update(participants)
            .where(participants.c.room_id == room_id, participants.c.user_id == user)
            .values(last_read_message_id=newest)
            .returning(participants.c.last_read_message_id)
        )
        row = result.first()
        if row is None:
            raise NotFoundError("room not found", field="room_id")
        if flagged.rowcount:  # type: ignore[attr-defined]
            await self._session.execute(self._tables.room_changed(room_id))
        return MessageId(row[0]) if row[0] is not None else None

    async def unread_counts(self, user: UserId) -> dict[RoomId, int]:
        """One statement: every room of the user with a correlated count over the partial unread index."""
        participants, messages = self._tables.participants, self._tables.messages
        me, unread = participants.alias("me"), messages.alias("unread")
        statement = select(me.c.room_id, _unread_count(unread, me, user)).where(me.c.user_id == user)
        return {RoomId(room_id): n for room_id, n in (await self._session.execute(statement)).tuples()}


def _unread_count(unread: Any, me: Any, user: UserId) -> Any:
    """Live messages to `user` not yet read, in the room of the participant row `me` (the partial index's shape)."""
    return (
        select(func.count())
        .select_from(unread)
        .where(
            unread.c.room_id == me.c.room_id,
            unread.c.receiver_id == user,
            unread.c.is_read == false(),
            unread.c.is_deleted == false(),
        )
    ).scalar_subquery()
