"""The composition root: the only place that reads settings and picks adapters."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy import text

from chat_adapters.broker.memory import InMemoryBroker, MemoryLiveState
from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.storage.local import LocalStorage
from chat_adapters.storage.signing import UrlSigner
from chat_adapters.system import SystemClock, UuidIds
from chat_adapters.users import SqlUserDirectory
from chat_http.auth import BearerAuthMiddleware, TokenVerifier
from chat_http.errors import chat_error_handler
from chat_http.files import serve_file
from chat_http.hub import Hub
from chat_http.rest import ChatController
from chat_http.runtime import Runtime
from chat_http.settings import Settings, SettingsError
from chat_http.views import Health
from chat_http.ws import chat_socket
from chatcore import ChatError, ChatService, Limits

log = logging.getLogger("chat_http")

VERSION = "0.1.0"


def storage_root(settings: Settings) -> Path:
    parts = urlsplit(settings.storage_url)
    return Path(parts.netloc + parts.path)


def check_supported(settings: Settings) -> None:
    """Backends this build cannot run yet stop start-up with one line, like any bad setting."""
    if not settings.storage_url.startswith("file://"):
        raise SettingsError("CHAT_STORAGE_URL: only file:// storage is available in this version")
    if settings.broker_url != "memory://":
        raise SettingsError("CHAT_BROKER_URL: only memory:// is available in this version")
    if settings.users_table is not None:
        raise SettingsError("CHAT_USERS_TABLE: host users tables are not available in this version")


def _provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.rt
    return runtime


@get("/health", opt={"exclude_from_auth": True}, tags=["ops"])
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@get("/ready", opt={"exclude_from_auth": True}, tags=["ops"])
async def ready(rt: Runtime) -> Health:
    """Readiness: the database and the broker answer; 503 otherwise so a balancer routes elsewhere."""
    checks = {}
    for name, probe in rt.probes.items():
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    if any(v != "ok" for v in checks.values()):
        raise HTTPException(status_code=503, detail="not ready", extra=checks)
    return Health(status="ok", checks=checks)


def create_app(settings: Settings) -> Litestar:
    check_supported(settings)
    verifier = TokenVerifier(settings)
    signer = UrlSigner(settings.signing_key)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            clock = SystemClock()
            engine = create_engine(settings.database_url)
            stack.push_async_callback(engine.dispose)
            sessions = session_factory(engine)
            storage = LocalStorage(storage_root(settings), signer=signer, clock=clock)
            broker = InMemoryBroker()
            live = MemoryLiveState(clock)
            chat = ChatService(
                uow=SqlDatabase(sessions),
                users=SqlUserDirectory(sessions),
                storage=storage,
                broker=broker,
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

            app.state.rt = Runtime(
                settings=settings,
                chat=chat,
                hub=Hub(broker, max_per_user=settings.max_connections_per_user),
                verifier=verifier,
                clock=clock,
                signer=signer,
                storage=storage,
                probes={"database": database_probe, "broker": broker_probe},
            )
            yield

    auth = DefineMiddleware(
        BearerAuthMiddleware,
        exclude=["^/schema", "^/health$", "^/ready$", "^/static/", "^/$", "^/chat$"],
        scopes={ScopeType.HTTP},
    )
    return Litestar(
        route_handlers=[ChatController, chat_socket, serve_file, health, ready],
        dependencies={"rt": Provide(_provide_runtime, sync_to_thread=False)},
        exception_handlers={ChatError: chat_error_handler},
        middleware=[auth],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="chatcore",
            version=VERSION,
            description="Real-time 1-on-1 chat for HR systems. WebSocket: /api/v1/chat/ws?token=<jwt>&room_id=<id>.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            security=[{"BearerToken": []}],
        ),
    )
