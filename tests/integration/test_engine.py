"""The engine factory: SQLite set up as a server database, and unreachable databases reported as UnavailableError."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from chat_adapters.sql.engine import create_engine, enable_sqlite_pragmas, session_factory
from chat_adapters.sql.store import SqlDatabase, SqlUnitOfWork
from chat_adapters.sql.users import SqlUserDirectory
from chatcore.errors import UnavailableError
from chatcore.model import Presence, UserId
from tests.contract.backends import open_backend
from tests.ports import free_port


@pytest.mark.parametrize(("options", "synchronous"), [({}, 2), ({"sqlite_synchronous": "normal"}, 1)])
async def test_every_sqlite_connection_gets_the_pragmas(
    tmp_path: Path, options: dict[str, str], synchronous: int
) -> None:
    """Durable commits by default: synchronous FULL (2); NORMAL (1) only when asked for."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", **options)
    try:
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                pragmas = {
                    name: (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                    for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
                }
                expected = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": synchronous}
                assert pragmas == expected
    finally:
        await engine.dispose()


async def test_a_second_call_with_another_level_replaces_the_first(tmp_path: Path) -> None:
    engine = enable_sqlite_pragmas(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"), synchronous="normal")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA synchronous"))).scalar_one() == 1
        with pytest.raises(ValueError, match="synchronous"):
            enable_sqlite_pragmas(engine, synchronous="off")
    finally:
        await engine.dispose()


async def test_an_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'chat.db'}")
    try:
        async with SqlDatabase(session_factory(engine))() as uow:
            with pytest.raises(UnavailableError):
                await uow.rooms.unread_counts(UserId(1))
    finally:
        await engine.dispose()
        await _aiosqlite_threads_gone()


async def _aiosqlite_threads_gone(deadline: float = 5.0) -> None:
    """aiosqlite stops a failed connection's thread without waiting; it must not outlive the test's loop."""
    for _ in range(int(deadline / 0.01)):
        if not any("_connection_worker_thread" in thread.name for thread in threading.enumerate()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("aiosqlite worker threads still running")


async def test_an_unreachable_postgres_is_unavailable() -> None:
    engine = create_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere", connect_args={"timeout": 5}
    )
    try:
        sessions = session_factory(engine)
        async with SqlDatabase(sessions)() as uow:
            with pytest.raises(UnavailableError):
                await uow.rooms.co_participants(UserId(1))
        with pytest.raises(UnavailableError):
            await SqlUserDirectory(sessions).get_many([UserId(1)])
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_connection_lost_before_commit_is_reported_not_swallowed(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    async with open_backend("postgres", request, tmp_path) as backend:
        assert backend.engine is not None
        async with backend.uow() as uow:
            assert isinstance(uow, SqlUnitOfWork)
            await uow.presence.save(Presence(user_id=UserId(1), is_online=True, last_seen=None))
            pid = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with backend.engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(UnavailableError):
                await uow.commit()

        async with backend.uow() as uow:
            assert await uow.presence.get_many([UserId(1)]) == {}
