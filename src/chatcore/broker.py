"""The single-process broker: production's `memory://`, and the core's tests use it as it is complete."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from chatcore.ports import Deliver

log = logging.getLogger("chatcore")


class MemoryBroker:
    """Fan-out within one process: every subscriber of a channel gets each payload, in order."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Deliver]] = defaultdict(list)

    async def publish(self, channels: Sequence[str], payload: bytes) -> None:
        for channel in dict.fromkeys(channels):
            for deliver in list(self._subscribers.get(channel, ())):
                try:
                    deliver(payload)
                except Exception:  # like the Redis reader: one broken subscriber must not starve the others
                    log.exception("a subscriber of %r failed on a message", channel)

    async def subscribe(
        self, channel: str, deliver: Deliver, *, on_gap: Callable[[], None] | None = None
    ) -> Callable[[], Awaitable[None]]:
        """In one process nothing is ever lost on the way: `on_gap` is never called."""
        self._subscribers[channel].append(deliver)

        async def unsubscribe() -> None:
            listeners = self._subscribers.get(channel, [])
            if deliver in listeners:
                listeners.remove(deliver)
            if not listeners:
                self._subscribers.pop(channel, None)

        return unsubscribe
