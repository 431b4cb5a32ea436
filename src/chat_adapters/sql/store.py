"""The SQL unit of work: one session and one transaction, with driver errors turned into chat errors.

The repositories (rooms.py, messages.py) run Core statements through it and map rows to attrs objects;
every repository method runs a fixed number of statements.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Executable, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_adapters.sql.errors import is_foreign_key_violation, translated
from chat_adapters.sql.messages import SqlMessages, SqlPresenceLog, SqlUploads
from chat_adapters.sql.room_list import RoomListQuery, room_list_query
from chat_adapters.sql.rooms import SqlRooms
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout
from chatcore.errors import ConflictError, NotFoundError
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
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.layout = layout
        self.tables = layout.tables
        # Typed as the ports: the protocol's attributes are mutable, so mypy wants the exact types.
        self.rooms: Rooms = SqlRooms(self)
        self.messages: Messages = SqlMessages(self)
        self.presence: PresenceLog = SqlPresenceLog(self)
        self.uploads: Uploads = SqlUploads(self)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            with translated():
                await session.close()  # rolls back whatever was not committed
        except Exception:
            if exc is None:
                raise
            log.warning("could not close a database session after an error", exc_info=True)

    async def commit(self) -> None:
        """Errors propagate (a late constraint violation as ConflictError), after rolling back."""
        try:
            with translated():
                await self.session.commit()
        except IntegrityError as exc:
            await self.rollback()
            raise ConflictError("the change conflicts with data saved meanwhile") from exc

    async def rollback(self) -> None:
        if self._session is not None:
            with translated():
                await self._session.rollback()

    async def execute(self, statement: Executable, params: Sequence[Mapping[Any, Any]] | None = None) -> Result[Any]:
        with translated():
            return await self.session.execute(statement, params)

    async def insert(self, statement: Executable, *, conflict: str, field: str | None = None) -> Result[Any]:
        """Run an INSERT whose unique constraint is the real check: a violation is a ConflictError."""
        try:
            return await self.execute(statement)
        except IntegrityError as exc:
            await self.rollback()
            if is_foreign_key_violation(exc):
                raise NotFoundError("room not found", field="room_id") from exc
            raise ConflictError(conflict, field=field) from exc

    def room_list_query(self) -> RoomListQuery:
        """The driver-level room list for this session's driver (aiosqlite or asyncpg)."""
        return room_list_query(self.layout, self.session.get_bind().dialect)

    async def driver(self) -> Any:
        """The driver's own connection under this unit's session (aiosqlite or asyncpg), for the fast paths."""
        with translated():
            connection = await self.session.connection()
            raw = await connection.get_raw_connection()
        return raw.driver_connection

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name
