"""Presence and typing kept in memory, with expiry driven by a Clock.

This is the single-process `LiveState`; a clustered one (Redis) keeps the same rules with key expiry.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from chatcore.errors import TooManyConnectionsError
from chatcore.model import RoomId, UserId
from chatcore.ports import Clock

PRESENCE_TTL = timedelta(seconds=60)
TYPING_TTL = timedelta(seconds=10)


class MemoryLiveState:
    """Connections expire unless heartbeated within `presence_ttl`; typing flags after `typing_ttl`."""

    def __init__(
        self,
        clock: Clock,
        *,
        presence_ttl: timedelta = PRESENCE_TTL,
        typing_ttl: timedelta = TYPING_TTL,
    ) -> None:
        self._clock = clock
        self._presence_ttl = presence_ttl
        self._typing_ttl = typing_ttl
        self._connections: dict[UserId, dict[str, datetime]] = {}
        self._typing: dict[RoomId, dict[UserId, datetime]] = {}

    def _live(self, user: UserId) -> dict[str, datetime]:
        """The user's unexpired connections (expired ones are dropped on the way)."""
        now = self._clock.now()
        conns = self._connections.get(user, {})
        for conn, expires in list(conns.items()):
            if expires <= now:
                del conns[conn]
        if not conns:
            self._connections.pop(user, None)
        return conns

    async def connect(self, user: UserId, connection: str, *, limit: int | None = None) -> bool:
        live = self._live(user)
        if limit is not None and connection not in live and len(live) >= limit:
            raise TooManyConnectionsError(f"at most {limit} connections per user")
        self._connections.setdefault(user, {})[connection] = self._clock.now() + self._presence_ttl
        return not live

    async def heartbeat(self, user: UserId, connection: str) -> None:
        conns = self._live(user)
        if connection in conns:
            conns[connection] = self._clock.now() + self._presence_ttl
        else:
            await self.connect(user, connection)

    async def disconnect(self, user: UserId, connection: str) -> bool:
        conns = self._live(user)
        if conns.pop(connection, None) is None:
            return False
        if not conns:
            self._connections.pop(user, None)
            return True
        return False

    async def online(self, users: Collection[UserId]) -> set[UserId]:
        # Only users with a connection entry can be online: a room list asks about 1,000 at once.
        connected = self._connections
        return {user for user in users if user in connected and self._live(user)}

    async def online_users(self) -> set[UserId]:
        return {user for user in list(self._connections) if self._live(user)}

    async def set_typing(self, room_id: RoomId, user: UserId, is_typing: bool) -> frozenset[UserId]:
        now = self._clock.now()
        typing = self._typing.setdefault(room_id, {})
        if is_typing:
            typing[user] = now + self._typing_ttl
        else:
            typing.pop(user, None)
        for who, expires in list(typing.items()):
            if expires <= now:
                del typing[who]
        if not typing:
            del self._typing[room_id]
        return frozenset(typing)
