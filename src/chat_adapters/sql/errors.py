"""Driver errors turned into chat errors, so the core and the HTTP layer never see SQLAlchemy exceptions."""

from __future__ import annotations

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
