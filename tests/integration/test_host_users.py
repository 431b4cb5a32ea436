"""Chat inside a host's database: its `employees` table (other column names) as the directory, never written,
with the chat tables beside it under a prefix, and on PostgreSQL in a schema of their own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters import HostTableError, HostUserDirectory, UserColumns
from chat_adapters.sql import (
    ChatLayout,
    SqlDatabase,
    SqlMessageWriter,
    create_engine,
    downgrade,
    session_factory,
    upgrade,
)
from chat_adapters.sql.tables import fts_table_names
from chatcore import ChatService, MessageWriter, SendMessage, UserId
from chatcore.testing import FakeClock, MemoryBroker, MemoryLiveState, MemoryStorage, SequentialIds
from tests.pg import PgServer, create_database

COLUMNS = UserColumns(id="emp_id", name="full_name", email="work_email", avatar_url="photo")
PEOPLE = [
    (101, "Alice Smith", "alice@example.com", "https://hr.test/a.jpg"),
    (102, "John Doe", "John.Doe@Example.com", None),
    (103, "Carol King", "carol@corp.test", None),
    (104, "Percent", "100%_sure@corp.test", None),
    (105, "Plain", "100xxsure@corp.test", None),
]
CHAT_TABLES = {
    "chat_rooms",
    "chat_participants",
    "chat_messages",
    "user_presence",
    "chat_uploads",
    "chat_reactions",
    "chat_mentions",
}


@attrs.define
class HostDb:
    kind: str
    engine: AsyncEngine
    table: str  # as CHAT_USERS_TABLE names it
    layout: ChatLayout
    statements: list[str] = attrs.field(factory=list)

    def directory(self) -> HostUserDirectory:
        return HostUserDirectory(self.engine, table=self.table, columns=COLUMNS)

    async def rows(self) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(text(f"SELECT * FROM {self.table} ORDER BY emp_id"))
            return [tuple(row) for row in result]

    def writes_to_host_table(self) -> list[str]:
        name = self.table.rpartition(".")[2]
        touching = [s for s in self.statements if re.search(rf"\b{name}\b", s, re.IGNORECASE)]
        return [s for s in touching if not s.lstrip().upper().startswith("SELECT")]


HOST_DDL = """CREATE TABLE {table} (
    emp_id INTEGER PRIMARY KEY, full_name VARCHAR(200) NOT NULL, work_email VARCHAR(200),
    photo VARCHAR(500), password_hash VARCHAR(200) NOT NULL, department VARCHAR(100))"""


async def _host_schema(engine: AsyncEngine, table: str, *, schema: str | None = None) -> None:
    async with engine.begin() as connection:
        if schema:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(HOST_DDL.format(table=table)))
        for emp_id, name, email, photo in PEOPLE:
            await connection.execute(
                text(
                    f"INSERT INTO {table} (emp_id, full_name, work_email, photo, password_hash, department)"
                    " VALUES (:id, :name, :email, :photo, 'x', 'HR')"
                ),
                {"id": emp_id, "name": name, "email": email, "photo": photo},
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def host(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HostDb]:
    """The host's database with its employees; the chat tables are migrated in by `upgrade` on the host's engine."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hrms.db'}")
        table, layout = "employees", ChatLayout(prefix="hrchat_", own_users=False)
        await _host_schema(engine, table)
    else:
        server = request.getfixturevalue("pg_server")
        assert isinstance(server, PgServer)
        engine = create_engine(server.url(await create_database(server)))
        table, layout = "hr.employees", ChatLayout(prefix="hrchat_", schema="chat", own_users=False)
        await _host_schema(engine, table, schema="hr")
    db = HostDb(kind=request.param, engine=engine, table=table, layout=layout)
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: db.statements.append(args[2]))
    try:
        yield db
    finally:
        await engine.dispose()


def _service(db: HostDb, writer: MessageWriter | None = None) -> ChatService:
    clock = FakeClock()
    return ChatService(
        uow=SqlDatabase(session_factory(db.engine, db.layout), db.layout),
        users=db.directory(),
        storage=MemoryStorage(clock),
        broker=MemoryBroker(),
        live=MemoryLiveState(clock),
        clock=clock,
        ids=SequentialIds(),
        writer=writer,
    )


async def test_the_host_table_is_searched_and_read_with_its_own_column_names(host: HostDb) -> None:
    users = host.directory()
    alice, john, carol, percent, plain = (await users.get_many([UserId(p[0]) for p in PEOPLE])).values()

    assert (alice.name, alice.email, alice.avatar_url) == ("Alice Smith", "alice@example.com", "https://hr.test/a.jpg")
    assert john.avatar_url is None
    assert await users.get_many([UserId(999)]) == {}
    assert await users.search_email("EXAMPLE", exclude=UserId(0), limit=20) == [alice, john]
    assert await users.search_email("corp.test", exclude=UserId(0), limit=20) == [percent, plain, carol]
    assert await users.search_email("@", exclude=alice.id, limit=2) == [percent, plain]
    assert await users.search_email("example", exclude=john.id, limit=0) == []
    assert [u.name for u in await users.search_email("%_", exclude=UserId(0), limit=20)] == ["Percent"]
    assert await users.search_email("0_s", exclude=UserId(0), limit=20) == []
    assert await users.search_email("\x00\x00", exclude=UserId(0), limit=20) == []  # not everyone, no error
    assert await users.search_email("\x00corp", exclude=UserId(0), limit=20) == []
    assert host.statements, "the listener saw the statements"
    assert host.writes_to_host_table() == []


async def test_chat_runs_beside_the_host_table_and_never_writes_to_it(host: HostDb) -> None:
    before = await host.rows()
    await upgrade(host.engine, layout=host.layout)
    writer = SqlMessageWriter(host.engine, host.layout)  # the send path's own SQL, in the prefix and schema
    chat = _service(host, writer)

    found = await chat.search_users(UserId(101), "john.doe")
    room, created = await chat.open_direct_room(UserId(101), found[0].id)
    try:
        sent, _ = await chat.send_message(UserId(101), SendMessage(room_id=room.id, content="Hi John"))
    finally:
        await writer.close()
    await chat.mark_read(UserId(102), room.id)
    page = await chat.history(UserId(102), room.id)

    assert [card.name for card in found] == ["John Doe"]
    assert created
    assert room.other_user.name == "John Doe"
    assert [(m.id, m.content, m.sender_name) for m in page.messages] == [(sent.id, "Hi John", "Alice Smith")]
    assert host.writes_to_host_table() == []
    assert await host.rows() == before

    chat_tables = {f"hrchat_{name}" for name in CHAT_TABLES} | {"hrchat_alembic_version"}
    if host.layout.schema is not None:  # the chat's schema holds the chat's tables; the host's only the host's
        assert await _tables(host.engine, host.layout.schema) == chat_tables
        assert await _tables(host.engine, "hr") == {"employees"}
        assert await _tables(host.engine, None) == set()
    else:  # no users table of the chat's own: the host's is the directory; SQLite's search index is prefixed too
        search = fts_table_names("hrchat_") if host.engine.dialect.name == "sqlite" else set()
        assert await _tables(host.engine, None) == chat_tables | search | {"employees"}


async def test_migrations_go_down_and_up_again_in_the_layout(host: HostDb) -> None:
    before = await host.rows()

    await upgrade(host.engine, layout=host.layout)
    await downgrade(host.engine, "base", layout=host.layout)
    assert await _tables(host.engine, host.layout.schema) - {"employees"} == {"hrchat_alembic_version"}
    await upgrade(host.engine, layout=host.layout)

    assert await _tables(host.engine, host.layout.schema) >= {f"hrchat_{name}" for name in CHAT_TABLES}
    assert host.writes_to_host_table() == []
    assert await host.rows() == before


async def test_a_missing_column_is_named_by_the_check(host: HostDb) -> None:
    await host.directory().check()
    wrong = HostUserDirectory(host.engine, table=host.table, columns=attrs.evolve(COLUMNS, email="mail"))

    with pytest.raises(HostTableError) as raised:
        await wrong.check()

    assert "mail" in str(raised.value)
    assert host.table in str(raised.value)


async def _tables(engine: AsyncEngine, schema: str | None) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names(schema=schema)))
