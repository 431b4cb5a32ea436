"""What the handlers share, built once by the composition root and handed out by one dependency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from chat_adapters.storage.signing import UrlSigner
from chat_http.auth import TokenVerifier
from chat_http.hub import Hub
from chat_http.settings import Settings
from chatcore import ChatService, Clock, FileStorage


@attrs.frozen(kw_only=True)
class Runtime:
    settings: Settings
    chat: ChatService
    hub: Hub
    verifier: TokenVerifier
    clock: Clock
    signer: UrlSigner
    storage: FileStorage
    probes: dict[str, Callable[[], Awaitable[None]]] = attrs.field(factory=dict)
