"""The Litestar service around chatcore, and the ways a host application embeds it.

- `create_app(settings, verify_token=...)`: the whole service as an ASGI app (`chat serve` runs it; a host can
  mount it under a prefix, with `Settings.mount_path` set to that prefix);
- `ChatPlugin(settings, path="/chat", verify_token=...)`: the chat routes inside a host's Litestar app;
- `chat_router` + `chat_lifespan` + `RuntimeSlot`: the same, wired by hand.

Names load on first use, so `chat token` and friends start without importing the web framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chat_http.app import chat_handlers, chat_lifespan, chat_router, create_app
    from chat_http.embed import ChatPlugin
    from chat_http.runtime import Runtime, RuntimeSlot
    from chat_http.settings import Settings, SettingsError, load_settings
    from chat_http.tokens import AuthError, Identity, VerifyToken
    from chat_http.wiring import build_services

_WHERE = {
    "chat_handlers": "chat_http.app",
    "chat_lifespan": "chat_http.app",
    "chat_router": "chat_http.app",
    "create_app": "chat_http.app",
    "AuthError": "chat_http.tokens",
    "Identity": "chat_http.tokens",
    "VerifyToken": "chat_http.tokens",
    "ChatPlugin": "chat_http.embed",
    "Runtime": "chat_http.runtime",
    "RuntimeSlot": "chat_http.runtime",
    "Settings": "chat_http.settings",
    "SettingsError": "chat_http.settings",
    "load_settings": "chat_http.settings",
    "build_services": "chat_http.wiring",
}

__all__ = [
    "AuthError",
    "ChatPlugin",
    "Identity",
    "Runtime",
    "RuntimeSlot",
    "Settings",
    "SettingsError",
    "VerifyToken",
    "build_services",
    "chat_handlers",
    "chat_lifespan",
    "chat_router",
    "create_app",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'chat_http' has no attribute {name!r}")
