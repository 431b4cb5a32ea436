"""The service's own user directory on the `users` table: the read side for the core, the write side for the CLI."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_adapters.sql.errors import translated
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout
from chatcore.errors import ConflictError
from chatcore.model import User, UserId


def normalize_email(email: str) -> str:
    """The unique, searched form of an email: case-insensitive the way Python's casefold is."""
    return email.casefold()


def _user(row: Mapping[Any, Any]) -> User:
    return User(id=UserId(row["id"]), name=row["name"], email=row["email"], avatar_url=row["avatar_url"])


class SqlUserDirectory:
    """`UserDirectory` and `UserRegistry` in one; each call is its own short transaction.

    `sessions` from `session_factory(engine, layout)`; `layout` names the table (`<prefix>users`).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], layout: ChatLayout = DEFAULT_LAYOUT) -> None:
        self._sessions = sessions
        self._users = layout.tables.users

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, User]:
        users = self._users
        if not ids:
            return {}
        async with self._sessions() as session:
            with translated():
                result = await session.execute(select(users).where(users.c.id.in_(list(ids))))
                return {UserId(row["id"]): _user(row) for row in result.mappings()}

    async def search_email(self, fragment: str, *, exclude: UserId, limit: int) -> list[User]:
        """A substring scan of the casefolded emails; `%` and `_` in the fragment match only themselves."""
        users = self._users
        if limit <= 0 or "\x00" in fragment:  # no email holds one; SQLite's LIKE would end its pattern there
            return []
        async with self._sessions() as session:
            column = users.c.email_normalized
            # PostgreSQL sorts by the database's locale; "C" gives the code point order SQLite and Python use.
            order = column.collate("C") if session.get_bind().dialect.name == "postgresql" else column
            statement = (
                select(users)
                .where(column.contains(normalize_email(fragment), autoescape=True), users.c.id != exclude)
                .order_by(order, users.c.id)
                .limit(limit)
            )
            with translated():
                return [_user(row) for row in (await session.execute(statement)).mappings()]

    async def by_email(self, email: str) -> User | None:
        """The user with exactly this email (compared case-insensitively), if any."""
        users = self._users
        async with self._sessions() as session:
            with translated():
                statement = select(users).where(users.c.email_normalized == normalize_email(email.strip()))
                row = (await session.execute(statement)).mappings().first()
        return None if row is None else _user(row)

    async def add(self, *, name: str, email: str, avatar_url: str | None = None) -> User:
        users = self._users
        async with self._sessions() as session:
            try:
                with translated():
                    user_id = (
                        await session.execute(
                            insert(users)
                            .values(
                                name=name, email=email, email_normalized=normalize_email(email), avatar_url=avatar_url
                            )
                            .returning(users.c.id)
                        )
                    ).scalar_one()
                    await session.commit()
            except IntegrityError as exc:
                raise ConflictError(f"a user with email {email} exists", field="email") from exc
        return User(id=UserId(user_id), name=name, email=email, avatar_url=avatar_url)

    async def upsert_by_email(self, *, name: str, email: str, avatar_url: str | None = None) -> tuple[User, bool]:
        """Update by normalized email, else insert; an insert that loses a race turns into the update."""
        users = self._users
        for _attempt in range(2):
            async with self._sessions() as session:
                with translated():
                    statement = (
                        update(users)
                        .where(users.c.email_normalized == normalize_email(email))
                        .values(name=name, avatar_url=avatar_url)
                        .returning(users)
                    )
                    row = (await session.execute(statement)).mappings().first()
                    await session.commit()
            if row is not None:
                return _user(row), False
            try:
                return await self.add(name=name, email=email, avatar_url=avatar_url), True
            except ConflictError:
                continue  # created by someone else between our update and insert
        raise ConflictError(f"the user with email {email} changed concurrently; try again", field="email")
