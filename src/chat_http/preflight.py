"""What a `chat` command checks before it starts: the database is there, answers and holds the chat tables at
the newest migration; the broker answers. Each failure is one line naming the variable, password masked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from chat_adapters.sql.engine import create_engine, current_revision, head_revision, known_revisions
from chat_http.settings import Settings
from chat_http.wiring import chat_layout

BROKER_TIMEOUT = 3.0
MIGRATE = "run `chat db upgrade` (or start `chat serve`, which migrates first unless CHAT_AUTO_MIGRATE=false)"


class CommandError(Exception):
    """Something the command needs is missing or away: one line, exit status 1."""


def masked(url: str) -> str:
    """`url` with its password shown as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = " ".join(str(cause).split()) or type(cause).__name__
    return text[:200]


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


async def reachable(settings: Settings, *, may_create: bool) -> None:
    """The database answers. `may_create`: the command migrates next (`chat db upgrade`, `chat serve`), so a
    SQLite file may be missing; otherwise none is created (SQLite would make an empty one on connect)."""
    shown = f"CHAT_DATABASE_URL={masked(settings.database_url)}"
    path = sqlite_file(settings.database_url)
    if path is not None:
        if not path.parent.is_dir():
            raise CommandError(f"{shown}: the folder {path.parent} does not exist")
        if not path.exists():
            if may_create:
                return
            raise CommandError(f"{shown}: the database {path} does not exist yet; {MIGRATE}")
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect():
            pass
    except (OSError, DBAPIError, PoolTimeoutError, TimeoutError) as exc:
        raise CommandError(f"cannot connect to the database {shown}: {_reason(exc)}") from None
    finally:
        await engine.dispose()


async def migrated(settings: Settings) -> None:
    """The database answers and its chat tables are at the newest migration of this package."""
    await reachable(settings, may_create=False)
    shown = f"CHAT_DATABASE_URL={masked(settings.database_url)}"
    engine = create_engine(settings.database_url)
    try:
        revision = await current_revision(engine, chat_layout(settings))
    except (OSError, DBAPIError, PoolTimeoutError, TimeoutError) as exc:
        raise CommandError(f"cannot read the database {shown}: {_reason(exc)}") from None
    finally:
        await engine.dispose()
    head = head_revision()
    if revision is None:
        raise CommandError(f"{shown} has no chat tables yet; {MIGRATE}")
    if revision not in known_revisions():
        raise CommandError(f"{shown} is at migration {revision}, which this version does not know (a newer one?)")
    if revision != head:
        raise CommandError(f"{shown} is at migration {revision}, this version needs {head}; {MIGRATE}")


async def broker_problem(settings: Settings) -> str | None:
    """Why the Redis broker does not answer, or None (also for memory://)."""
    if settings.broker_url == "memory://":
        return None
    import redis.asyncio
    from redis.exceptions import RedisError

    client = redis.asyncio.from_url(
        settings.broker_url, socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT
    )
    try:
        async with asyncio.timeout(BROKER_TIMEOUT * 2):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    finally:
        await client.aclose()
    return None
