"""Driver-level helpers for the fast paths that bypass SQLAlchemy's result layer (room list, message writer).

Each fast path has one class per driver (aiosqlite, asyncpg), picked once when it is built; these are the
pieces they share.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Dialect

from chat_adapters.sql.tables import ChatLayout

T = TypeVar("T")


def qualified(layout: ChatLayout, dialect: Dialect, table: str) -> str:
    """A chat table's name as SQL text, quoted, in the layout's schema if it has one."""
    preparer = dialect.identifier_preparer
    if layout.schema is None:
        return str(preparer.quote(table))
    return f"{preparer.quote_schema(layout.schema)}.{preparer.quote(table)}"


def sqlite_timestamp(value: datetime) -> str:
    """DateTimeUTC's text on SQLite ('2026-01-02 01:04:05.006789', in UTC), without its processor chain."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (the fastest of the ways tried)
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def sqlite_time(value: str | None) -> datetime | None:
    """DateTimeUTC's SQLite text ('2026-01-02 01:04:05.006789', UTC) back to an aware datetime.

    Parsing the offset is several times faster than datetime.replace(tzinfo=...).
    """
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def aware(value: datetime | None) -> datetime | None:
    return value  # asyncpg reads timestamptz as aware datetimes


async def in_sqlite_thread(driver: Any, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` with the sqlite3 connection on aiosqlite's own thread, where each of its methods runs.

    aiosqlite has no public call for this; `_execute` and `_conn` are what its public methods use
    (aiosqlite 0.22, to which pyproject bounds it; tests/integration/test_sqlite_thread.py checks them). A
    batch's statements then take one hop between the threads instead of three.
    """
    return await driver._execute(work, driver._conn)  # type: ignore[no-any-return]
