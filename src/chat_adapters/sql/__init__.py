"""SQL adapters: the chat schema, engines and migrations, and the unit of work on SQLite or PostgreSQL.

With a host's own engine::

    layout = ChatLayout(prefix="hrchat_", schema="chat", own_users=False)  # schema: PostgreSQL only
    await upgrade(engine, layout=layout)                                  # Alembic, to head
    uow = SqlDatabase(session_factory(engine, layout), layout)            # ChatService(uow=uow, ...)
    writer = SqlMessageWriter(engine, layout)    # ChatService(writer=...): the fast send path; close() it

On SQLite, call `enable_sqlite_pragmas(engine)` first: SQLite leaves foreign keys off otherwise.
"""

from chat_adapters.sql.engine import (
    alembic_config,
    chat_engine,
    create_engine,
    downgrade,
    enable_sqlite_pragmas,
    session_factory,
    upgrade,
)
from chat_adapters.sql.store import SqlDatabase, SqlUnitOfWork
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout, ChatTables, chat_tables, metadata
from chat_adapters.sql.writer import SqlMessageWriter

__all__ = [
    "DEFAULT_LAYOUT",
    "ChatLayout",
    "ChatTables",
    "SqlDatabase",
    "SqlMessageWriter",
    "SqlUnitOfWork",
    "alembic_config",
    "chat_engine",
    "chat_tables",
    "create_engine",
    "downgrade",
    "enable_sqlite_pragmas",
    "metadata",
    "session_factory",
    "upgrade",
]
