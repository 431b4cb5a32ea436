"""Engines, sessions and migrations: everything that turns a database URL into something to run queries on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite+aiosqlite:///./chat.db"

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",  # off by default in SQLite: cascades and room references would not be enforced
    "PRAGMA journal_mode=WAL",  # readers do not block the writer
    "PRAGMA busy_timeout=5000",  # writers queue for 5 s instead of failing at once with 'database is locked'
    "PRAGMA synchronous=NORMAL",  # safe with WAL, far fewer fsyncs
)


def _sqlite_on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def create_engine(url: str, **kw: Any) -> AsyncEngine:
    """An async engine; on SQLite every new connection gets the pragmas a concurrent server needs.

    Always `await engine.dispose()`: an undisposed aiosqlite engine hangs the process at exit.
    """
    if not url.startswith("sqlite"):
        # A restarted server leaves dead connections in the pool: test each on checkout, and give up on a
        # connect quickly so requests fail with 503 rather than hang while the database is away.
        kw.setdefault("pool_pre_ping", True)
        kw.setdefault("pool_timeout", 5)
        kw.setdefault("connect_args", {"timeout": 3, "command_timeout": 30})
    engine = create_async_engine(url, **kw)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Objects stay readable after commit: the use cases map rows to attrs objects and publish after committing."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the migrations shipped inside this package, so an installed wheel can migrate too."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url  # beats CHAT_DATABASE_URL: the caller named this database
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Run in a worker thread: Alembic's env.py starts its own event loop, which cannot nest in a running one."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)
