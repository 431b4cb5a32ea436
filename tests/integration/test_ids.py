"""No id is ever handed out twice, on both databases: a deleted user's id (and with it their tokens), a deleted
room's or message's id never goes to a new row. Fresh schemas and databases migrated from revision 0003 alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, Connection, Table, column, delete, insert, inspect, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters.sql.engine import chat_engine, create_engine, session_factory, upgrade
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout
from chat_adapters.sql.users import SqlUserDirectory
from chat_adapters.sql.writer import SqlMessageWriter
from chatcore.errors import NotFoundError
from chatcore.model import MessageId, RoomId, UserId
from tests.contract.builders import T0, draft

LAYOUTS = [DEFAULT_LAYOUT, ChatLayout(prefix="hrchat_")]


@attrs.define
class Chat:
    """The chat's own adapters on one database: ids come from the same statements the service runs."""

    engine: AsyncEngine
    layout: ChatLayout
    users: SqlUserDirectory
    database: SqlDatabase
    writer: SqlMessageWriter
    people: int = 0

    async def user(self) -> UserId:
        self.people += 1
        return (await self.users.add(name=f"User {self.people}", email=f"user{self.people}@example.com")).id

    async def room(self, a: UserId, b: UserId) -> RoomId:
        async with self.database() as uow:
            room = await uow.rooms.create_direct(created_by=a, other=b, name="Direct Chat", at=T0)
            await uow.commit()
        return room.id

    async def send(self, room: RoomId, sender: UserId, receiver: UserId) -> MessageId:
        (message,) = await self.writer.add_batch([draft(room, sender, receiver)])
        return message.id

    async def send_before_0005(self, room: RoomId, sender: UserId, receiver: UserId) -> MessageId:
        """As the writer did while messages had an `is_read` flag (the schema of 0004 and before)."""
        messages = table(
            self.layout.tables.messages.name,
            *(column(name) for name in ("id", "room_id", "sender_id", "receiver_id", "message_type", "content")),
            column("created_at", DateTimeUTC(timezone=True)),
            *(column(name, Boolean) for name in ("is_read", "is_deleted", "is_edited")),
        )
        values = {"room_id": room, "sender_id": sender, "receiver_id": receiver, "message_type": "text"}
        flags = {"is_read": False, "is_deleted": False, "is_edited": False}
        statement = insert(messages).values(content="hi", created_at=T0, **values, **flags).returning(messages.c.id)
        async with chat_engine(self.engine, self.layout).begin() as connection:
            return MessageId((await connection.execute(statement)).scalar_one())

    async def mark_read(self, room: RoomId, user: UserId) -> None:
        async with self.database() as uow:
            await uow.rooms.mark_read(room, user)
            await uow.commit()

    async def delete(self, table: Table, row_id: int) -> None:
        """As an operator would, straight in the database (the service itself deletes no user, room or message)."""
        async with chat_engine(self.engine, self.layout).begin() as connection:
            assert (await connection.execute(delete(table).where(table.c.id == row_id))).rowcount == 1

    async def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every chat table, in key order, with the columns the database has (of any revision)."""
        async with chat_engine(self.engine, self.layout).connect() as connection:
            return await connection.run_sync(self._rows)

    def _rows(self, connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
        found = {}
        inspector = inspect(connection)
        for declared in self.layout.tables.metadata.sorted_tables:
            if not inspector.has_table(declared.name):  # made by a later revision
                continue
            present = table(declared.name, *(column(c["name"]) for c in inspect(connection).get_columns(declared.name)))
            keys = [present.c[c.name] for c in declared.primary_key.columns]
            found[declared.name] = [tuple(row) for row in connection.execute(select(present).order_by(*keys))]
        return found


@asynccontextmanager
async def chat_on(url: str, layout: ChatLayout = DEFAULT_LAYOUT) -> AsyncIterator[Chat]:
    engine = create_engine(url)
    sessions = session_factory(engine, layout)
    writer = SqlMessageWriter(engine, layout)
    try:
        yield Chat(engine, layout, SqlUserDirectory(sessions, layout), SqlDatabase(sessions, layout), writer)
    finally:
        await writer.close()
        await engine.dispose()


@pytest.fixture(params=["create_all", "migrations"])
async def fresh_url(request: pytest.FixtureRequest, empty_url: str) -> str:
    """A new database with the chat tables, made the way tests and hosts do (metadata) or `chat serve` does."""
    if request.param == "migrations":
        await upgrade(empty_url)
        return empty_url
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(DEFAULT_LAYOUT.tables.metadata.create_all)
    finally:
        await engine.dispose()
    return empty_url


async def no_id_given_twice(chat: Chat) -> None:
    """Delete the newest user, room (with its participants) and message, then make new ones: none gets an old id."""
    tables = chat.layout.tables
    alice, bob = await chat.user(), await chat.user()
    newest_user = await chat.user()
    await chat.delete(tables.users, newest_user)
    assert await chat.user() > newest_user

    kept_room = await chat.room(alice, bob)
    await chat.send(kept_room, alice, bob)
    newest_message = await chat.send(kept_room, bob, alice)
    await chat.delete(tables.messages, newest_message)
    assert await chat.send(kept_room, alice, bob) > newest_message

    carol = await chat.user()
    newest_room = await chat.room(alice, carol)
    participants = (await chat.rows())[tables.participants.name]
    await chat.delete(tables.rooms, newest_room)  # its participants go with it (ON DELETE CASCADE)
    dave = await chat.user()
    assert await chat.room(alice, dave) > newest_room
    new_participants = [row[0] for row in (await chat.rows())[tables.participants.name][-2:]]
    assert min(new_participants) > max(row[0] for row in participants)


async def test_no_id_is_given_twice_on_a_fresh_schema(fresh_url: str) -> None:
    async with chat_on(fresh_url) as chat:
        await no_id_given_twice(chat)


@pytest.mark.parametrize("layout", LAYOUTS, ids=["no-prefix", "prefix"])
async def test_a_database_from_revision_0003_keeps_its_rows_and_never_reuses_a_freed_id(
    empty_url: str, layout: ChatLayout
) -> None:
    """Ids freed before the upgrade but still referenced (a deleted user's rooms and messages, a deleted
    message's read mark) are not given again either; a freed id referenced nowhere cannot be known."""
    tables = layout.tables
    await upgrade(empty_url, "0003", layout=layout)
    async with chat_on(empty_url, layout) as chat:
        alice, bob, dave = await chat.user(), await chat.user(), await chat.user()
        talk, dave_room = await chat.room(alice, bob), await chat.room(alice, dave)
        await chat.send_before_0005(talk, alice, bob)
        await chat.send_before_0005(dave_room, dave, alice)
        newest_message = await chat.send_before_0005(talk, bob, alice)
        await chat.mark_read(talk, alice)  # alice's read mark: the newest message
        await chat.delete(tables.messages, newest_message)
        await chat.delete(tables.users, dave)  # the newest user; the room and message stay
        before = await chat.rows()
        await upgrade(empty_url, "0004", layout=layout)
        assert await chat.rows() == before

    await upgrade(empty_url, layout=layout)  # 0005 rebuilds tables on SQLite again

    async with chat_on(empty_url, layout) as chat:
        chat.people = 3
        assert await chat.user() > dave
        assert await chat.send(talk, alice, bob) > newest_message
        with pytest.raises(NotFoundError):  # foreign keys are still enforced
            await chat.send(RoomId(999), alice, bob)
        async with chat_engine(chat.engine, layout).begin() as connection:
            with pytest.raises(IntegrityError):
                await connection.execute(insert(tables.participants).values(room_id=999, user_id=alice, joined_at=T0))
        await chat.delete(tables.rooms, dave_room)  # and cascade
        left = await chat.rows()
        assert {row[1] for row in left[tables.participants.name]} == {talk}
        assert {row[1] for row in left[tables.messages.name]} == {talk}
        if chat.engine.dialect.name == "sqlite":
            async with chat.engine.connect() as connection:
                assert (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
                assert (await connection.exec_driver_sql("PRAGMA integrity_check")).scalar_one() == "ok"
        await no_id_given_twice(chat)
