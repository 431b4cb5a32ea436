"""The composition root: the only place that reads settings and picks adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from chat_http.auth import BearerAuthMiddleware, TokenVerifier
from chat_http.errors import chat_error_handler
from chat_http.files import serve_file
from chat_http.metrics import Metrics, prometheus
from chat_http.rest import ChatController
from chat_http.runtime import Runtime
from chat_http.settings import Settings
from chat_http.uploads import upload
from chat_http.views import Health
from chat_http.web import web_routes
from chat_http.wiring import build_services, check_supported
from chat_http.ws import chat_socket
from chatcore import ChatError, ChatService

log = logging.getLogger("chat_http")

VERSION = "0.1.0"
UPLOAD_SWEEP_SECONDS = 300


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


def create_app(settings: Settings) -> Litestar:
    check_supported(settings)
    verifier = TokenVerifier(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            services = await build_services(settings, stack)
            app.state.rt = Runtime(
                settings=settings,
                chat=services.chat,
                hub=services.hub,
                verifier=verifier,
                clock=services.clock,
                signer=services.signer,
                storage=services.storage,
                probes=services.probes,
            )
            sweeper = asyncio.create_task(_expire_uploads(services.chat, settings), name="expire-uploads")
            stack.callback(sweeper.cancel)
            yield

    auth = DefineMiddleware(
        BearerAuthMiddleware,
        exclude=["^/schema", "^/health$", "^/ready$", "^/metrics$", "^/static/", "^/$", "^/chat$", "^/web/"],
        scopes={ScopeType.HTTP},
    )
    return Litestar(
        route_handlers=[ChatController, chat_socket, upload, serve_file, health, ready, Metrics, *web_routes(settings)],
        dependencies={"rt": Provide(_provide_runtime, sync_to_thread=False)},
        exception_handlers={ChatError: chat_error_handler},
        middleware=[auth, prometheus.middleware],
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
