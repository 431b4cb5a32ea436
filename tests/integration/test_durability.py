"""A sent message is acknowledged only after its transaction committed, at the durability level configured:
SQLite's `synchronous` from CHAT_SQLITE_SYNCHRONOUS (FULL by default), PostgreSQL's `synchronous_commit` as the
server and database set it (the service never lowers it). What a power cut does: tests/faults/test_durability.py.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chat_adapters.sql.engine import create_engine, session_factory, upgrade
from chat_adapters.sql.tables import messages
from chat_adapters.sql.users import SqlUserDirectory
from chat_adapters.sql.writer import SqlMessageWriter
from chat_http import wiring
from chat_http.settings import load_settings
from chatcore.commands import SendMessage
from tests.pg import PgServer, create_database

SECRET = "durability-secret-" + "x" * 32


async def send_one(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SqlMessageWriter:
    """One message sent through the services `chat serve` builds from `env`; the writer that stored it."""
    writers: list[SqlMessageWriter] = []

    class Recorded(SqlMessageWriter):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            writers.append(self)

    monkeypatch.setattr(wiring, "SqlMessageWriter", Recorded)
    settings = load_settings({"CHAT_JWT_SECRET": SECRET, **env})
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        directory = SqlUserDirectory(session_factory(engine))
        alice = await directory.add(name="Alice", email="alice@example.com")
        bob = await directory.add(name="Bob", email="bob@example.com")
        async with AsyncExitStack() as stack:
            chat = (await wiring.build_services(settings, stack)).chat
            room, _ = await chat.open_direct_room(alice.id, bob.id)
            sent, _ = await chat.send_message(alice.id, SendMessage(room_id=room.id, content="hi", client_msg_id="c1"))
            # Acknowledged: another connection already sees it committed.
            async with engine.connect() as connection:
                found = await connection.execute(select(messages.c.client_msg_id).where(messages.c.id == sent.id))
                assert found.scalar_one() == "c1"
    finally:
        await engine.dispose()
    (writer,) = writers
    return writer


@pytest.mark.parametrize(
    ("variable", "level"), [(None, "full"), ("normal", "normal"), ("FULL", "full")], ids=["default", "normal", "FULL"]
)
async def test_sqlite_sends_commit_at_the_configured_synchronous_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str | None, level: str
) -> None:
    env = {"CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"}
    if variable is not None:
        env["CHAT_SQLITE_SYNCHRONOUS"] = variable

    writer = await send_one(env, monkeypatch)

    assert writer.synchronous == level


@pytest.mark.postgres
async def test_postgres_sends_commit_with_the_databases_synchronous_commit(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test cluster runs with synchronous_commit=off; the database says on, and nothing in the service
    (a per-session SET, a connect option) may turn it off again."""
    name = await create_database(pg_server)
    connection = await pg_server.connect()
    try:
        await connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
    finally:
        await connection.close()

    writer = await send_one({"CHAT_DATABASE_URL": pg_server.url(name)}, monkeypatch)

    assert writer.synchronous == "on"
