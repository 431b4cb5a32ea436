"""The room list straight through the driver: one statement, rows mapped without SQLAlchemy's result layer
(several times faster for a long list than Core statements through the session; bench/README.md has the
figures). The statement: rooms with the other participant (of a direct room), the newest message (only the
columns a preview shows), and the unread count and unread mentions past the reader's marker; the cost grows with
the user's rooms and their unread messages, not with the history. One class per driver, as the message writer."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Dialect

from chat_adapters.sql.driver import aware, qualified, sqlite_time, sqlite_timestamp
from chat_adapters.sql.tables import ChatLayout
from chatcore.model import MessagePreview, MessageType, Room, RoomCursor, RoomId, RoomSummary, RoomType, UserId

ROOM = ("id", "name", "room_type", "created_by", "created_at", "updated_at", "is_active")
PREVIEW = ("id", "sender_id", "message_type", "content", "created_at")  # chatcore.model.MessagePreview


# Enum lookups by value through a dict: calling the Enum class costs many times more.
MESSAGE_TYPES = {kind.value: kind for kind in MessageType}
ROOM_TYPES = {kind.value: kind for kind in RoomType}


class RoomListQuery:
    """The SQL for one driver and layout, its fixed parts built once; `run` takes the driver connection."""

    FALSE = "0"  # booleans as SQLite stores them

    def __init__(self, layout: ChatLayout, dialect: Dialect) -> None:
        tables = layout.tables
        self._rooms, self._participants, messages, mentions = (
            qualified(layout, dialect, t.name)
            for t in (tables.rooms, tables.participants, tables.messages, tables.mentions)
        )
        user, false = self._param(1), self.FALSE
        columns = ", ".join([*(f"r.{c}" for c in ROOM), "o.user_id", *(f"l.{c}" for c in PREVIEW)])
        # Others' live, non-system messages past the reader's marker: a range of the (room_id, id) index.
        self._columns = (
            f"SELECT {columns}, (SELECT count(*) FROM {messages} AS u WHERE u.room_id = me.room_id"
            f" AND u.id > coalesce(me.last_read_message_id, 0) AND u.sender_id != {user}"
            f" AND u.is_deleted = {false} AND u.message_type != '{MessageType.SYSTEM.value}')"
            # Unread mentions of the reader: a range of chat_mentions' key (user_id, room_id, message_id) past the
            # marker. A deleted message's rows are gone with it and the sender's own never written: no join.
            f", (SELECT count(*) FROM {mentions} AS n WHERE n.user_id = me.user_id AND n.room_id = me.room_id"
            " AND n.message_id > coalesce(me.last_read_message_id, 0))"
        )
        # The other participant of a direct room only: in a group every other member would make a row.
        self._joins = (
            f" JOIN {self._rooms} AS r ON r.id = me.room_id"
            f" LEFT OUTER JOIN {self._participants} AS o ON o.room_id = me.room_id AND o.user_id != me.user_id"
            f" AND r.room_type = '{RoomType.DIRECT.value}'" + self._last_message(messages)
        )
        self._order = " ORDER BY r.updated_at DESC, r.id DESC"
        self._versions = (
            f"SELECT me.room_id, r.version FROM {self._participants} AS me JOIN {self._rooms} AS r ON r.id = me.room_id"
            f" WHERE me.user_id = {user}"
        )

    # -- what differs between the drivers -------------------------------------------------------------

    def _last_message(self, messages: str) -> str:
        raise NotImplementedError

    def _param(self, number: int) -> str:
        raise NotImplementedError

    def _in_rooms(self, args: list[Any], room_ids: Sequence[RoomId]) -> str:
        """The condition on `me.room_id`, its arguments appended to `args`."""
        raise NotImplementedError

    def _bind_time(self, value: datetime) -> Any:
        raise NotImplementedError

    @staticmethod
    def _time(value: Any) -> datetime | None:
        raise NotImplementedError

    async def _fetch(self, driver: Any, sql: str, args: list[Any]) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    # -- the same for both ------------------------------------------------------------------------------

    def statement(
        self, user: UserId, room_ids: Sequence[RoomId] | None, after: RoomCursor | None, limit: int | None
    ) -> tuple[str, list[Any]]:
        """The SQL text and its arguments: the user's rooms (or only `room_ids`), after `after`, `limit` at most.

        A page is chosen first, in a subquery over rooms and participants alone, so the last message and the
        unread count are looked up for the rooms of that page only.
        """
        args: list[Any] = [user]
        where = f"me.user_id = {self._param(1)}"
        if room_ids is not None:
            where += " AND " + self._in_rooms(args, room_ids)
        if after is None and limit is None:
            return f"{self._columns} FROM {self._participants} AS me{self._joins} WHERE {where}{self._order}", args
        page = where.replace("me.", "p.")
        if after is not None:
            args += [self._bind_time(after.updated_at), after.room_id]
            at, room = self._param(len(args) - 1), self._param(len(args))
            page += f" AND (pr.updated_at < {at} OR (pr.updated_at = {at} AND pr.id < {room}))"
        bound = ""
        if limit is not None:
            args.append(limit)
            bound = f" LIMIT {self._param(len(args))}"
        pages = (
            f"(SELECT p.room_id, p.user_id, p.last_read_message_id FROM {self._participants} AS p"
            f" JOIN {self._rooms} AS pr ON pr.id = p.room_id"
            f" WHERE {page} ORDER BY pr.updated_at DESC, pr.id DESC{bound}) AS me"
        )
        return f"{self._columns} FROM {pages}{self._joins}{self._order}", args

    async def run(
        self,
        driver: Any,
        user: UserId,
        room_ids: Collection[RoomId] | None,
        after: RoomCursor | None = None,
        limit: int | None = None,
    ) -> list[RoomSummary]:
        sql, args = self.statement(user, None if room_ids is None else sorted(set(room_ids)), after, limit)
        return [self._summary(user, row) for row in await self._fetch(driver, sql, args)]

    async def versions(self, driver: Any, user: UserId) -> dict[RoomId, int]:
        """Two columns over the user's participant rows and the rooms' primary key."""
        return {row[0]: row[1] for row in await self._fetch(driver, self._versions, [user])}

    def _summary(self, user: UserId, row: Sequence[Any]) -> RoomSummary:
        time = self._time
        room = Room(
            id=row[0],
            name=row[1],
            room_type=ROOM_TYPES[row[2]],
            created_by=row[3],
            created_at=time(row[4]),  # type: ignore[arg-type]
            updated_at=time(row[5]),  # type: ignore[arg-type]
            is_active=bool(row[6]),
        )
        last = None
        if row[8] is not None:
            last = MessagePreview(
                id=row[8],
                sender_id=row[9],
                message_type=MESSAGE_TYPES[row[10]],
                content=row[11],
                created_at=time(row[12]),  # type: ignore[arg-type]
            )
        other = row[7]
        if other is None and room.room_type is RoomType.DIRECT:  # a room with oneself
            other = user
        return RoomSummary(
            room=room, other_user_id=other, last_message=last, unread_count=row[13], mention_count=row[14]
        )


class SqliteRoomList(RoomListQuery):
    """aiosqlite: `?N` parameters, timestamps as DateTimeUTC's text."""

    def _last_message(self, messages: str) -> str:
        # SQLite has no LATERAL; its max() over (room_id, id) is one index seek.
        return (
            f" LEFT OUTER JOIN {messages} AS l ON l.id ="
            f" (SELECT max(m.id) FROM {messages} AS m WHERE m.room_id = me.room_id)"
        )

    def _param(self, number: int) -> str:
        return f"?{number}"

    def _in_rooms(self, args: list[Any], room_ids: Sequence[RoomId]) -> str:
        first = len(args) + 1
        args.extend(room_ids)
        return f"me.room_id IN ({', '.join(self._param(n) for n in range(first, len(args) + 1))})"

    def _bind_time(self, value: datetime) -> Any:
        return sqlite_timestamp(value)

    _time = staticmethod(sqlite_time)  # called per timestamp: no method call in between

    async def _fetch(self, driver: Any, sql: str, args: list[Any]) -> Sequence[Sequence[Any]]:
        return await driver.execute_fetchall(sql, args)  # type: ignore[no-any-return]


class PostgresRoomList(RoomListQuery):
    """asyncpg: `$N` parameters, aware timestamps both ways."""

    FALSE = "false"

    def _last_message(self, messages: str) -> str:
        # A LATERAL backward index scan reads the newest message once; max(id) then a join read the index twice.
        return (
            f" LEFT OUTER JOIN LATERAL (SELECT {', '.join(PREVIEW)} FROM {messages} AS m"
            f" WHERE m.room_id = me.room_id ORDER BY m.id DESC LIMIT 1) AS l ON true"
        )

    def _param(self, number: int) -> str:
        return f"${number}"

    def _in_rooms(self, args: list[Any], room_ids: Sequence[RoomId]) -> str:
        args.append(list(room_ids))
        return f"me.room_id = ANY({self._param(len(args))}::bigint[])"

    def _bind_time(self, value: datetime) -> Any:
        return value

    _time = staticmethod(aware)

    async def _fetch(self, driver: Any, sql: str, args: list[Any]) -> Sequence[Sequence[Any]]:
        return await driver.fetch(sql, *args)  # type: ignore[no-any-return]


@functools.cache
def room_list_query(layout: ChatLayout, dialect: Dialect) -> RoomListQuery:
    """One per layout and engine dialect: the fixed parts of the SQL are built once, a page's per call."""
    if dialect.driver == "asyncpg":
        return PostgresRoomList(layout, dialect)
    if dialect.driver == "aiosqlite":
        return SqliteRoomList(layout, dialect)
    raise ValueError(f"no RoomListQuery for the {dialect.name}+{dialect.driver} driver")
