"""The Litestar app and the chat routes as a Router: our `chat serve`, or mounted inside a host application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar, Router, get
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_http.auth import BearerAuthMiddleware
from chat_http.bodies import Health
from chat_http.errors import chat_error_handler, log_server_error
from chat_http.files import serve_file
from chat_http.logs import ChatLoggingConfig, RequestIds
from chat_http.metrics import Metrics, prometheus
from chat_http.rest import ChatController
from chat_http.runtime import Rt, Runtime, RuntimeSlot
from chat_http.settings import Settings
from chat_http.swagger import swagger_asset, swagger_plugin
from chat_http.tokens import VerifyToken, authenticator
from chat_http.uploads import upload
from chat_http.webclient import client_routes, web_routes, whoami
from chat_http.wiring import open_runtime
from chat_http.ws import chat_socket
from chatcore import ChatError, UserDirectory

log = logging.getLogger("chat_http")

VERSION = "0.1.0"
# Paths of our own app that need no token; mounted routes rely on `opt={"exclude_from_auth": True}` alone.
PUBLIC_PATHS = ["^/schema", "^/health$", "^/ready$", "^/metrics$", "^/static/", "^/$", "^/chat$", "^/web/"]


@get("/health", opt={"exclude_from_auth": True}, tags=["ops"])
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@get("/ready", opt={"exclude_from_auth": True}, tags=["ops"])
async def ready(rt: Rt) -> Health:
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


def chat_handlers() -> list[ControllerRouterHandler]:
    """The chat API: REST under /api/v1/chat, the socket, streamed uploads and the stored files."""
    return [ChatController, chat_socket, upload, serve_file]


def auth_middleware(slot: RuntimeSlot, exclude: Sequence[str] = ()) -> DefineMiddleware:
    # None, never []: Litestar joins an empty list into the pattern '', which matches every path.
    return DefineMiddleware(BearerAuthMiddleware, slot=slot, exclude=list(exclude) or None, scopes={ScopeType.HTTP})


def chat_router(slot: RuntimeSlot, *, path: str = "/chat", web_client: bool = False) -> Router:
    """The chat API (plus `GET .../me`) as a Router for a host's Litestar app, with its own auth, errors and `rt`.

    Start `slot` with `chat_lifespan` in the host's lifespan; `path` must be the settings' `mount_path`, so
    signed file links (and the web client's own links) point under it. `web_client` adds the browser client: the
    page at `path` (and `path/chat`) and its files under `path/web/`, as `chat serve` serves them.
    """
    return Router(
        path or "/",
        route_handlers=[*chat_handlers(), whoami, *(client_routes() if web_client else [])],
        dependencies={"rt": Provide(slot.get, sync_to_thread=False)},
        exception_handlers={ChatError: chat_error_handler},
        middleware=[auth_middleware(slot)],
    )


@asynccontextmanager
async def chat_lifespan(
    slot: RuntimeSlot,
    settings: Settings,
    *,
    verify_token: VerifyToken | None = None,
    engine: AsyncEngine | None = None,
    users: UserDirectory | None = None,
) -> AsyncIterator[Runtime]:
    """Build the services into `slot` for as long as it is entered, then dispose of them. The settings are
    checked here too: a host may wire `chat_router` and this lifespan by hand (create_app and ChatPlugin check
    them earlier, when they are built)."""
    settings.check()
    async with open_runtime(settings, authenticator(settings, verify_token), engine=engine, users=users) as rt:
        slot.set(rt)
        try:
            yield rt
        finally:
            slot.set(None)


def create_app(
    settings: Settings,
    *,
    verify_token: VerifyToken | None = None,
    engine: AsyncEngine | None = None,
    users: UserDirectory | None = None,
) -> Litestar:
    """The whole service; mountable under a prefix in any ASGI host (set `mount_path` to that prefix and, as
    mounts do not forward lifespan events, enter `app.lifespan()` in the host's own lifespan).

    `verify_token` replaces JWT checking with the host's (REST and socket alike); `engine` and `users` are the
    host's database and user directory, see `build_services`.
    """
    settings.check()
    slot = RuntimeSlot()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with chat_lifespan(slot, settings, verify_token=verify_token, engine=engine, users=users):
            yield

    ws_url = f"{settings.mount_path}/api/v1/chat/ws?token=<token>&room_id=<id>"
    app = Litestar(
        route_handlers=[*chat_handlers(), health, ready, Metrics, *web_routes(settings), swagger_asset],
        dependencies={"rt": Provide(slot.get, sync_to_thread=False)},
        exception_handlers={ChatError: chat_error_handler},
        middleware=[auth_middleware(slot, PUBLIC_PATHS), prometheus.middleware],
        lifespan=[lifespan],
        logging_config=ChatLoggingConfig(
            level=settings.log_level,
            format=settings.log_format,
            log_exceptions="always",
            exception_logging_handler=log_server_error,
        ),
        openapi_config=OpenAPIConfig(
            title="chatcore",
            version=VERSION,
            description=f"Real-time 1-on-1 chat for HR systems. WebSocket: {ws_url}.",
            path="/schema",
            render_plugins=[swagger_plugin(settings.mount_path)],
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            security=[{"BearerToken": []}],
        ),
    )
    # Outside Litestar's routing, so that 404s for unknown paths get an id too (app middleware runs per route).
    app.asgi_handler = RequestIds(app.asgi_handler)
    return app
