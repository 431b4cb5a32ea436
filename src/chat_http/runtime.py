"""What the handlers share, built once by the composition root (wiring.build_services) and handed out by one
dependency: the one container of the process's services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
from litestar.di import NamedDependency

from chat_adapters.storage.signing import UrlSigner
from chat_http.hub import DecodeBudget, Hub
from chat_http.settings import DEFAULT_DECODE_BUDGET, Settings
from chat_http.tokens import Authenticator
from chatcore import Broker, ChatService, Clock, FileStorage, LiveState


@attrs.frozen(kw_only=True)
class Runtime:
    settings: Settings
    chat: ChatService
    hub: Hub
    verifier: Authenticator
    clock: Clock
    signer: UrlSigner
    storage: FileStorage
    broker: Broker
    live: LiveState
    probes: dict[str, Callable[[], Awaitable[None]]] = attrs.field(factory=dict)
    decoding: DecodeBudget = attrs.field(factory=lambda: DecodeBudget(DEFAULT_DECODE_BUDGET))


# How handlers ask for it: `rt: Rt` (the `rt` dependency, named explicitly as Litestar 3 will require).
Rt = NamedDependency[Runtime]


class ChatNotStartedError(RuntimeError):
    """A chat route was called before the chat's lifespan ran (a host forgot to add it)."""


class RuntimeSlot:
    """Filled by the lifespan, read by the `rt` dependency and the auth middleware: no app.state involved, so the
    same routes work in our app, in a host's Litestar app (a Router) and behind any ASGI mount."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self._runtime is None:
            raise ChatNotStartedError("the chat is not started: add its lifespan to the host application")
        return self._runtime

    def set(self, runtime: Runtime | None) -> None:
        self._runtime = runtime

    # Litestar deep-copies a Router's middleware and dependencies when it registers the Router: a copy of the
    # slot must still be the slot the lifespan fills.
    def __copy__(self) -> RuntimeSlot:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> RuntimeSlot:
        return self
