"""Alembic environment of the chat tables: async engines, batch mode for SQLite, and only our own tables.

The database is, first match wins: the URL a caller put in `config.attributes["url"]` (see engine.upgrade),
`CHAT_DATABASE_URL`, `sqlalchemy.url` of the ini file, then the service's default. A host can also hand over
its own sync connection in `config.attributes["connection"]` (see engine.upgrade with an engine).

Where the tables go (a `ChatLayout`): `config.attributes["chat_layout"]`, else `CHAT_TABLE_PREFIX`,
`CHAT_DB_SCHEMA` and `CHAT_USERS_TABLE` (set: the host owns the users, so no `users` table of our own).
The revisions take their table names from it (`migrating_layout()`).
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chat_adapters.sql.engine import DEFAULT_URL
from chat_adapters.sql.tables import LAYOUT_KEY, ChatLayout

config = context.config
if config.config_file_name is not None:  # the alembic CLI: log what runs; never reset a host's loggers
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def chat_layout() -> ChatLayout:
    given = config.attributes.get(LAYOUT_KEY)
    if isinstance(given, ChatLayout):
        return given
    return ChatLayout(
        prefix=os.environ.get("CHAT_TABLE_PREFIX", ""),
        schema=os.environ.get("CHAT_DB_SCHEMA") or None,
        own_users=not os.environ.get("CHAT_USERS_TABLE"),
    )


layout = chat_layout()
config.attributes[LAYOUT_KEY] = layout  # the revisions read their table names from it
metadata = layout.tables.metadata


def database_url() -> str:
    explicit = config.attributes.get("url")
    if isinstance(explicit, str) and explicit:
        return explicit
    return os.environ.get("CHAT_DATABASE_URL") or config.get_main_option("sqlalchemy.url") or DEFAULT_URL


def _dialect() -> str:
    return context.get_context().dialect.name


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Look at our tables only, so autogenerate in a host's database never proposes dropping the host's (nor
    SQLite's FTS5 tables of message search, which no model describes)."""
    return layout.compared(_dialect(), name, type_)


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Without our own users table (a host's is the directory), the model's `users` is not expected; the GIN
    index of message search exists on PostgreSQL only."""
    return layout.compared(_dialect(), name, type_)


def configure(**kw: Any) -> None:
    context.configure(
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        version_table=config.get_main_option("version_table") or layout.version_table,
        version_table_schema=layout.schema,
        include_name=include_name,
        include_object=include_object,
        compare_type=True,
        **kw,
    )


def run_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    if layout.schema is not None:
        if connection.dialect.name != "postgresql":
            raise ValueError("CHAT_DB_SCHEMA: a schema for the chat tables needs PostgreSQL")
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{layout.schema}"'))
        # The tables carry no schema; the connection puts them (not the version table, named explicitly) in ours.
        connection = connection.execution_options(schema_translate_map=layout.schema_translate_map)
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    # No pragmas here: with foreign_keys=ON, SQLite batch mode's table copy would cascade-delete child rows.
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()  # when CREATE SCHEMA began the transaction, Alembic leaves it to us
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
