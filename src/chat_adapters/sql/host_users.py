"""A host application's existing users table as the chat's user directory: read only, its columns mapped by name.

Nothing is reflected, created or written: the table is a lightweight `sqlalchemy.table()` naming just the four
columns the chat reads, and every statement is a SELECT on a connection that is never committed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs
from sqlalchemy import BigInteger, ColumnElement, RowMapping, String, TableClause, column, func, literal, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeEngine

from chat_adapters.sql.errors import translated
from chatcore.model import User, UserId


class HostTableError(ValueError):
    """The host table cannot serve as the directory (missing table or column, ids that are not integers)."""


@attrs.frozen(kw_only=True)
class UserColumns:
    """The host's column for each field of a chat user; `avatar_url=None` when the host keeps no picture."""

    id: str = "id"
    name: str = "name"
    email: str = "email"
    avatar_url: str | None = "avatar_url"

    @classmethod
    def of(cls, mapping: Mapping[str, str | None]) -> UserColumns:
        """From `CHAT_USERS_COLUMNS` as parsed by the settings: {"id": "emp_id", ..., "avatar_url": "" or None}."""
        values = {key: value for key, value in mapping.items() if key in {"id", "name", "email"} and value}
        avatar = mapping.get("avatar_url", "avatar_url")
        return cls(**values, avatar_url=avatar or None)


class HostUserDirectory:
    """`UserDirectory` over `table` ('employees' or 'hr.employees') of the host's database.

    User ids must be integers (the chat's ids are); emails are matched case-insensitively.
    """

    def __init__(self, engine: AsyncEngine, *, table: str, columns: UserColumns | None = None) -> None:
        self._engine = engine
        self.columns = columns or UserColumns()
        schema, _, name = table.rpartition(".")
        self.table_name = table
        types: dict[str, TypeEngine[Any]] = {self.columns.name: String(), self.columns.email: String()}
        if self.columns.avatar_url is not None:
            types[self.columns.avatar_url] = String()
        types[self.columns.id] = BigInteger()
        self._table: TableClause = table_clause(name, types, schema or None)
        c = self._table.c
        self._id = c[self.columns.id]
        self._email = c[self.columns.email]
        avatar: ColumnElement[Any] = (
            c[self.columns.avatar_url] if self.columns.avatar_url is not None else literal(None)
        )
        self._select = select(
            self._id.label("id"),
            c[self.columns.name].label("name"),
            self._email.label("email"),
            avatar.label("avatar_url"),
        ).select_from(self._table)

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, User]:
        if not ids:
            return {}
        rows = await self._rows(self._select.where(self._id.in_(sorted(ids))))
        return {user.id: user for user in map(_user, rows)}

    async def search_email(self, fragment: str, *, exclude: UserId, limit: int) -> list[User]:
        """`%` and `_` in the fragment match only themselves; order by lowercased email, then id.

        A fragment with a NUL matches nothing: SQLite's LIKE reads its pattern only up to a NUL (`%\\0%` would be
        `%`, every row) and PostgreSQL refuses NUL in text.
        """
        if limit <= 0 or "\x00" in fragment:
            return []
        order: ColumnElement[Any] = func.lower(self._email)
        if self._engine.dialect.name == "postgresql":
            order = order.collate("C")  # code point order, as SQLite and the own directory sort
        statement = (
            self._select.where(self._email.icontains(fragment, autoescape=True), self._id != exclude)
            .order_by(order, self._id)
            .limit(limit)
        )
        return [_user(row) for row in await self._rows(statement)]

    async def check(self) -> None:
        """Read one row: HostTableError naming the table and columns if they are not there or ids are not integers."""
        try:
            rows = await self._rows(self._select.limit(1), translate=False)
        except DBAPIError as exc:
            first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise HostTableError(
                f"cannot read columns {', '.join(self._table.c.keys())} of table {self.table_name}: {first_line}"
            ) from None
        for row in rows:
            if not isinstance(row["id"], int) or isinstance(row["id"], bool):
                raise HostTableError(
                    f"column {self.columns.id} of table {self.table_name} must hold integer ids, got {row['id']!r}"
                )

    async def _rows(self, statement: Any, *, translate: bool = True) -> list[RowMapping]:
        """On a connection that only reads and is rolled back when closed: nothing is ever committed."""
        if not translate:
            return await self._read(statement)
        with translated():
            return await self._read(statement)

    async def _read(self, statement: Any) -> list[RowMapping]:
        async with self._engine.connect() as connection:
            return list((await connection.execute(statement)).mappings())


def table_clause(name: str, columns: Mapping[str, TypeEngine[Any]], schema: str | None) -> TableClause:
    """A bare table name with typed columns (for the bind parameters): no MetaData, so nothing is created or
    reflected from it."""
    return table(name, *(column(c, type_) for c, type_ in columns.items()), schema=schema)


def _user(row: RowMapping) -> User:
    email = row["email"] or ""
    return User(id=UserId(int(row["id"])), name=row["name"] or email, email=email, avatar_url=row["avatar_url"] or None)
