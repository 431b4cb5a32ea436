"""Alembic environment of the chat tables: async engines, batch mode for SQLite, and only our own tables.

The database is, first match wins: the URL a caller put in `config.attributes["url"]` (see engine.upgrade),
`CHAT_DATABASE_URL`, `sqlalchemy.url` of the ini file, then the service's default. A host can also hand over
its own sync connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chat_adapters.sql.engine import DEFAULT_URL
from chat_adapters.sql.tables import metadata

config = context.config
if config.config_file_name is not None:  # the alembic CLI: log what runs; never reset a host's loggers
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    explicit = config.attributes.get("url")
    if isinstance(explicit, str) and explicit:
        return explicit
    return os.environ.get("CHAT_DATABASE_URL") or config.get_main_option("sqlalchemy.url") or DEFAULT_URL


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Look at our tables only, so autogenerate in a host's database never proposes dropping the host's."""
    if type_ == "table":
        return name in metadata.tables
    return True


def configure(**kw: Any) -> None:
    context.configure(
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        version_table=config.get_main_option("version_table") or "alembic_version",
        include_name=include_name,
        compare_type=True,
        **kw,
    )


def run_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    # No pragmas here: with foreign_keys=ON, SQLite batch mode's table copy would cascade-delete child rows.
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        run_on(connection)
    else:
        asyncio.run(run_async(database_url()))


if context.is_offline_mode():
    run_offline()
else:
    run_online()
