"""Settings -> adapters -> ChatService: the one place that picks implementations (app and CLI share it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters.broker.memory import MemoryBroker, MemoryLiveState
from chat_adapters.broker.redis import open_redis
from chat_adapters.emojis import spelled_emoji
from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.host_users import HostTableError, HostUserDirectory, UserColumns
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.sql.tables import ChatLayout
from chat_adapters.sql.users import SqlUserDirectory
from chat_adapters.sql.writer import SqlMessageWriter
from chat_adapters.storage.local import LocalStorage
from chat_adapters.storage.s3 import S3Storage
from chat_adapters.storage.signing import UrlSigner
from chat_adapters.system import SystemClock, UuidIds
from chat_http import framing
from chat_http.errors import CLOSE_AUTH
from chat_http.hub import DecodeBudget, Hub, LocalFallbackBroker
from chat_http.runtime import Runtime
from chat_http.settings import Settings, SettingsError
from chat_http.tokens import Authenticator, TokenVerifier
from chat_http.wire import encode_event
from chatcore import Broker, ChatError, ChatService, Clock, FileStorage, Limits, LiveState, UserDirectory
from chatcore.ports import RateLimiter
from chatcore.ratelimit import MemoryRateLimiter

log = logging.getLogger("chat_http")

UPLOAD_SWEEP_SECONDS = 300
USER_CHECK_SECONDS = 3.0  # how often connected users are checked against the directory ...
USER_CHECK_BATCH = 2_000  # ... and how many at a time
SHUTDOWN_GRACE = 5.0


def storage_root(settings: Settings) -> Path:
    parts = urlsplit(settings.storage_url)
    return Path(parts.netloc + parts.path)


def chat_layout(settings: Settings) -> ChatLayout:
    """Where the chat tables live: CHAT_TABLE_PREFIX, CHAT_DB_SCHEMA; no own users table with CHAT_USERS_TABLE."""
    return ChatLayout(prefix=settings.table_prefix, schema=settings.db_schema, own_users=settings.users_table is None)


def host_directory(settings: Settings, engine: AsyncEngine) -> HostUserDirectory | None:
    """The host's users table named by CHAT_USERS_TABLE / CHAT_USERS_COLUMNS, if one is configured."""
    if settings.users_table is None:
        return None
    return HostUserDirectory(engine, table=settings.users_table, columns=UserColumns.of(settings.users_columns))


async def check_database(settings: Settings) -> None:
    """Start-up check of what migrations cannot vouch for: the host's users table is readable as configured."""
    engine = create_engine(settings.database_url)
    try:
        directory = host_directory(settings, engine)
        if directory is not None:
            try:
                await directory.check()
            except HostTableError as exc:
                raise SettingsError(f"CHAT_USERS_TABLE / CHAT_USERS_COLUMNS: {exc}") from None
    finally:
        await engine.dispose()


def make_storage(settings: Settings, signer: UrlSigner, clock: Clock) -> FileStorage:
    """CHAT_STORAGE_URL alone decides: file://folder or s3://bucket/prefix."""
    if settings.storage_url.startswith("s3://"):
        try:
            return S3Storage.from_url(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        except ChatError as exc:
            raise SettingsError(f"CHAT_STORAGE_URL: {exc.detail}") from None
    return LocalStorage(storage_root(settings), signer=signer, clock=clock)


async def build_services(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    engine: AsyncEngine | None = None,
    users: UserDirectory | None = None,
    verifier: Authenticator | None = None,
) -> Runtime:
    """Everything the core and the handlers need, disposed by `stack` in reverse order.

    A host may hand over its own `engine` (left for the host to dispose; CHAT_DATABASE_URL is then unused; on
    SQLite made with `enable_sqlite_pragmas`), its own `users` directory (else CHAT_USERS_TABLE or the chat's
    own users table decide) and its own token check (else JWTs as CHAT_JWT_* says).
    """
    settings.check(tokens=False)  # a library host may call this with Settings of its own
    clock = SystemClock()
    signer = UrlSigner(settings.signing_key, base_path=f"{settings.mount_path}/static/chat_files")
    if engine is None:
        engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        stack.push_async_callback(engine.dispose)
    layout = chat_layout(settings)
    sessions = session_factory(engine, layout)
    if users is None:
        users = host_directory(settings, engine) or SqlUserDirectory(sessions, layout)
    storage = make_storage(settings, signer, clock)
    broker: Broker
    live: LiveState
    limiter: RateLimiter = MemoryRateLimiter(clock)
    if settings.broker_url == "memory://":
        broker, live = MemoryBroker(), MemoryLiveState(clock, presence_ttl=settings.presence_ttl)
    else:
        redis = open_redis(settings.broker_url, presence_ttl=settings.presence_ttl)
        broker, redis_live = await stack.enter_async_context(redis)
        live, limiter = redis_live, redis_live.rate_limiter(fallback=limiter)  # per user on every process
    hub = Hub(broker, max_per_user=settings.max_connections_per_user)
    writer = SqlMessageWriter(engine, layout)
    stack.push_async_callback(writer.close)  # before the engine's disposal: it holds a connection
    writer.start_indexing()  # SQLite: messages not in the search index yet (a bulk load, an older process)
    chat = ChatService(
        uow=SqlDatabase(sessions, layout),
        users=users,
        storage=storage,
        broker=LocalFallbackBroker(broker, hub),
        live=live,
        clock=clock,
        ids=UuidIds(),
        limits=Limits(
            room_detail_limit=settings.room_detail_limit,
            max_group_members=settings.group_max_members,
            room_list_cache_rooms=settings.room_list_cache,
            search_per_minute=settings.search_per_minute,
            max_connections_per_user=settings.max_connections_per_user,
            file_url_ttl=settings.file_url_ttl,
        ),
        writer=writer,
        encode=encode_event,
        rate_limiter=limiter,
        is_emoji=spelled_emoji,
    )

    async def database_probe() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))

    async def broker_probe() -> None:
        await broker.publish(["health"], b"{}")

    return Runtime(
        settings=settings,
        chat=chat,
        hub=hub,
        verifier=verifier or TokenVerifier(settings),
        clock=clock,
        signer=signer,
        storage=storage,
        broker=broker,
        live=live,
        probes={"database": database_probe, "broker": broker_probe},
        decoding=DecodeBudget(settings.ws_decode_budget),
    )


async def _expire_uploads(chat: ChatService, settings: Settings) -> None:
    """Uploads no message claimed within CHAT_UPLOAD_TTL go, with their files."""
    while True:
        try:
            removed = await chat.expire_uploads(settings.upload_ttl)
            if removed:
                log.info("expired %d unclaimed uploads", removed)
        except Exception:
            log.warning("expiring uploads failed; retrying later", exc_info=True)
        await asyncio.sleep(UPLOAD_SWEEP_SECONDS)


async def _close_sockets_of_removed_users(chat: ChatService, hub: Hub, every: float, per_check: int) -> None:
    """A user removed from the directory (an employee who left) keeps no open socket for long: REST asks the
    directory on each request, sockets are checked here, `per_check` connected users every `every` seconds in
    turn (3 s for the first 2,000 users of a process, 15 s for 10,000): a whole sweep of every user every 3 s
    cost an idle process a noticeable share of a core."""
    failing = False
    turn = 0
    while True:
        await asyncio.sleep(every)
        users = sorted(hub.users())
        if turn >= len(users):
            turn = 0
        batch = users[turn : turn + per_check]
        try:
            gone = await chat.gone(batch)
        except Exception:
            if not failing:  # once per outage, not every few seconds
                log.warning("checking connected users against the directory failed; retrying", exc_info=True)
            failing = True
            continue
        failing = False
        turn += per_check
        for user in gone:
            log.info("closing the sockets of user %s: no longer in the directory", user)
            hub.end_user(user, CLOSE_AUTH, "user not found")


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    verifier: Authenticator,
    *,
    engine: AsyncEngine | None = None,
    users: UserDirectory | None = None,
) -> AsyncIterator[Runtime]:
    """The services plus what the handlers need, and the sweeper of stale uploads, for as long as it is open."""
    async with AsyncExitStack() as stack:
        rt = await build_services(settings, stack, engine=engine, users=users, verifier=verifier)
        framing.set_budget(settings.ws_decode_budget)  # the process's, used when `chat serve` runs its protocol
        sweepers = [
            asyncio.create_task(_expire_uploads(rt.chat, settings), name="expire-uploads"),
            asyncio.create_task(
                _close_sockets_of_removed_users(rt.chat, rt.hub, USER_CHECK_SECONDS, USER_CHECK_BATCH),
                name="removed-users",
            ),
        ]

        async def stop_sweepers() -> None:
            """Cancel and wait: a sweep caught mid-query must end before the engine it uses is disposed."""
            for sweeper in sweepers:
                sweeper.cancel()
            for sweeper in sweepers:
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper

        stack.push_async_callback(stop_sweepers)
        # Servers close sockets before the lifespan ends, but a host or test client may not wait for their
        # handlers: give them a moment to finish their last writes before the engine and broker go.
        stack.push_async_callback(rt.hub.wait_idle, SHUTDOWN_GRACE)
        yield rt
