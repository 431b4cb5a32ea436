"""The narrow session the SQL repositories work through: statements in, chat errors out.

Repositories (rooms.py, messages.py) take this, never the unit of work: they run statements and map rows;
only the unit of work (store.py) commits, rolls back or closes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_adapters.sql.errors import is_foreign_key_violation, translated
from chat_adapters.sql.room_list import RoomListQuery, room_list_query
from chat_adapters.sql.tables import ChatLayout, ChatTables
from chatcore.errors import ConflictError, NotFoundError

log = logging.getLogger("chat_adapters.sql")


class SqlSession:
    """One SQLAlchemy session, opened on first use, over the tables of one layout."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], layout: ChatLayout) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.layout = layout
        self.tables: ChatTables = layout.tables

    @property
    def _open(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    async def execute(self, statement: Executable, params: Sequence[Mapping[Any, Any]] | None = None) -> Result[Any]:
        with translated():
            return await self._open.execute(statement, params)

    async def insert(self, statement: Executable, *, conflict: str, field: str | None = None) -> Result[Any]:
        """Run an INSERT whose unique constraint is the real check: a violation is a ConflictError (and the
        transaction is rolled back: PostgreSQL cannot go on after a failed statement; SQLite is made alike)."""
        try:
            return await self.execute(statement)
        except IntegrityError as exc:
            await self.rollback()
            if is_foreign_key_violation(exc):
                raise NotFoundError("room not found", field="room_id") from exc
            raise ConflictError(conflict, field=field) from exc

    def room_list_query(self) -> RoomListQuery:
        """The driver-level room list for this session's driver (aiosqlite or asyncpg)."""
        return room_list_query(self.layout, self._open.get_bind().dialect)

    async def driver(self) -> Any:
        """The driver's own connection under this session (aiosqlite or asyncpg), for the fast paths."""
        with translated():
            connection = await self._open.connection()
            raw = await connection.get_raw_connection()
        return raw.driver_connection

    @property
    def dialect(self) -> str:
        return self._open.get_bind().dialect.name

    async def commit(self) -> None:
        """Errors propagate (a late constraint violation as ConflictError), after rolling back."""
        try:
            with translated():
                await self._open.commit()
        except IntegrityError as exc:
            await self.rollback()
            raise ConflictError("the change conflicts with data saved meanwhile") from exc

    async def rollback(self) -> None:
        if self._session is not None:
            with translated():
                await self._session.rollback()

    async def close(self, *, after_error: bool) -> None:
        """Rolls back whatever was not committed; a failure to close after another error is only logged."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            with translated():
                await session.close()
        except Exception:
            if not after_error:
                raise
            log.warning("could not close a database session after an error", exc_info=True)
