"""Settings -> adapters -> ChatService: the one place that picks implementations (app and CLI share it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import attrs
from sqlalchemy import text

from chat_adapters.broker.memory import InMemoryBroker, MemoryLiveState
from chat_adapters.broker.redis import open_redis
from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.storage.local import LocalStorage
from chat_adapters.storage.s3 import S3Storage
from chat_adapters.storage.signing import UrlSigner
from chat_adapters.system import SystemClock, UuidIds
from chat_adapters.users import SqlUserDirectory
from chat_http.hub import Hub, LocalFallbackBroker
from chat_http.settings import Settings, SettingsError
from chatcore import Broker, ChatError, ChatService, Clock, FileStorage, Limits, LiveState


@attrs.frozen(kw_only=True)
class Services:
    chat: ChatService
    hub: Hub
    storage: FileStorage
    broker: Broker
    live: LiveState
    clock: Clock
    signer: UrlSigner
    probes: dict[str, Callable[[], Awaitable[None]]]


def storage_root(settings: Settings) -> Path:
    parts = urlsplit(settings.storage_url)
    return Path(parts.netloc + parts.path)


def check_supported(settings: Settings) -> None:
    """Backends this build cannot run yet stop start-up with one line, like any bad setting."""
    if settings.users_table is not None:
        raise SettingsError("CHAT_USERS_TABLE: host users tables are not available in this version")


def make_storage(settings: Settings, signer: UrlSigner, clock: Clock) -> FileStorage:
    """CHAT_STORAGE_URL alone decides: file://folder or s3://bucket/prefix."""
    if settings.storage_url.startswith("s3://"):
        try:
            return S3Storage.from_url(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        except ChatError as exc:
            raise SettingsError(f"CHAT_STORAGE_URL: {exc.detail}") from None
    return LocalStorage(storage_root(settings), signer=signer, clock=clock)


async def build_services(settings: Settings, stack: AsyncExitStack) -> Services:
    """Everything the core needs, disposed by `stack` in reverse order."""
    check_supported(settings)
    clock = SystemClock()
    signer = UrlSigner(settings.signing_key)
    engine = create_engine(settings.database_url)
    stack.push_async_callback(engine.dispose)
    sessions = session_factory(engine)
    storage = make_storage(settings, signer, clock)
    broker: Broker
    live: LiveState
    if settings.broker_url == "memory://":
        broker, live = InMemoryBroker(), MemoryLiveState(clock, presence_ttl=settings.presence_ttl)
    else:
        redis = open_redis(settings.broker_url, presence_ttl=settings.presence_ttl)
        broker, live = await stack.enter_async_context(redis)
    hub = Hub(broker, max_per_user=settings.max_connections_per_user)
    chat = ChatService(
        uow=SqlDatabase(sessions),
        users=SqlUserDirectory(sessions),
        storage=storage,
        broker=LocalFallbackBroker(broker, hub),
        live=live,
        clock=clock,
        ids=UuidIds(),
        limits=Limits(
            room_detail_limit=settings.room_detail_limit,
            search_per_minute=settings.search_per_minute,
            file_url_ttl=settings.file_url_ttl,
        ),
    )

    async def database_probe() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def broker_probe() -> None:
        await broker.publish(["health"], b"{}")

    return Services(
        chat=chat,
        hub=hub,
        storage=storage,
        broker=broker,
        live=live,
        clock=clock,
        signer=signer,
        probes={"database": database_probe, "broker": broker_probe},
    )
