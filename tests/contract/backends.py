"""The backends the contract suites run on: the in-memory fakes, a SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.sql.tables import metadata
from chat_adapters.sql.users import SqlUserDirectory
from chat_adapters.sql.writer import SqlMessageWriter
from chatcore.batching import UnitOfWorkWriter
from chatcore.ports import MessageWriter, UnitOfWork
from chatcore.testing import MemoryDatabase, MemoryUserDirectory
from tests.pg import PgServer, fresh_database

ALL = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@attrs.define
class Backend:
    name: str
    database: MemoryDatabase | SqlDatabase
    users: MemoryUserDirectory | SqlUserDirectory
    writer: MessageWriter
    engine: AsyncEngine | None = None

    def uow(self) -> UnitOfWork:
        return self.database()


async def database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path, *, schema: bool = True) -> str:
    """A URL of a database of its own for this test; with the chat tables when `schema`."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
        if schema:
            engine = create_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.run_sync(metadata.create_all)
            finally:
                await engine.dispose()
        return url
    server = request.getfixturevalue("pg_server")
    assert isinstance(server, PgServer)
    return await fresh_database(server, schema=schema)


@asynccontextmanager
async def open_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if kind == "memory":
        database = MemoryDatabase()
        yield Backend(name=kind, database=database, users=MemoryUserDirectory(), writer=UnitOfWorkWriter(database))
        return
    engine = create_engine(await database_url(kind, request, tmp_path))
    try:
        sessions = session_factory(engine)
        writer = SqlMessageWriter(engine)
        try:
            yield Backend(
                name=kind,
                database=SqlDatabase(sessions),
                users=SqlUserDirectory(sessions),
                writer=writer,
                engine=engine,
            )
        finally:
            await writer.close()
    finally:
        await engine.dispose()
