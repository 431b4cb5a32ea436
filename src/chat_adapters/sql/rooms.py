"""Rooms on SQL: direct rooms kept unique by `direct_key`, groups and their members, membership, room lists and
read markers (one per member: read state is `last_read_message_id`, never a flag on the messages)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, insert, select, true, update

from chat_adapters.sql.errors import driver_errors
from chat_adapters.sql.session import SqlSession
from chatcore.errors import NotFoundError
from chatcore.groups import Group
from chatcore.model import (
    Member,
    Membership,
    MessageId,
    MessageType,
    Role,
    Room,
    RoomCursor,
    RoomId,
    RoomSummary,
    RoomType,
    UserId,
)


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
        members = [{"room_id": room_id, "user_id": user, "joined_at": at} for user in people]  # role: its default
        await self._session.execute(insert(participants), members)
        return room_from_row({**values, "id": room_id})

    async def create_group(self, *, created_by: UserId, name: str, members: Sequence[Member], at: datetime) -> Room:
        """No direct key: any number of groups may have the same people."""
        rooms, participants = self._tables.rooms, self._tables.participants
        values = {
            "name": name,
            "room_type": RoomType.GROUP.value,
            "created_by": created_by,
            "created_at": at,
            "updated_at": at,
            "is_active": True,
            "direct_key": None,
        }
        room_id = RoomId((await self._session.execute(insert(rooms).values(values).returning(rooms.c.id))).scalar_one())
        rows = [
            {"room_id": room_id, "user_id": m.user_id, "joined_at": m.joined_at, "role": m.role.value} for m in members
        ]
        if rows:
            await self._session.execute(insert(participants), rows)
        return room_from_row({**values, "id": room_id})

    async def lock(self, room_id: RoomId) -> Room | None:
        """An UPDATE: it holds the row's lock on PostgreSQL (and SQLite's write lock) until the transaction ends."""
        rooms = self._tables.rooms
        statement = update(rooms).where(rooms.c.id == room_id).values(version=rooms.c.version + 1).returning(*rooms.c)
        row = (await self._session.execute(statement)).mappings().first()
        return room_from_row(row) if row is not None else None

    async def save_group(self, room_id: RoomId, group: Group, *, at: datetime) -> None:
        """The room's row first (its lock orders this against sends), then the members that changed."""
        rooms, participants = self._tables.rooms, self._tables.participants
        await self._session.execute(
            update(rooms)
            .where(rooms.c.id == room_id)
            .values(name=group.name, is_active=group.is_active, updated_at=at, version=rooms.c.version + 1)
        )
        wanted = {m.user_id: m for m in group.members}
        stored = {
            UserId(user): Role(role)
            for user, role in (
                await self._session.execute(
                    select(participants.c.user_id, participants.c.role).where(participants.c.room_id == room_id)
                )
            ).tuples()
        }
        gone = [user for user in stored if user not in wanted]
        if gone:
            await self._session.execute(
                delete(participants).where(participants.c.room_id == room_id, participants.c.user_id.in_(gone))
            )
        new = [m for user, m in wanted.items() if user not in stored]
        if new:
            newest = self._newest(room_id)  # who joins now sees, and counts, what comes after it
            rows = [
                {
                    "room_id": room_id,
                    "user_id": m.user_id,
                    "joined_at": m.joined_at,
                    "role": m.role.value,
                    "history_from_id": newest,
                    "last_read_message_id": newest,
                }
                for m in new
            ]
            await self._session.execute(insert(participants).values(rows))
        changed: dict[Role, list[UserId]] = {}
        for user, m in wanted.items():
            if user in stored and stored[user] is not m.role:
                changed.setdefault(m.role, []).append(user)
        for role, users in changed.items():
            await self._session.execute(
                update(participants)
                .where(participants.c.room_id == room_id, participants.c.user_id.in_(users))
                .values(role=role.value)
            )

    def _newest(self, room_id: RoomId) -> Any:
        """The room's newest message id, as a subquery (over the (room_id, id) index)."""
        messages = self._tables.messages
        return select(func.max(messages.c.id)).where(messages.c.room_id == room_id).scalar_subquery()

    async def members(self, room_id: RoomId) -> list[Member]:
        return (await self.members_of([room_id]))[room_id]

    async def members_of(self, room_ids: Collection[RoomId]) -> dict[RoomId, list[Member]]:
        participants = self._tables.participants
        found: dict[RoomId, list[Member]] = {room: [] for room in room_ids}
        if not found:
            return found
        statement = (
            select(participants)
            .where(participants.c.room_id.in_(sorted(found)))
            .order_by(participants.c.room_id, participants.c.joined_at, participants.c.user_id)
        )
        for row in (await self._session.execute(statement)).mappings():
            found[RoomId(row["room_id"])].append(_member(row))
        return found

    async def group_ids(self, user: UserId) -> list[RoomId]:
        rooms, participants = self._tables.rooms, self._tables.participants
        statement = (
            select(participants.c.room_id)
            .join(rooms, rooms.c.id == participants.c.room_id)
            .where(
                participants.c.user_id == user,
                rooms.c.room_type == RoomType.GROUP.value,
                rooms.c.is_active == true(),
            )
            .order_by(participants.c.room_id)
        )
        return [RoomId(room) for room in (await self._session.execute(statement)).scalars()]

    async def membership(self, user: UserId, room_id: RoomId) -> Membership:
        """The other participant is looked for in direct rooms only: a group would give a row per member."""
        rooms, participants = self._tables.rooms, self._tables.participants
        me, other = participants.alias("me"), participants.alias("other")
        statement = (
            select(
                rooms,
                other.c.user_id.label("other_user_id"),
                me.c.role.label("my_role"),
                me.c.history_from_id.label("my_history_from"),
            )
            .select_from(me)
            .join(rooms, rooms.c.id == me.c.room_id)
            .outerjoin(
                other,
                and_(
                    other.c.room_id == me.c.room_id,
                    other.c.user_id != me.c.user_id,
                    rooms.c.room_type == RoomType.DIRECT.value,
                ),
            )
            .where(me.c.user_id == user, me.c.room_id == room_id)
            .limit(1)
        )
        row = (await self._session.execute(statement)).mappings().first()
        if row is None:
            raise NotFoundError("room not found", field="room_id")
        return self._membership(user, row)

    @staticmethod
    def _membership(user: UserId, row: Mapping[Any, Any]) -> Membership:
        room = room_from_row(row)
        other = row["other_user_id"]
        if room.room_type is RoomType.GROUP:
            other_user: UserId | None = None
        else:  # a room with oneself has no other participant
            other_user = UserId(other) if other is not None else user
        history_from = row["my_history_from"]
        return Membership(
            room=room,
            user_id=user,
            other_user_id=other_user,
            role=Role(row["my_role"]),
            history_from=None if history_from is None else MessageId(history_from),
        )

    async def summaries(
        self,
        user: UserId,
        room_ids: Collection[RoomId] | None = None,
        *,
        after: RoomCursor | None = None,
        limit: int | None = None,
    ) -> list[RoomSummary]:
        """One statement: the rooms with the other participant (direct rooms), their last message and an unread
        count.

        Both lookups are correlated seeks on the (room_id, id) index: the newest id for the last message, and
        the range past the reader's marker for the count, so the cost grows with the user's rooms (or the
        page's) and what they have not read, not with the history. Through the driver (room_list.py):
        SQLAlchemy's result layer cost four times the query itself.
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
        """The room's row is taken first, by an UPDATE that changes nothing, as a send's touch takes it: a row
        lock on PostgreSQL, the write lock on SQLite (taken before reading, so no stale snapshot). Then the
        marker moves to the newest message if that is past it, and only then does the version move."""
        rooms, participants = self._tables.rooms, self._tables.participants
        await self._session.execute(update(rooms).where(rooms.c.id == room_id).values(version=rooms.c.version))
        row = (
            await self._session.execute(
                select(participants.c.last_read_message_id, self._newest(room_id).label("newest")).where(
                    participants.c.room_id == room_id, participants.c.user_id == user
                )
            )
        ).first()
        if row is None:
            raise NotFoundError("room not found", field="room_id")
        before, newest = row
        if newest is None or (before is not None and newest <= before):
            return None if before is None else MessageId(before)
        await self._session.execute(
            update(participants)
            .where(participants.c.room_id == room_id, participants.c.user_id == user)
            .values(last_read_message_id=newest)
        )
        await self._session.execute(self._tables.room_changed(room_id))
        return MessageId(newest)

    async def unread_counts(self, user: UserId) -> dict[RoomId, int]:
        """One statement: every room of the user with a correlated count over the (room_id, id) index."""
        participants, messages = self._tables.participants, self._tables.messages
        me, unread = participants.alias("me"), messages.alias("unread")
        statement = select(me.c.room_id, _unread_count(unread, me, user)).where(me.c.user_id == user)
        return {RoomId(room_id): n for room_id, n in (await self._session.execute(statement)).tuples()}


def _unread_count(unread: Any, me: Any, user: UserId) -> Any:
    """Others' live, non-system messages past the read marker of the participant row `me`: an index range over
    (room_id, id) from the marker on, so it reads only what came after the last read."""
    return (
        select(func.count())
        .select_from(unread)
        .where(
            unread.c.room_id == me.c.room_id,
            unread.c.id > func.coalesce(me.c.last_read_message_id, 0),
            unread.c.sender_id != user,
            unread.c.is_deleted == false(),
            unread.c.message_type != MessageType.SYSTEM.value,
        )
    ).scalar_subquery()


def _member(row: Mapping[Any, Any]) -> Member:
    last_read, history_from = row["last_read_message_id"], row["history_from_id"]
    return Member(
        user_id=UserId(row["user_id"]),
        role=Role(row["role"]),
        joined_at=row["joined_at"],
        last_read=None if last_read is None else MessageId(last_read),
        history_from=None if history_from is None else MessageId(history_from),
    )
