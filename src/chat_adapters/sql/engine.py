"""Engines, sessions and migrations: everything that turns a database URL into something to run queries on."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from chat_adapters.sql.tables import DEFAULT_LAYOUT, LAYOUT_KEY, ChatLayout

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite+aiosqlite:///./chat.db"

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",  # off by default in SQLite: cascades and room references would not be enforced
    "PRAGMA journal_mode=WAL",  # readers do not block the writer
    "PRAGMA busy_timeout=5000",  # writers queue for 5 s instead of failing at once with 'database is locked'
)
# PRAGMA synchronous, per engine. FULL (with WAL): each commit syncs the WAL before it returns, so a message is
# acknowledged only once it would survive a power cut. NORMAL syncs only at checkpoints: a power cut or kernel
# crash may roll back the last commits, acknowledged ones included (a killed process loses nothing either way).
SQLITE_SYNCHRONOUS = ("full", "normal")


@functools.cache
def _sqlite_on_connect(synchronous: str) -> Callable[[DBAPIConnection, ConnectionPoolEntry], None]:
    """One listener per level, the same object each time, so `event.contains` can tell it is there."""
    pragmas = (*SQLITE_PRAGMAS, f"PRAGMA synchronous={synchronous.upper()}")

    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    return on_connect


def enable_sqlite_pragmas(engine: AsyncEngine, *, synchronous: str = "full") -> AsyncEngine:
    """Give every new SQLite connection of `engine` the pragmas chat needs (foreign keys on above all), with
    `synchronous` "full" (durable commits, the default) or "normal" (see SQLITE_SYNCHRONOUS).

    For a host's own engine: SQLite leaves foreign keys off unless each connection turns them on. Connections
    already open keep their settings, so call this right after creating the engine. A no-op for other databases.
    """
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {SQLITE_SYNCHRONOUS}, got {synchronous!r}")
    if engine.dialect.name != "sqlite":
        return engine
    wanted = _sqlite_on_connect(synchronous)
    for level in SQLITE_SYNCHRONOUS:  # called again with another level: that one wins
        listener = _sqlite_on_connect(level)
        if listener is not wanted and event.contains(engine.sync_engine, "connect", listener):
            event.remove(engine.sync_engine, "connect", listener)
    if not event.contains(engine.sync_engine, "connect", wanted):
        event.listen(engine.sync_engine, "connect", wanted)
    return engine


def create_engine(url: str, *, sqlite_synchronous: str = "full", **kw: Any) -> AsyncEngine:
    """An async engine; on SQLite every new connection gets the pragmas a concurrent server needs, with
    `sqlite_synchronous` as `enable_sqlite_pragmas` takes it (CHAT_SQLITE_SYNCHRONOUS in the service).

    Always `await engine.dispose()`: an undisposed aiosqlite engine hangs the process at exit.
    """
    if not url.startswith("sqlite"):
        # A restarted server leaves dead connections in the pool: test each on checkout, and give up on a
        # connect quickly so requests fail with 503 rather than hang while the database is away.
        kw.setdefault("pool_pre_ping", True)
        kw.setdefault("pool_timeout", 5)
        kw.setdefault("connect_args", {"timeout": 3, "command_timeout": 30})
    return enable_sqlite_pragmas(create_async_engine(url, **kw), synchronous=sqlite_synchronous)


def chat_engine(engine: AsyncEngine, layout: ChatLayout = DEFAULT_LAYOUT) -> AsyncEngine:
    """`engine` (sharing its pool) with the chat tables put in the layout's schema by `schema_translate_map`."""
    translate = layout.schema_translate_map
    if translate is None:
        return engine
    if engine.dialect.name == "sqlite":
        raise ValueError("a schema for the chat tables needs PostgreSQL; SQLite has none")
    return engine.execution_options(schema_translate_map=translate)


def session_factory(engine: AsyncEngine, layout: ChatLayout = DEFAULT_LAYOUT) -> async_sessionmaker[AsyncSession]:
    """Sessions on the chat tables of `layout`; objects stay readable after commit, since the use cases map
    rows to attrs objects and publish after committing."""
    return async_sessionmaker(chat_engine(engine, layout), expire_on_commit=False)


def alembic_config(url: str | None = None, *, layout: ChatLayout | None = None) -> Config:
    """An Alembic config for the migrations shipped inside this package, so an installed wheel can migrate too."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url  # beats CHAT_DATABASE_URL: the caller named this database
    if layout is not None:
        config.attributes[LAYOUT_KEY] = layout  # beats CHAT_TABLE_PREFIX, CHAT_DB_SCHEMA and CHAT_USERS_TABLE
    return config


Target = str | AsyncEngine


async def upgrade(target: Target, revision: str = "head", *, layout: ChatLayout = DEFAULT_LAYOUT) -> None:
    """Migrate the chat tables of `layout` in a database given by URL, or on a host's own engine."""
    await _migrate(target, layout, lambda config: command.upgrade(config, revision))


async def downgrade(target: Target, revision: str, *, layout: ChatLayout = DEFAULT_LAYOUT) -> None:
    await _migrate(target, layout, lambda config: command.downgrade(config, revision))


async def _migrate(target: Target, layout: ChatLayout, run: Callable[[Config], None]) -> None:
    if isinstance(target, str):
        # Alembic's env.py starts its own event loop, which cannot nest in a running one: use a worker thread.
        await asyncio.to_thread(run, alembic_config(target, layout=layout))
        return
    async with target.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        foreign_keys = 0
        if sqlite:  # batch mode copies tables: with foreign keys on, the copy would cascade-delete child rows
            foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:

            def on(sync_connection: Connection) -> None:
                config = alembic_config(layout=layout)
                config.attributes["connection"] = sync_connection
                run(config)

            await connection.run_sync(on)
            await connection.commit()
        finally:
            if sqlite:
                await connection.rollback()
                await connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")


def head_revision() -> str | None:
    """The newest migration this package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    """Every migration this package ships."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


async def current_revision(engine: AsyncEngine, layout: ChatLayout = DEFAULT_LAYOUT) -> str | None:
    """The migration the chat tables of `layout` are at; None when they were never migrated (no version table,
    or an empty one)."""

    def read(connection: Connection) -> str | None:
        opts = {"version_table": layout.version_table, "version_table_schema": layout.schema}
        return MigrationContext.configure(connection, opts=opts).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
