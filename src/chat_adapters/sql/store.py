"""The SQL unit of work: one session and one transaction, with driver errors turned into chat errors.

The repositories (rooms.py, messages.py) get its narrow `SqlSession` (session.py), run Core statements through
it and map rows to attrs objects; every repository method runs a fixed number of statements.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_adapters.sql.messages import SqlMessages, SqlPresenceLog, SqlUploads
from chat_adapters.sql.rooms import SqlRooms
from chat_adapters.sql.session import SqlSession
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout
from chatcore.ports import Messages, PresenceLog, Rooms, Uploads

log = logging.getLogger("chat_adapters.sql")


class SqlDatabase:
    """Call it for a fresh unit of work, like `MemoryDatabase`: the `UnitOfWorkFactory` of `ChatService`.

    `sessions` should come from `session_factory(engine, layout)`, which puts the tables in the layout's schema;
    `layout` names the tables (prefix) this database works on.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], layout: ChatLayout = DEFAULT_LAYOUT) -> None:
        self.sessions = sessions
        self.layout = layout

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, self.layout)


class SqlUnitOfWork:
    """One session, one transaction; closing it without commit rolls everything back.

    A ConflictError from `add`/`create_direct` has already rolled the whole transaction back: PostgreSQL
    cannot go on after a failed statement, and SQLite is made to behave the same.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], layout: ChatLayout = DEFAULT_LAYOUT) -> None:
        self.session = SqlSession(sessions, layout)
        self.layout = layout
        # Typed as the ports: the protocol's attributes are mutable, so mypy wants the exact types.
        self.rooms: Rooms = SqlRooms(self.session)
        self.messages: Messages = SqlMessages(self.session)
        self.presence: PresenceLog = SqlPresenceLog(self.session)
        self.uploads: Uploads = SqlUploads(self.session)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.close(after_error=exc is not None)

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
