"""Chat inside a host's Litestar app: one plugin adds the routes under a path and runs the services in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters.sql.tables import ChatLayout
from chat_http.app import chat_lifespan, chat_router
from chat_http.runtime import Runtime, RuntimeSlot
from chat_http.settings import Settings
from chat_http.tokens import VerifyToken
from chat_http.wiring import chat_layout
from chatcore import ChatService, UserDirectory


class ChatPlugin(InitPlugin):
    """`Litestar(plugins=[ChatPlugin(settings, path="/chat", verify_token=my_check)])`.

    The chat API then lives under `path` (`/chat/api/v1/chat/...`, the socket at `/chat/api/v1/chat/ws`, files at
    `/chat/static/chat_files/...`), checks tokens with the host's `verify_token` (or CHAT_JWT_* settings), reads
    users from `users` / `settings.users_table`, and stores chat tables through `engine` (the host's) or
    `settings.database_url`. Hosts that wire routes themselves use `router` and `lifespan` instead.

    `web_client=True` also serves the browser client: the page at `path` (`/chat`; people sign in with a token of
    the host's, e.g. a link to `/chat#token=...`) and its files under `path/web/`, with the same strict headers
    as `chat serve`. The developer sign-in of `chat serve --dev` is never offered here: the host signs people in.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        path: str = "/chat",
        verify_token: VerifyToken | None = None,
        engine: AsyncEngine | None = None,
        users: UserDirectory | None = None,
        web_client: bool = False,
    ) -> None:
        self.settings = attrs.evolve(settings or Settings(), mount_path=path.rstrip("/"), dev=False)
        self.settings.check()
        self._verify_token = verify_token
        self._engine = engine
        self._users = users
        self._slot = RuntimeSlot()
        self.router: Router = chat_router(self._slot, path=self.settings.mount_path, web_client=web_client)

    @asynccontextmanager
    async def lifespan(self, _: Litestar | None = None) -> AsyncIterator[Runtime]:
        """Services up for as long as it is entered; a host's lifespan entry (or `async with plugin.lifespan()`)."""
        async with chat_lifespan(
            self._slot, self.settings, verify_token=self._verify_token, engine=self._engine, users=self._users
        ) as rt:
            yield rt

    @property
    def layout(self) -> ChatLayout:
        """Where the chat tables go, for `chat_adapters.sql.upgrade(engine, layout=plugin.layout)`."""
        return chat_layout(self.settings)

    @property
    def chat(self) -> ChatService:
        """The running ChatService, for host code that acts on chat directly (inside the lifespan only)."""
        return self._slot.get().chat

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(self.router)
        app_config.lifespan.append(self.lifespan)
        return app_config
