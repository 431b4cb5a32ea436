"""Driver errors turned into chat errors, so the core and the HTTP layer never see SQLAlchemy exceptions."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from chatcore.errors import UnavailableError

UNAVAILABLE = "the database is unavailable right now; try again"


@contextmanager
def translated() -> Iterator[None]:
    """Lost connections, refused connects, locks held too long and pool timeouts become UnavailableError.

    Everything else (integrity errors included) passes through unchanged for the caller to decide on.
    """
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            raise UnavailableError(UNAVAILABLE) from exc
        raise
    except (OSError, PoolTimeoutError) as exc:  # asyncpg raises OSError on connect, before SQLAlchemy wraps it
        raise UnavailableError(UNAVAILABLE) from exc


def is_foreign_key_violation(exc: IntegrityError) -> bool:
    """SQLite says 'FOREIGN KEY constraint failed', PostgreSQL '... violates foreign key constraint ...'."""
    return "foreign key" in str(exc.orig).lower()


def driver_unavailable(exc: BaseException) -> bool:
    """An error of the driver itself (the raw sqlite3 / asyncpg calls of the fast paths) that means the
    database is away, shutting down, or locked past busy_timeout."""
    if isinstance(exc, sqlite3.OperationalError | OSError | TimeoutError):
        return True
    asyncpg = sys.modules.get("asyncpg")  # loaded once a PostgreSQL engine connected
    if asyncpg is None:
        return False
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return True
    sqlstate = getattr(exc, "sqlstate", None) if isinstance(exc, asyncpg.PostgresError) else None
    return sqlstate is not None and sqlstate[:2] in {"08", "57"}  # connection exceptions, operator intervention


@contextmanager
def driver_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if driver_unavailable(exc):
            raise UnavailableError(UNAVAILABLE) from exc
        raise
